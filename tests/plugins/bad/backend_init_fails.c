/* A backend whose init() fails with a message, or without one when the
 * config holds `silent`. */
#include <string.h>

#include "stub.h"

static int fail_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		     atoll_err *err)
{
	if (n_config && strcmp(config[0].key, "silent") == 0)
		return ATOLL_E_IO;
	strcpy(err->msg, "model: cannot read /nonexistent/model.bin");
	return ATOLL_E_CONFIG;
}

static const atoll_backend table = {
	STUB_BACKEND_HEAD,
	.name = "initfail",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN),
	.init = fail_init,
	.fini = stub_fini,
	.run = stub_run,
};

ATOLL_BACKEND_EXPORT(table)
