/* The AWS Nitro Enclaves TEE driver: verification of NSM attestation
 * documents (COSE_Sign1 ES384, certificate chain to the pinned AWS Nitro
 * Enclaves Root-G1) into normalized claims, and collection through
 * /dev/nsm inside an enclave. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_cose.h"
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "nsm.h"

/* AWS Nitro Enclaves Root-G1, SHA-256 of the DER certificate. */
static const char default_root[] =
	"641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B";

/* Field limits of the attestation document (AWS, "Nitro Enclaves
 * attestation process", AttestationDocument CDDL). */
#define NITRO_MAX_CERT 1024
#define NITRO_MAX_OPT 1024
#define NITRO_MAX_PCRS 32
#define NITRO_MAX_DOC (64u * 1024)

struct nitro_ctx {
	struct dc_chain_conf chain;
	char device[256];
};

static void nitro_fini(void *vctx)
{
	struct nitro_ctx *ctx = vctx;

	if (!ctx)
		return;
	dc_chain_conf_clear(&ctx->chain);
	free(ctx);
}

static int nitro_key(void *vctx, const char *k, const char *v,
		     atoll_err *err)
{
	struct nitro_ctx *ctx = vctx;

	if (strcmp(k, "device") != 0)
		return DC_CONFIG_UNKNOWN;
	snprintf(ctx->device, sizeof(ctx->device), "%s", v);
	return ATOLL_OK;
}

