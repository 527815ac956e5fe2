/* A driver module whose entry point is misspelled. */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_version = ATOLL_TEE_DRIVER_ABI_VERSION,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "noentry",
	STUB_DRIVER_FIELDS,
};

EXPORT const atoll_tee_driver *atoll_tee_driver_entri(uint32_t host_abi)
{
	return &table;
}
