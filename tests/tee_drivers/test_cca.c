/* cca driver: Arm's CCA example tokens from the evidence folder (both
 * collection forms and realm profiles), and generated tokens for the
 * binding, signatures, lifecycle and format failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "check.h"
#include "gen.h"
#include "tdrv.h"

static struct tdrv T;

#define EV "cca/tf-m-tools/"

static void expect(void *ctx, const uint8_t *tok, size_t len, int want,
		   const char *msg_part, const char *what)
{
	CHECK(tdrv_expect(&T, ctx, tok, len, NULL, 0, 0, want, msg_part, what));
}

/* The public half of a PEM private key, written to a temporary file. */
static const char *public_of(const uint8_t *pem, size_t len, const char *name)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	char *pub;
	size_t pl;
	const char *path;

	BIO_free(b);
	if (!k)
		return NULL;
	pub = gen_pubkey_pem(k, &pl);
	path = tdrv_write_tmp(name, pub, pl);
	free(pub);
	EVP_PKEY_free(k);
	return path;
}

static void test_real_samples(void)
{
	uint8_t *pem, *tok;
	size_t len;
	const char *cpak;
	char entry[1400];
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL, *ctx_none = NULL;
	const atoll_claim *cl;
	int r;

	pem = tdrv_read(EV "cca_platform.pem", &len);
	if (!pem) {
		printf("skipped: no evidence dir\n");
		return;
	}
	cpak = public_of(pem, len, "cpak.pem");
	free(pem);
	CHECK(cpak != NULL);
	/* Arm's examples carry a made-up instance id, not one derived from
	 * the CPAK, so the key is registered under it explicitly. */
	snprintf(entry, sizeof(entry),
		 "0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918=%s",
		 cpak ? cpak : "");
	CHECK_INT(tdrv_init(&T, &ctx, &err, "cpak_keys", entry, NULL), ATOLL_OK);
	CHECK_INT(tdrv_init(&T, &ctx_none, &err, NULL), ATOLL_OK);

	/* Current form: tag 907, realm profile 2.0.0 with a COSE_Key RAK. */
	tok = tdrv_read(EV "cca_example_token.cbor", &len);
	CHECK(tok);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "cca example: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_STR(c->tee_type, "cca");
		CHECK(tdrv_bytes_eq_hex(c->measurement, c->measurement_len,
			"311314ab73620350cf758834ae5c65d9e8c2dc7febe6e7d9654bbe864e300d49"));
		CHECK(c->report_data_len == 64 && c->report_data[0] == 0x6e &&
		      c->report_data[1] == 0x86 && c->report_data[63] == 0x04);
		cl = tdrv_claim(c, "rpv");
		CHECK(cl && cl->len == 64 &&
		      memcmp(cl->bytes, "The quick brown fox", 19) == 0);
		cl = tdrv_claim(c, "realm_profile");
		CHECK(cl && strcmp((const char *)cl->bytes,
				   "tag:arm.com,2024:realm#2.0.0") == 0);
		cl = tdrv_claim(c, "platform_challenge");
		CHECK(cl && cl->len == 32 && cl->bytes[0] == 0x0d &&
		      cl->bytes[1] == 0x22);
		cl = tdrv_claim(c, "sw0_type");
		CHECK(cl && strcmp((const char *)cl->bytes, "RSE_BL1_2") == 0);
		CHECK_INT(c->debug, 0);
		T.drv->claims_free(ctx, c);
	}
	expect(ctx_none, tok, len, ATOLL_E_CHAIN, "no CPAK", "no cpak");
	/* The same key under its derived id does not match the token. */
	{
		void *ctx_derived = NULL;

		CHECK_INT(tdrv_init(&T, &ctx_derived, &err, "cpak_keys", cpak,
				    NULL),
			  ATOLL_OK);
		expect(ctx_derived, tok, len, ATOLL_E_CHAIN, "no CPAK",
		       "derived id");
		T.drv->fini(ctx_derived);
	}
	{
		/* Flip a byte of the RIM inside the realm token. */
		static const uint8_t rim[] = { 0x31, 0x13, 0x14, 0xab, 0x73 };
		uint8_t *p = memmem(tok, len, rim, sizeof(rim));

		CHECK(p != NULL);
		if (p) {
			p[2] ^= 1;
			expect(ctx, tok, len, ATOLL_E_SIGNATURE, "realm",
			       "tampered RIM");
			p[2] ^= 1;
		}
	}
	expect(ctx, tok, len - 1, ATOLL_E_FORMAT, NULL, "truncated");
	free(tok);

	/* Legacy profile (raw-point RAK) in the 907 wrapper. */
	tok = tdrv_read(EV "cca_example_token_legacy.cbor", &len);
	CHECK(tok);
	expect(ctx, tok, len, ATOLL_OK, NULL, "legacy example");
	free(tok);

	tok = tdrv_read(EV "cca_token.cbor", &len);
	CHECK(tok);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "cca_token: %s\n", err.msg);
	if (r == ATOLL_OK) {
		size_t i;
		bool abab = true, zero = true;

		for (i = 0; i < 64; i++)
			abab &= c->report_data[i] == 0xab;
		for (i = 0; i < c->measurement_len; i++)
			zero &= c->measurement[i] == 0;
		CHECK(abab);
		CHECK(zero);
		cl = tdrv_claim(c, "platform_challenge");
		CHECK(cl && cl->bytes[0] == 0xb5 && cl->bytes[1] == 0x97);
		T.drv->claims_free(ctx, c);
	}
	free(tok);

	/* A bare platform token is not a CCA token. */
	tok = tdrv_read(EV "cca_platform_token.cbor", &len);
	CHECK(tok);
	expect(ctx, tok, len, ATOLL_E_FORMAT, "not a CCA token", "bare platform");
	free(tok);
	T.drv->fini(ctx);
	T.drv->fini(ctx_none);
}

