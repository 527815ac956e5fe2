/* A driver built for a future ABI version 2. */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_version = 2,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "abi2",
	STUB_DRIVER_FIELDS,
};

EXPORT const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return &table;
}
