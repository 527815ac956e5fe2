/* psa driver: TF-M tokens from the evidence folder (IoT-1 and 2.0, Sign1
 * and Mac0), and generated tokens for every profile, algorithm, lifecycle
 * state and failure class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "dc_cose.h"
#include "gen.h"
#include "tdrv.h"

static struct tdrv T;

#define EV "psa/veraison-psatoken/"

static void expect(void *ctx, const uint8_t *tok, size_t len, int want,
		   const char *msg_part, const char *what)
{
	CHECK(tdrv_expect(&T, ctx, tok, len, NULL, 0, 0, want, msg_part, what));
}

static const char *claim_str(const atoll_claims *c, const char *name)
{
	const atoll_claim *cl = tdrv_claim(c, name);

	return cl && cl->type == ATOLL_CLAIM_STRING ? (const char *)cl->bytes :
						      NULL;
}

static bool claim_hex(const atoll_claims *c, const char *name, const char *hex)
{
	const atoll_claim *cl = tdrv_claim(c, name);

	return cl && tdrv_bytes_eq_hex(cl->bytes, cl->len, hex);
}

static void test_real_samples(void)
{
	const char *dir = tdrv_evidence_dir();
	char key_path[1200], priv_path[1200];
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL, *ctx_none = NULL;
	uint8_t *tok;
	size_t len;
	const atoll_claim *cl;
	int r;

	if (!dir) {
		printf("skipped: no evidence dir\n");
		return;
	}
	snprintf(key_path, sizeof(key_path), "%s/" EV "public.pem", dir);
	snprintf(priv_path, sizeof(priv_path), "%s/" EV "key.pem", dir);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "iak_keys", key_path, NULL),
		  ATOLL_OK);
	CHECK_INT(tdrv_init(&T, &ctx_none, &err, NULL), ATOLL_OK);
	/* A private key file is not an endorsement. */
	{
		void *unused = NULL;

		CHECK_INT(tdrv_init(&T, &unused, &err, "iak_keys", priv_path,
				    NULL),
			  ATOLL_E_CONFIG);
	}

	tok = tdrv_read(EV "psa-2_0_0_sign1.bin", &len);
	CHECK(tok);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "psa 2.0: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_STR(c->tee_type, "psa");
		CHECK_INT(c->debug, 0);
		CHECK_INT(c->report_data_len, 64);
		CHECK(tdrv_bytes_eq_hex(c->signer, c->signer_len,
			"AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"));
		CHECK_INT(c->measurement_len, 32);
		CHECK_STR(claim_str(c, "profile"), "http://arm.com/psa/2.0.0");
		CHECK(claim_hex(c, "instance_id",
			"01FA58755F658627CE5460F29B75296713248CAE7AD9E2984B90280EFCBCB50248"));
		CHECK(claim_hex(c, "boot_seed",
			"A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"));
		cl = tdrv_claim(c, "lifecycle");
		CHECK(cl && cl->u64 == 12288);
		CHECK_STR(claim_str(c, "lifecycle_state"), "secured");
		CHECK_STR(claim_str(c, "client_id"), "3002");
		CHECK_STR(claim_str(c, "certification_reference"),
			  "0604565272829-10010");
		CHECK_STR(claim_str(c, "verification_service"),
			  "www.trustedfirmware.org");
		cl = tdrv_claim(c, "sw_count");
		CHECK(cl && cl->u64 == 2);
		CHECK_STR(claim_str(c, "sw0_type"), "SPE");
		CHECK_STR(claim_str(c, "sw0_version"), "1.6.0");
		CHECK(claim_hex(c, "sw0_measurement",
			"96A2EC56C65120A60CE3A53EF8D2082233772AACD5B17935A92BE12AC577F685"));
		CHECK(claim_hex(c, "sw0_signer_id",
			"BFE6D86F8826F4FF97FB96C4E6FBC4993E4619FC565DA26ADF34C329489ADC38"));
		CHECK_STR(claim_str(c, "sw0_desc"), "SHA256");
		CHECK_STR(claim_str(c, "sw1_type"), "NSPE");
		CHECK(claim_hex(c, "sw1_measurement",
			"087D13C68F32AAAFB8C4FC0A2253445432009765E216FB85C398C9580522C1BF"));
		T.drv->claims_free(ctx, c);
	}
	/* Without the IAK: no trust anchor. */
	expect(ctx_none, tok, len, ATOLL_E_CHAIN, "no IAK", "2.0 no key");
	/* A flipped payload byte (inside the boot seed). */
	{
		static const uint8_t seed[] = { 0xa0, 0xa1, 0xa2, 0xa3 };
		uint8_t *p = memmem(tok, len, seed, sizeof(seed));

		CHECK(p != NULL);
		if (p) {
			p[1] ^= 0x40;
			expect(ctx, tok, len, ATOLL_E_SIGNATURE, NULL,
			       "2.0 tampered");
			p[1] ^= 0x40;
		}
	}
	expect(ctx, tok, len - 3, ATOLL_E_FORMAT, NULL, "2.0 truncated");
	/* Another key registered under TF-M's instance id. */
	{
		void *ctx_wrong = NULL;
		EVP_PKEY *k = gen_ec_key("P-256");
		size_t pem_len;
		char *pem = gen_pubkey_pem(k, &pem_len), entry[1400];

		snprintf(entry, sizeof(entry),
			 "01fa58755f658627ce5460f29b75296713248cae7ad9e2984b90280efcbcb50248=%s",
			 tdrv_write_tmp("wrong.pem", pem, pem_len));
		CHECK_INT(tdrv_init(&T, &ctx_wrong, &err, "iak_keys", entry,
				    NULL),
			  ATOLL_OK);
		expect(ctx_wrong, tok, len, ATOLL_E_SIGNATURE, NULL,
		       "2.0 wrong key");
		T.drv->fini(ctx_wrong);
		free(pem);
		EVP_PKEY_free(k);
	}
	free(tok);

	tok = tdrv_read(EV "psa-iot-1_sign1.bin", &len);
	CHECK(tok);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "psa iot-1: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 0);
		CHECK_STR(claim_str(c, "profile"), "PSA_IOT_PROFILE_1");
		cl = tdrv_claim(c, "sw0_measurement");
		CHECK(cl && cl->len == 32 && cl->bytes[0] == 0xf7 &&
		      cl->bytes[1] == 0x9f && cl->bytes[31] == 0xa9);
		CHECK_STR(claim_str(c, "client_id"), "3002");
		T.drv->claims_free(ctx, c);
	}
	free(tok);

	tok = tdrv_read(EV "psa-2_0_0_mac0.bin", &len);
	CHECK(tok);
	expect(ctx, tok, len, ATOLL_E_UNSUPPORTED, "Mac0", "2.0 mac0");
	free(tok);
	tok = tdrv_read(EV "psa-iot-1_mac0.bin", &len);
	CHECK(tok);
	expect(ctx, tok, len, ATOLL_E_UNSUPPORTED, "Mac0", "iot-1 mac0");
	free(tok);
	T.drv->fini(ctx);
	T.drv->fini(ctx_none);
}

