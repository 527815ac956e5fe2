/* A driver with neither a collect nor a verify side. */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "nosides",
	.init = stub_init,
	.fini = stub_fini,
};

ATOLL_TEE_DRIVER_EXPORT(table)
