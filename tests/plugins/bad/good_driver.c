/* A well-formed driver named "testdrv", built twice under two file names
 * to exercise name and duplicate checks. Its init() allocates, so a
 * missing fini() shows up as a leak under ASan. */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "testdrv",
	.description = "loader test driver",
	STUB_DRIVER_FIELDS,
	.version = "2.3.4",
};

ATOLL_TEE_DRIVER_EXPORT(table)
