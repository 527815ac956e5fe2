/* A driver whose table lacks verify(). */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_version = ATOLL_TEE_DRIVER_ABI_VERSION,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "nullfn",
	.init = stub_init,
	.fini = stub_fini,
	.detect = stub_detect,
	.collect = stub_collect,
	.evidence_free = stub_evidence_free,
	.verify = NULL,
	.claims_free = stub_claims_free,
};

EXPORT const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return &table;
}
