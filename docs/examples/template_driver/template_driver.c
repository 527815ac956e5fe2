/* template_driver.c: a complete Atoll TEE driver, meant to be copied.
 *
 * It drives a toy TEE so that every part of the ABI does real work. Its
 * "hardware" is a signing key named in the island's configuration: the
 * evidence is the report data, a measurement and a timestamp signed with
 * that key (Ed25519 or ECDSA P-256), and the verifier checks the signature
 * with the public key named in its own configuration. A real driver
 * replaces the key with the TEE: collect() asks the firmware or the
 * kernel for a report, verify() checks the vendor's signature chain.
 *
 * Evidence layout (integers big-endian):
 *   0   8   magic "ATLTMPL1"
 *   8   8   issued at, Unix seconds
 *   16  4   security version (svn)
 *   20  4   flags: bit 0 set when the "enclave" is debuggable
 *   24  32  measurement: SHA-256 of the measured file
 *   56  64  report data
 *   120 2   signature length n
 *   122 n   signature over bytes 0..119
 *
 * Configuration (the YAML `config:` of the driver's stanza):
 *   signing_key_file  island side: PEM private key (Ed25519 or P-256)
 *   measure_file      island side: the file whose SHA-256 is reported as
 *                     the measurement (default /proc/self/exe, i.e. the
 *                     enclave runtime that loaded the driver)
 *   svn, debug        island side: reported as they are (default 0, false)
 *   public_key_file   verifier side: PEM public key evidence must verify
 *                     with
 * An instance with only public_key_file verifies; one with only
 * signing_key_file collects.
 *
 * It uses the SDK's helpers (atoll/tee/dc_*.h, libatoll-tee) for config
 * walking, error messages, reading PEM files, claims and the release
 * functions. Build it with the CMakeLists.txt beside it, or see
 * docs/plugins.md for a one-line cc command with pkg-config.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atoll/tee/dc_driver.h>
#include <atoll/tee/dc_util.h>
#include <atoll/tee/dc_x509.h>
#include <atoll/tee_driver.h>

#define TMPL_NAME "template"
#define TMPL_VERSION "1.0.0"

#define TMPL_MAGIC "ATLTMPL1"
#define TMPL_OFF_ISSUED 8
#define TMPL_OFF_SVN 16
#define TMPL_OFF_FLAGS 20
#define TMPL_OFF_MEAS 24
#define TMPL_OFF_RD 56
#define TMPL_OFF_SIGLEN 120
#define TMPL_OFF_SIG 122
#define TMPL_MEAS_LEN 32
/* Ed25519 signatures are 64 bytes, DER ECDSA P-256 ones at most 72. */
#define TMPL_MAX_SIG 80
#define TMPL_FLAG_DEBUG 1u

/* One driver instance; the host may create several (an island, a
 * verifier) from the same module. */
struct tmpl_ctx {
	/* Verifier side: the key evidence must verify with, and the SHA-256
	 * of its SubjectPublicKeyInfo, reported as the signer. */
	EVP_PKEY *verify_key;
	uint8_t signer[32];

	/* Island side. */
	EVP_PKEY *signing_key;
	uint8_t measurement[TMPL_MEAS_LEN];
	uint32_t svn;
	bool debug;
};

/* The recognized keys, borrowed from the config for init(). */
struct tmpl_config {
	const char *signing_key_file, *measure_file, *svn, *debug,
		*public_key_file;
};

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* fini(): release everything init() made. The host calls it once, with no
 * other call in flight; it must accept NULL. */
static void tmpl_fini(void *vctx)
{
	struct tmpl_ctx *ctx = vctx;

	if (!ctx)
		return;
	EVP_PKEY_free(ctx->verify_key);
	EVP_PKEY_free(ctx->signing_key);
	free(ctx);
}

/* One config entry. Returning DC_CONFIG_UNKNOWN makes dc_config_walk()
 * refuse the key by name, which is what the host expects of a driver. */
