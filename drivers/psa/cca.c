/* The Arm CCA TEE driver: verification of CCA attestation tokens, a
 * platform token signed by the CPAK (configured per instance id) and a
 * realm token signed by the RAK it carries, bound by the platform
 * challenge being the hash of the RAK. Verify-only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "atoll/tee_driver.h"
#include "dc_cose.h"
#include "dc_driver.h"
#include "dc_tsm.h"
#include "dc_util.h"
#include "psa_common.h"

/* Collection tags: 399 (legacy: values are COSE_Sign1 byte strings) and
 * 907 (CMW collection: values are [content-format 263, bstr]). */
#define CCA_TAG_LEGACY 399
#define CCA_TAG_CMW 907
#define CCA_CMW_EAT 263
#define CCA_KEY_PLATFORM 44234
#define CCA_KEY_REALM 44241

/* Realm claim keys. */
#define REALM_RPV 44235
#define REALM_HASH_ALG 44236
#define REALM_RAK 44237
#define REALM_RIM 44238
#define REALM_REM 44239
#define REALM_RAK_HASH_ALG 44240
#define REALM_MEC_POLICY 44243

static int cca_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	static const char *const collect_keys[] = { "tsm_dir", NULL };

	return psa_ctx_new("cpak_keys", collect_keys, config, n_config,
			   ret_ctx, err);
}

struct platform {
	const char *profile, *hash_alg, *verif_service;
	size_t profile_len, hash_alg_len, verif_service_len;
	const uint8_t *challenge, *impl_id, *instance_id, *config;
	size_t challenge_len, config_len;
	uint64_t lifecycle;
	struct psa_sw sw[PSA_MAX_SW];
	size_t n_sw;
};

struct realm {
	const char *profile, *hash_alg, *rak_hash_alg;
	size_t profile_len, hash_alg_len, rak_hash_alg_len;
	const uint8_t *challenge, *rpv, *rak, *rim, *rem[4];
	size_t rak_len, rim_len;
	uint64_t mec_policy;
	bool has_mec_policy;
};

static int parse_platform(const cbor_item_t *map, struct platform *p,
			  atoll_err *err)
{
	const cbor_item_t *v;
	size_t n;
	int r, status = ATOLL_OK;

	memset(p, 0, sizeof(*p));
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "claims are not a map");
	r = psa_get_text(map, 265, "profile", false, &p->profile,
			 &p->profile_len, err);
	if (r != ATOLL_OK)
		return r;
	if (p->profile &&
	    !psa_text_is(p->profile, p->profile_len,
			 "http://arm.com/CCA-SSD/1.0.0") &&
	    !psa_text_is(p->profile, p->profile_len,
			 "tag:arm.com,2023:cca_platform#1.0.0"))
		return dc_err(err, ATOLL_E_FORMAT, "unknown profile '%.*s'",
			      (int)(p->profile_len > 64 ? 64 : p->profile_len),
			      p->profile);
	r = psa_get_bytes(map, 10, "challenge", true, 32, 64, &p->challenge,
			  &p->challenge_len, err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, 2396, "implementation id", true, 32, 32,
				  &p->impl_id, &n, err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, 256, "instance id", true,
				  PSA_INSTANCE_ID_LEN, PSA_INSTANCE_ID_LEN,
				  &p->instance_id, &n, err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, 2401, "platform config", false, 0, 1024,
				  &p->config, &p->config_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, 2402, "hash algorithm", false,
				 &p->hash_alg, &p->hash_alg_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, 2400, "verification service", false,
				 &p->verif_service, &p->verif_service_len, err);
	if (r != ATOLL_OK)
		return r;
	v = psa_get(map, 2395, "security lifecycle", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_uint(v) || (p->lifecycle = cbor_get_int(v)) > 0xffff)
		return dc_err(err, ATOLL_E_FORMAT,
			      "security lifecycle is not a 16-bit unsigned integer");
	v = psa_get(map, 2399, "software components", true, err, &status);
	if (!v)
		return status;
	return psa_parse_sw(v, false, p->sw, &p->n_sw, err);
}

static size_t hash_len(const char *alg, size_t n)
{
	if (psa_text_is(alg, n, "sha-256"))
		return 32;
	if (psa_text_is(alg, n, "sha-384"))
		return 48;
	if (psa_text_is(alg, n, "sha-512"))
		return 64;
	return 0;
}

