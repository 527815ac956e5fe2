/* A driver that relies on something hosts offer only from the next minor
 * on: its entry point refuses this host. */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "needsminor",
	STUB_DRIVER_FIELDS,
};

ATOLL_TEE_DRIVER_EXPORT_MIN(table, ATOLL_TEE_DRIVER_ABI_MINOR + 1)