static int nitro_init(const atoll_kv *config, size_t n_config,
		      void **ret_ctx, atoll_err *err)
{
	struct nitro_ctx *ctx = calloc(1, sizeof(*ctx));
	int r;

	if (!ctx)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(ctx->device, sizeof(ctx->device), "/dev/nsm");
	r = dc_chain_conf_init(&ctx->chain, "root_fingerprints", default_root,
			       config, n_config, nitro_key, ctx, err);
	if (r != ATOLL_OK) {
		nitro_fini(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
}

/* The document's fields, borrowed from the decoded payload. */
struct nitro_doc {
	const char *module_id;
	size_t module_id_len;
	const char *digest;
	size_t digest_len;
	uint64_t timestamp;
	const uint8_t *pcr[NITRO_MAX_PCRS];
	size_t pcr_len;
	const uint8_t *cert;
	size_t cert_len;
	const cbor_item_t *cabundle;
	const uint8_t *public_key, *user_data, *nonce;
	size_t public_key_len, user_data_len, nonce_len;
	bool has_public_key, has_user_data, has_nonce;
};

static const cbor_item_t *field(const cbor_item_t *map, const char *key,
				bool required, atoll_err *err, int *status)
{
	bool dup;
	const cbor_item_t *v = dc_cbor_map_str(map, key, &dup);

	if (dup) {
		*status = dc_err(err, ATOLL_E_FORMAT, "'%s' appears twice", key);
		return NULL;
	}
	if (!v && required)
		*status = dc_err(err, ATOLL_E_FORMAT, "'%s' is missing", key);
	return v;
}

static int opt_bytes(const cbor_item_t *map, const char *key,
		     const uint8_t **ret, size_t *ret_len, bool *ret_has,
		     atoll_err *err)
{
	int status = ATOLL_OK;
	const cbor_item_t *v = field(map, key, false, err, &status);

	*ret_has = false;
	if (status != ATOLL_OK || !v || dc_cbor_is_null(v))
		return status;
	if (!dc_cbor_bytes(v, ret, ret_len))
		return dc_err(err, ATOLL_E_FORMAT, "'%s' is not a byte string",
			      key);
	if (*ret_len > NITRO_MAX_OPT)
		return dc_err(err, ATOLL_E_FORMAT, "'%s' is %zu bytes, limit %d",
			      key, *ret_len, NITRO_MAX_OPT);
	*ret_has = true;
	return ATOLL_OK;
}

static int parse_doc(const cbor_item_t *map, struct nitro_doc *d,
		     atoll_err *err)
{
	const cbor_item_t *v;
	struct cbor_pair *pairs;
	size_t i, n;
	int status = ATOLL_OK;

	memset(d, 0, sizeof(*d));
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "payload is not a map");
	v = field(map, "module_id", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_text(v, &d->module_id, &d->module_id_len) ||
	    d->module_id_len == 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "'module_id' is not a non-empty text string");
	v = field(map, "digest", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_text(v, &d->digest, &d->digest_len))
		return dc_err(err, ATOLL_E_FORMAT, "'digest' is not text");
	if (d->digest_len == 6 && memcmp(d->digest, "SHA384", 6) == 0)
		d->pcr_len = 48;
	else if (d->digest_len == 6 && memcmp(d->digest, "SHA256", 6) == 0)
		d->pcr_len = 32;
	else if (d->digest_len == 6 && memcmp(d->digest, "SHA512", 6) == 0)
		d->pcr_len = 64;
	else
		return dc_err(err, ATOLL_E_FORMAT, "digest '%.*s' is unknown",
			      (int)(d->digest_len > 16 ? 16 : d->digest_len),
			      d->digest);
	v = field(map, "timestamp", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_uint(v) || (d->timestamp = cbor_get_int(v)) == 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "'timestamp' is not a positive integer");
	v = field(map, "pcrs", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_map(v) || cbor_map_size(v) == 0 ||
	    cbor_map_size(v) > NITRO_MAX_PCRS)
		return dc_err(err, ATOLL_E_FORMAT,
			      "'pcrs' is not a map of 1..%d entries",
			      NITRO_MAX_PCRS);
	pairs = cbor_map_handle(v);
	n = cbor_map_size(v);
	for (i = 0; i < n; i++) {
		int64_t idx;
		const uint8_t *p;
		size_t len;

		if (!dc_cbor_int(pairs[i].key, &idx) || idx < 0 ||
		    idx >= NITRO_MAX_PCRS)
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCR index is not 0..%d",
				      NITRO_MAX_PCRS - 1);
		if (!dc_cbor_bytes(pairs[i].value, &p, &len))
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCR%lld is not a byte string",
				      (long long)idx);
		if (len != d->pcr_len)
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCR%lld is %zu bytes, %.*s needs %zu",
				      (long long)idx, len, (int)d->digest_len,
				      d->digest, d->pcr_len);
		if (d->pcr[idx])
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCR%lld appears twice", (long long)idx);
		d->pcr[idx] = p;
	}
	v = field(map, "certificate", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_bytes(v, &d->cert, &d->cert_len) || d->cert_len == 0 ||
	    d->cert_len > NITRO_MAX_CERT)
		return dc_err(err, ATOLL_E_FORMAT,
			      "'certificate' is not a byte string of 1..%d bytes",
			      NITRO_MAX_CERT);
	v = field(map, "cabundle", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_array(v) || cbor_array_size(v) == 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "'cabundle' is not a non-empty array");
	for (i = 0; i < cbor_array_size(v); i++) {
		const uint8_t *p;
		size_t len;

		if (!dc_cbor_bytes(cbor_array_handle(v)[i], &p, &len) ||
		    len == 0 || len > NITRO_MAX_CERT)
			return dc_err(err, ATOLL_E_FORMAT,
				      "cabundle[%zu] is not a byte string of "
				      "1..%d bytes", i, NITRO_MAX_CERT);
	}
	d->cabundle = v;
	status = opt_bytes(map, "public_key", &d->public_key,
			   &d->public_key_len, &d->has_public_key, err);
	if (status == ATOLL_OK)
		status = opt_bytes(map, "user_data", &d->user_data,
				   &d->user_data_len, &d->has_user_data, err);
	if (status == ATOLL_OK)
		status = opt_bytes(map, "nonce", &d->nonce, &d->nonce_len,
				   &d->has_nonce, err);
	return status;
}

