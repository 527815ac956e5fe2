/* The sim TEE driver: a software TEE for development and tests. On the
 * island side it signs reports (report.h, docs/tee/sim.md) with an island
 * key certified by a sim root CA; on the verifier side it checks them
 * against that CA. The crypto is real, the isolation is not: a policy must
 * list `sim` on purpose to accept it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "report.h"
#include "simtool.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define SIM_DEFAULT_TTL 600
#define SIM_MAX_TTL (365 * 86400)
#define SIM_PEM_MAX (64u * 1024)
#define SIM_CHAIN_CACHE 64

struct sim_ctx {
	/* Verifier side: the roots from ca_file, pinned by fingerprint. */
	struct dc_collateral *ca;
	struct dc_pins pins;
	/* Island certificates already chained, so that verifying many
	 * reports from one island costs one chain verification per
	 * certificate (bounded, keyed by the exact bytes, never answering
	 * outside the chain's validity). */
	struct dc_chain_cache *cache;

	/* Island side, present when key_file and cert_file are configured. */
	bool island;
	/* Why the island key cannot be used (files unreadable); empty when
	 * it can. */
	char unavailable[ATOLL_ERR_MAX];
	EVP_PKEY *key;
	uint8_t *cert_der;
	size_t cert_len;
	bool debug;
	uint32_t svn;
	int64_t ttl_s;
	uint8_t measurement[SIM_MEASUREMENT_LEN];
};

/* The recognized config keys; values are borrowed for init(). */
struct sim_config {
	const char *ca_file, *key_file, *cert_file, *debug, *svn, *report_ttl;
};

static void sim_fini(void *vctx)
{
	struct sim_ctx *ctx = vctx;

	if (!ctx)
		return;
	dc_collateral_free(ctx->ca);
	dc_pins_clear(&ctx->pins);
	dc_chain_cache_free(ctx->cache);
	EVP_PKEY_free(ctx->key);
	free(ctx->cert_der);
	free(ctx);
}

static int config_slot(void *userdata, const char *k, const char *v,
		       atoll_err *err)
{
	struct sim_config *c = userdata;
	const char **slot;

	if (strcmp(k, "ca_file") == 0)
		slot = &c->ca_file;
	else if (strcmp(k, "key_file") == 0)
		slot = &c->key_file;
	else if (strcmp(k, "cert_file") == 0)
		slot = &c->cert_file;
	else if (strcmp(k, "debug") == 0)
		slot = &c->debug;
	else if (strcmp(k, "svn") == 0)
		slot = &c->svn;
	else if (strcmp(k, "report_ttl") == 0)
		slot = &c->report_ttl;
	else
		return DC_CONFIG_UNKNOWN;
	if (*slot)
		return dc_err(err, ATOLL_E_CONFIG, "key '%s' given twice", k);
	*slot = v;
	return ATOLL_OK;
}