static int config_slot(void *userdata, const char *k, const char *v,
		       atoll_err *err)
{
	struct tmpl_config *c = userdata;
	const char **slot;

	if (strcmp(k, "signing_key_file") == 0)
		slot = &c->signing_key_file;
	else if (strcmp(k, "measure_file") == 0)
		slot = &c->measure_file;
	else if (strcmp(k, "svn") == 0)
		slot = &c->svn;
	else if (strcmp(k, "debug") == 0)
		slot = &c->debug;
	else if (strcmp(k, "public_key_file") == 0)
		slot = &c->public_key_file;
	else
		return DC_CONFIG_UNKNOWN;
	if (*slot)
		return dc_err(err, ATOLL_E_CONFIG, "key '%s' given twice", k);
	*slot = v;
	return ATOLL_OK;
}

/* The toy TEE accepts the two key types its signature code handles. */
static bool key_type_ok(EVP_PKEY *k)
{
	return EVP_PKEY_id(k) == EVP_PKEY_ED25519 ||
	       dc_key_is_ec(k, "prime256v1");
}

/* Read the verifier's public key with the SDK's collateral reader, which
 * recognizes PEM and DER keys, and insist on exactly one key. */
static int load_public_key(struct tmpl_ctx *ctx, const char *path,
			   atoll_err *err)
{
	struct dc_collateral *col = dc_collateral_new();
	unsigned char *der = NULL;
	int len, r;

	if (!col)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = dc_collateral_add_file(col, path, err);
	if (r != ATOLL_OK) {
		dc_collateral_free(col);
		return dc_err_prefix(err, r, "public_key_file");
	}
	if (col->n_keys != 1 || sk_X509_num(col->certs) > 0 ||
	    !key_type_ok(col->keys[0])) {
		dc_collateral_free(col);
		return dc_err(err, ATOLL_E_CONFIG,
			      "public_key_file: %s must hold one Ed25519 or "
			      "P-256 public key", path);
	}
	ctx->verify_key = col->keys[0];
	EVP_PKEY_up_ref(ctx->verify_key);
	dc_collateral_free(col);
	len = i2d_PUBKEY(ctx->verify_key, &der);
	if (len <= 0)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = EVP_Digest(der, (size_t)len, ctx->signer, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return r == 1 ? ATOLL_OK : dc_err(err, ATOLL_E_INTERNAL, "SHA-256 failed");
}

static int load_signing_key(struct tmpl_ctx *ctx, const char *path,
			    atoll_err *err)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return dc_err(err, ATOLL_E_CONFIG,
			      "signing_key_file: cannot read %s", path);
	ctx->signing_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!ctx->signing_key || !key_type_ok(ctx->signing_key))
		return dc_err(err, ATOLL_E_CONFIG,
			      "signing_key_file: %s is not an Ed25519 or P-256 "
			      "private key in PEM", path);
	return ATOLL_OK;
}

/* What a real TEE does in hardware: hash what was loaded. */
static int measure(struct tmpl_ctx *ctx, const char *path, atoll_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	unsigned char buf[65536];
	size_t n;
	int ok = md && f && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		ok = EVP_DigestUpdate(md, buf, n) == 1;
	ok = ok && !ferror(f) &&
	     EVP_DigestFinal_ex(md, ctx->measurement, NULL) == 1;
	if (f)
		fclose(f);
	EVP_MD_CTX_free(md);
	return ok ? ATOLL_OK
		  : dc_err(err, ATOLL_E_CONFIG, "measure_file: cannot read %s",
			   path);
}

/* init(): parse the config, load what each side needs, and hand back an
 * instance. Called once per load on the host's main thread; on failure
 * the host calls nothing else, so free what was made. */
