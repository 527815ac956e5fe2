/* Do-nothing table entries shared by the purpose-built bad modules: each
 * module fills a table from these and breaks exactly one thing. */
#ifndef ATOLL_TESTS_PLUGINS_BAD_STUB_H
#define ATOLL_TESTS_PLUGINS_BAD_STUB_H

#include <stdlib.h>

#include "atoll/backend.h"
#include "atoll/tee_driver.h"

static inline int stub_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
			    atoll_err *err)
{
	void *ctx = malloc(1);

	if (!ctx)
		return ATOLL_E_NOMEM;
	*ret_ctx = ctx;
	return ATOLL_OK;
}

static inline void stub_fini(void *ctx)
{
	free(ctx);
}

static inline int stub_detect(void *ctx, atoll_err *err)
{
	return ATOLL_OK;
}

static inline int stub_collect(void *ctx, const uint8_t *report_data,
			       atoll_evidence **ret_evidence, atoll_err *err)
{
	return ATOLL_E_UNSUPPORTED;
}

static inline void stub_evidence_free(void *ctx, atoll_evidence *ev)
{
}

static inline int stub_verify(void *ctx, const atoll_verify_args *args,
			      atoll_claims **ret_claims, atoll_err *err)
{
	return ATOLL_E_UNSUPPORTED;
}

static inline void stub_claims_free(void *ctx, atoll_claims *claims)
{
}

static inline int stub_run(void *ctx, const atoll_backend_job *job,
			   const atoll_backend_io *io, atoll_err *err)
{
	return ATOLL_OK;
}

/* The version fields of a table built against this header. */
#define STUB_DRIVER_HEAD                                     \
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,             \
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,             \
	.struct_size = sizeof(atoll_tee_driver)
#define STUB_BACKEND_HEAD                                    \
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,                \
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,                \
	.struct_size = sizeof(atoll_backend)

#define STUB_DRIVER_FIELDS                                   \
	.init = stub_init, .fini = stub_fini,                \
	.detect = stub_detect, .collect = stub_collect,      \
	.evidence_free = stub_evidence_free,                 \
	.verify = stub_verify, .claims_free = stub_claims_free

#endif