static int load_roots(struct sim_ctx *ctx, const char *path, atoll_err *err)
{
	int r;

	ctx->ca = dc_collateral_new();
	if (!ctx->ca)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = dc_collateral_add_file(ctx->ca, path, err);
	if (r != ATOLL_OK)
		return dc_err_prefix(err, r, "ca_file");
	if (sk_X509_num(ctx->ca->certs) < 1 || ctx->ca->n_keys ||
	    ctx->ca->n_json || ctx->ca->n_other)
		return dc_err(err, ATOLL_E_CONFIG,
			      "ca_file: %s holds something other than "
			      "certificates", path);
	for (int i = 0; i < sk_X509_num(ctx->ca->certs); i++) {
		uint8_t fp[32];

		if (dc_cert_fingerprint(sk_X509_value(ctx->ca->certs, i), fp) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "ca_file: cannot fingerprint certificate %d",
				      i);
		if (dc_pins_add(&ctx->pins, fp) < 0)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	ctx->cache = dc_chain_cache_new(SIM_CHAIN_CACHE);
	if (!ctx->cache)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	return ATOLL_OK;
}

/* Read one island file. A file that cannot be read is not a config
 * error: detect() reports it, as the island may simply not be provisioned
 * yet. Returns ATOLL_OK with *ret_data NULL in that case. */
static int read_island_file(struct sim_ctx *ctx, const char *key,
			    const char *path, uint8_t **ret_data,
			    size_t *ret_len, atoll_err *err)
{
	int r = fs_read_file(path, SIM_PEM_MAX, ret_data, ret_len);

	if (r == -EFBIG)
		return dc_err(err, ATOLL_E_CONFIG, "%s: %s is larger than %u bytes",
			      key, path, SIM_PEM_MAX);
	if (r == -ENOMEM)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (r < 0) {
		if (!ctx->unavailable[0])
			snprintf(ctx->unavailable, sizeof(ctx->unavailable),
				 "%s: cannot read %s: %s", key, path,
				 strerror(-r));
		*ret_data = NULL;
	}
	return ATOLL_OK;
}

static int load_island(struct sim_ctx *ctx, const char *key_path,
		       const char *cert_path, atoll_err *err)
{
	uint8_t *key_pem = NULL, *cert_pem = NULL, *der = NULL;
	size_t key_len = 0, cert_len = 0;
	X509 *cert = NULL;
	BIO *b;
	int der_len, r;

	r = read_island_file(ctx, "key_file", key_path, &key_pem, &key_len, err);
	if (r == ATOLL_OK)
		r = read_island_file(ctx, "cert_file", cert_path, &cert_pem,
				     &cert_len, err);
	if (r != ATOLL_OK || !key_pem || !cert_pem)
		goto out_free;

	b = BIO_new_mem_buf(key_pem, (int)key_len);
	ctx->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!ctx->key) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "key_file: %s is not an unencrypted PEM private key",
			   key_path);
		goto out_free;
	}
	if (!dc_key_is_ec(ctx->key, "prime256v1")) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "key_file: %s is not an ECDSA P-256 key", key_path);
		goto out_free;
	}
	b = BIO_new_mem_buf(cert_pem, (int)cert_len);
	cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!cert) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "cert_file: %s is not a PEM certificate", cert_path);
		goto out_free;
	}
	if (X509_check_private_key(cert, ctx->key) != 1) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "cert_file: %s does not certify the key in %s",
			   cert_path, key_path);
		goto out_free;
	}
	der_len = i2d_X509(cert, &der);
	if (der_len <= 0 || der_len > SIM_CERT_MAX) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "cert_file: %s encodes to %d bytes, limit %d",
			   cert_path, der_len, SIM_CERT_MAX);
		goto out_free;
	}
	ctx->cert_der = malloc((size_t)der_len);
	if (!ctx->cert_der) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	memcpy(ctx->cert_der, der, (size_t)der_len);
	ctx->cert_len = (size_t)der_len;
	r = ATOLL_OK;
out_free:
	OPENSSL_free(der);
	X509_free(cert);
	if (key_pem)
		OPENSSL_cleanse(key_pem, key_len);
	free(key_pem);
	free(cert_pem);
	ERR_clear_error();
	return r;
}

static int island_options(struct sim_ctx *ctx, const struct sim_config *c,
			  atoll_err *err)
{
	size_t v;
	int r;

	ctx->ttl_s = SIM_DEFAULT_TTL;
	ctx->svn = 1;
	if (c->debug && dc_parse_bool(c->debug, &ctx->debug) < 0)
		return dc_err(err, ATOLL_E_CONFIG,
			      "debug: '%s' is not true or false", c->debug);
	if (c->svn) {
		if (dc_parse_size(c->svn, 0, UINT32_MAX, &v) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "svn: '%s' is not an integer in 0..%u",
				      c->svn, UINT32_MAX);
		ctx->svn = (uint32_t)v;
	}
	if (c->report_ttl) {
		if (dc_parse_size(c->report_ttl, 1, SIM_MAX_TTL, &v) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "report_ttl: '%s' is not a number of "
				      "seconds in 1..%d", c->report_ttl,
				      SIM_MAX_TTL);
		ctx->ttl_s = (int64_t)v;
	}
	/* The enclave runtime is the process that calls collect(), so the
	 * binary it runs is what the report measures. */
	r = simtool_measure_raw("/proc/self/exe", ctx->measurement);
	if (r < 0)
		return dc_err(err, ATOLL_E_IO, "cannot measure /proc/self/exe: %s",
			      strerror(-r));
	return ATOLL_OK;
}

static int sim_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct sim_config c = { 0 };
	struct sim_ctx *ctx;
	int r;

	if (!ret_ctx || (n_config && !config))
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT, "bad init arguments");
	r = dc_config_walk(config, n_config, config_slot, &c, err);
	if (r != ATOLL_OK)
		return r;
	if (!c.key_file != !c.cert_file)
		return dc_err(err, ATOLL_E_CONFIG, "%s needs %s",
			      c.key_file ? "key_file" : "cert_file",
			      c.key_file ? "cert_file" : "key_file");
	if (!c.key_file) {
		const char *stray = c.debug ? "debug" :
				    c.svn ? "svn" :
				    c.report_ttl ? "report_ttl" : NULL;

		if (stray)
			return dc_err(err, ATOLL_E_CONFIG,
				      "%s is an island setting; it needs "
				      "key_file and cert_file", stray);
		if (!c.ca_file)
			return dc_err(err, ATOLL_E_CONFIG,
				      "configure ca_file (verifier side), "
				      "key_file and cert_file (island side), "
				      "or both");
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (c.ca_file) {
		r = load_roots(ctx, c.ca_file, err);
		if (r != ATOLL_OK)
			goto out_fail;
	}
	if (c.key_file) {
		ctx->island = true;
		r = island_options(ctx, &c, err);
		if (r == ATOLL_OK)
			r = load_island(ctx, c.key_file, c.cert_file, err);
		if (r != ATOLL_OK)
			goto out_fail;
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
out_fail:
	sim_fini(ctx);
	return r;
}

static int island_ready(const struct sim_ctx *ctx, atoll_err *err)
{
	if (!ctx || !ctx->island)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "key_file and cert_file are not configured");
	if (ctx->unavailable[0])
		return dc_err(err, ATOLL_E_UNAVAILABLE, "%s", ctx->unavailable);
	return ATOLL_OK;
}

