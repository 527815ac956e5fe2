/* nitro driver: real attestation documents from the evidence folder (as of
 * their own timestamps), and documents generated under a test root for
 * every parser path and failure class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "check.h"
#include "dc_cose.h"
#include "gen.h"
#include "tdrv.h"
#include "util/buf.h"

static struct tdrv T;

#define EV "nitro/"

static int verify(void *ctx, const uint8_t *doc, size_t len, int64_t when,
		  atoll_claims **c, atoll_err *err)
{
	return tdrv_verify(&T, ctx, doc, len, NULL, 0, when, c, err);
}

static void expect(void *ctx, const uint8_t *doc, size_t len, int64_t when,
		   int want, const char *msg_part, const char *what)
{
	CHECK(tdrv_expect(&T, ctx, doc, len, NULL, 0, when, want, msg_part,
			  what));
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void check_pcr(const atoll_claims *c, const char *name, const char *hex)
{
	const atoll_claim *cl = tdrv_claim(c, name);

	CHECK(cl && cl->type == ATOLL_CLAIM_BYTES);
	if (!cl || !tdrv_bytes_eq_hex(cl->bytes, cl->len, hex)) {
		fprintf(stderr, "%s differs\n", name);
		CHECK(0);
	}
}

static void test_real_samples(void)
{
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL;
	uint8_t *doc;
	size_t len;
	int64_t ts;
	const atoll_claim *cl;
	int r;

	doc = tdrv_read_b64(EV "blocky-nitrite/nitro_attestation.b64", &len);
	if (!doc) {
		printf("skipped: no evidence dir\n");
		return;
	}
	CHECK_INT(tdrv_init(&T, &ctx, &err, NULL), ATOLL_OK);

	/* blocky-nitrite: 1024-byte public_key, user_data and nonce. */
	CHECK_INT(len, 7539);
	ts = 1725719859; /* 2024-09-07T14:37:39.545Z */
	r = verify(ctx, doc, len, ts, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "blocky: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_STR(c->tee_type, "nitro");
		CHECK_INT(c->debug, 0);
		CHECK_INT(c->issued_at, ts);
		CHECK(tdrv_bytes_eq_hex(c->measurement, c->measurement_len,
			"e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a"));
		check_pcr(c, "pcr1", "0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa");
		check_pcr(c, "pcr2", "d5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c");
		cl = tdrv_claim(c, "pcr3");
		CHECK(cl && cl->len == 48 && all_bytes(cl->bytes, 48, 0));
		CHECK(c->signer_len == 48 && all_bytes(c->signer, 48, 0));
		cl = tdrv_claim(c, "pcr4");
		CHECK(cl && cl->len == 48 && cl->bytes[0] == 0x45 &&
		      cl->bytes[47] == 0x44);
		cl = tdrv_claim(c, "nonce");
		CHECK(cl && cl->len == 1024 && all_bytes(cl->bytes, 1024, 1));
		cl = tdrv_claim(c, "public_key");
		CHECK(cl && cl->len == 1024 && all_bytes(cl->bytes, 1024, 1));
		cl = tdrv_claim(c, "user_data");
		CHECK(cl && cl->len == 1024 && all_bytes(cl->bytes, 1024, 1));
		/* The nonce is not 64 bytes: no report data. */
		CHECK_INT(c->report_data_len, 0);
		cl = tdrv_claim(c, "module_id");
		CHECK(cl && strcmp((const char *)cl->bytes,
				   "i-0a22e5c5f24d22174-enc0191cceb4289903f") == 0);
		cl = tdrv_claim(c, "timestamp");
		CHECK(cl && cl->u64 == 1725719859545ull);
		CHECK_INT(c->not_before, tdrv_time("2024-09-07T14:37:36Z"));
		CHECK_INT(c->not_after, tdrv_time("2024-09-07T17:37:39Z"));
		T.drv->claims_free(ctx, c);
	}
	/* The leaf lives three hours. Its chain and certificates are cached
	 * now (ctx has both caches by default), and that changes nothing
	 * outside the chain's validity. */
	expect(ctx, doc, len, ts + 3600, ATOLL_OK, NULL, "blocky cached");
	expect(ctx, doc, len, ts + 4 * 3600, ATOLL_E_EXPIRED, "expired",
	       "blocky later");
	expect(ctx, doc, len, ts - 3600, ATOLL_E_EXPIRED, "not valid before",
	       "blocky earlier");
	/* A flipped bit in PCR0 breaks the signature. */
	{
		static const uint8_t pcr0_start[] = { 0xe7, 0x2a, 0x46, 0xca,
						      0x80, 0xa2, 0x60, 0xfb };
		uint8_t *p = memmem(doc, len, pcr0_start, sizeof(pcr0_start));

		CHECK(p != NULL);
		if (p) {
			p[3] ^= 0x10;
			expect(ctx, doc, len, ts, ATOLL_E_SIGNATURE, NULL,
			       "blocky tampered");
			p[3] ^= 0x10;
		}
	}
	expect(ctx, doc, len - 1, ts, ATOLL_E_FORMAT, NULL, "blocky truncated");
	expect(ctx, doc, len / 2, ts, ATOLL_E_FORMAT, NULL, "blocky half");
	/* Another pinned root refuses AWS's chain. */
	{
		void *ctx2 = NULL;

		CHECK_INT(tdrv_init(&T, &ctx2, &err, "root_fingerprints",
				    "0000000000000000000000000000000000000000000000000000000000000000",
				    NULL),
			  ATOLL_OK);
		expect(ctx2, doc, len, ts, ATOLL_E_CHAIN, "pinned", "other root");
		T.drv->fini(ctx2);
	}
	free(doc);

	doc = tdrv_read_b64(EV "blocky-nitrite/nitro_attestation_debug.b64", &len);
	CHECK(doc);
	r = verify(ctx, doc, len, 1725719886, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 1);
		CHECK(all_bytes(c->measurement, c->measurement_len, 0));
		T.drv->claims_free(ctx, c);
	}
	free(doc);

	/* Self-signed, no cabundle, 10-byte PCRs: must be rejected. */
	doc = tdrv_read_b64(EV "blocky-nitrite/selfsigned_attestation.b64", &len);
	CHECK(doc);
	expect(ctx, doc, len, 1713379906, ATOLL_E_FORMAT, NULL, "self-signed");
	free(doc);

	/* evervault: a signed EIF (PCR8 set), 256-byte nonce. */
	doc = tdrv_read(EV "evervault/valid-attestation-doc-bytes", &len);
	CHECK(doc);
	ts = 1665651482;
	r = verify(ctx, doc, len, ts, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "evervault: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 0);
		CHECK(tdrv_bytes_eq_hex(c->measurement, c->measurement_len,
			"f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b"));
		check_pcr(c, "pcr1", "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f");
		check_pcr(c, "pcr2", "d8f114da658de5481f8d9ec73907feb553560787522f705c92d7d96beed8e15e2aa611984e098c576832c292e8dc469a");
		CHECK(tdrv_bytes_eq_hex(c->signer, c->signer_len,
			"8790eb3cce6c83d07e84b126dc61ca923333d6f66615c4a79157de48c5ab2418bdc60746ea7b7afbff03a1c6210201cb"));
		cl = tdrv_claim(c, "nonce");
		CHECK(cl && cl->len == 256);
		T.drv->claims_free(ctx, c);
	}
	expect(ctx, doc, len, ts + 86400 * 30, ATOLL_E_EXPIRED, NULL,
	       "evervault a month later");
	free(doc);

	doc = tdrv_read(EV "evervault/debug-mode-attestation-doc-bytes", &len);
	CHECK(doc);
	r = verify(ctx, doc, len, 1665582606, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 1);
		cl = tdrv_claim(c, "public_key");
		CHECK(cl && cl->len == 19 &&
		      memcmp(cl->bytes, "my super secret key", 19) == 0);
		cl = tdrv_claim(c, "user_data");
		CHECK(cl && cl->len == 13 &&
		      memcmp(cl->bytes, "hello, world!", 13) == 0);
		T.drv->claims_free(ctx, c);
	}
	free(doc);

	/* user_data carries the SPKI of a TLS certificate's key. */
	doc = tdrv_read_b64(EV "evervault/valid-attestation-doc-base64", &len);
	CHECK(doc);
	r = verify(ctx, doc, len, 1695049410, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		size_t cert_len;
		uint8_t *cert = tdrv_read(EV "evervault/valid-certificate.der",
					  &cert_len);
		const unsigned char *q = cert;
		X509 *x = cert ? d2i_X509(NULL, &q, (long)cert_len) : NULL;
		unsigned char *spki = NULL;
		int spki_len = x ? i2d_PUBKEY(X509_get0_pubkey(x), &spki) : -1;

		CHECK_INT(c->debug, 1);
		cl = tdrv_claim(c, "user_data");
		CHECK(cl && spki_len > 0 && cl->len == (size_t)spki_len &&
		      memcmp(cl->bytes, spki, cl->len) == 0);
		OPENSSL_free(spki);
		X509_free(x);
		free(cert);
		T.drv->claims_free(ctx, c);
	}
	free(doc);
	T.drv->fini(ctx);
}

