/* A driver whose table claims to stop after 40 bytes, short of the
 * version-1 layout. */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_version = ATOLL_TEE_DRIVER_ABI_VERSION,
	.struct_size = 40,
	.name = "short",
	STUB_DRIVER_FIELDS,
};

EXPORT const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return &table;
}