static int sim_detect(void *vctx, atoll_err *err)
{
	return island_ready(vctx, err);
}

/* ECDSA-SHA256 over msg as raw r || s. */
static int sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len,
		    uint8_t out[SIM_SIG_LEN], atoll_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[128];
	size_t der_len = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int status;

	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &der_len, msg, len) != 1) {
		status = dc_err(err, ATOLL_E_INTERNAL, "ECDSA signing failed");
		goto out_free;
	}
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!sig) {
		status = dc_err(err, ATOLL_E_INTERNAL, "ECDSA signature does not parse");
		goto out_free;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, SIM_SIG_LEN / 2) != SIM_SIG_LEN / 2 ||
	    BN_bn2binpad(s, out + SIM_SIG_LEN / 2, SIM_SIG_LEN / 2) !=
		    SIM_SIG_LEN / 2) {
		status = dc_err(err, ATOLL_E_INTERNAL, "ECDSA signature too long");
		goto out_free;
	}
	status = ATOLL_OK;
out_free:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return status;
}

static int sim_collect(void *vctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	struct sim_ctx *ctx = vctx;
	struct sim_report rep = { 0 };
	uint8_t *buf = NULL;
	size_t body_len = 0;
	int r;

	if (!report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "bad collect arguments");
	r = island_ready(ctx, err);
	if (r != ATOLL_OK)
		return r;
	rep.version = SIM_VERSION;
	rep.flags = ctx->debug ? SIM_FLAG_DEBUG : 0;
	rep.svn = ctx->svn;
	memcpy(rep.measurement, ctx->measurement, SIM_MEASUREMENT_LEN);
	memcpy(rep.report_data, report_data, SIM_REPORT_DATA_LEN);
	rep.issued_at_ms = time_now_ms();
	rep.expires_at_ms = rep.issued_at_ms + ctx->ttl_s * 1000;
	rep.cert = ctx->cert_der;
	rep.cert_len = ctx->cert_len;
	if (sim_report_encode_body(&rep, &buf, &body_len) < 0)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = sign_raw(ctx->key, buf, body_len, buf + body_len, err);
	if (r != ATOLL_OK)
		goto out_fail;
	return dc_driver_evidence_new(buf, body_len + SIM_SIG_LEN, ret_evidence,
				      err);
out_fail:
	free(buf);
	return r;
}

/* Unix milliseconds to seconds, rounding down also below zero. */
static int64_t ms_to_s(int64_t ms)
{
	int64_t q = ms / 1000;

	return ms % 1000 < 0 ? q - 1 : q;
}

static int subject_of(X509 *x, char *out, size_t out_size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	if (!b)
		return -ENOMEM;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		return -EINVAL;
	}
	n = BIO_get_mem_data(b, &p);
	snprintf(out, out_size, "%.*s", (int)(n > 0 ? n : 0), p ? p : "");
	BIO_free(b);
	return 0;
}

static int spki_sha256(EVP_PKEY *k, uint8_t out[32])
{
	unsigned char *der = NULL;
	unsigned int md_len = 32;
	int len = i2d_PUBKEY(k, &der);
	int ok = len > 0 && EVP_Digest(der, (size_t)len, out, &md_len,
				       EVP_sha256(), NULL) == 1;

	OPENSSL_free(der);
	return ok ? 0 : -EINVAL;
}