/* ---- generated ---- */

static void test_generated(void)
{
	struct gen_nitro_pki P;
	struct gen_nitro_doc d;
	int64_t ts = 1725719859, nb = ts - 60, na = ts + 3 * 3600;
	uint8_t nonce[1025], *doc;
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL, *ctx_nocache = NULL;
	size_t len;
	int r;

	gen_nitro_pki_make(&P, nb, na);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "root_fingerprints", P.root_fp,
			    NULL),
		  ATOLL_OK);
	CHECK_INT(tdrv_init(&T, &ctx_nocache, &err, "root_fingerprints",
			    P.root_fp, "chain_cache", "no", NULL),
		  ATOLL_OK);
	memset(nonce, 0x42, sizeof(nonce));

	gen_nitro_doc_defaults(&d);
	d.nonce = nonce;
	d.nonce_len = 64;
	doc = gen_nitro_doc_make(&d, &P, &len);
	r = verify(ctx, doc, len, ts, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "generated: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 0);
		CHECK(c->measurement_len == 48 && all_bytes(c->measurement, 48, 0x10));
		CHECK(c->signer_len == 48 && all_bytes(c->signer, 48, 0x90));
		CHECK(c->report_data_len == 64 && all_bytes(c->report_data, 64, 0x42));
		CHECK(tdrv_claim(c, "pcr15") != NULL);
		CHECK(tdrv_claim(c, "public_key") == NULL);
		CHECK_INT(c->not_before, nb);
		CHECK_INT(c->not_after, na);
		T.drv->claims_free(ctx, c);
	}
	expect(ctx, doc, len, ts, ATOLL_OK, NULL, "cached");
	expect(ctx_nocache, doc, len, ts, ATOLL_OK, NULL, "no cache");
	expect(ctx, doc, len, na + 1, ATOLL_E_EXPIRED, "expired", "cache expiry");
	expect(ctx, doc, len, nb - 1, ATOLL_E_EXPIRED, NULL, "cache early");
	/* Expected report data: the nonce. */
	CHECK(tdrv_binding_holds(&T, ctx, doc, len, NULL, 0, ts, nonce, 64, 63));
	/* The real pin refuses the test root. */
	{
		void *ctx_real = NULL;

		CHECK_INT(tdrv_init(&T, &ctx_real, &err, NULL), ATOLL_OK);
		expect(ctx_real, doc, len, ts, ATOLL_E_CHAIN, NULL, "real pin");
		T.drv->fini(ctx_real);
	}
	/* Every truncation is a format error, never a crash. */
	CHECK(tdrv_truncations_refused(&T, ctx, doc, len, 37, ts));
	free(doc);

	d.tagged = true;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_OK, NULL, "tagged");
	free(doc);
	d.tagged = false;

	d.bad_sig = true;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_SIGNATURE, NULL, "bad signature");
	free(doc);
	d.bad_sig = false;

	d.cabundle_null = true;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_FORMAT, "cabundle", "null cabundle");
	free(doc);
	d.cabundle_null = false;

	d.omit_certificate = true;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_FORMAT, "certificate", "no cert");
	free(doc);
	d.omit_certificate = false;

	d.pcr_len = 32;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_FORMAT, "PCR0 is 32 bytes", "pcr len");
	free(doc);
	d.pcr_len = 48;

	d.digest = "MD5";
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_FORMAT, "digest", "digest");
	free(doc);
	d.digest = "SHA384";

	/* Field limits: 1024 bytes accepted, 1025 refused. */
	d.nonce_len = 1024;
	d.user_data = nonce;
	d.user_data_len = 1024;
	d.public_key = nonce;
	d.public_key_len = 1024;
	doc = gen_nitro_doc_make(&d, &P, &len);
	r = verify(ctx, doc, len, ts, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->report_data_len, 0);
		T.drv->claims_free(ctx, c);
	}
	free(doc);
	d.nonce_len = 1025;
	doc = gen_nitro_doc_make(&d, &P, &len);
	expect(ctx, doc, len, ts, ATOLL_E_FORMAT, "nonce", "nonce 1025");
	free(doc);
	d.nonce_len = 64;
	d.user_data_len = d.public_key_len = 0;

	/* Debug mode: PCR0..2 zero. */
	memset(d.pcrs[0], 0, 48);
	memset(d.pcrs[1], 0, 48);
	memset(d.pcrs[2], 0, 48);
	doc = gen_nitro_doc_make(&d, &P, &len);
	r = verify(ctx, doc, len, ts, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 1);
		T.drv->claims_free(ctx, c);
	}
	free(doc);
	gen_nitro_doc_defaults(&d);

	/* Wrong algorithm, MAC0, garbage. */
	{
		EVP_PKEY *k256 = gen_ec_key("P-256");
		uint8_t payload[] = { 0xa0 };
		uint8_t *m;
		size_t mlen;

		m = gen_cose_sign1(false, DC_COSE_ES256, payload, 1, k256,
				   false, &mlen);
		expect(ctx, m, mlen, ts, ATOLL_E_FORMAT, "ES384", "ES256");
		m[0] = 0xd1; /* what follows is no longer one item */
		expect(ctx, m, mlen, ts, ATOLL_E_FORMAT, NULL, "garbage");
		free(m);
		EVP_PKEY_free(k256);
	}
	{
		struct buf b = { 0 };

		cw_head(&b, 6, 17);
		cw_head(&b, 4, 4);
		cw_bytes(&b, "\xa1\x01\x05", 3);
		cw_head(&b, 5, 0);
		cw_bytes(&b, "x", 1);
		cw_bytes(&b, "0123456789abcdef0123456789abcdef", 32);
		expect(ctx, b.data, b.len, ts, ATOLL_E_UNSUPPORTED, "Mac0", "mac0");
		buf_free(&b);
	}
	/* Leaf issued by a CA outside the pinned tree. */
	{
		struct gen_nitro_pki Q;

		gen_nitro_pki_make(&Q, nb, na);
		doc = gen_nitro_doc_make(&d, &Q, &len);
		expect(ctx, doc, len, ts, ATOLL_E_CHAIN, NULL, "other tree");
		free(doc);
		gen_nitro_pki_free(&Q);
	}
	T.drv->fini(ctx);
	T.drv->fini(ctx_nocache);
	gen_nitro_pki_free(&P);
}

static void test_config_and_island(void)
{
	atoll_err err;
	void *ctx = NULL;

	CHECK_INT(tdrv_init(&T, &ctx, &err, "nope", "1", NULL), ATOLL_E_CONFIG);
	CHECK(strstr(err.msg, "nope") != NULL);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "root_fingerprints", "xyz", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "chain_cache_size", "x", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "device", "/nonexistent/nsm", NULL),
		  ATOLL_OK);
	CHECK(tdrv_absent(&T, ctx, "/nonexistent/nsm", ATOLL_E_UNAVAILABLE));
	T.drv->fini(ctx);
}

int main(void)
{
	tdrv_load(&T, "nitro");
	CHECK_STR(T.drv->name, "nitro");
	test_config_and_island();
	test_generated();
	test_real_samples();
	tdrv_unload(&T);
	CHECK_DONE();
}