static int tmpl_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		     atoll_err *err)
{
	struct tmpl_config c = { 0 };
	struct tmpl_ctx *ctx;
	size_t svn = 0;
	int r;

	r = dc_config_walk(config, n_config, config_slot, &c, err);
	if (r != ATOLL_OK)
		return r;
	if (!c.signing_key_file && !c.public_key_file)
		return dc_err(err, ATOLL_E_CONFIG,
			      "give signing_key_file (island), public_key_file "
			      "(verifier) or both");
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (c.svn && dc_parse_size(c.svn, 0, UINT32_MAX, &svn) < 0) {
		r = dc_err(err, ATOLL_E_CONFIG, "svn: '%s' is not a number",
			   c.svn);
		goto fail;
	}
	ctx->svn = (uint32_t)svn;
	if (c.debug && dc_parse_bool(c.debug, &ctx->debug) < 0) {
		r = dc_err(err, ATOLL_E_CONFIG,
			   "debug: '%s' is not true or false", c.debug);
		goto fail;
	}
	if (c.public_key_file &&
	    (r = load_public_key(ctx, c.public_key_file, err)) != ATOLL_OK)
		goto fail;
	if (c.signing_key_file &&
	    ((r = load_signing_key(ctx, c.signing_key_file, err)) != ATOLL_OK ||
	     (r = measure(ctx, c.measure_file ? c.measure_file : "/proc/self/exe",
			  err)) != ATOLL_OK))
		goto fail;
	*ret_ctx = ctx;
	return ATOLL_OK;
fail:
	tmpl_fini(ctx);
	return r;
}

/* detect(): is the TEE usable here? A real driver opens its device (e.g.
 * /dev/sev-guest) and says why not. ATOLL_E_UNAVAILABLE with the reason
 * makes the island run without attestation rather than fail. */
static int tmpl_detect(void *vctx, atoll_err *err)
{
	struct tmpl_ctx *ctx = vctx;

	if (!ctx->signing_key)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "no signing_key_file: this instance only "
			      "verifies");
	return ATOLL_OK;
}

