/* A driver whose table lacks verify(). */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "nullfn",
	.init = stub_init,
	.fini = stub_fini,
	.detect = stub_detect,
	.collect = stub_collect,
	.evidence_free = stub_evidence_free,
	.verify = NULL,
	.claims_free = stub_claims_free,
};

ATOLL_TEE_DRIVER_EXPORT(table)