static int build_claims(const struct nitro_doc *d,
			const struct dc_chain_result *chain,
			atoll_claims **ret)
{
	struct dc_claims *c = dc_claims_new("nitro");
	atoll_claims *pub;
	static const uint8_t zero[64];
	char name[8];
	int i, r = 0;

	if (!c)
		return -ENOMEM;
	pub = dc_claims_pub(c);
	if (d->pcr[0])
		r |= dc_claims_set_measurement(c, d->pcr[0], d->pcr_len);
	if (d->pcr[8])
		r |= dc_claims_set_signer(c, d->pcr[8], d->pcr_len);
	if (d->has_nonce && d->nonce_len == ATOLL_REPORT_DATA_LEN)
		r |= dc_claims_set_report_data(c, d->nonce, d->nonce_len);
	/* A debug-mode enclave reports PCR0..2 as zeros. */
	pub->debug = d->pcr[0] && d->pcr[1] && d->pcr[2] &&
		     memcmp(d->pcr[0], zero, d->pcr_len) == 0 &&
		     memcmp(d->pcr[1], zero, d->pcr_len) == 0 &&
		     memcmp(d->pcr[2], zero, d->pcr_len) == 0;
	pub->issued_at = (int64_t)(d->timestamp / 1000);
	pub->not_before = chain->not_before;
	pub->not_after = chain->not_after;
	r |= dc_claims_add_string(c, "module_id", d->module_id,
				  d->module_id_len);
	r |= dc_claims_add_string(c, "digest", d->digest, d->digest_len);
	r |= dc_claims_add_uint(c, "timestamp", d->timestamp);
	for (i = 0; i < NITRO_MAX_PCRS; i++) {
		if (!d->pcr[i])
			continue;
		snprintf(name, sizeof(name), "pcr%d", i);
		r |= dc_claims_add_bytes(c, name, d->pcr[i], d->pcr_len);
	}
	if (d->has_nonce)
		r |= dc_claims_add_bytes(c, "nonce", d->nonce, d->nonce_len);
	if (d->has_public_key)
		r |= dc_claims_add_bytes(c, "public_key", d->public_key,
					 d->public_key_len);
	if (d->has_user_data)
		r |= dc_claims_add_bytes(c, "user_data", d->user_data,
					 d->user_data_len);
	if (r) {
		dc_claims_free(pub);
		return -ENOMEM;
	}
	*ret = pub;
	return 0;
}

static int nitro_verify(void *vctx, const atoll_verify_args *args,
			atoll_claims **ret_claims, atoll_err *err)
{
	struct nitro_ctx *ctx = vctx;
	struct dc_cose_sign1 m = { 0 };
	struct dc_collateral *pool = NULL;
	struct dc_chain_result chain;
	cbor_item_t *payload = NULL;
	struct nitro_doc d;
	X509 *leaf = NULL;
	EVP_PKEY *k;
	size_t i;
	int status;

	status = dc_verify_args_check(args, ret_claims, err);
	if (status != ATOLL_OK)
		return status;
	if (args->evidence_len > NITRO_MAX_DOC)
		return dc_err(err, ATOLL_E_FORMAT,
			      "document is %zu bytes, limit %u",
			      args->evidence_len, NITRO_MAX_DOC);
	status = dc_cose_sign1_parse(args->evidence, args->evidence_len, &m,
				     err);
	if (status != ATOLL_OK)
		return status;
	if (m.alg != DC_COSE_ES384) {
		status = dc_err(err, ATOLL_E_FORMAT,
				"COSE algorithm %s (%lld); Nitro documents use "
				"ES384", dc_cose_alg_name(m.alg),
				(long long)m.alg);
		goto out_free;
	}
	status = dc_cbor_decode(m.payload, m.payload_len, &payload, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "payload");
		goto out_free;
	}
	status = parse_doc(payload, &d, err);
	if (status != ATOLL_OK)
		goto out_free;

	leaf = dc_cert_from_der(ctx->chain.parsed, d.cert, d.cert_len);
	if (!leaf) {
		status = dc_err(err, ATOLL_E_FORMAT,
				"'certificate' is not a DER certificate");
		goto out_free;
	}
	k = X509_get0_pubkey(leaf);
	if (!dc_key_is_ec(k, "secp384r1")) {
		status = dc_err(err, ATOLL_E_FORMAT,
				"enclave certificate key is not P-384");
		goto out_free;
	}
	status = dc_cose_sign1_verify(&m, k, err);
	if (status != ATOLL_OK)
		goto out_free;

	pool = dc_collateral_new_cached(ctx->chain.parsed);
	if (!pool ||
	    dc_collateral_merge_certs(pool, ctx->chain.extra) != ATOLL_OK) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	for (i = 0; i < cbor_array_size(d.cabundle); i++) {
		const uint8_t *p;
		size_t len;
		X509 *x;

		dc_cbor_bytes(cbor_array_handle(d.cabundle)[i], &p, &len);
		x = dc_cert_from_der(ctx->chain.parsed, p, len);
		if (!x) {
			status = dc_err(err, ATOLL_E_FORMAT,
					"cabundle[%zu] is not a DER certificate",
					i);
			goto out_free;
		}
		if (!sk_X509_push(pool->certs, x)) {
			X509_free(x);
			status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
			goto out_free;
		}
	}
	/* Collateral may add roots or intermediates (e.g. the root PEM). */
	status = dc_collateral_add_all(pool, args->collateral,
				       args->n_collateral, err);
	if (status != ATOLL_OK)
		goto out_free;
	status = dc_chain_verify(leaf, pool->certs, pool->crls,
				 &ctx->chain.pins, args->verify_time,
				 ctx->chain.cache, &chain, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "enclave certificate chain");
		goto out_free;
	}
	if (args->expected_report_data &&
	    (!d.has_nonce || d.nonce_len != args->expected_report_data_len ||
	     !dc_ct_equal(d.nonce, args->expected_report_data, d.nonce_len))) {
		status = dc_err(err, ATOLL_E_BINDING,
				"nonce differs from the expected report data");
		goto out_free;
	}
	if (build_claims(&d, &chain, ret_claims) < 0) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = ATOLL_OK;
