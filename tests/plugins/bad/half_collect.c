/* A driver whose collect side lacks evidence_free. */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "halfcollect",
	.init = stub_init,
	.fini = stub_fini,
	.detect = stub_detect,
	.collect = stub_collect,
	.verify = stub_verify,
	.claims_free = stub_claims_free,
};

ATOLL_TEE_DRIVER_EXPORT(table)
