/* The Arm PSA TEE driver: verification of PSA initial attestation tokens
 * (PSA_IOT_PROFILE_1 and the PSA 2.0 / RFC 9783 profiles), COSE_Sign1
 * signed by a device IAK whose public key is configured per instance id,
 * into normalized claims. Verify-only: tokens come from the device's
 * firmware. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_cose.h"
#include "dc_util.h"
#include "dc_x509.h"

#define PSA_INSTANCE_ID_LEN 33
#define PSA_MAX_SW 32
#define PSA_MAX_TOKEN (64u * 1024)

/* Claim keys of one profile. */
struct psa_keys {
	int64_t profile, nonce, instance_id, impl_id, lifecycle, client_id,
		boot_seed, cert_ref, sw_components, no_sw, verif_service;
};

/* PSA 2.0.0 (draft-tschofenig-rats-psa-token, RFC 9783). */
static const struct psa_keys keys_v2 = {
	.profile = 265, .nonce = 10, .instance_id = 256, .impl_id = 2396,
	.lifecycle = 2395, .client_id = 2394, .boot_seed = 2397,
	.cert_ref = 2398, .sw_components = 2399, .no_sw = 0,
	.verif_service = 2400,
};

/* PSA_IOT_PROFILE_1 (the original EAT-based keys -75000 ...). */
static const struct psa_keys keys_iot1 = {
	.profile = -75000, .nonce = -75008, .instance_id = -75009,
	.impl_id = -75003, .lifecycle = -75002, .client_id = -75001,
	.boot_seed = -75004, .cert_ref = -75005, .sw_components = -75006,
	.no_sw = -75007, .verif_service = -75010,
};

struct iak {
	uint8_t instance_id[PSA_INSTANCE_ID_LEN];
	EVP_PKEY *key;
};

struct psa_ctx {
	struct iak *iaks;
	size_t n_iaks;
};

static void psa_fini(void *vctx)
{
	struct psa_ctx *ctx = vctx;
	size_t i;

	if (!ctx)
		return;
	for (i = 0; i < ctx->n_iaks; i++)
		EVP_PKEY_free(ctx->iaks[i].key);
	free(ctx->iaks);
	free(ctx);
}

/* TF-M's instance id: 0x01 (RAND UEID type) || SHA-256 of the public key
 * (the uncompressed point for EC keys, the raw key for Ed25519). */
static int instance_id_of(EVP_PKEY *k, uint8_t out[PSA_INSTANCE_ID_LEN])
{
	uint8_t pub[160];
	size_t n = 0;
	unsigned int md_len = 32;

	if (EVP_PKEY_is_a(k, "EC")) {
		if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY,
						     pub, sizeof(pub), &n))
			return -EINVAL;
	} else if (EVP_PKEY_is_a(k, "ED25519")) {
		n = sizeof(pub);
		if (!EVP_PKEY_get_raw_public_key(k, pub, &n))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	out[0] = 0x01;
	if (!EVP_Digest(pub, n, out + 1, &md_len, EVP_sha256(), NULL))
		return -EINVAL;
	return 0;
}

struct iak_load {
	struct psa_ctx *ctx;
	atoll_err *err;
};

/* One `iak_keys` entry: "<path>" or "<instance id hex>=<path>". The file
 * holds a PEM/DER public key or a certificate. */
