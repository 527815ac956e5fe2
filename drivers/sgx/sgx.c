/* The sgx TEE driver: verifies Intel SGX DCAP ECDSA quotes (v3, and SGX
 * bodies in v4/v5) and reports the enclave's identity as claims; inside an
 * enclave run by Gramine it produces them through Gramine's attestation
 * pseudo-files: the report data goes to user_report_data, the DCAP quote
 * (from the platform's quoting enclave, via AESM) comes from quote. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dc_driver.h"
#include "dcap.h"
#include "util/fsutil.h"

#define ATTESTATION_DIR "/dev/attestation"
/* A quote with its PCK chain is a few kilobytes. */
#define MAX_QUOTE (64u * 1024)

static const char *const sgx_keys[] = { "attestation_dir", NULL };

struct sgx_ctx {
	struct dcap_verifier *v;
	char dir[256];
};

static int sgx_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct sgx_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(c->dir, sizeof(c->dir), "%s", ATTESTATION_DIR);
	for (size_t i = 0; i < n_config; i++) {
		if (!config[i].key || strcmp(config[i].key, "attestation_dir") != 0)
			continue;
		if (!config[i].value || config[i].value[0] != '/' ||
		    strlen(config[i].value) >= sizeof(c->dir)) {
			free(c);
			return dc_err(err, ATOLL_E_CONFIG,
				      "attestation_dir: '%s' is not an absolute path",
				      config[i].value ? config[i].value : "");
		}
		snprintf(c->dir, sizeof(c->dir), "%s", config[i].value);
	}
	r = dcap_verifier_new(config, n_config, sgx_keys, &c->v, err);
	if (r != ATOLL_OK) {
		free(c);
		return r;
	}
	*ret_ctx = c;
	return ATOLL_OK;
}

static void sgx_fini(void *ctx)
{
	struct sgx_ctx *c = ctx;

	if (!c)
		return;
	dcap_verifier_free(c->v);
	free(c);
}

/* Gramine says which remote attestation its manifest enabled. */
static int sgx_detect(void *ctx, atoll_err *err)
{
	struct sgx_ctx *c = ctx;
	char path[320];
	uint8_t *d = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/attestation_type", c->dir);
	r = fs_read_file(path, 64, &d, &len);
	if (r < 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "not an SGX enclave under Gramine: %s: %s", path,
			      strerror(-r));
	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == ' ' ||
			   d[len - 1] == '\0'))
		len--;
	if (len == 4 && memcmp(d, "dcap", 4) == 0) {
		free(d);
		return ATOLL_OK;
	}
	r = dc_err(err, ATOLL_E_UNAVAILABLE,
		   "Gramine attestation type is '%.*s', not dcap: set "
		   "sgx.remote_attestation = \"dcap\" in the manifest",
		   (int)(len > 16 ? 16 : len), (const char *)d);
	free(d);
	return r;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

static int sgx_collect(void *ctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	struct sgx_ctx *c = ctx;
	struct dcap_quote q;
	char path[320];
	uint8_t *quote = NULL;
	size_t len = 0;
	int r;

	if (!c || !report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	r = sgx_detect(ctx, err);
	if (r != ATOLL_OK)
		return r;
	/* Gramine asks the quoting enclave for a quote of a report over
	 * what was last written here (calls are serialized by the host). */
	snprintf(path, sizeof(path), "%s/user_report_data", c->dir);
	r = write_file(path, report_data, ATOLL_REPORT_DATA_LEN);
	if (r < 0)
		return dc_err(err, ATOLL_E_IO, "write %s: %s", path,
			      strerror(-r));
	snprintf(path, sizeof(path), "%s/quote", c->dir);
	r = fs_read_file(path, MAX_QUOTE, &quote, &len);
	if (r < 0)
		return dc_err(err, ATOLL_E_IO,
			      "read %s: %s (is AESM running on the host, with "
			      "a PCCS for the DCAP quote provider?)",
			      path, strerror(-r));
	/* Refuse to hand over a quote that is not ours: a verifier would
	 * only say "binding" later, without the cause. */
	r = dcap_quote_parse(quote, len, &q, err);
	if (r != ATOLL_OK) {
		free(quote);
		return dc_err_prefix(err, ATOLL_E_IO, "the quote from Gramine");
	}
	if (q.body_type != DCAP_BODY_SGX ||
	    memcmp(q.body + SGXR_REPORT_DATA, report_data,
		   ATOLL_REPORT_DATA_LEN) != 0) {
		free(quote);
		return dc_err(err, ATOLL_E_BINDING,
			      "the quote from %s does not carry the report data "
			      "written to user_report_data", path);
	}
	return dc_driver_evidence_new(quote, len, ret_evidence, err);
}

/* The enclave's identity from the SGX report body. */
static void sgx_claims(struct dcap_claims *cl, const struct dcap_result *res)
{
	const uint8_t *b = res->quote.body;
	bool debug = b[SGXR_ATTRIBUTES] & SGX_FLAGS_DEBUG;
	atoll_claims *pub = dcap_claims_pub(cl);

	dcap_claims_set(cl, b + SGXR_MRENCLAVE, 32, b + SGXR_MRSIGNER, 32,
			b + SGXR_REPORT_DATA, 64);
	pub->debug = debug;
	pub->svn = dcap_le16(b + SGXR_ISV_SVN);
	dcap_claims_bytes(cl, "mrenclave", b + SGXR_MRENCLAVE, 32);
	dcap_claims_bytes(cl, "mrsigner", b + SGXR_MRSIGNER, 32);
	dcap_claims_uint(cl, "isv_prod_id", dcap_le16(b + SGXR_ISV_PROD_ID));
	dcap_claims_uint(cl, "isv_svn", dcap_le16(b + SGXR_ISV_SVN));
	dcap_claims_bytes(cl, "attributes", b + SGXR_ATTRIBUTES, 16);
	dcap_claims_bool(cl, "debug", debug);
	dcap_claims_uint(cl, "miscselect", dcap_le32(b + SGXR_MISCSELECT));
	dcap_claims_bytes(cl, "cpusvn", b + SGXR_CPUSVN, 16);
	dcap_claims_bytes(cl, "config_id", b + SGXR_CONFIG_ID, 64);
	dcap_claims_uint(cl, "config_svn", dcap_le16(b + SGXR_CONFIG_SVN));
	dcap_claims_bytes(cl, "isv_ext_prod_id", b + SGXR_ISV_EXT_PROD_ID, 16);
	dcap_claims_bytes(cl, "isv_family_id", b + SGXR_ISV_FAMILY_ID, 16);
	dcap_claims_bytes(cl, "report_data", b + SGXR_REPORT_DATA, 64);
}

static int sgx_verify(void *ctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	struct sgx_ctx *c = ctx;

	return dcap_driver_verify(c ? c->v : NULL, DCAP_TEE_SGX, "sgx",
				  sgx_claims, args, ret_claims, err);
}

static const atoll_tee_driver sgx_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "sgx",
	.description = "Intel SGX DCAP ECDSA quotes (v3; v4/v5 SGX bodies); collect under Gramine",
	.init = sgx_init,
	.fini = sgx_fini,
	.detect = sgx_detect,
	.collect = sgx_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = sgx_verify,
	.claims_free = dcap_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(sgx_driver)
