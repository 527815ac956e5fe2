/* The tdx TEE driver: verifies Intel TDX DCAP quotes (v4 with a TD 1.0
 * report, v5 with TD 1.0 or TD 1.5) and, inside a TD, produces them
 * through the kernel's configfs-tsm report interface, which asks the host's
 * quoting service (QGS) for the quote. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dc_driver.h"
#include "dc_tsm.h"
#include "dcap.h"

#define TSM_DIR DC_TSM_DIR
#define TDX_GUEST_DEV "/dev/tdx_guest"
/* Quotes are a few kilobytes; leave room for long certificate chains. */
#define MAX_QUOTE (1u << 20)

static const char *const tdx_keys[] = { "tsm_dir", "device", NULL };

struct tdx_ctx {
	struct dcap_verifier *v;
	char tsm_dir[256];
	char device[256];
};

static int tdx_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct tdx_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(c->tsm_dir, sizeof(c->tsm_dir), "%s", TSM_DIR);
	snprintf(c->device, sizeof(c->device), "%s", TDX_GUEST_DEV);
	for (size_t i = 0; i < n_config; i++) {
		char *dst;

		if (!config[i].key)
			continue;
		if (strcmp(config[i].key, "tsm_dir") == 0)
			dst = c->tsm_dir;
		else if (strcmp(config[i].key, "device") == 0)
			dst = c->device;
		else
			continue;
		if (!config[i].value || config[i].value[0] != '/' ||
		    strlen(config[i].value) >= sizeof(c->tsm_dir)) {
			free(c);
			return dc_err(err, ATOLL_E_CONFIG,
				      "%s: '%s' is not an absolute path",
				      config[i].key,
				      config[i].value ? config[i].value : "");
		}
		snprintf(dst, sizeof(c->tsm_dir), "%s", config[i].value);
	}
	r = dcap_verifier_new(config, n_config, tdx_keys, &c->v, err);
	if (r != ATOLL_OK) {
		free(c);
		return r;
	}
	*ret_ctx = c;
	return ATOLL_OK;
}

static void tdx_fini(void *ctx)
{
	struct tdx_ctx *c = ctx;

	if (!c)
		return;
	dcap_verifier_free(c->v);
	free(c);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int tdx_detect(void *ctx, atoll_err *err)
{
	struct tdx_ctx *c = ctx;
	bool guest = access(c->device, F_OK) == 0;
	bool tsm = is_dir(c->tsm_dir);

	if (!guest && !tsm)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "not a TDX guest: neither %s nor %s exists",
			      c->device, c->tsm_dir);
	if (!guest)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s exists but %s does not: the TSM provider is not TDX (tdx_guest not loaded, or another TEE)",
			      c->tsm_dir, c->device);
	if (!tsm)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s exists but %s does not: TDX quotes need configfs-tsm (Linux 6.7+, CONFIG_TSM_REPORTS, configfs mounted on /sys/kernel/config)",
			      c->device, c->tsm_dir);
	if (access(c->tsm_dir, W_OK) != 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s is not writable by this process (needs root or CAP_SYS_ADMIN)",
			      c->tsm_dir);
	return ATOLL_OK;
}

/* The quote through configfs-tsm (dc_tsm). */
static int tdx_collect(void *ctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	struct tdx_ctx *c = ctx;
	uint8_t *quote = NULL;
	size_t len = 0;
	int r;

	if (!c || !report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	r = tdx_detect(ctx, err);
	if (r != ATOLL_OK)
		return r;
	r = dc_tsm_report(c->tsm_dir, "tdx_guest", report_data,
			  ATOLL_REPORT_DATA_LEN, MAX_QUOTE, &quote, &len, err);
	if (r != ATOLL_OK)
		return r;
	return dc_driver_evidence_new(quote, len, ret_evidence, err);
}

/* The TD's identity from the TD 1.0 or 1.5 report body. */
static void tdx_claims(struct dcap_claims *cl, const struct dcap_result *res)
{
	static const char *const rtmr[] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	const uint8_t *b = res->quote.body;
	uint64_t attrs = dcap_le64(b + TDR_TD_ATTRIBUTES);
	atoll_claims *pub = dcap_claims_pub(cl);

	dcap_claims_set(cl, b + TDR_MRTD, 48, b + TDR_MRSIGNERSEAM, 48,
			b + TDR_REPORT_DATA, 64);
	pub->debug = (attrs & TD_ATTR_DEBUG) != 0;
	dcap_claims_bytes(cl, "mrtd", b + TDR_MRTD, 48);
	dcap_claims_bytes(cl, "mrseam", b + TDR_MRSEAM, 48);
	dcap_claims_bytes(cl, "mrsignerseam", b + TDR_MRSIGNERSEAM, 48);
	dcap_claims_bytes(cl, "seam_attributes", b + TDR_SEAM_ATTRIBUTES, 8);
	dcap_claims_bytes(cl, "td_attributes", b + TDR_TD_ATTRIBUTES, 8);
	dcap_claims_bool(cl, "debug", attrs & TD_ATTR_DEBUG);
	dcap_claims_bool(cl, "sept_ve_disable", attrs & TD_ATTR_SEPT_VE_DISABLE);
	dcap_claims_bytes(cl, "xfam", b + TDR_XFAM, 8);
	dcap_claims_bytes(cl, "mrconfigid", b + TDR_MRCONFIGID, 48);
	dcap_claims_bytes(cl, "mrowner", b + TDR_MROWNER, 48);
	dcap_claims_bytes(cl, "mrownerconfig", b + TDR_MROWNERCONFIG, 48);
	for (int i = 0; i < 4; i++)
		dcap_claims_bytes(cl, rtmr[i], b + TDR_RTMR0 + 48 * i, 48);
	dcap_claims_bytes(cl, "tee_tcb_svn", b + TDR_TEE_TCB_SVN, 16);
	dcap_claims_bytes(cl, "report_data", b + TDR_REPORT_DATA, 64);
	dcap_claims_uint(cl, "td_report_type", res->quote.body_type);
	if (res->quote.body_type == DCAP_BODY_TD15) {
		dcap_claims_bytes(cl, "tee_tcb_svn2", b + TDR_TEE_TCB_SVN2, 16);
		dcap_claims_bytes(cl, "mrservicetd", b + TDR_MRSERVICETD, 48);
	}
}

static int tdx_verify(void *ctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	struct tdx_ctx *c = ctx;

	return dcap_driver_verify(c ? c->v : NULL, DCAP_TEE_TDX, "tdx",
				  tdx_claims, args, ret_claims, err);
}

static const atoll_tee_driver tdx_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "tdx",
	.description = "Intel TDX DCAP quotes (v4, v5 with TD 1.0/1.5 reports); collect via configfs-tsm",
	.init = tdx_init,
	.fini = tdx_fini,
	.detect = tdx_detect,
	.collect = tdx_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = tdx_verify,
	.claims_free = dcap_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(tdx_driver)