static int load_iak(const char *item, size_t len, void *userdata)
{
	struct iak_load *l = userdata;
	struct dc_collateral *c = dc_collateral_new();
	const char *eq = memchr(item, '=', len);
	char path[4096];
	struct iak *n, a = { 0 };
	const char *p = eq ? eq + 1 : item;
	size_t plen = eq ? len - (size_t)(eq + 1 - item) : len;
	int r;

	if (!c)
		return dc_err(l->err, ATOLL_E_NOMEM, "out of memory");
	if (plen == 0 || plen >= sizeof(path)) {
		r = dc_err(l->err, ATOLL_E_CONFIG, "'%.*s': bad path",
			   (int)(len > 80 ? 80 : len), item);
		goto out_free;
	}
	memcpy(path, p, plen);
	path[plen] = '\0';
	r = dc_collateral_add_file(c, path, l->err);
	if (r != ATOLL_OK)
		goto out_free;
	if (c->n_keys + (size_t)sk_X509_num(c->certs) != 1) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: want exactly one public key or certificate",
			   path);
		goto out_free;
	}
	if (c->n_keys) {
		a.key = c->keys[0];
		c->keys[0] = NULL;
		c->n_keys = 0;
	} else {
		a.key = X509_get_pubkey(sk_X509_value(c->certs, 0));
	}
	if (!a.key || (!EVP_PKEY_is_a(a.key, "EC") &&
		       !EVP_PKEY_is_a(a.key, "ED25519"))) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: not an EC or Ed25519 public key", path);
		goto out_free;
	}
	if (eq) {
		if (dc_parse_hex_exact(item, (size_t)(eq - item), a.instance_id,
				       PSA_INSTANCE_ID_LEN) < 0) {
			r = dc_err(l->err, ATOLL_E_CONFIG,
				   "%s: instance id is not 33 bytes of hex",
				   path);
			goto out_free;
		}
	} else if (instance_id_of(a.key, a.instance_id) < 0) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: cannot derive the instance id", path);
		goto out_free;
	}
	n = realloc(l->ctx->iaks, (l->ctx->n_iaks + 1) * sizeof(*n));
	if (!n) {
		r = dc_err(l->err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	l->ctx->iaks = n;
	n[l->ctx->n_iaks++] = a;
	a.key = NULL;
	r = ATOLL_OK;
out_free:
	EVP_PKEY_free(a.key);
	dc_collateral_free(c);
	return r;
}

static int psa_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct psa_ctx *ctx = calloc(1, sizeof(*ctx));
	size_t i;
	int r;

	if (!ctx)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	for (i = 0; i < n_config; i++) {
		const char *k = config[i].key, *v = config[i].value;

		if (!k || !v) {
			r = dc_err(err, ATOLL_E_CONFIG, "config entry %zu is empty",
				   i);
			goto out_fail;
		}
		if (strcmp(k, "iak_keys") == 0) {
			struct iak_load l = { ctx, err };

			r = dc_split_list(v, load_iak, &l);
			if (r != ATOLL_OK) {
				dc_err_prefix(err, r, k);
				goto out_fail;
			}
		} else {
			r = dc_err(err, ATOLL_E_CONFIG, "unknown key '%s'", k);
			goto out_fail;
		}
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
out_fail:
	psa_fini(ctx);
	return r;
}

struct sw_component {
	const char *type, *version, *desc;
	size_t type_len, version_len, desc_len;
	const uint8_t *value, *signer;
	size_t value_len, signer_len;
};

struct psa_token {
	const char *profile;
	size_t profile_len;
	bool iot1;
	const uint8_t *nonce, *instance_id, *impl_id, *boot_seed;
	size_t nonce_len, boot_seed_len;
	uint64_t lifecycle;
	int64_t client_id;
	const char *cert_ref, *verif_service;
	size_t cert_ref_len, verif_service_len;
	struct sw_component sw[PSA_MAX_SW];
	size_t n_sw;
};

static const cbor_item_t *get(const cbor_item_t *map, int64_t key,
			      const char *what, bool required, atoll_err *err,
			      int *status)
{
	bool dup;
	const cbor_item_t *v;

	if (key == 0)
		return NULL;
	v = dc_cbor_map_int(map, key, &dup);
	if (dup) {
		*status = dc_err(err, ATOLL_E_FORMAT, "%s (%lld) appears twice",
				 what, (long long)key);
		return NULL;
	}
	if (!v && required)
		*status = dc_err(err, ATOLL_E_FORMAT, "%s (%lld) is missing",
				 what, (long long)key);
	return v;
}

static int get_bytes(const cbor_item_t *map, int64_t key, const char *what,
		     bool required, size_t min, size_t max,
		     const uint8_t **ret, size_t *ret_len, atoll_err *err)
{
	int status = ATOLL_OK;
	const cbor_item_t *v = get(map, key, what, required, err, &status);

	if (!v)
		return status;
	if (!dc_cbor_bytes(v, ret, ret_len) || *ret_len < min ||
	    *ret_len > max)
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s is not a byte string of %zu..%zu bytes", what,
			      min, max);
	return ATOLL_OK;
}

