/* A backend with a cancel() and a version string. cancel() counts its
 * calls in the int its instance points at, which a test may hand it
 * directly. */
#include "stub.h"

static void bc_cancel(void *ctx, const char *job_id)
{
	++*(int *)ctx;
}

static const atoll_backend table = {
	STUB_BACKEND_HEAD,
	.name = "cancelling",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN),
	.init = stub_init,
	.fini = stub_fini,
	.run = stub_run,
	.cancel = bc_cancel,
	.version = "0.9.1",
};

ATOLL_BACKEND_EXPORT(table)
