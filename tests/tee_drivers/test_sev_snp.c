/* sev_snp driver: real AMD samples from the evidence folder (as of their
 * stated time), and generated reports under a test ARK covering every
 * parser path and failure class. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "check.h"
#include "gen.h"
#include "tdrv.h"

static struct tdrv T;

#define EV "sev-snp/"

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void free_blobs(atoll_blob *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((void *)b[i].data);
}

static void claim_uint(const atoll_claims *c, const char *name, uint64_t want)
{
	const atoll_claim *cl = tdrv_claim(c, name);

	CHECK(cl && cl->type == ATOLL_CLAIM_UINT);
	if (cl && cl->u64 != want)
		fprintf(stderr, "claim %s = %llu, want %llu\n", name,
			(unsigned long long)cl->u64, (unsigned long long)want);
	CHECK(cl && cl->u64 == want);
}

static void test_real_samples(void)
{
	atoll_blob col[6];
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL;
	uint8_t *rep, *rep2, *tampered, *vcek_bad;
	size_t rep_len, rep2_len, tampered_len, vcek_bad_len;
	int64_t t = tdrv_time("2025-06-01T00:00:00Z");
	const atoll_claim *cl;
	int r;

	rep = tdrv_read(EV "go-sev-guest/attestation.bin", &rep_len);
	if (!rep) {
		printf("skipped: no evidence dir\n");
		return;
	}
	CHECK_INT(tdrv_init(&T, &ctx, &err, NULL), ATOLL_OK);
	col[0].data = tdrv_read(EV "go-sev-guest/ask_ark_milan.pem", &col[0].len);
	col[1].data = tdrv_read(EV "go-sev-guest/vcek.testcer", &col[1].len);
	CHECK(col[0].data && col[1].data);

	/* 1. go-sev-guest: v2, Milan, VCEK, debug allowed. */
	r = tdrv_verify(&T, ctx, rep, rep_len, col, 2, t, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "go-sev-guest: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_STR(c->tee_type, "sev_snp");
		CHECK_INT(c->debug, 1);
		CHECK(tdrv_bytes_eq_hex(c->measurement, c->measurement_len,
			"b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"));
		CHECK_INT(c->report_data_len, 64);
		CHECK(memcmp(c->report_data, "\x01\x02\x03\x04\x05", 5) == 0);
		CHECK(all_zero(c->report_data + 5, 59));
		CHECK_INT(c->signer_len, 48);
		CHECK(all_zero(c->signer, 48));
		claim_uint(c, "policy", 0xb0000);
		claim_uint(c, "vmpl", 0);
		claim_uint(c, "report_version", 2);
		claim_uint(c, "reported_tcb_bootloader", 2);
		claim_uint(c, "reported_tcb_tee", 0);
		claim_uint(c, "reported_tcb_snp", 5);
		claim_uint(c, "reported_tcb_microcode", 68);
		claim_uint(c, "current_major", 1);
		claim_uint(c, "current_minor", 49);
		claim_uint(c, "current_build", 3);
		CHECK(c->tcb == 0x4405000000000002ull);
		cl = tdrv_claim(c, "chip_id");
		CHECK(cl && tdrv_bytes_eq_hex(cl->bytes, cl->len,
			"3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"));
		cl = tdrv_claim(c, "policy_debug");
		CHECK(cl && cl->type == ATOLL_CLAIM_BOOL && cl->u64 == 1);
		cl = tdrv_claim(c, "host_data");
		CHECK(cl && cl->len == 32 && all_zero(cl->bytes, 32));
		cl = tdrv_claim(c, "signing_key");
		CHECK(cl && cl->type == ATOLL_CLAIM_STRING &&
		      strcmp((const char *)cl->bytes, "vcek") == 0);
		cl = tdrv_claim(c, "product");
		CHECK(cl && strcmp((const char *)cl->bytes, "Milan-B0") == 0);
		CHECK_INT(c->not_before, tdrv_time("2022-09-24T00:55:28Z"));
		CHECK_INT(c->not_after, tdrv_time("2029-09-24T00:55:28Z"));
		T.drv->claims_free(ctx, c);
	}

	/* Outside the VCEK's validity, though the chain and its certificates
	 * are cached from the calls before (ctx has both caches by default). */
	CHECK(tdrv_expect(&T, ctx, rep, rep_len, col, 2,
			  tdrv_time("2029-09-24T00:55:00Z"), ATOLL_OK, NULL,
			  "go-sev-guest cached"));
	r = tdrv_verify(&T, ctx, rep, rep_len, col, 2,
			tdrv_time("2022-01-01T00:00:00Z"), &c, &err);
	CHECK_INT(r, ATOLL_E_EXPIRED);
	r = tdrv_verify(&T, ctx, rep, rep_len, col, 2,
			tdrv_time("2030-01-01T00:00:00Z"), &c, &err);
	CHECK_INT(r, ATOLL_E_EXPIRED);

	/* Wrong product chain: Genoa ASK/ARK cannot vouch for a Milan VCEK. */
	col[2].data = tdrv_read(EV "go-sev-guest/ask_ark_genoa.pem", &col[2].len);
	r = tdrv_verify(&T, ctx, rep, rep_len, col + 1, 2, t, &c, &err);
	CHECK_INT(r, ATOLL_E_CHAIN);

	/* Order and extra unrelated collateral do not matter. */
	col[3].data = tdrv_read(EV "virtee-sev/vcek_turin.der", &col[3].len);
	col[4].data = tdrv_read(EV "go-sev-guest/ask_ark_turin_vcek.pem",
				&col[4].len);
	col[5] = col[0];
	col[0] = col[1];
	col[1] = col[2];
	col[2] = col[3];
	col[3] = col[4];
	col[4] = col[5];
	r = tdrv_verify(&T, ctx, rep, rep_len, col, 5, t, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK)
		T.drv->claims_free(ctx, c);
	/* col: 0 vcek.testcer, 1 genoa, 2 turin vcek, 3 turin chain, 4 milan */

	/* 2. virtee: v2 Milan, no debug. */
	rep2 = tdrv_read_hex(EV "virtee-sev/report_milan.hex", &rep2_len);
	CHECK(rep2 && rep2_len == 1184);
	col[5].data = tdrv_read(EV "virtee-sev/vcek_milan.der", &col[5].len);
	{
		atoll_blob v[2] = { col[5], col[4] };

		r = tdrv_verify(&T, ctx, rep2, rep2_len, v, 2, t, &c, &err);
		CHECK_INT(r, ATOLL_OK);
		if (r != ATOLL_OK)
			fprintf(stderr, "virtee: %s\n", err.msg);
		if (r == ATOLL_OK) {
			CHECK_INT(c->debug, 0);
			claim_uint(c, "policy", 0x30000);
			claim_uint(c, "reported_tcb_bootloader", 3);
			claim_uint(c, "reported_tcb_snp", 8);
			claim_uint(c, "reported_tcb_microcode", 115);
			claim_uint(c, "current_major", 1);
			claim_uint(c, "current_minor", 52);
			claim_uint(c, "current_build", 4);
			CHECK(tdrv_bytes_eq_hex(c->measurement, c->measurement_len,
				"7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"));
			CHECK(tdrv_bytes_eq_hex(c->report_data, c->report_data_len,
				"d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd"));
			T.drv->claims_free(ctx, c);
		}

		/* Derived negatives. */
		tampered = tdrv_read(EV "virtee-sev/derived/report_milan.byte21xor80.bin",
				     &tampered_len);
		CHECK(tampered);
		r = tdrv_verify(&T, ctx, tampered, tampered_len, v, 2, t, &c,
				&err);
		CHECK_INT(r, ATOLL_E_SIGNATURE);
		vcek_bad = tdrv_read(EV "virtee-sev/derived/vcek_milan.byte40xorff.der",
				     &vcek_bad_len);
		CHECK(vcek_bad);
		v[0].data = vcek_bad;
		v[0].len = vcek_bad_len;
		r = tdrv_verify(&T, ctx, rep2, rep2_len, v, 2, t, &c, &err);
		CHECK_INT(r, ATOLL_E_CHAIN);
		printf("tampered VCEK: %s\n", err.msg);

		/* The go-sev-guest VCEK did not sign the virtee report. */
		v[0] = col[0];
		r = tdrv_verify(&T, ctx, rep2, rep2_len, v, 2, t, &c, &err);
		CHECK_INT(r, ATOLL_E_SIGNATURE);
		free(tampered);
		free(vcek_bad);
	}

	/* Pinning only the Genoa ARK refuses the Milan chain. */
	{
		void *ctx2 = NULL;
		atoll_blob v[2] = { col[0], col[4] };

		CHECK_INT(tdrv_init(&T, &ctx2, &err, "ark_fingerprints",
				    "4C:65:98:D1:9C:18:71:9C:5D:FD:4A:7D:33:5F:67:4E:"
				    "5B:FE:1D:8F:80:0C:EA:2C:F2:70:C1:0D:10:3D:B2:F1",
				    NULL),
			  ATOLL_OK);
		r = tdrv_verify(&T, ctx2, rep, rep_len, v, 2, t, &c, &err);
		CHECK_INT(r, ATOLL_E_CHAIN);
		T.drv->fini(ctx2);
	}

	/* Expected report data. */
	{
		atoll_blob v[2] = { col[0], col[4] };
		uint8_t want[64] = { 1, 2, 3, 4, 5 };

		CHECK(tdrv_binding_holds(&T, ctx, rep, rep_len, v, 2, t, want,
					 64, 10));
	}

	/* The same certificates delivered as an extended-report table. */
	{
		uint8_t *ders[3];
		size_t lens[3];
		int kinds[3] = { 2, 1, 0 };
		const char *pem = (const char *)col[4].data;
		BIO *bio = BIO_new_mem_buf(pem, (int)col[4].len);
		X509 *ask = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		X509 *ark = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		atoll_blob tb;
		uint8_t *table;
		size_t table_len;

		BIO_free(bio);
		CHECK(ask && ark);
		ders[0] = (uint8_t *)col[0].data;
		lens[0] = col[0].len;
		ders[1] = gen_der(ask, &lens[1]);
		ders[2] = gen_der(ark, &lens[2]);
		table = gen_snp_cert_table((const uint8_t *const *)ders, lens,
					   kinds, 3, &table_len);
		tb.data = table;
		tb.len = table_len;
		r = tdrv_verify(&T, ctx, rep, rep_len, &tb, 1, t, &c, &err);
		CHECK_INT(r, ATOLL_OK);
		if (r != ATOLL_OK)
			fprintf(stderr, "table: %s\n", err.msg);
		else
			T.drv->claims_free(ctx, c);
		/* An entry pointing past the table. */
		table[20] = 0xff;
		table[21] = 0xff;
		r = tdrv_verify(&T, ctx, rep, rep_len, &tb, 1, t, &c, &err);
		CHECK_INT(r, ATOLL_E_FORMAT);
		free(table);
		free(ders[1]);
		free(ders[2]);
		X509_free(ask);
		X509_free(ark);
	}

	T.drv->fini(ctx);
	free_blobs(col, 6);
	free(rep);
	free(rep2);
}

