/* A well-formed driver named "testdrv", built twice under two file names
 * to exercise name and duplicate checks. Its init() allocates, so a
 * missing fini() shows up as a leak under ASan. */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_version = ATOLL_TEE_DRIVER_ABI_VERSION,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "testdrv",
	.description = "loader test driver",
	STUB_DRIVER_FIELDS,
};

EXPORT const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return &table;
}