static int get_text(const cbor_item_t *map, int64_t key, const char *what,
		    bool required, const char **ret, size_t *ret_len,
		    atoll_err *err)
{
	int status = ATOLL_OK;
	const cbor_item_t *v = get(map, key, what, required, err, &status);

	if (!v)
		return status;
	if (!dc_cbor_text(v, ret, ret_len))
		return dc_err(err, ATOLL_E_FORMAT, "%s is not a text string",
			      what);
	return ATOLL_OK;
}

static int parse_sw(const cbor_item_t *arr, struct psa_token *t,
		    atoll_err *err)
{
	size_t i;
	int r;

	if (!cbor_isa_array(arr) || cbor_array_size(arr) == 0 ||
	    cbor_array_size(arr) > PSA_MAX_SW)
		return dc_err(err, ATOLL_E_FORMAT,
			      "software components are not an array of 1..%d",
			      PSA_MAX_SW);
	for (i = 0; i < cbor_array_size(arr); i++) {
		const cbor_item_t *m = cbor_array_handle(arr)[i];
		struct sw_component *s = &t->sw[i];

		if (!cbor_isa_map(m))
			return dc_err(err, ATOLL_E_FORMAT,
				      "software component %zu is not a map", i);
		r = get_bytes(m, 2, "measurement value", true, 1, 64,
			      &s->value, &s->value_len, err);
		if (r == ATOLL_OK)
			r = get_bytes(m, 5, "signer id", true, 1, 64, &s->signer,
				      &s->signer_len, err);
		if (r == ATOLL_OK)
			r = get_text(m, 1, "measurement type", false, &s->type,
				     &s->type_len, err);
		if (r == ATOLL_OK)
			r = get_text(m, 4, "version", false, &s->version,
				     &s->version_len, err);
		if (r == ATOLL_OK)
			r = get_text(m, 6, "measurement description", false,
				     &s->desc, &s->desc_len, err);
		if (r != ATOLL_OK) {
			char what[48];

			snprintf(what, sizeof(what), "software component %zu",
				 i);
			return dc_err_prefix(err, r, what);
		}
	}
	t->n_sw = cbor_array_size(arr);
	return ATOLL_OK;
}

static bool text_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