/* ---- generated evidence ---- */

static struct gen_snp_pki P;
static uint8_t chip[64];
static const int64_t NOW = 1750000000; /* 2025-06-15 */

static struct gen_snp_vcek_opts milan_opts(void)
{
	struct gen_snp_vcek_opts o = { 0 };

	o.product = "Milan-B0";
	o.tcb = 0x7308000000000003ull;
	o.hwid = chip;
	o.hwid_len = 64;
	o.not_before = NOW - 86400 * 365;
	o.not_after = NOW + 86400 * 365 * 6;
	return o;
}

struct gen_col {
	atoll_blob b[4];
	size_t n;
};

static void col_std(struct gen_col *g, X509 *leaf, X509 *inter, X509 *root)
{
	X509 *xs[3] = { leaf, inter, root };
	size_t i;

	g->n = 0;
	for (i = 0; i < 3; i++) {
		if (!xs[i])
			continue;
		/* Mix DER and PEM, as collateral may. */
		if (i == 1)
			g->b[g->n].data = (uint8_t *)gen_pem(xs[i], &g->b[g->n].len);
		else
			g->b[g->n].data = gen_der(xs[i], &g->b[g->n].len);
		g->n++;
	}
}

static void col_free(struct gen_col *g)
{
	free_blobs(g->b, g->n);
	g->n = 0;
}