/* Ed25519 signs the message itself; ECDSA signs its SHA-256. */
static const EVP_MD *sig_md(EVP_PKEY *k)
{
	return EVP_PKEY_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

/* collect(): produce evidence that binds the host's 64 bytes of report
 * data. The host serializes calls. The evidence belongs to the driver
 * until evidence_free(); dc_driver_evidence_free() releases a malloc'd
 * atoll_evidence holding malloc'd data, as built here. */
static int tmpl_collect(void *vctx, const uint8_t *report_data,
			atoll_evidence **ret_evidence, atoll_err *err)
{
	struct tmpl_ctx *ctx = vctx;
	atoll_evidence *ev = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t *d = NULL;
	size_t sig_len = TMPL_MAX_SIG;
	int r;

	if (!report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	if ((r = tmpl_detect(ctx, err)) != ATOLL_OK)
		return r;
	ev = calloc(1, sizeof(*ev));
	d = calloc(1, TMPL_OFF_SIG + TMPL_MAX_SIG);
	md = EVP_MD_CTX_new();
	if (!ev || !d || !md) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto fail;
	}
	memcpy(d, TMPL_MAGIC, 8);
	put_be(d + TMPL_OFF_ISSUED, (uint64_t)time(NULL), 8);
	put_be(d + TMPL_OFF_SVN, ctx->svn, 4);
	put_be(d + TMPL_OFF_FLAGS, ctx->debug ? TMPL_FLAG_DEBUG : 0, 4);
	memcpy(d + TMPL_OFF_MEAS, ctx->measurement, TMPL_MEAS_LEN);
	memcpy(d + TMPL_OFF_RD, report_data, ATOLL_REPORT_DATA_LEN);
	if (EVP_DigestSignInit(md, NULL, sig_md(ctx->signing_key), NULL,
			       ctx->signing_key) != 1 ||
	    EVP_DigestSign(md, d + TMPL_OFF_SIG, &sig_len, d,
			   TMPL_OFF_SIGLEN) != 1) {
		ERR_clear_error();
		r = dc_err(err, ATOLL_E_INTERNAL, "signing the report failed");
		goto fail;
	}
	put_be(d + TMPL_OFF_SIGLEN, sig_len, 2);
	ev->struct_size = sizeof(*ev);
	ev->data = d;
	ev->len = TMPL_OFF_SIG + sig_len;
	EVP_MD_CTX_free(md);
	*ret_evidence = ev;
	return ATOLL_OK;
fail:
	EVP_MD_CTX_free(md);
	free(d);
	free(ev);
	return r;
}

/* Build the normalized claims the core applies policy to (measurement,
 * signer, debug, svn, report data, time) plus one TEE-specific claim. */
static int build_claims(struct tmpl_ctx *ctx, const uint8_t *d,
			atoll_claims **ret_claims, atoll_err *err)
{
	struct dc_claims *c = dc_claims_new(TMPL_NAME);
	uint32_t flags = (uint32_t)get_be(d + TMPL_OFF_FLAGS, 4);
	const char *key_type = sig_md(ctx->verify_key) ? "ecdsa-p256" : "ed25519";
	atoll_claims *pub;

	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	pub = dc_claims_pub(c);
	pub->debug = (flags & TMPL_FLAG_DEBUG) != 0;
	pub->svn = get_be(d + TMPL_OFF_SVN, 4);
	pub->issued_at = (int64_t)get_be(d + TMPL_OFF_ISSUED, 8);
	if (dc_claims_set_measurement(c, d + TMPL_OFF_MEAS, TMPL_MEAS_LEN) < 0 ||
	    dc_claims_set_signer(c, ctx->signer, sizeof(ctx->signer)) < 0 ||
	    dc_claims_set_report_data(c, d + TMPL_OFF_RD,
				      ATOLL_REPORT_DATA_LEN) < 0 ||
	    dc_claims_add_string(c, "key_type", key_type, strlen(key_type)) < 0) {
		dc_claims_free(pub);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	*ret_claims = pub;
	return ATOLL_OK;
}

/* verify(): check that evidence is genuine and say what it claims. It runs
 * on coordinators and clients, from several threads at once on one
 * instance, so it only reads ctx. Freshness of the nonce, the binding of
 * the enclave key and policy are the core's work, not the driver's; the
 * driver compares expected_report_data only when the host passes it. */
static int tmpl_verify(void *vctx, const atoll_verify_args *args,
		       atoll_claims **ret_claims, atoll_err *err)
{
	struct tmpl_ctx *ctx = vctx;
	const uint8_t *d;
	EVP_MD_CTX *md;
	size_t sig_len;
	int ok, r;

	r = dc_verify_args_check(args, ret_claims, err);
	if (r != ATOLL_OK)
		return r;
	if (!ctx->verify_key)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "no public_key_file: this instance only collects");
	d = args->evidence;
	if (args->evidence_len < TMPL_OFF_SIG ||
	    memcmp(d, TMPL_MAGIC, 8) != 0)
		return dc_err(err, ATOLL_E_FORMAT, "not template evidence");
	sig_len = get_be(d + TMPL_OFF_SIGLEN, 2);
	if (sig_len > TMPL_MAX_SIG || args->evidence_len != TMPL_OFF_SIG + sig_len)
		return dc_err(err, ATOLL_E_FORMAT,
			      "evidence of %zu bytes, its header says %zu",
			      args->evidence_len, TMPL_OFF_SIG + sig_len);
	md = EVP_MD_CTX_new();
	if (!md)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	ok = EVP_DigestVerifyInit(md, NULL, sig_md(ctx->verify_key), NULL,
				  ctx->verify_key) == 1 &&
	     EVP_DigestVerify(md, d + TMPL_OFF_SIG, sig_len, d,
			      TMPL_OFF_SIGLEN) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	if (!ok)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "signature does not verify with public_key_file");
	if (args->expected_report_data &&
	    (args->expected_report_data_len != ATOLL_REPORT_DATA_LEN ||
	     !dc_ct_equal(args->expected_report_data, d + TMPL_OFF_RD,
			  ATOLL_REPORT_DATA_LEN)))
		return dc_err(err, ATOLL_E_BINDING,
			      "report data differs from the expected value");
	return build_claims(ctx, d, ret_claims, err);
}

/* The table. Fields are set by name so that the ones appended in later
 * minors (version, added in 1.1) are easy to see; a driver that verifies
 * only leaves detect, collect and evidence_free out, and the host answers
 * ATOLL_E_UNSUPPORTED for them. */
static const atoll_tee_driver template_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = TMPL_NAME,
	.description = "template toy TEE: reports signed with a configured key",
	.init = tmpl_init,
	.fini = tmpl_fini,
	.detect = tmpl_detect,
	.collect = tmpl_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = tmpl_verify,
	.claims_free = dc_driver_claims_free,
	.version = TMPL_VERSION,
};

/* The one exported symbol, atoll_tee_driver_entry(): it hands the table
 * to hosts of ABI major 1 and refuses the others. */
ATOLL_TEE_DRIVER_EXPORT(template_driver)
