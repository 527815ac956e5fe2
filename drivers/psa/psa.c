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
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "psa_common.h"

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

static int psa_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	return psa_keyset_ctx_new("iak_keys", config, n_config, ret_ctx, err);
}

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
	struct psa_sw sw[PSA_MAX_SW];
	size_t n_sw;
};

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
	r = psa_get_text(map, k->profile, "profile", false, &t->profile,
		     &t->profile_len, err);
	if (r != ATOLL_OK)
		return r;
	if (t->profile) {
		bool ok = t->iot1 ? psa_text_is(t->profile, t->profile_len,
					    "PSA_IOT_PROFILE_1") :
				    psa_text_is(t->profile, t->profile_len,
					    "http://arm.com/psa/2.0.0") ||
					    psa_text_is(t->profile, t->profile_len,
						    "tag:psacertified.org,2023:psa#tfm") ||
					    psa_text_is(t->profile, t->profile_len,
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
	r = psa_get_bytes(map, k->nonce, "challenge", true, 32, 64, &t->nonce,
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

		r = psa_get_bytes(map, k->instance_id, "instance id", true,
			      PSA_INSTANCE_ID_LEN, PSA_INSTANCE_ID_LEN,
			      &t->instance_id, &n, err);
		if (r != ATOLL_OK)
			return r;
		if (t->instance_id[0] != 0x01)
			return dc_err(err, ATOLL_E_FORMAT,
				      "instance id type 0x%02x is not RAND (0x01)",
				      t->instance_id[0]);
		r = psa_get_bytes(map, k->impl_id, "implementation id", true, 32,
			      32, &t->impl_id, &n, err);
		if (r != ATOLL_OK)
			return r;
	}
	v = psa_get(map, k->lifecycle, "security lifecycle", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_uint(v) || (t->lifecycle = cbor_get_int(v)) > 0xffff)
		return dc_err(err, ATOLL_E_FORMAT,
			      "security lifecycle is not a 16-bit unsigned integer");
	v = psa_get(map, k->client_id, "client id", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_int(v, &t->client_id) || t->client_id < INT32_MIN ||
	    t->client_id > INT32_MAX)
		return dc_err(err, ATOLL_E_FORMAT,
			      "client id is not a 32-bit integer");
	/* RFC 9783 made the boot seed optional. */
	r = psa_get_bytes(map, k->boot_seed, "boot seed", false, 8, 32,
		      &t->boot_seed, &t->boot_seed_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, k->cert_ref, "certification reference", false,
			     &t->cert_ref, &t->cert_ref_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, k->verif_service, "verification service",
			     false, &t->verif_service, &t->verif_service_len,
			     err);
	if (r != ATOLL_OK)
		return r;
	v = psa_get(map, k->sw_components, "software components", false, err,
		&status);
	if (status != ATOLL_OK)
		return status;
	if (v)
		return psa_parse_sw(v, true, t->sw, &t->n_sw, err);
	/* IoT-1 may state instead that there are no measurements. */
	if (t->iot1 && dc_cbor_map_int(map, k->no_sw, NULL))
		return ATOLL_OK;
	return dc_err(err, ATOLL_E_FORMAT, "software components are missing");
}

static int build_claims(const struct psa_token *t, atoll_claims **ret)
{
	struct dc_claims *c = dc_claims_new("psa");
	atoll_claims *pub;
	const char *state = psa_lifecycle_state(t->lifecycle);
	uint8_t digest[32];
	char num[24];
	int r = 0;

	if (!c)
		return -ENOMEM;
	pub = dc_claims_pub(c);
	if (t->n_sw) {
		r |= psa_sw_digest(t->sw, t->n_sw, digest);
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
	r |= psa_claims_add_sw(c, t->sw, t->n_sw);
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
	const struct psa_keyset *iaks = vctx;
	struct dc_cose_sign1 m = { 0 };
	cbor_item_t *payload = NULL;
	struct psa_token *t = NULL;
	EVP_PKEY *key = NULL;
	char hex[80];
	int status;

	status = dc_verify_args_check(args, ret_claims, err);
	if (status != ATOLL_OK)
		return status;
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
	key = psa_keyset_find(iaks, t->instance_id);
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

static const atoll_tee_driver psa_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "psa",
	.description = "Arm PSA initial attestation tokens (IoT-1, 2.0)",
	.init = psa_init,
	.fini = psa_keyset_ctx_free,
	.verify = psa_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(psa_driver)