static int verify_gen(void *ctx, const uint8_t *rep, size_t len,
		      struct gen_col *g, int64_t when, atoll_claims **c,
		      atoll_err *err)
{
	return tdrv_verify(&T, ctx, rep, len, g->b, g->n, when, c, err);
}

static void expect(void *ctx, const uint8_t *rep, size_t len, struct gen_col *g,
		   int64_t when, int want, const char *msg_part, const char *what)
{
	CHECK(tdrv_expect(&T, ctx, rep, len, g->b, g->n, when, want, msg_part,
			  what));
}

struct thread_arg {
	void *ctx;
	const uint8_t *rep;
	struct gen_col *g;
	int failures;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	int i;

	for (i = 0; i < 20; i++) {
		atoll_claims *c = NULL;
		atoll_err err;

		if (verify_gen(a->ctx, a->rep, 1184, a->g, NOW, &c, &err) !=
		    ATOLL_OK)
			a->failures++;
		else
			T.drv->claims_free(a->ctx, c);
	}
	return NULL;
}

static void test_generated(void)
{
	struct gen_snp_vcek_opts o = milan_opts();
	struct gen_snp_report gr;
	struct gen_col g;
	uint8_t rep[1184];
	atoll_claims *c = NULL;
	atoll_err err;
	void *ctx = NULL, *ctx_nocache = NULL;
	const atoll_claim *cl;
	X509 *vcek2;
	size_t i;
	int r;

	for (i = 0; i < 64; i++)
		chip[i] = (uint8_t)(0xc0 + i);
	gen_snp_pki_make(&P, &o);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "ark_fingerprints", P.ark_fp, NULL),
		  ATOLL_OK);
	CHECK_INT(tdrv_init(&T, &ctx_nocache, &err, "ark_fingerprints",
			    P.ark_fp, "chain_cache", "false", "cert_cache",
			    "false", NULL),
		  ATOLL_OK);
	col_std(&g, P.vcek, P.ask, P.ark);

	gen_snp_report_defaults(&gr);
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	r = verify_gen(ctx, rep, sizeof(rep), &g, NOW, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "generated: %s\n", err.msg);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 0);
		CHECK_INT(c->svn, 7);
		CHECK(c->tcb == 0x7308000000000003ull);
		CHECK(c->measurement_len == 48 &&
		      memcmp(c->measurement, gr.measurement, 48) == 0);
		CHECK(c->signer_len == 48 &&
		      memcmp(c->signer, gr.id_key_digest, 48) == 0);
		CHECK(c->report_data_len == 64 &&
		      memcmp(c->report_data, gr.report_data, 64) == 0);
		claim_uint(c, "report_version", 3);
		claim_uint(c, "cpuid_fam_id", 0x19);
		claim_uint(c, "reported_tcb_snp", 8);
		claim_uint(c, "guest_svn", 7);
		cl = tdrv_claim(c, "chip_id_masked");
		CHECK(cl && cl->u64 == 0);
		CHECK_INT(c->not_after, o.not_after);
		T.drv->claims_free(ctx, c);
	}
	/* Served from the cache, and again without one. */
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL, "cached");
	expect(ctx_nocache, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL, "no cache");
	/* The cache must not extend a chain past its validity. */
	expect(ctx, rep, sizeof(rep), &g, o.not_after + 10, ATOLL_E_EXPIRED,
	       "expired", "cache after expiry");
	expect(ctx, rep, sizeof(rep), &g, o.not_before - 10, ATOLL_E_EXPIRED,
	       "not valid before", "cache before validity");
	/* The ARK's CRL revokes the ASK as of NOW + 100: the same report and
	 * blobs are accepted (then from the caches) before, refused after. */
	{
		X509_CRL *crl = gen_crl(P.ark, P.ark_key, NOW - 1000,
					NOW + 100000, 2, NOW + 100);
		struct gen_col gc = g;

		gc.b[gc.n].data = gen_crl_der(crl, &gc.b[gc.n].len);
		gc.n++;
		expect(ctx, rep, sizeof(rep), &gc, NOW, ATOLL_OK, NULL,
		       "CRL, before revocation");
		expect(ctx, rep, sizeof(rep), &gc, NOW + 50, ATOLL_OK, NULL,
		       "CRL, cached");
		expect(ctx, rep, sizeof(rep), &gc, NOW + 150, ATOLL_E_CHAIN,
		       "revoked", "CRL, after revocation");
		expect(ctx_nocache, rep, sizeof(rep), &gc, NOW + 150,
		       ATOLL_E_CHAIN, "revoked", "CRL, no cache");
		/* Without the CRL the verifier cannot know. */
		expect(ctx, rep, sizeof(rep), &g, NOW + 150, ATOLL_OK, NULL,
		       "no CRL");
		free((void *)gc.b[gc.n - 1].data);
		X509_CRL_free(crl);
	}

	/* Concurrent verification on one context. */
	{
		pthread_t th[4];
		struct thread_arg a[4];

		for (i = 0; i < 4; i++) {
			a[i] = (struct thread_arg){ ctx, rep, &g, 0 };
			pthread_create(&th[i], NULL, thread_main, &a[i]);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_INT(a[i].failures, 0);
		}
	}

	/* Versions: 2 and 5 share the layout; 1 and 6 are refused. */
	gr.version = 2;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL, "v2");
	gr.version = 5;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL, "v5");
	gr.version = 1;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_FORMAT, "version 1", "v1");
	gr.version = 6;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_FORMAT, "version 6", "v6");
	gr.version = 3;

	/* Lengths. */
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, 1183, &g, NOW, ATOLL_E_FORMAT, "1183", "truncated");
	expect(ctx, rep, 0, &g, NOW, ATOLL_E_FORMAT, NULL, "empty");
	{
		uint8_t big[1185];

		memcpy(big, rep, 1184);
		big[1184] = 0;
		expect(ctx, big, sizeof(big), &g, NOW, ATOLL_E_FORMAT, NULL,
		       "too long");
	}

	/* Signature algorithm and key selection. */
	gr.sig_algo = 2;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_FORMAT, "algorithm", "algo");
	gr.sig_algo = 1;
	gr.key_info = 7 << 2;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_SIGNATURE, "none", "key 7");
	gr.key_info = 2;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_SIGNATURE, "MASK", "masked");
	gr.key_info = 0;

	/* Tampering after signing. */
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	rep[0x90] ^= 1;
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_SIGNATURE, NULL,
	       "tampered measurement");
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	rep[0x2a0 + 5] ^= 1;
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_SIGNATURE, NULL,
	       "tampered signature");
	/* Signed by another P-384 key. */
	{
		EVP_PKEY *other = gen_ec_key("P-384");

		gen_snp_report_sign(&gr, other, rep);
		expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_SIGNATURE, NULL,
		       "other key");
		EVP_PKEY_free(other);
	}

	/* Debug policy is reported, not refused. */
	gr.policy = 0x30000 | (1ull << 19);
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	r = verify_gen(ctx, rep, sizeof(rep), &g, NOW, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		CHECK_INT(c->debug, 1);
		T.drv->claims_free(ctx, c);
	}
	gr.policy = 0x30000;

	/* TCB: report says snp=8, the VCEK was issued for snp=5. */
	gr.reported_tcb = 0x7305000000000003ull;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_TCB,
	       "VCEK TCB snp=8 != reported_tcb snp=5", "tcb snp");
	gr.reported_tcb = 0x7308000000000004ull;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_TCB, "bl=3", "tcb bl");
	gr.reported_tcb = 0x7308000000000003ull;

	/* Chip id binding. */
	gr.chip_id[3] ^= 0xff;
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_BINDING, "hwID", "chip id");
	memset(gr.chip_id, 0, 64);
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	r = verify_gen(ctx, rep, sizeof(rep), &g, NOW, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r == ATOLL_OK) {
		cl = tdrv_claim(c, "chip_id_masked");
		CHECK(cl && cl->u64 == 1);
		T.drv->claims_free(ctx, c);
	}
	memcpy(gr.chip_id, chip, 64);

	/* hwID wrapped in an OCTET STRING. */
	o.hwid_der = true;
	vcek2 = gen_snp_vcek(&P, &o, P.vcek_key);
	col_free(&g);
	col_std(&g, vcek2, P.ask, P.ark);
	gen_snp_report_sign(&gr, P.vcek_key, rep);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL, "hwid der");
	X509_free(vcek2);
	o.hwid_der = false;

	/* Missing pieces of the chain. */
	col_free(&g);
	col_std(&g, NULL, P.ask, P.ark);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_CHAIN, "no VCEK", "no vcek");
	col_free(&g);
	col_std(&g, P.vcek, NULL, P.ark);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_CHAIN, NULL, "no ask");
	col_free(&g);
	col_std(&g, P.vcek, P.ask, NULL);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_CHAIN, "pinned", "no ark");
	col_free(&g);
	/* The real AMD pins refuse the test ARK. */
	{
		void *ctx_real = NULL;

		col_std(&g, P.vcek, P.ask, P.ark);
		CHECK_INT(tdrv_init(&T, &ctx_real, &err, NULL), ATOLL_OK);
		expect(ctx_real, rep, sizeof(rep), &g, NOW, ATOLL_E_CHAIN,
		       "pinned", "default pins");
		T.drv->fini(ctx_real);
		col_free(&g);
	}
	/* The ARK configured from a file instead of collateral. */
	{
		void *ctx_file = NULL;
		size_t pem_len;
		char *pem = gen_pem(P.ark, &pem_len);
		const char *path = tdrv_write_tmp("ark.pem", pem, pem_len);

		CHECK_INT(tdrv_init(&T, &ctx_file, &err, "ark_fingerprints",
				    P.ark_fp, "certs", path, NULL),
			  ATOLL_OK);
		col_std(&g, P.vcek, P.ask, NULL);
		expect(ctx_file, rep, sizeof(rep), &g, NOW, ATOLL_OK, NULL,
		       "ark from config");
		col_free(&g);
		T.drv->fini(ctx_file);
		free(pem);
	}

	/* VLEK: signed by the VLEK, chain VLEK <- ASVK <- ARK. */
	gr.key_info = 1 << 2;
	gen_snp_report_sign(&gr, P.vlek_key, rep);
	col_std(&g, P.vlek, P.asvk, P.ark);
	r = verify_gen(ctx, rep, sizeof(rep), &g, NOW, &c, &err);
	CHECK_INT(r, ATOLL_OK);
	if (r != ATOLL_OK)
		fprintf(stderr, "vlek: %s\n", err.msg);
	if (r == ATOLL_OK) {
		cl = tdrv_claim(c, "signing_key");
		CHECK(cl && strcmp((const char *)cl->bytes, "vlek") == 0);
		T.drv->claims_free(ctx, c);
	}
	/* A VLEK report with only a VCEK around. */
	col_free(&g);
	col_std(&g, P.vcek, P.ask, P.ark);
	expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_CHAIN, "no VLEK", "vlek missing");
	col_free(&g);
	gr.key_info = 0;

	/* Turin: 8-byte hwID, fmc in the TCB, family 0x1A. */
	{
		struct gen_snp_vcek_opts to = milan_opts();
		X509 *tv;

		to.product = "Turin";
		to.turin = true;
		to.hwid_len = 8;
		/* fmc 1, bl 2, tee 3, snp 4, ucode 0x55 */
		to.tcb = 0x5500000004030201ull;
		tv = gen_snp_vcek(&P, &to, P.vcek_key);
		col_std(&g, tv, P.ask, P.ark);
		gr.reported_tcb = to.tcb;
		gr.cpuid_fam = 0x1a;
		memset(gr.chip_id + 8, 0, 56);
		gen_snp_report_sign(&gr, P.vcek_key, rep);
		r = verify_gen(ctx, rep, sizeof(rep), &g, NOW, &c, &err);
		CHECK_INT(r, ATOLL_OK);
		if (r != ATOLL_OK)
			fprintf(stderr, "turin: %s\n", err.msg);
		if (r == ATOLL_OK) {
			claim_uint(c, "reported_tcb_fmc", 1);
			claim_uint(c, "reported_tcb_bootloader", 2);
			claim_uint(c, "reported_tcb_tee", 3);
			claim_uint(c, "reported_tcb_snp", 4);
			claim_uint(c, "reported_tcb_microcode", 0x55);
			T.drv->claims_free(ctx, c);
		}
		gr.reported_tcb = 0x5500000004030202ull;
		gen_snp_report_sign(&gr, P.vcek_key, rep);
		expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_TCB,
		       "fmc=1 != reported_tcb fmc=2", "turin fmc");
		/* A Turin VCEK for a report from a Zen 3/4 part. */
		gr.reported_tcb = to.tcb;
		gr.cpuid_fam = 0x19;
		gen_snp_report_sign(&gr, P.vcek_key, rep);
		expect(ctx, rep, sizeof(rep), &g, NOW, ATOLL_E_BINDING,
		       "family", "turin family");
		col_free(&g);
		X509_free(tv);
		gr.cpuid_fam = 0x19;
		memcpy(gr.chip_id, chip, 64);
		gr.reported_tcb = 0x7308000000000003ull;
	}

	T.drv->fini(ctx);
	T.drv->fini(ctx_nocache);
	gen_snp_pki_free(&P);
}