static int parse_realm(const cbor_item_t *map, struct realm *rl,
		       atoll_err *err)
{
	const cbor_item_t *v;
	size_t n, hl, i;
	int r, status = ATOLL_OK;

	memset(rl, 0, sizeof(*rl));
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "claims are not a map");
	r = psa_get_text(map, 265, "profile", false, &rl->profile,
			 &rl->profile_len, err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, 10, "challenge", true, 64, 64,
				  &rl->challenge, &n, err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, REALM_RPV, "personalization value", true,
				  64, 64, &rl->rpv, &n, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, REALM_HASH_ALG, "hash algorithm", true,
				 &rl->hash_alg, &rl->hash_alg_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, REALM_RAK_HASH_ALG, "RAK hash algorithm",
				 true, &rl->rak_hash_alg, &rl->rak_hash_alg_len,
				 err);
	if (r == ATOLL_OK)
		r = psa_get_bytes(map, REALM_RAK, "RAK", true, 1, 1024, &rl->rak,
				  &rl->rak_len, err);
	if (r != ATOLL_OK)
		return r;
	if (rl->profile &&
	    !psa_text_is(rl->profile, rl->profile_len,
			 "tag:arm.com,2023:realm#1.0.0") &&
	    !psa_text_is(rl->profile, rl->profile_len,
			 "tag:arm.com,2024:realm#2.0.0"))
		return dc_err(err, ATOLL_E_FORMAT, "unknown realm profile '%.*s'",
			      (int)(rl->profile_len > 64 ? 64 : rl->profile_len),
			      rl->profile);
	hl = hash_len(rl->hash_alg, rl->hash_alg_len);
	if (!hl)
		return dc_err(err, ATOLL_E_FORMAT,
			      "realm hash algorithm '%.*s' is unknown",
			      (int)(rl->hash_alg_len > 16 ? 16 : rl->hash_alg_len),
			      rl->hash_alg);
	if (!hash_len(rl->rak_hash_alg, rl->rak_hash_alg_len))
		return dc_err(err, ATOLL_E_FORMAT,
			      "RAK hash algorithm is unknown");
	r = psa_get_bytes(map, REALM_RIM, "RIM", true, hl, hl, &rl->rim,
			  &rl->rim_len, err);
	if (r != ATOLL_OK)
		return r;
	v = psa_get(map, REALM_REM, "REMs", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_array(v) || cbor_array_size(v) != 4)
		return dc_err(err, ATOLL_E_FORMAT, "REMs are not an array of 4");
	for (i = 0; i < 4; i++) {
		if (!dc_cbor_bytes(cbor_array_handle(v)[i], &rl->rem[i], &n) ||
		    n != hl)
			return dc_err(err, ATOLL_E_FORMAT,
				      "REM%zu is not %zu bytes", i, hl);
	}
	v = psa_get(map, REALM_MEC_POLICY, "MEC policy", false, err, &status);
	if (status != ATOLL_OK)
		return status;
	if (v) {
		if (!cbor_isa_uint(v))
			return dc_err(err, ATOLL_E_FORMAT,
				      "MEC policy is not an unsigned integer");
		rl->mec_policy = cbor_get_int(v);
		rl->has_mec_policy = true;
	}
	return ATOLL_OK;
}

/* The RAK: a raw SEC1 P-384 point (legacy) or a COSE_Key
 * {1: 2 (EC2), -1: 2 (P-384), -2: x, -3: y}. */