static int parse_token(const cbor_item_t *map, struct psa_token *t,
		       atoll_err *err)
{
	const struct psa_keys *k;
	const cbor_item_t *v;
	int status = ATOLL_OK, r;

	memset(t, 0, sizeof(*t));
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "claims are not a map");
	/* The profile claim names the key set; without it, the keys in use
	 * tell (IoT-1 keys are all <= -75000). */
	if (dc_cbor_map_int(map, keys_v2.profile, NULL)) {
		k = &keys_v2;
	} else if (dc_cbor_map_int(map, keys_iot1.profile, NULL) ||
		   dc_cbor_map_int(map, keys_iot1.nonce, NULL)) {
		k = &keys_iot1;
	} else {
		k = &keys_v2;
	}
	t->iot1 = k == &keys_iot1;
	r = get_text(map, k->profile, "profile", false, &t->profile,
		     &t->profile_len, err);
	if (r != ATOLL_OK)
		return r;
	if (t->profile) {
		bool ok = t->iot1 ? text_is(t->profile, t->profile_len,
					    "PSA_IOT_PROFILE_1") :
				    text_is(t->profile, t->profile_len,
					    "http://arm.com/psa/2.0.0") ||
					    text_is(t->profile, t->profile_len,
						    "tag:psacertified.org,2023:psa#tfm") ||
					    text_is(t->profile, t->profile_len,
						    "tag:psacertified.org,2019:psa#legacy");

		if (!ok)
			return dc_err(err, ATOLL_E_FORMAT,
				      "unknown profile '%.*s'",
				      (int)(t->profile_len > 64 ? 64 :
								  t->profile_len),
				      t->profile);
	} else {
		t->profile = t->iot1 ? "PSA_IOT_PROFILE_1" :
				       "http://arm.com/psa/2.0.0";
		t->profile_len = strlen(t->profile);
	}
	r = get_bytes(map, k->nonce, "challenge", true, 32, 64, &t->nonce,
		      &t->nonce_len, err);
	if (r == ATOLL_OK && t->nonce_len != 32 && t->nonce_len != 48 &&
	    t->nonce_len != 64)
		r = dc_err(err, ATOLL_E_FORMAT,
			   "challenge is %zu bytes, not 32, 48 or 64",
			   t->nonce_len);
	if (r != ATOLL_OK)
		return r;
	{
		size_t n;

		r = get_bytes(map, k->instance_id, "instance id", true,
			      PSA_INSTANCE_ID_LEN, PSA_INSTANCE_ID_LEN,
			      &t->instance_id, &n, err);
		if (r != ATOLL_OK)
			return r;
		if (t->instance_id[0] != 0x01)
			return dc_err(err, ATOLL_E_FORMAT,
				      "instance id type 0x%02x is not RAND (0x01)",
				      t->instance_id[0]);
		r = get_bytes(map, k->impl_id, "implementation id", true, 32,
			      32, &t->impl_id, &n, err);
		if (r != ATOLL_OK)
			return r;
	}
	v = get(map, k->lifecycle, "security lifecycle", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_uint(v) || (t->lifecycle = cbor_get_int(v)) > 0xffff)
		return dc_err(err, ATOLL_E_FORMAT,
			      "security lifecycle is not a 16-bit unsigned integer");
	v = get(map, k->client_id, "client id", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_int(v, &t->client_id) || t->client_id < INT32_MIN ||
	    t->client_id > INT32_MAX)
		return dc_err(err, ATOLL_E_FORMAT,
			      "client id is not a 32-bit integer");
	/* RFC 9783 made the boot seed optional. */
	r = get_bytes(map, k->boot_seed, "boot seed", false, 8, 32,
		      &t->boot_seed, &t->boot_seed_len, err);
	if (r == ATOLL_OK)
		r = get_text(map, k->cert_ref, "certification reference", false,
			     &t->cert_ref, &t->cert_ref_len, err);
	if (r == ATOLL_OK)
		r = get_text(map, k->verif_service, "verification service",
			     false, &t->verif_service, &t->verif_service_len,
			     err);
	if (r != ATOLL_OK)
		return r;
	v = get(map, k->sw_components, "software components", false, err,
		&status);
	if (status != ATOLL_OK)
		return status;
	if (v)
		return parse_sw(v, t, err);
	/* IoT-1 may state instead that there are no measurements. */
	if (t->iot1 && dc_cbor_map_int(map, k->no_sw, NULL))
		return ATOLL_OK;
	return dc_err(err, ATOLL_E_FORMAT, "software components are missing");
}

static const char *lifecycle_state(uint64_t lc)
{
	switch (lc & 0xff00) {
	case 0x0000:
		return "unknown";
	case 0x1000:
		return "assembly_and_test";
	case 0x2000:
		return "psa_rot_provisioning";
	case 0x3000:
		return "secured";
	case 0x4000:
		return "non_psa_rot_debug";
	case 0x5000:
		return "recoverable_psa_rot_debug";
	case 0x6000:
		return "decommissioned";
	default:
		return "invalid";
	}
}