static void test_generated(void)
{
	EVP_PKEY *cpak = gen_ec_key("P-384"), *rak = gen_ec_key("P-384");
	EVP_PKEY *other = gen_ec_key("P-384");
	struct gen_cca_token t;
	char *pub;
	size_t pl, len;
	uint8_t *tok;
	void *ctx = NULL;
	atoll_claims *c = NULL;
	atoll_err err;
	int r;

	pub = gen_pubkey_pem(cpak, &pl);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "cpak_keys",
			    tdrv_write_tmp("gen-cpak.pem", pub, pl), NULL),
		  ATOLL_OK);
	free(pub);

	gen_cca_token_defaults(&t, cpak, rak);
	tok = gen_cca_token_make(&t, &len);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "generated: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK(c->report_data_len == 64 && c->report_data[5] == 0x6e);
		CHECK(c->measurement_len == 32 && c->measurement[0] == 0x31);
		CHECK(tdrv_claim(c, "mec_policy") != NULL);
		CHECK(tdrv_claim(c, "rem3") != NULL);
		T.drv->claims_free(ctx, c);
	}
	/* Expected report data. */
	{
		uint8_t want[64];

		memset(want, 0x6e, sizeof(want));
		CHECK(tdrv_binding_holds(&T, ctx, tok, len, NULL, 0, 0, want, 64,
					 1));
	}
	CHECK(tdrv_truncations_refused(&T, ctx, tok, len, 11, 0));
	free(tok);

	t.legacy = true;
	tok = gen_cca_token_make(&t, &len);
	expect(ctx, tok, len, ATOLL_OK, NULL, "legacy 399");
	free(tok);
	t.legacy = false;

	t.bad_binding = true;
	tok = gen_cca_token_make(&t, &len);
	expect(ctx, tok, len, ATOLL_E_BINDING, "RAK", "binding");
	free(tok);
	t.bad_binding = false;

	t.platform_bad_sig = true;
	tok = gen_cca_token_make(&t, &len);
	expect(ctx, tok, len, ATOLL_E_SIGNATURE, "platform", "platform sig");
	free(tok);
	t.platform_bad_sig = false;

	t.realm_bad_sig = true;
	tok = gen_cca_token_make(&t, &len);
	expect(ctx, tok, len, ATOLL_E_SIGNATURE, "realm", "realm sig");
	free(tok);
	t.realm_bad_sig = false;

	t.lifecycle = 0x5000;
	tok = gen_cca_token_make(&t, &len);
	r = tdrv_verify(&T, ctx, tok, len, NULL, 0, 0, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 1);
		T.drv->claims_free(ctx, c);
	}
	free(tok);
	t.lifecycle = 0x3000;

	/* A platform signed by an unregistered CPAK. */
	t.cpak = other;
	tok = gen_cca_token_make(&t, &len);
	expect(ctx, tok, len, ATOLL_E_CHAIN, "no CPAK", "other cpak");
	free(tok);

	T.drv->fini(ctx);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "iak_keys", "x", NULL),
		  ATOLL_E_CONFIG);
	/* The collect side needs a realm: configfs-tsm with the
	 * arm_cca_guest provider (tests/tee_drivers/test_collect.c fakes
	 * one). */
	CHECK_INT(tdrv_init(&T, &ctx, &err, "tsm_dir", "/nonexistent/tsm", NULL),
		  ATOLL_OK);
	CHECK(tdrv_absent(&T, ctx, "no configfs-tsm report interface: /nonexistent/tsm",
			  ATOLL_E_UNAVAILABLE));
	T.drv->fini(ctx);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "tsm_dir", "relative", NULL),
		  ATOLL_E_CONFIG);
	EVP_PKEY_free(cpak);
	EVP_PKEY_free(rak);
	EVP_PKEY_free(other);
}

int main(void)
{
	tdrv_load(&T, "cca");
	CHECK_STR(T.drv->name, "cca");
	test_generated();
	test_real_samples();
	tdrv_unload(&T);
	CHECK_DONE();
}
