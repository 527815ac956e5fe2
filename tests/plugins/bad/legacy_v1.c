/* A driver as it was built before ABI 1.1, written out by hand because
 * the header no longer presents that layout: one uint32_t abi_version = 1
 * where 1.1 has uint16_t abi_major, abi_minor, and an entry point that
 * takes one argument and compares it with 1. Only atoll/status.h is
 * included, since the old entry's prototype clashes with the one
 * atoll/tee_driver.h declares now. A 1.1 host must load it as 1.0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/status.h"

struct legacy_driver {
	uint32_t abi_version;
	uint32_t struct_size;
	const char *name;
	const char *description;
	int (*init)(const atoll_kv *config, size_t n_config, void **ret_ctx, atoll_err *err);
	void (*fini)(void *ctx);
	int (*detect)(void *ctx, atoll_err *err);
	int (*collect)(void *ctx, const uint8_t *report_data, void **ret_evidence,
		       atoll_err *err);
	void (*evidence_free)(void *ctx, void *evidence);
	int (*verify)(void *ctx, const void *args, void **ret_claims, atoll_err *err);
	void (*claims_free)(void *ctx, void *claims);
};

static int l_init(const atoll_kv *config, size_t n_config, void **ret_ctx, atoll_err *err)
{
	void *ctx = malloc(1);

	if (!ctx)
		return ATOLL_E_NOMEM;
	*ret_ctx = ctx;
	return ATOLL_OK;
}

static void l_fini(void *ctx)
{
	free(ctx);
}

static int l_detect(void *ctx, atoll_err *err)
{
	return ATOLL_OK;
}

static int l_collect(void *ctx, const uint8_t *report_data, void **ret_evidence,
		     atoll_err *err)
{
	strcpy(err->msg, "legacy: no hardware");
	return ATOLL_E_UNAVAILABLE;
}

static void l_evidence_free(void *ctx, void *evidence)
{
}

static int l_verify(void *ctx, const void *args, void **ret_claims, atoll_err *err)
{
	strcpy(err->msg, "legacy: not evidence");
	return ATOLL_E_FORMAT;
}

static void l_claims_free(void *ctx, void *claims)
{
}

static const struct legacy_driver table = {
	.abi_version = 1,
	.struct_size = sizeof(struct legacy_driver),
	.name = "legacy",
	.init = l_init,
	.fini = l_fini,
	.detect = l_detect,
	.collect = l_collect,
	.evidence_free = l_evidence_free,
	.verify = l_verify,
	.claims_free = l_claims_free,
};

__attribute__((visibility("default"))) const struct legacy_driver *
atoll_tee_driver_entry(uint32_t host_abi);

const struct legacy_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return host_abi == 1 ? &table : NULL;
}
