/* A driver whose init() fails with a message, or without one when the
 * config holds `silent`. */
#include <string.h>

#include "stub.h"

static int fail_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		     atoll_err *err)
{
	if (n_config && strcmp(config[0].key, "silent") == 0)
		return ATOLL_E_IO;
	strcpy(err->msg, "ca_file: cannot read /nonexistent/ca.pem");
	return ATOLL_E_CONFIG;
}

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "initfail",
	.init = fail_init,
	.fini = stub_fini,
	.detect = stub_detect,
	.collect = stub_collect,
	.evidence_free = stub_evidence_free,
	.verify = stub_verify,
	.claims_free = stub_claims_free,
};

ATOLL_TEE_DRIVER_EXPORT(table)