static int rak_key(const uint8_t *p, size_t n, EVP_PKEY **ret, atoll_err *err)
{
	uint8_t point[97];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	int status;

	if (n == 97 && p[0] == 0x04) {
		memcpy(point, p, 97);
	} else {
		cbor_item_t *m = NULL;
		const uint8_t *x, *y;
		size_t xl, yl;
		int64_t kty, crv;

		status = dc_cbor_decode(p, n, &m, err);
		if (status != ATOLL_OK)
			return dc_err_prefix(err, ATOLL_E_FORMAT, "RAK");
		if (!dc_cbor_int(dc_cbor_map_int(m, 1, NULL), &kty) || kty != 2 ||
		    !dc_cbor_int(dc_cbor_map_int(m, -1, NULL), &crv) || crv != 2 ||
		    !dc_cbor_bytes(dc_cbor_map_int(m, -2, NULL), &x, &xl) ||
		    !dc_cbor_bytes(dc_cbor_map_int(m, -3, NULL), &y, &yl) ||
		    xl != 48 || yl != 48) {
			cbor_decref(&m);
			return dc_err(err, ATOLL_E_FORMAT,
				      "RAK is neither a P-384 point nor an EC2 "
				      "P-384 COSE_Key");
		}
		point[0] = 0x04;
		memcpy(point + 1, x, 48);
		memcpy(point + 49, y, 48);
		cbor_decref(&m);
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     "secp384r1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					      point, sizeof(point)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL))) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	/* fromdata decodes the point and refuses one off the curve. */
	if (EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		status = dc_err(err, ATOLL_E_FORMAT, "RAK is not a P-384 point");
		goto out_free;
	}
	*ret = k;
	status = ATOLL_OK;
out_free:
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return status;
}

/* One entry of the collection: a COSE_Sign1 byte string, bare or in a
 * CMW [263, bstr]. */
static int entry_bytes(const cbor_item_t *v, const char *what,
		       const uint8_t **ret, size_t *ret_len, atoll_err *err)
{
	int64_t cf;

	if (v && cbor_isa_array(v) && cbor_array_size(v) == 2) {
		if (!dc_cbor_int(cbor_array_handle(v)[0], &cf) ||
		    cf != CCA_CMW_EAT)
			return dc_err(err, ATOLL_E_FORMAT,
				      "%s token content format is not %d", what,
				      CCA_CMW_EAT);
		v = cbor_array_handle(v)[1];
	}
	if (!dc_cbor_bytes(v, ret, ret_len))
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s token is missing or not a byte string", what);
	return ATOLL_OK;
}

struct parts {
	cbor_item_t *outer, *pl_claims, *rl_claims;
	struct dc_cose_sign1 pl, rl;
	EVP_PKEY *rak;
	struct platform *p;
	struct realm r;
};

static void parts_clear(struct parts *x)
{
	if (x->outer)
		cbor_decref(&x->outer);
	if (x->pl_claims)
		cbor_decref(&x->pl_claims);
	if (x->rl_claims)
		cbor_decref(&x->rl_claims);
	dc_cose_sign1_clear(&x->pl);
	dc_cose_sign1_clear(&x->rl);
	EVP_PKEY_free(x->rak);
	free(x->p);
}

static int build_claims(const struct parts *x, atoll_claims **ret)
{
	const struct platform *p = x->p;
	const struct realm *r = &x->r;
	struct dc_claims *c = dc_claims_new("cca");
	const char *state = psa_lifecycle_state(p->lifecycle);
	atoll_claims *pub;
	uint8_t digest[32];
	char name[8];
	int i, rc = 0;

	if (!c)
		return -ENOMEM;
	pub = dc_claims_pub(c);
	rc |= dc_claims_set_measurement(c, r->rim, r->rim_len);
	rc |= dc_claims_set_signer(c, p->impl_id, 32);
	rc |= dc_claims_set_report_data(c, r->challenge, 64);
	/* As for PSA: only a secured platform is not debuggable. */
	pub->debug = strcmp(state, "secured") != 0;
	if (r->profile)
		rc |= dc_claims_add_string(c, "realm_profile", r->profile,
					   r->profile_len);
	rc |= dc_claims_add_bytes(c, "rim", r->rim, r->rim_len);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "rem%d", i);
		rc |= dc_claims_add_bytes(c, name, r->rem[i], r->rim_len);
	}
	rc |= dc_claims_add_bytes(c, "rpv", r->rpv, 64);
	rc |= dc_claims_add_string(c, "realm_hash_alg", r->hash_alg,
				   r->hash_alg_len);
	rc |= dc_claims_add_string(c, "rak_hash_alg", r->rak_hash_alg,
				   r->rak_hash_alg_len);
	rc |= dc_claims_add_bytes(c, "rak", r->rak, r->rak_len);
	if (r->has_mec_policy)
		rc |= dc_claims_add_uint(c, "mec_policy", r->mec_policy);
	if (p->profile)
		rc |= dc_claims_add_string(c, "platform_profile", p->profile,
					   p->profile_len);
	rc |= dc_claims_add_bytes(c, "platform_challenge", p->challenge,
				  p->challenge_len);
	rc |= dc_claims_add_bytes(c, "instance_id", p->instance_id,
				  PSA_INSTANCE_ID_LEN);
	rc |= dc_claims_add_bytes(c, "implementation_id", p->impl_id, 32);
	if (p->config)
		rc |= dc_claims_add_bytes(c, "platform_config", p->config,
					  p->config_len);
	if (p->hash_alg)
		rc |= dc_claims_add_string(c, "platform_hash_alg", p->hash_alg,
					   p->hash_alg_len);
	if (p->verif_service)
		rc |= dc_claims_add_string(c, "verification_service",
					   p->verif_service,
					   p->verif_service_len);
	rc |= dc_claims_add_uint(c, "lifecycle", p->lifecycle);
	rc |= dc_claims_add_string(c, "lifecycle_state", state, strlen(state));
	rc |= psa_sw_digest(p->sw, p->n_sw, digest);
	rc |= dc_claims_add_bytes(c, "platform_sw_digest", digest, 32);
	rc |= psa_claims_add_sw(c, p->sw, p->n_sw);
	if (rc) {
		dc_claims_free(pub);
		return -ENOMEM;
	}
	*ret = pub;
	return 0;
}

