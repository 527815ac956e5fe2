/* The mlp backend: a small dense network (ReLU hidden layers, softmax
 * output) over standardized features, from a model file (docs/models.md). */
#include "atoll/backend.h"
#include "ml/backend.h"

static int mlp_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	return ml_backend_init(ML_KIND_MLP, config, n_config, ret_ctx, err);
}

static const atoll_backend mlp_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "mlp",
	.description = "dense ReLU network with a softmax output",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = mlp_init,
	.fini = ml_backend_fini,
	.run = ml_backend_run,
	.cancel = NULL,
	.version = ATOLL_VERSION,
};

ATOLL_BACKEND_EXPORT(mlp_backend)