/* measurement = SHA-256 over the components in token order, each as
 * be32 length || measurement type || be32 length || measurement value ||
 * be32 length || signer id (see docs/tee/psa.md). */
static int sw_digest(const struct psa_token *t, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t i;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	for (i = 0; ok && i < t->n_sw; i++) {
		const struct sw_component *s = &t->sw[i];
		const void *parts[3] = { s->type, s->value, s->signer };
		size_t lens[3] = { s->type ? s->type_len : 0, s->value_len,
				   s->signer_len };
		int j;

		for (j = 0; ok && j < 3; j++) {
			uint8_t l[4] = { (uint8_t)(lens[j] >> 24),
					 (uint8_t)(lens[j] >> 16),
					 (uint8_t)(lens[j] >> 8),
					 (uint8_t)lens[j] };

			ok = EVP_DigestUpdate(md, l, 4) &&
			     (lens[j] == 0 ||
			      EVP_DigestUpdate(md, parts[j], lens[j]));
		}
	}
	ok = ok && EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -ENOMEM;
}

static int build_claims(const struct psa_token *t, atoll_claims **ret)
{
	struct dc_claims *c = dc_claims_new("psa");
	atoll_claims *pub;
	const char *state = lifecycle_state(t->lifecycle);
	uint8_t digest[32];
	char name[40], num[24];
	size_t i;
	int r = 0;

	if (!c)
		return -ENOMEM;
	pub = dc_claims_pub(c);
	if (t->n_sw) {
		r |= sw_digest(t, digest);
		r |= dc_claims_set_measurement(c, digest, sizeof(digest));
	}
	r |= dc_claims_set_signer(c, t->impl_id, 32);
	r |= dc_claims_set_report_data(c, t->nonce, t->nonce_len);
	/* Only a secured device keeps its debug ports shut; every other
	 * lifecycle state counts as debuggable. */
	pub->debug = strcmp(state, "secured") != 0;
	r |= dc_claims_add_string(c, "profile", t->profile, t->profile_len);
	r |= dc_claims_add_bytes(c, "instance_id", t->instance_id,
				 PSA_INSTANCE_ID_LEN);
	r |= dc_claims_add_bytes(c, "implementation_id", t->impl_id, 32);
	r |= dc_claims_add_uint(c, "lifecycle", t->lifecycle);
	r |= dc_claims_add_string(c, "lifecycle_state", state, strlen(state));
	snprintf(num, sizeof(num), "%" PRId64, t->client_id);
	r |= dc_claims_add_string(c, "client_id", num, strlen(num));
	if (t->boot_seed)
		r |= dc_claims_add_bytes(c, "boot_seed", t->boot_seed,
					 t->boot_seed_len);
	if (t->cert_ref)
		r |= dc_claims_add_string(c, "certification_reference",
					  t->cert_ref, t->cert_ref_len);
	if (t->verif_service)
		r |= dc_claims_add_string(c, "verification_service",
					  t->verif_service,
					  t->verif_service_len);
	r |= dc_claims_add_uint(c, "sw_count", t->n_sw);
	for (i = 0; i < t->n_sw; i++) {
		const struct sw_component *s = &t->sw[i];

		snprintf(name, sizeof(name), "sw%zu_measurement", i);
		r |= dc_claims_add_bytes(c, name, s->value, s->value_len);
		snprintf(name, sizeof(name), "sw%zu_signer_id", i);
		r |= dc_claims_add_bytes(c, name, s->signer, s->signer_len);
		if (s->type) {
			snprintf(name, sizeof(name), "sw%zu_type", i);
			r |= dc_claims_add_string(c, name, s->type, s->type_len);
		}
		if (s->version) {
			snprintf(name, sizeof(name), "sw%zu_version", i);
			r |= dc_claims_add_string(c, name, s->version,
						  s->version_len);
		}
		if (s->desc) {
			snprintf(name, sizeof(name), "sw%zu_desc", i);
			r |= dc_claims_add_string(c, name, s->desc, s->desc_len);
		}
	}
	if (r) {
		dc_claims_free(pub);
		return -ENOMEM;
	}
	*ret = pub;
	return 0;
}