/* Decode and parse both tokens of a collection into x (which
 * parts_clear releases whatever the outcome); no signature is checked. */
static int parse_token(const uint8_t *ev, size_t ev_len, struct parts *x,
		       atoll_err *err)
{
	const cbor_item_t *map, *v;
	const uint8_t *pb = NULL, *rb = NULL;
	size_t pn = 0, rn = 0;
	uint64_t tag;
	bool dup;
	int status;

	if (ev_len > PSA_MAX_TOKEN)
		return dc_err(err, ATOLL_E_FORMAT, "token is %zu bytes, limit %u",
			      ev_len, PSA_MAX_TOKEN);
	status = dc_cbor_decode(ev, ev_len, &x->outer, err);
	if (status != ATOLL_OK)
		return status;
	if (!cbor_isa_tag(x->outer) ||
	    ((tag = cbor_tag_value(x->outer)) != CCA_TAG_LEGACY &&
	     tag != CCA_TAG_CMW))
		return dc_err(err, ATOLL_E_FORMAT,
			      "not a CCA token (tag 399 or 907)");
	{
		cbor_item_t *inner = cbor_tag_item(x->outer);

		map = inner;
		cbor_decref(&inner);
	}
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "CCA token is not a map");
	v = dc_cbor_map_int(map, CCA_KEY_PLATFORM, &dup);
	status = dup ? dc_err(err, ATOLL_E_FORMAT, "platform token twice") :
		       entry_bytes(v, "platform", &pb, &pn, err);
	if (status != ATOLL_OK)
		return status;
	v = dc_cbor_map_int(map, CCA_KEY_REALM, &dup);
	status = dup ? dc_err(err, ATOLL_E_FORMAT, "realm token twice") :
		       entry_bytes(v, "realm", &rb, &rn, err);
	if (status != ATOLL_OK)
		return status;

	status = dc_cose_sign1_parse(pb, pn, &x->pl, err);
	if (status == ATOLL_OK)
		status = dc_cbor_decode(x->pl.payload, x->pl.payload_len,
					&x->pl_claims, err);
	x->p = malloc(sizeof(*x->p));
	if (status == ATOLL_OK && !x->p)
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (status == ATOLL_OK)
		status = parse_platform(x->pl_claims, x->p, err);
	if (status != ATOLL_OK)
		return dc_err_prefix(err, status, "platform token");
	status = dc_cose_sign1_parse(rb, rn, &x->rl, err);
	if (status == ATOLL_OK)
		status = dc_cbor_decode(x->rl.payload, x->rl.payload_len,
					&x->rl_claims, err);
	if (status == ATOLL_OK)
		status = parse_realm(x->rl_claims, &x->r, err);
	if (status == ATOLL_OK)
		status = rak_key(x->r.rak, x->r.rak_len, &x->rak, err);
	if (status != ATOLL_OK)
		return dc_err_prefix(err, status, "realm token");
	return ATOLL_OK;
}