/* ---- generated ---- */

static uint8_t *make(const struct gen_psa_token *t, EVP_PKEY *k, int64_t alg,
		     bool tagged, bool bad_sig, size_t *len)
{
	size_t plen;
	uint8_t *payload = gen_psa_claims(t, &plen);
	uint8_t *tok = gen_cose_sign1(tagged, alg, payload, plen, k, bad_sig,
				      len);

	free(payload);
	return tok;
}

static const char *key_file(EVP_PKEY *k, const char *name)
{
	size_t n;
	char *pem = gen_pubkey_pem(k, &n);
	const char *path = tdrv_write_tmp(name, pem, n);

	free(pem);
	return path;
}

static void test_generated(void)
{
	EVP_PKEY *k256 = gen_ec_key("P-256"), *k384 = gen_ec_key("P-384");
	EVP_PKEY *k521 = gen_ec_key("P-521"), *ked = gen_ed25519_key();
	EVP_PKEY *stranger = gen_ec_key("P-256");
	struct gen_psa_token t;
	char keys[4096];
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL;
	uint8_t *tok, expect_digest[32];
	size_t len;
	int r;

	snprintf(keys, sizeof(keys), "%s,%s,%s,%s", key_file(k256, "k256.pem"),
		 key_file(k384, "k384.pem"), key_file(k521, "k521.pem"),
		 key_file(ked, "ked.pem"));
	CHECK_INT(tdrv_init(&T, &ctx, &err, "iak_keys", keys, NULL), ATOLL_OK);
	if (!ctx) {
		fprintf(stderr, "init: %s\n", err.msg);
		return;
	}

	gen_psa_token_defaults(&t, k256);
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "generated: %s\n", err.msg);
	if (r == ATOLL_OK) {
		/* Recompute the documented component digest. */
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		size_t i;

		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		for (i = 0; i < 2; i++) {
			uint8_t m[32], s[32];
			const char *type = i == 0 ? "SPE" : "NSPE";
			uint8_t l4[4] = { 0, 0, 0, (uint8_t)strlen(type) };
			uint8_t l32[4] = { 0, 0, 0, 32 };

			memset(m, (int)(0x96 + i), 32);
			memset(s, (int)(0xbf - i), 32);
			EVP_DigestUpdate(md, l4, 4);
			EVP_DigestUpdate(md, type, strlen(type));
			EVP_DigestUpdate(md, l32, 4);
			EVP_DigestUpdate(md, m, 32);
			EVP_DigestUpdate(md, l32, 4);
			EVP_DigestUpdate(md, s, 32);
		}
		EVP_DigestFinal_ex(md, expect_digest, NULL);
		EVP_MD_CTX_free(md);
		CHECK(c->measurement_len == 32 &&
		      memcmp(c->measurement, expect_digest, 32) == 0);
		CHECK(c->report_data_len == 64 && c->report_data[0] == 0x3c);
		CHECK(c->signer_len == 32 && c->signer[0] == 0xaa);
		CHECK_INT(c->debug, 0);
		T.drv->claims_free(ctx, c);
	}
	expect(ctx, tok, len, ATOLL_OK, NULL, "repeat");
	/* Expected report data. */
	{
		uint8_t want[64];

		memset(want, 0x3c, sizeof(want));
		CHECK(tdrv_binding_holds(&T, ctx, tok, len, NULL, 0, 0, want, 64,
					 0));
	}
	CHECK(tdrv_truncations_refused(&T, ctx, tok, len, 7, 0));
	free(tok);

	tok = make(&t, k256, DC_COSE_ES256, false, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "untagged");
	free(tok);
	tok = make(&t, k256, DC_COSE_ES256, true, true, &len);
	expect(ctx, tok, len, ATOLL_E_SIGNATURE, NULL, "bad signature");
	free(tok);

	/* IoT-1 key set. */
	t.iot1 = true;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_STR(claim_str(c, "profile"), "PSA_IOT_PROFILE_1");
		CHECK(c->measurement_len == 32 &&
		      memcmp(c->measurement, expect_digest, 32) == 0);
		T.drv->claims_free(ctx, c);
	}
	free(tok);
	t.iot1 = false;

	/* RFC 9783 profile name. */
	t.profile = "tag:psacertified.org,2023:psa#tfm";
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "rfc9783 profile");
	free(tok);
	t.profile = "http://example.com/psa/9.9";
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "unknown profile", "profile");
	free(tok);
	t.profile = NULL;

	/* Other algorithms, each under its own key. */
	gen_psa_token_defaults(&t, k384);
	tok = make(&t, k384, DC_COSE_ES384, true, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "ES384");
	free(tok);
	gen_psa_token_defaults(&t, k521);
	tok = make(&t, k521, DC_COSE_ES512, true, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "ES512");
	free(tok);
	gen_psa_token_defaults(&t, ked);
	tok = make(&t, ked, DC_COSE_EDDSA, true, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "EdDSA");
	free(tok);
	/* The Ed25519 instance id with an ES256 signature by another key. */
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_SIGNATURE, "does not match", "alg/key");
	free(tok);

	/* Lifecycle states. */
	{
		static const struct {
			uint64_t lc;
			int debug;
			const char *state;
		} lcs[] = {
			{ 0x3000, 0, "secured" },
			{ 0x30ff, 0, "secured" },
			{ 0x4000, 1, "non_psa_rot_debug" },
			{ 0x5000, 1, "recoverable_psa_rot_debug" },
			{ 0x2000, 1, "psa_rot_provisioning" },
			{ 0x1000, 1, "assembly_and_test" },
			{ 0x6000, 1, "decommissioned" },
			{ 0x0000, 1, "unknown" },
			{ 0x7000, 1, "invalid" },
		};
		size_t i;

		gen_psa_token_defaults(&t, k256);
		for (i = 0; i < sizeof(lcs) / sizeof(lcs[0]); i++) {
			t.lifecycle = lcs[i].lc;
			tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
			r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
			CHECK_INT(r, ATOLL_OK);
			if (r == ATOLL_OK) {
				CHECK_INT(c->debug, lcs[i].debug);
				CHECK_STR(claim_str(c, "lifecycle_state"),
					  lcs[i].state);
				T.drv->claims_free(ctx, c);
			}
			free(tok);
		}
		t.lifecycle = 0x10000;
		tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
		expect(ctx, tok, len, ATOLL_E_FORMAT, "lifecycle", "lifecycle");
		free(tok);
		t.lifecycle = 0x3000;
	}

	/* Format failures. */
	t.omit_sw_components = true;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "software components", "no sw");
	free(tok);
	t.omit_sw_components = false;
	t.omit_instance_id = true;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "instance id", "no instance");
	free(tok);
	t.omit_instance_id = false;
	t.nonce_len = 31;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "challenge", "nonce 31");
	free(tok);
	t.nonce_len = 40;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "challenge", "nonce 40");
	free(tok);
	t.nonce_len = 32;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "nonce 32");
	free(tok);
	t.nonce_len = 64;
	t.instance_id[0] = 0x02;
	tok = make(&t, k256, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "RAND", "ueid type");
	free(tok);

	/* A device nobody registered. */
	gen_psa_token_defaults(&t, stranger);
	tok = make(&t, stranger, DC_COSE_ES256, true, false, &len);
	expect(ctx, tok, len, ATOLL_E_CHAIN, "no IAK", "stranger");
	free(tok);

	T.drv->fini(ctx);
	EVP_PKEY_free(k256);
	EVP_PKEY_free(k384);
	EVP_PKEY_free(k521);
	EVP_PKEY_free(ked);
	EVP_PKEY_free(stranger);
}