out_free:
	X509_free(leaf);
	dc_collateral_free(pool);
	if (payload)
		cbor_decref(&payload);
	dc_cose_sign1_clear(&m);
	return status;
}

static int nitro_detect(void *vctx, atoll_err *err)
{
	struct nitro_ctx *ctx = vctx;

	if (access(ctx->device, R_OK | W_OK) == 0)
		return ATOLL_OK;
	return dc_err(err, ATOLL_E_UNAVAILABLE,
		      "no Nitro Security Module: %s %s (not inside a Nitro "
		      "enclave, or the nsm driver is not loaded)",
		      ctx->device,
		      errno == ENOENT ? "does not exist" : "is not accessible");
}

static int nitro_collect(void *vctx, const uint8_t *report_data,
			 atoll_evidence **ret_evidence, atoll_err *err)
{
	struct nitro_ctx *ctx = vctx;
	uint8_t req[NSM_ATTESTATION_REQUEST_LEN], *resp = NULL;
	struct nsm_raw raw;
	cbor_item_t *item = NULL;
	const uint8_t *doc;
	size_t n;
	atoll_evidence *ev;
	int fd, status;

	if (!report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "report_data and ret_evidence are required");
	fd = open(ctx->device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return nitro_detect(ctx, err);
	resp = malloc(NSM_RESPONSE_MAX);
	if (!resp) {
		close(fd);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	raw.request.addr = (uint64_t)(uintptr_t)req;
	raw.request.len = nsm_attestation_request(report_data, req);
	raw.response.addr = (uint64_t)(uintptr_t)resp;
	raw.response.len = NSM_RESPONSE_MAX;
	if (ioctl(fd, NSM_IOCTL_RAW, &raw) < 0) {
		status = dc_err(err, ATOLL_E_IO, "NSM request: %s",
				strerror(errno));
		goto out_free;
	}
	if (raw.response.len > NSM_RESPONSE_MAX) {
		status = dc_err(err, ATOLL_E_IO, "NSM response too long");
		goto out_free;
	}
	status = nsm_attestation_response(resp, (size_t)raw.response.len,
					  &item, &doc, &n, err);
	if (status != ATOLL_OK)
		goto out_free;
	ev = calloc(1, sizeof(*ev));
	if (!ev || !(ev->data = malloc(n))) {
		free(ev);
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	ev->struct_size = sizeof(*ev);
	memcpy(ev->data, doc, n);
	ev->len = n;
	*ret_evidence = ev;
	status = ATOLL_OK;
out_free:
	if (item)
		cbor_decref(&item);
	free(resp);
	close(fd);
	return status;
}

static const atoll_tee_driver nitro_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "nitro",
	.description = "AWS Nitro Enclaves attestation documents (Root-G1 pinned)",
	.init = nitro_init,
	.fini = nitro_fini,
	.detect = nitro_detect,
	.collect = nitro_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = nitro_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(nitro_driver)