static int cca_verify(void *vctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	const struct psa_keyset *cpaks = &((const struct psa_ctx *)vctx)->keys;
	struct parts x;
	size_t hl;
	uint8_t digest[64];
	unsigned int dl = 0;
	const EVP_MD *md;
	EVP_PKEY *cpak;
	char hex[80];
	int status;

	memset(&x, 0, sizeof(x));
	status = dc_verify_args_check(args, ret_claims, err);
	if (status != ATOLL_OK)
		return status;
	status = parse_token(args->evidence, args->evidence_len, &x, err);
	if (status != ATOLL_OK)
		goto out_free;

	cpak = psa_keyset_find(cpaks, x.p->instance_id);
	if (!cpak) {
		dc_hex_short(x.p->instance_id, PSA_INSTANCE_ID_LEN, 33, hex,
			     sizeof(hex));
		status = dc_err(err, ATOLL_E_CHAIN,
				"no CPAK configured for instance id %s", hex);
		goto out_free;
	}
	status = dc_cose_sign1_verify(&x.pl, cpak, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "platform token");
		goto out_free;
	}
	status = dc_cose_sign1_verify(&x.rl, x.rak, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "realm token");
		goto out_free;
	}
	/* The platform vouches for this realm's key: its challenge is the
	 * hash of the RAK claim's bytes. */
	hl = hash_len(x.r.rak_hash_alg, x.r.rak_hash_alg_len);
	md = hl == 32 ? EVP_sha256() : hl == 48 ? EVP_sha384() : EVP_sha512();
	if (!EVP_Digest(x.r.rak, x.r.rak_len, digest, &dl, md, NULL)) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	if (x.p->challenge_len != dl ||
	    !dc_ct_equal(x.p->challenge, digest, dl)) {
		status = dc_err(err, ATOLL_E_BINDING,
				"platform challenge is not the %.*s of the RAK",
				(int)x.r.rak_hash_alg_len, x.r.rak_hash_alg);
		goto out_free;
	}
	if (args->expected_report_data &&
	    (args->expected_report_data_len != 64 ||
	     !dc_ct_equal(args->expected_report_data, x.r.challenge, 64))) {
		status = dc_err(err, ATOLL_E_BINDING,
				"realm challenge differs from the expected report "
				"data");
		goto out_free;
	}
	if (build_claims(&x, ret_claims) < 0) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = ATOLL_OK;
out_free:
	parts_clear(&x);
	return status;
}

/* A realm guest whose kernel has the arm-cca-guest driver answers
 * configfs-tsm reports with this provider. */
#define CCA_TSM_PROVIDER "arm_cca_guest"

static int cca_detect(void *vctx, atoll_err *err)
{
	const struct psa_ctx *c = vctx;
	char prov[64];
	int r = dc_tsm_provider(c->tsm_dir, prov, sizeof(prov), err);

	if (r != ATOLL_OK)
		return r;
	if (strcmp(prov, CCA_TSM_PROVIDER) != 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s answers for '%s', not %s: not an Arm CCA "
			      "realm", c->tsm_dir, prov, CCA_TSM_PROVIDER);
	return ATOLL_OK;
}

/* The RSI takes the 64-byte report data as the realm challenge; the
 * token that comes back must carry it. */
static int cca_collect(void *vctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	const struct psa_ctx *c = vctx;
	struct parts x;
	uint8_t *tok = NULL;
	size_t len = 0;
	int r;

	if (!c || !report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	r = dc_tsm_report(c->tsm_dir, CCA_TSM_PROVIDER, report_data,
			  ATOLL_REPORT_DATA_LEN, PSA_MAX_TOKEN + 1, &tok, &len,
			  err);
	if (r != ATOLL_OK)
		return r;
	memset(&x, 0, sizeof(x));
	r = parse_token(tok, len, &x, err);
	if (r != ATOLL_OK) {
		dc_err_prefix(err, ATOLL_E_IO, "the token from configfs-tsm");
		r = ATOLL_E_IO;
	} else if (!dc_ct_equal(x.r.challenge, report_data,
				ATOLL_REPORT_DATA_LEN)) {
		r = dc_err(err, ATOLL_E_BINDING,
			   "the token from configfs-tsm does not carry the "
			   "report data as its realm challenge");
	}
	parts_clear(&x);
	if (r != ATOLL_OK) {
		free(tok);
		return r;
	}
	return dc_driver_evidence_new(tok, len, ret_evidence, err);
}

static const atoll_tee_driver cca_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "cca",
	.description = "Arm CCA attestation tokens (platform + realm); collect via configfs-tsm",
	.init = cca_init,
	.fini = psa_ctx_free,
	.detect = cca_detect,
	.collect = cca_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = cca_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(cca_driver)
