/* A verify-only driver: the collect side (detect, collect, evidence_free)
 * is NULL. Its verify() refuses everything with a message of its own, so
 * that a test sees the call arrive. */
#include <string.h>

#include "stub.h"

static int vo_verify(void *ctx, const atoll_verify_args *args, atoll_claims **ret_claims,
		     atoll_err *err)
{
	strcpy(err->msg, "verifyonly: not evidence");
	return ATOLL_E_FORMAT;
}

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "verifyonly",
	.init = stub_init,
	.fini = stub_fini,
	.verify = vo_verify,
	.claims_free = stub_claims_free,
	.version = "1.0.0",
};

ATOLL_TEE_DRIVER_EXPORT(table)
