/* A backend built against the 1.0 table (ATOLL_BACKEND_TARGET_MINOR 0):
 * no version string. A 1.1 host must load it. */
#define ATOLL_BACKEND_TARGET_MINOR 0
#include "stub.h"

static const atoll_backend table = {
	STUB_BACKEND_HEAD,
	.name = "oldminor",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN),
	.init = stub_init,
	.fini = stub_fini,
	.run = stub_run,
};

ATOLL_BACKEND_EXPORT(table)