static int build_claims(const struct sim_report *rep, X509 *leaf,
			const struct dc_chain_result *chain,
			atoll_claims **ret_claims, atoll_err *err)
{
	struct dc_claims *c = dc_claims_new("sim");
	atoll_claims *pub;
	char subject[512];
	uint8_t signer[32];
	int64_t issued = ms_to_s(rep->issued_at_ms);
	int64_t expires = ms_to_s(rep->expires_at_ms);

	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	pub = dc_claims_pub(c);
	if (spki_sha256(X509_get0_pubkey(leaf), signer) < 0 ||
	    subject_of(leaf, subject, sizeof(subject)) < 0)
		goto out_nomem;
	if (dc_claims_set_measurement(c, rep->measurement,
				      SIM_MEASUREMENT_LEN) < 0 ||
	    dc_claims_set_signer(c, signer, sizeof(signer)) < 0 ||
	    dc_claims_set_report_data(c, rep->report_data,
				      SIM_REPORT_DATA_LEN) < 0 ||
	    dc_claims_add_string(c, "island_cert_subject", subject,
				 strlen(subject)) < 0 ||
	    dc_claims_add_uint(c, "svn", rep->svn) < 0)
		goto out_nomem;
	pub->debug = (rep->flags & SIM_FLAG_DEBUG) ? 1 : 0;
	pub->svn = rep->svn;
	pub->issued_at = issued;
	/* The report's window, narrowed to its certificate's. */
	pub->not_before = issued > chain->not_before ? issued : chain->not_before;
	pub->not_after = expires < chain->not_after ? expires : chain->not_after;
	*ret_claims = pub;
	return ATOLL_OK;
out_nomem:
	dc_claims_free(pub);
	return dc_err(err, ATOLL_E_NOMEM, "out of memory");
}

static int check_window(const struct sim_report *rep, int64_t t,
			atoll_err *err)
{
	int64_t issued = ms_to_s(rep->issued_at_ms);
	int64_t expires = ms_to_s(rep->expires_at_ms);
	char a[32], b[32];

	dc_format_time(t, b, sizeof(b));
	if (t < issued) {
		dc_format_time(issued, a, sizeof(a));
		return dc_err(err, ATOLL_E_EXPIRED,
			      "report issued at %s, after the verification "
			      "time %s", a, b);
	}
	if (t > expires) {
		dc_format_time(expires, a, sizeof(a));
		return dc_err(err, ATOLL_E_EXPIRED,
			      "report expired at %s; verification time %s", a,
			      b);
	}
	return ATOLL_OK;
}

static int sim_verify(void *vctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	const struct sim_ctx *ctx = vctx;
	struct dc_chain_result chain;
	struct sim_report rep;
	const unsigned char *p;
	X509 *leaf = NULL;
	EVP_PKEY *k;
	int status;

	if (!ctx || !args || args->struct_size < sizeof(*args) || !ret_claims ||
	    (!args->evidence && args->evidence_len))
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "bad verify arguments");
	if (!ctx->ca)
		return dc_err(err, ATOLL_E_CONFIG,
			      "no ca_file configured: this instance cannot "
			      "verify");
	if (sim_report_parse(args->evidence, args->evidence_len, &rep,
			     err ? err->msg : NULL, err ? sizeof(err->msg) : 0) < 0)
		return ATOLL_E_FORMAT;
	p = rep.cert;
	leaf = d2i_X509(NULL, &p, (long)rep.cert_len);
	if (!leaf || p != rep.cert + rep.cert_len) {
		status = dc_err(err, ATOLL_E_FORMAT,
				"island certificate does not parse");
		goto out_free;
	}
	status = dc_chain_verify(leaf, ctx->ca->certs, NULL, &ctx->pins,
				 args->verify_time, ctx->cache, &chain, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "island certificate");
		goto out_free;
	}
	k = X509_get0_pubkey(leaf);
	if (!dc_key_is_ec(k, "prime256v1")) {
		status = dc_err(err, ATOLL_E_FORMAT,
				"island certificate key is not ECDSA P-256");
		goto out_free;
	}
	status = dc_ecdsa_verify_raw(k, EVP_sha256(), args->evidence,
				     rep.signed_len, rep.sig, SIM_SIG_LEN,
				     false, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "report");
		goto out_free;
	}
	status = check_window(&rep, args->verify_time, err);
	if (status != ATOLL_OK)
		goto out_free;
	if (args->expected_report_data) {
		if (args->expected_report_data_len != SIM_REPORT_DATA_LEN) {
			status = dc_err(err, ATOLL_E_BINDING,
					"expected report data is %zu bytes; "
					"sim reports bind %d",
					args->expected_report_data_len,
					SIM_REPORT_DATA_LEN);
			goto out_free;
		}
		if (CRYPTO_memcmp(args->expected_report_data, rep.report_data,
				  SIM_REPORT_DATA_LEN) != 0) {
			status = dc_err(err, ATOLL_E_BINDING,
					"report data does not match the "
					"expected value");
			goto out_free;
		}
	}
	status = build_claims(&rep, leaf, &chain, ret_claims, err);
out_free:
	X509_free(leaf);
	ERR_clear_error();
	return status;
}

static const atoll_tee_driver sim_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "sim",
	.description = "software TEE for development: ECDSA P-256 reports "
		       "under a sim root CA, no hardware isolation",
	.init = sim_init,
	.fini = sim_fini,
	.detect = sim_detect,
	.collect = sim_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = sim_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(sim_driver)
