/* A TEE driver written the way a vendor would, outside the Atoll tree:
 * test_vendor.sh compiles it with `cc -shared -fPIC -I<prefix>/include`
 * against the installed ABI headers alone, and vendor_load loads it. Its
 * "evidence" is a tag followed by the report data: it exercises the ABI,
 * not any security property. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atoll/tee_driver.h>

#define TAG "VENDOR-EVIDENCE-1"
#define TAG_LEN (sizeof(TAG) - 1)

struct vendor_claims {
	atoll_claims pub; /* first: the host frees what it was handed */
	uint8_t report_data[ATOLL_REPORT_DATA_LEN];
	atoll_claim extra[1];
};

static int fail(atoll_err *err, int status, const char *msg)
{
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return status;
}

static int v_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		  atoll_err *err)
{
	int *ctx;

	for (size_t i = 0; i < n_config; i++)
		if (strcmp(config[i].key, "site") != 0) {
			if (err)
				snprintf(err->msg, sizeof(err->msg),
					 "unknown key '%s'", config[i].key);
			return ATOLL_E_CONFIG;
		}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return fail(err, ATOLL_E_NOMEM, "out of memory");
	*ret_ctx = ctx;
	return ATOLL_OK;
}

static void v_fini(void *ctx)
{
	free(ctx);
}

static int v_detect(void *ctx, atoll_err *err)
{
	return ATOLL_OK;
}

static int v_collect(void *ctx, const uint8_t *report_data,
		     atoll_evidence **ret_evidence, atoll_err *err)
{
	atoll_evidence *ev = calloc(1, sizeof(*ev));
	uint8_t *d = malloc(TAG_LEN + ATOLL_REPORT_DATA_LEN);

	if (!ev || !d) {
		free(ev);
		free(d);
		return fail(err, ATOLL_E_NOMEM, "out of memory");
	}
	memcpy(d, TAG, TAG_LEN);
	memcpy(d + TAG_LEN, report_data, ATOLL_REPORT_DATA_LEN);
	ev->struct_size = sizeof(*ev);
	ev->data = d;
	ev->len = TAG_LEN + ATOLL_REPORT_DATA_LEN;
	*ret_evidence = ev;
	return ATOLL_OK;
}

static void v_evidence_free(void *ctx, atoll_evidence *ev)
{
	if (!ev)
		return;
	free(ev->data);
	free(ev);
}

static int v_verify(void *ctx, const atoll_verify_args *args,
		    atoll_claims **ret_claims, atoll_err *err)
{
	struct vendor_claims *c;
	const uint8_t *rd;

	if (!args || args->struct_size < sizeof(*args) || !ret_claims)
		return fail(err, ATOLL_E_INVALID_ARGUMENT, "bad arguments");
	if (!args->evidence ||
	    args->evidence_len != TAG_LEN + ATOLL_REPORT_DATA_LEN ||
	    memcmp(args->evidence, TAG, TAG_LEN) != 0)
		return fail(err, ATOLL_E_FORMAT, "not vendor evidence");
	rd = args->evidence + TAG_LEN;
	if (args->expected_report_data &&
	    (args->expected_report_data_len != ATOLL_REPORT_DATA_LEN ||
	     memcmp(args->expected_report_data, rd, ATOLL_REPORT_DATA_LEN)))
		return fail(err, ATOLL_E_BINDING, "report data differs");
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, ATOLL_E_NOMEM, "out of memory");
	memcpy(c->report_data, rd, ATOLL_REPORT_DATA_LEN);
	c->extra[0].name = "vendor";
	c->extra[0].type = ATOLL_CLAIM_STRING;
	c->extra[0].bytes = (const uint8_t *)"example";
	c->extra[0].len = 7;
	c->pub.struct_size = sizeof(c->pub);
	c->pub.tee_type = "vendor";
	c->pub.report_data = c->report_data;
	c->pub.report_data_len = ATOLL_REPORT_DATA_LEN;
	c->pub.issued_at = args->verify_time;
	c->pub.extra = c->extra;
	c->pub.n_extra = 1;
	*ret_claims = &c->pub;
	return ATOLL_OK;
}

static void v_claims_free(void *ctx, atoll_claims *claims)
{
	free(claims);
}

static const atoll_tee_driver vendor = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "vendor",
	.description = "out-of-tree example driver",
	.init = v_init,
	.fini = v_fini,
	.detect = v_detect,
	.collect = v_collect,
	.evidence_free = v_evidence_free,
	.verify = v_verify,
	.claims_free = v_claims_free,
	.version = "1.0.0",
};

ATOLL_TEE_DRIVER_EXPORT(vendor)