static int psa_verify(void *vctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	struct psa_ctx *ctx = vctx;
	struct dc_cose_sign1 m = { 0 };
	cbor_item_t *payload = NULL;
	struct psa_token *t = NULL;
	EVP_PKEY *key = NULL;
	char hex[80];
	size_t i;
	int status;

	if (!args || args->struct_size < sizeof(*args) || !ret_claims ||
	    (!args->evidence && args->evidence_len))
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "bad verify arguments");
	if (args->evidence_len > PSA_MAX_TOKEN)
		return dc_err(err, ATOLL_E_FORMAT, "token is %zu bytes, limit %u",
			      args->evidence_len, PSA_MAX_TOKEN);
	status = dc_cose_sign1_parse(args->evidence, args->evidence_len, &m,
				     err);
	if (status != ATOLL_OK)
		return status;
	status = dc_cbor_decode(m.payload, m.payload_len, &payload, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "claims");
		goto out_free;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = parse_token(payload, t, err);
	if (status != ATOLL_OK)
		goto out_free;
	for (i = 0; i < ctx->n_iaks; i++)
		if (memcmp(ctx->iaks[i].instance_id, t->instance_id,
			   PSA_INSTANCE_ID_LEN) == 0) {
			key = ctx->iaks[i].key;
			break;
		}
	if (!key) {
		dc_hex_short(t->instance_id, PSA_INSTANCE_ID_LEN, 33, hex,
			     sizeof(hex));
		status = dc_err(err, ATOLL_E_CHAIN,
				"no IAK configured for instance id %s", hex);
		goto out_free;
	}
	status = dc_cose_sign1_verify(&m, key, err);
	if (status != ATOLL_OK)
		goto out_free;
	if (args->expected_report_data &&
	    (args->expected_report_data_len != t->nonce_len ||
	     !dc_ct_equal(args->expected_report_data, t->nonce,
			  t->nonce_len))) {
		status = dc_err(err, ATOLL_E_BINDING,
				"challenge differs from the expected report data");
		goto out_free;
	}
	if (build_claims(t, ret_claims) < 0) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = ATOLL_OK;
out_free:
	free(t);
	if (payload)
		cbor_decref(&payload);
	dc_cose_sign1_clear(&m);
	return status;
}

static void psa_claims_free(void *ctx, atoll_claims *claims)
{
	dc_claims_free(claims);
}

static int psa_detect(void *ctx, atoll_err *err)
{
	return dc_err(err, ATOLL_E_UNAVAILABLE,
		      "no PSA initial attestation service is reachable from "
		      "this host; tokens are produced by the device firmware "
		      "and verified here");
}

static int psa_collect(void *ctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	return dc_err(err, ATOLL_E_UNSUPPORTED,
		      "the psa driver only verifies tokens");
}

static void psa_evidence_free(void *ctx, atoll_evidence *ev)
{
	if (!ev)
		return;
	free(ev->data);
	free(ev);
}

static const atoll_tee_driver psa_driver = {
	.abi_version = ATOLL_TEE_DRIVER_ABI_VERSION,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "psa",
	.description = "Arm PSA initial attestation tokens (IoT-1, 2.0)",
	.init = psa_init,
	.fini = psa_fini,
	.detect = psa_detect,
	.collect = psa_collect,
	.evidence_free = psa_evidence_free,
	.verify = psa_verify,
	.claims_free = psa_claims_free,
};

__attribute__((visibility("default"))) const atoll_tee_driver *
atoll_tee_driver_entry(uint32_t host_abi)
{
	if (host_abi != ATOLL_TEE_DRIVER_ABI_VERSION)
		return NULL;
	return &psa_driver;
}