static void test_config_and_island(void)
{
	atoll_err err;
	void *ctx = NULL;

	CHECK_INT(tdrv_init(&T, &ctx, &err, "keys", "x", NULL), ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "iak_keys", "/nonexistent.pem",
			    NULL),
		  ATOLL_E_CONFIG);
	CHECK(strstr(err.msg, "/nonexistent.pem") != NULL);
	{
		EVP_PKEY *k = gen_ec_key("P-256");
		char entry[1300];

		snprintf(entry, sizeof(entry), "01ab=%s", key_file(k, "short.pem"));
		CHECK_INT(tdrv_init(&T, &ctx, &err, "iak_keys", entry, NULL),
			  ATOLL_E_CONFIG);
		EVP_PKEY_free(k);
	}
	/* The collect side needs a token provider (test_collect.c runs
	 * them). */
	CHECK_INT(tdrv_init(&T, &ctx, &err, NULL), ATOLL_OK);
	CHECK(tdrv_absent(&T, ctx, "no token provider: set token_command",
			  ATOLL_E_UNAVAILABLE));
	T.drv->fini(ctx);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "token_command", "/nonexistent/provider",
			    NULL), ATOLL_OK);
	CHECK(tdrv_absent(&T, ctx, "token provider /nonexistent/provider: No such file",
			  ATOLL_E_UNAVAILABLE));
	T.drv->fini(ctx);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "token_timeout_ms", "0", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "tsm_dir", "/x", NULL), ATOLL_E_CONFIG);
}

int main(void)
{
	tdrv_load(&T, "psa");
	CHECK_STR(T.drv->name, "psa");
	test_config_and_island();
	test_generated();
	test_real_samples();
	tdrv_unload(&T);
	CHECK_DONE();
}
