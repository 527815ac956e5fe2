/* A driver built against the 1.0 table: the header presents version 1.0
 * when ATOLL_TEE_DRIVER_TARGET_MINOR is 0, so the table ends at
 * claims_free and has no version string. A 1.1 host must load it. */
#define ATOLL_TEE_DRIVER_TARGET_MINOR 0
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "oldminor",
	STUB_DRIVER_FIELDS,
};

ATOLL_TEE_DRIVER_EXPORT(table)
