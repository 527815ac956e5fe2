/* The linear backend: logistic (two classes) and softmax (more) regression
 * over standardized features, from a model file (docs/models.md). */
#include "atoll/backend.h"
#include "ml/backend.h"

static int linear_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		       atoll_err *err)
{
	return ml_backend_init(ML_KIND_LINEAR, config, n_config, ret_ctx, err);
}

static const atoll_backend linear_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "linear",
	.description = "logistic / softmax regression on a feature vector",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = linear_init,
	.fini = ml_backend_fini,
	.run = ml_backend_run,
	.cancel = NULL,
	.version = ATOLL_VERSION,
};

ATOLL_BACKEND_EXPORT(linear_backend)