static void test_config_and_island(void)
{
	atoll_err err;
	void *ctx = NULL;

	CHECK_INT(tdrv_init(&T, &ctx, &err, "bogus", "1", NULL), ATOLL_E_CONFIG);
	CHECK(strstr(err.msg, "bogus") != NULL);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "ark_fingerprints", "abcd", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "chain_cache", "maybe", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "chain_cache_size", "0", NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "certs", "/nonexistent/ark.pem",
			    NULL),
		  ATOLL_E_CONFIG);
	CHECK_INT(tdrv_init(&T, &ctx, &err, "vmpl", "4", NULL), ATOLL_E_CONFIG);

	CHECK_INT(tdrv_init(&T, &ctx, &err, "device", "/nonexistent/sev-guest",
			    "tsm_dir", "/nonexistent/tsm", NULL),
		  ATOLL_OK);
	CHECK(tdrv_absent(&T, ctx, "/nonexistent/sev-guest",
			  ATOLL_E_UNAVAILABLE));
	T.drv->fini(ctx);
	T.drv->fini(NULL);
}

int main(void)
{
	tdrv_load(&T, "sev_snp");
	CHECK_STR(T.drv->name, "sev_snp");
	test_config_and_island();
	test_generated();
	test_real_samples();
	tdrv_unload(&T);
	CHECK_DONE();
}
