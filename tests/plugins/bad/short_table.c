/* A driver whose table claims to stop after 40 bytes, short of the
 * version-1 layout. */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = 40,
	.name = "short",
	STUB_DRIVER_FIELDS,
};

ATOLL_TEE_DRIVER_EXPORT(table)
