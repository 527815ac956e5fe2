/* A collect-only driver: the verify side (verify, claims_free) is NULL.
 * Its detect() answers with a message of its own. */
#include <string.h>

#include "stub.h"

static int co_detect(void *ctx, atoll_err *err)
{
	strcpy(err->msg, "collectonly: no hardware");
	return ATOLL_E_UNAVAILABLE;
}

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "collectonly",
	.init = stub_init,
	.fini = stub_fini,
	.detect = co_detect,
	.collect = stub_collect,
	.evidence_free = stub_evidence_free,
};

ATOLL_TEE_DRIVER_EXPORT(table)
