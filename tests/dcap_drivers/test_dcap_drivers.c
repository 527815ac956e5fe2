/* The sgx and tdx driver plugins, loaded through their entry symbol, on
 * generated evidence: every quote version and body type, every parser
 * length, each tampered region and its error class, chains, CRLs, TCB
 * Info and QE Identity evaluation, collateral forms, configuration,
 * detect/collect, concurrency. Needs no shared files. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "check.h"
#include "util/timeutil.h"
#include "drv.h"
#include "gen.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"

#define T0 ((int64_t)GEN_T0)

static struct gen_pki pki, other;
static struct drv sgx, tdx;

struct q {
	uint8_t *d;
	size_t len;
	struct gen_offsets off;
};

static struct q mk(const struct gen_pki *p, const struct gen_quote_opts *o)
{
	struct q q = { 0 };

	if (gen_quote(p, o, &q.d, &q.len, &q.off) < 0) {
		fprintf(stderr, "gen_quote failed\n");
		exit(1);
	}
	return q;
}

static struct q mk_default(int version, uint32_t tee, uint16_t body_type)
{
	struct gen_quote_opts o;

	gen_quote_defaults(&o, version, tee, body_type);
	return mk(&pki, &o);
}

static int run_blobs(struct drv *d, const uint8_t *q, size_t len,
		     const atoll_blob *b, size_t n, int64_t t,
		     atoll_claims **ret, atoll_err *err)
{
	int r = drv_verify(d, q, len, b, n, t, NULL, 0, ret, err);
	if (r != ATOLL_OK)
		printf("    -> %d: %s\n", r, err->msg);
	return r;
}

static int run(struct drv *d, const struct q *q, const struct gen_collateral *c,
	       int64_t t, atoll_claims **ret)
{
	atoll_blob b[8] = { { 0 } };
	atoll_err err;
	size_t n = c ? c->n : 0;

	for (size_t i = 0; i < n; i++)
		b[i] = (atoll_blob){ c->data[i], c->len[i] };
	return run_blobs(d, q->d, q->len, b, n, t, ret, &err);
}

static int run_msg(struct drv *d, const struct q *q,
		   const struct gen_collateral *c, int64_t t, const char *needle)
{
	atoll_blob b[8] = { { 0 } };
	atoll_err err;
	size_t n = c ? c->n : 0;

	for (size_t i = 0; i < n; i++)
		b[i] = (atoll_blob){ c->data[i], c->len[i] };
	int r = run_blobs(d, q->d, q->len, b, n, t, NULL, &err);
	if (r != ATOLL_OK && !strstr(err.msg, needle)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
		check_failures++;
	}
	return r;
}

/* Run on a copy with one byte flipped. */
static int run_flip(struct drv *d, const struct q *q, size_t off, uint8_t x)
{
	struct q m = *q;
	m.d = malloc(q->len);
	memcpy(m.d, q->d, q->len);
	m.d[off] ^= x;
	int r = run(d, &m, NULL, T0, NULL);
	free(m.d);
	return r;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int run_put32(struct drv *d, const struct q *q, size_t off, uint32_t v)
{
	struct q m = *q;
	m.d = malloc(q->len);
	memcpy(m.d, q->d, q->len);
	put32(m.d + off, v);
	int r = run(d, &m, NULL, T0, NULL);
	free(m.d);
	return r;
}

/* A quote with the TEE's debug bit set in its body (byte off) is accepted
 * and reported as debuggable. */
static void check_debug(struct drv *d, int version, uint32_t tee,
			uint16_t body_type, size_t off, uint8_t bit)
{
	struct gen_quote_opts o;
	atoll_claims *c = NULL;
	struct q q;

	gen_quote_defaults(&o, version, tee, body_type);
	o.body[off] |= bit;
	q = mk(&pki, &o);
	CHECK_INT(run(d, &q, NULL, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_INT(c->debug, 1);
		CHECK_INT(claim_u(c, "debug"), 1);
		d->d->claims_free(d->ctx, c);
	}
	free(q.d);
}

static void test_sgx_basic(void)
{
	atoll_claims *c = NULL;

	printf("sgx v3, PEM chain\n");
	struct q q = mk_default(3, 0, 1);
	CHECK_INT(run(&sgx, &q, NULL, T0, &c), ATOLL_OK);
	if (c) {
		uint8_t rd[64];
		for (int i = 0; i < 64; i++)
			rd[i] = (uint8_t)i;
		CHECK_STR(c->tee_type, "sgx");
		CHECK_INT(c->struct_size, sizeof(atoll_claims));
		CHECK(bytes_hex(c->measurement, c->measurement_len,
				"1111111111111111111111111111111111111111111111111111111111111111",
				false));
		CHECK(bytes_hex(c->signer, c->signer_len,
				"2222222222222222222222222222222222222222222222222222222222222222",
				false));
		CHECK_INT(c->svn, 3);
		CHECK_INT(c->debug, 0);
		CHECK_INT(c->tcb, 0);
		CHECK(c->tcb_status == NULL);
		CHECK_INT(c->report_data_len, 64);
		CHECK(c->report_data && memcmp(c->report_data, rd, 64) == 0);
		CHECK_INT(claim_u(c, "isv_prod_id"), 7);
		CHECK_INT(claim_u(c, "isv_svn"), 3);
		CHECK_INT(claim_u(c, "debug"), 0);
		CHECK(claim_hex(c, "fmspc", "00906ea10000", false));
		CHECK(claim_hex(c, "pce_id", "0000", false));
		CHECK(claim_hex(c, "pck_tcb_components",
				"05050202040100030000000000000000", false));
		CHECK_INT(claim_u(c, "pck_pcesvn"), 11);
		CHECK_INT(claim_u(c, "quote_version"), 3);
		CHECK(claim_hex(c, "ppid", "a0a1a2a3", true));
		CHECK(claim_find(c, "tcb_status") == NULL);
		/* PCK 2024-01-01 .. 2031-01-01 inside the CA and root. */
		CHECK_INT(c->not_before, 1704067200);
		CHECK_INT(c->not_after, 1924992000);
		sgx.d->claims_free(sgx.ctx, c);
	}

	printf("sgx expected report data\n");
	uint8_t rd[64];
	atoll_err err;
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	CHECK_INT(drv_verify(&sgx, q.d, q.len, NULL, 0, T0, rd, 64, NULL, &err),
		  ATOLL_OK);
	rd[63] ^= 1;
	CHECK_INT(drv_verify(&sgx, q.d, q.len, NULL, 0, T0, rd, 64, NULL, &err),
		  ATOLL_E_BINDING);
	CHECK_INT(drv_verify(&sgx, q.d, q.len, NULL, 0, T0, rd, 32, NULL, &err),
		  ATOLL_E_BINDING);

	printf("sgx: a quote for the tdx driver is refused\n");
	CHECK_INT(run(&tdx, &q, NULL, T0, NULL), ATOLL_E_FORMAT);
	free(q.d);

	printf("sgx debug enclave\n");
	check_debug(&sgx, 3, 0, 1, 48, 0x02);

	printf("sgx bodies in v4 and v5\n");
	q = mk_default(4, 0, 1);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_OK);
	free(q.d);
	q = mk_default(5, 0, 1);
	CHECK_INT(run(&sgx, &q, NULL, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_INT(claim_u(c, "quote_version"), 5);
		CHECK_INT(c->svn, 3);
		sgx.d->claims_free(sgx.ctx, c);
	}
	free(q.d);

	printf("sgx chain variants: DER, root first, trailing bytes, no QE auth data\n");
	struct gen_quote_opts o;
	gen_quote_defaults(&o, 3, 0, 1);
	o.der_chain = true;
	o.root_first = true;
	o.trailing = 70;
	o.qe_auth_len = 0;
	q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_OK);
	/* Trailing garbage is outside what is signed: still accepted. */
	q.d[q.len - 1] = 0xee;
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_OK);
	free(q.d);
}

static void test_tdx_basic(void)
{
	atoll_claims *c = NULL;
	struct q q;

	for (int v = 0; v < 3; v++) {
		int version = v == 0 ? 4 : 5;
		uint16_t type = v == 2 ? 3 : 2;
		printf("tdx v%d body type %u\n", version, type);
		q = mk_default(version, 0x81, type);
		CHECK_INT(run(&tdx, &q, NULL, T0, &c), ATOLL_OK);
		if (c) {
			CHECK_STR(c->tee_type, "tdx");
			CHECK_INT(c->measurement_len, 48);
			CHECK(bytes_hex(c->measurement, 48, "333333", true));
			CHECK_INT(c->signer_len, 48);
			CHECK(claim_hex(c, "mrtd", "3333", true));
			CHECK(claim_hex(c, "mrseam", "4444", true));
			CHECK(claim_hex(c, "mrconfigid", "5555", true));
			CHECK(claim_hex(c, "mrowner", "6666", true));
			CHECK(claim_hex(c, "mrownerconfig", "7777", true));
			CHECK(claim_hex(c, "rtmr0", "a0a0", true));
			CHECK(claim_hex(c, "rtmr3", "a3a3", true));
			CHECK(claim_hex(c, "xfam", "e702000000000000", false));
			CHECK(claim_hex(c, "td_attributes", "0000001000000000",
					false));
			CHECK(claim_hex(c, "tee_tcb_svn",
					"04010200000000000000000000000000", false));
			CHECK_INT(claim_u(c, "sept_ve_disable"), 1);
			CHECK_INT(c->debug, 0);
			CHECK_INT(c->report_data_len, 64);
			CHECK(c->report_data && c->report_data[0] == 0x80 &&
			      c->report_data[63] == 0xbf);
			CHECK_INT(claim_u(c, "td_report_type"), type);
			CHECK((claim_find(c, "tee_tcb_svn2") != NULL) == (type == 3));
			CHECK((claim_find(c, "mrservicetd") != NULL) == (type == 3));
			tdx.d->claims_free(tdx.ctx, c);
		}
		printf("tdx: a TDX quote for the sgx driver is refused\n");
		CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_FORMAT);
		free(q.d);
	}

	printf("tdx debug TD\n");
	check_debug(&tdx, 4, 0x81, 2, 120, 0x01);
}

/* One quote of each layout: SGX v3, TD 1.0 in v4, TD 1.5 in v5. */
static const struct {
	int v;
	uint32_t tee;
	uint16_t type;
} kinds[] = { { 3, 0, 1 }, { 4, 0x81, 2 }, { 5, 0x81, 3 } };

/* Every prefix shorter than the signature data is a format error. */
static void test_truncation(void)
{
	for (size_t k = 0; k < 3; k++) {
		struct q q = mk_default(kinds[k].v, kinds[k].tee, kinds[k].type);
		struct drv *d = kinds[k].tee ? &tdx : &sgx;
		int bad = 0;
		printf("truncation of a v%d quote at every length\n", kinds[k].v);
		for (size_t n = 0; n < q.off.end; n++) {
			atoll_err err;
			if (drv_verify(d, q.d, n, NULL, 0, T0, NULL, 0, NULL,
				       &err) != ATOLL_E_FORMAT)
				bad++;
		}
		CHECK_INT(bad, 0);
		free(q.d);
	}
}

static void test_lengths(void)
{
	struct q q3 = mk_default(3, 0, 1), q4 = mk_default(4, 0x81, 2),
		 q5 = mk_default(5, 0x81, 3);

	printf("bad length fields\n");
	uint32_t sl3 = (uint32_t)(q3.off.end - q3.off.signature);
	CHECK_INT(run_put32(&sgx, &q3, q3.off.sig_len, sl3 + 1), ATOLL_E_FORMAT);
	CHECK_INT(run_put32(&sgx, &q3, q3.off.sig_len, sl3 - 1), ATOLL_E_FORMAT);
	CHECK_INT(run_put32(&sgx, &q3, q3.off.sig_len, 0xffffffffu),
		  ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&sgx, &q3, q3.off.qe_auth_len + 1, 0x80),
		  ATOLL_E_FORMAT);
	CHECK_INT(run_put32(&sgx, &q3, q3.off.cert_hdr + 2, 0x7fffffff),
		  ATOLL_E_FORMAT);
	CHECK_INT(run_put32(&sgx, &q3, q3.off.cert_hdr + 2,
			    (uint32_t)(q3.off.end - q3.off.cert_data - 1)),
		  ATOLL_E_FORMAT);
	/* v4: the type-6 wrapper's size and type. */
	CHECK_INT(run_put32(&tdx, &q4, q4.off.outer_cert + 2,
			    (uint32_t)(q4.off.end - q4.off.outer_cert)),
		  ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&tdx, &q4, q4.off.outer_cert, 0x03), ATOLL_E_FORMAT);
	/* v5: body size and type. */
	CHECK_INT(run_put32(&tdx, &q5, 50, 584), ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&tdx, &q5, 48, 0x0c), ATOLL_E_FORMAT);
	/* Header: version, key type, tee type, QE vendor. */
	CHECK_INT(run_flip(&sgx, &q3, 0, 0x01), ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&sgx, &q3, 2, 0x01), ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&sgx, &q3, 4, 0x81), ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&tdx, &q4, 4, 0x01), ATOLL_E_FORMAT);
	CHECK_INT(run_flip(&sgx, &q3, 12, 0x01), ATOLL_E_FORMAT);
	/* The PCK chain itself. */
	CHECK_INT(run_flip(&sgx, &q3, q3.off.cert_data + 12, 0x40),
		  ATOLL_E_FORMAT);
	free(q3.d);
	free(q4.d);
	free(q5.d);
}

static void test_tamper(void)
{
	for (size_t k = 0; k < 3; k++) {
		struct q q = mk_default(kinds[k].v, kinds[k].tee, kinds[k].type);
		struct drv *d = kinds[k].tee ? &tdx : &sgx;
		printf("tampering with a v%d quote\n", kinds[k].v);
		CHECK_INT(run_flip(d, &q, 30, 0x01), ATOLL_E_SIGNATURE); /* user_data */
		CHECK_INT(run_flip(d, &q, 8, 0x01), ATOLL_E_SIGNATURE);  /* qe_svn */
		CHECK_INT(run_flip(d, &q, q.off.body + 70, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.body + q.off.body_len - 1, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.signature + 5, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.signature + 63, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.attest_key + 10, 0x01),
			  ATOLL_E_BINDING);
		CHECK_INT(run_flip(d, &q, q.off.qe_auth_len + 2, 0x01),
			  ATOLL_E_BINDING);
		CHECK_INT(run_flip(d, &q, q.off.qe_report + 258, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.qe_report + 330, 0x01),
			  ATOLL_E_SIGNATURE);
		CHECK_INT(run_flip(d, &q, q.off.qe_report_sig + 40, 0x01),
			  ATOLL_E_SIGNATURE);
		free(q.d);
	}

	printf("QE report signed by a key other than the PCK's\n");
	struct gen_quote_opts o;
	gen_quote_defaults(&o, 3, 0, 1);
	o.qe_key_override = other.pck_key;
	struct q q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_SIGNATURE);
	free(q.d);
}

static void test_chain(void)
{
	struct gen_quote_opts o;
	struct q q;
	X509 *x;

	printf("chain to a root that is not pinned\n");
	gen_quote_defaults(&o, 3, 0, 1);
	q = mk(&other, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_CHAIN);
	free(q.d);

	printf("PCK certificate signed by the wrong key\n");
	x = gen_cert(pki.pck_key, "Atoll Test SGX PCK Certificate", pki.ca,
		     other.ca_key, 0x1001, 1704067200, 1924992000, false,
		     &pki.pck_opts);
	gen_quote_defaults(&o, 3, 0, 1);
	o.pck_override = x;
	q = mk(&pki, &o);
	CHECK_INT(run_msg(&sgx, &q, NULL, T0, "signature"), ATOLL_E_CHAIN);
	free(q.d);
	X509_free(x);

	printf("chain without its intermediate CA\n");
	gen_quote_defaults(&o, 4, 0x81, 2);
	o.omit_ca = true;
	q = mk(&pki, &o);
	CHECK_INT(run_msg(&tdx, &q, NULL, T0, "no issuer"), ATOLL_E_CHAIN);
	free(q.d);

	printf("chain without the root, and with the root given as collateral\n");
	gen_quote_defaults(&o, 3, 0, 1);
	o.omit_root = true;
	q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_CHAIN);
	struct gen_collateral c = { 0 };
	gen_collateral_add(&c, gen_pem(pki.root), 0);
	c.len[0] = strlen((char *)c.data[0]);
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_OK);
	gen_collateral_free(&c);
	free(q.d);

	printf("leaf that is not a PCK certificate\n");
	x = gen_cert(pki.pck_key, "Atoll Test Something Else", pki.ca,
		     pki.ca_key, 0x1002, 1704067200, 1924992000, false,
		     &pki.pck_opts);
	gen_quote_defaults(&o, 3, 0, 1);
	o.pck_override = x;
	q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_CHAIN);
	free(q.d);
	X509_free(x);

	printf("PCK certificate without the SGX extension\n");
	struct gen_pck_opts po = pki.pck_opts;
	po.omit_sgx_ext = true;
	x = gen_cert(pki.pck_key, po.cn, pki.ca, pki.ca_key, 0x1003,
		     1704067200, 1924992000, false, &po);
	gen_quote_defaults(&o, 3, 0, 1);
	o.pck_override = x;
	q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_FORMAT);
	free(q.d);
	X509_free(x);

	printf("verification outside the PCK validity\n");
	q = mk_default(3, 0, 1);
	CHECK_INT(run(&sgx, &q, NULL, 1938000000 /* 2031-05 */, NULL),
		  ATOLL_E_EXPIRED);
	CHECK_INT(run(&sgx, &q, NULL, 1690000000 /* 2023-07 */, NULL),
		  ATOLL_E_EXPIRED);
	/* The messages name the certificate's own dates, then the time. */
	run_msg(&sgx, &q, NULL, 1938000000,
		"expired at 2031-01-01T00:00:00.000Z; verification time 2031-05-31");
	run_msg(&sgx, &q, NULL, 1690000000,
		"is not valid before 2024-01-01T00:00:00.000Z; verification time 2023-07-22");
	/* The cache keeps the window, not a verdict for all time. */
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_OK);
	CHECK_INT(run(&sgx, &q, NULL, 1938000000, NULL), ATOLL_E_EXPIRED);
	free(q.d);

	printf("PPID certification data with the PCK certificate as collateral\n");
	gen_quote_defaults(&o, 3, 0, 1);
	o.cert_type = 1;
	q = mk(&pki, &o);
	CHECK_INT(run(&sgx, &q, NULL, T0, NULL), ATOLL_E_CHAIN);
	size_t len;
	gen_collateral_add(&c, gen_der(pki.pck, &len), 0);
	c.len[0] = len;
	gen_collateral_add(&c, gen_pem(pki.ca), 0);
	c.len[1] = strlen((char *)c.data[1]);
	gen_collateral_add(&c, gen_der(pki.root, &len), 0);
	c.len[2] = len;
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_OK);
	gen_collateral_free(&c);
	gen_collateral_add(&c, gen_pem(other.pck), 0);
	c.len[0] = strlen((char *)c.data[0]);
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_E_SIGNATURE);
	gen_collateral_free(&c);
	free(q.d);
}

static void with_blobs(struct gen_collateral *c, size_t skip,
		       atoll_blob *out, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < c->n; i++)
		if (i != skip)
			out[(*n)++] = (atoll_blob){ c->data[i], c->len[i] };
}

static int coll_run(struct drv *d, const struct q *q, struct gen_tcb_info *ti,
		    struct gen_qe_identity *qi, int64_t t, atoll_claims **ret)
{
	struct gen_collateral c;

	if (gen_collateral(&pki, ti, qi, &c) < 0) {
		check_failures++;
		return -1;
	}
	int r = run(d, q, &c, t, ret);
	gen_collateral_free(&c);
	return r;
}

static void test_sgx_collateral(void)
{
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_quote_opts o;
	atoll_claims *c = NULL;
	struct q q = mk_default(3, 0, 1), q2;

	printf("sgx collateral: matched level SWHardeningNeeded\n");
	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "SWHardeningNeeded");
		CHECK_STR(claim_s(c, "tcb_status"), "SWHardeningNeeded");
		CHECK_STR(claim_s(c, "advisory_ids"), "INTEL-SA-00615");
		CHECK_STR(claim_s(c, "qe_tcb_status"), "UpToDate");
		CHECK_INT(claim_u(c, "tcb_eval_data_number"), 17);
		/* Narrowed by the collateral's dates. */
		CHECK_INT(c->not_before, 1747872000); /* 2025-05-22 (CRL) */
		CHECK_INT(c->not_after, 1750377600);  /* 2025-06-20 */
		sgx.d->claims_free(sgx.ctx, c);
	}

	printf("sgx collateral: TCB Info v2\n");
	ti.version = 2;
	ti.id = NULL;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "SWHardeningNeeded");
		sgx.d->claims_free(sgx.ctx, c);
	}

	printf("sgx collateral: TCB Info without QE Identity\n");
	gen_tcb_info_defaults(&ti, false);
	CHECK_INT(coll_run(&sgx, &q, &ti, NULL, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "SWHardeningNeeded");
		CHECK(claim_find(c, "qe_tcb_status") == NULL);
		sgx.d->claims_free(sgx.ctx, c);
	}

	printf("sgx collateral: outdated QE converges with the platform\n");
	gen_quote_defaults(&o, 3, 0, 1);
	o.qe_isvsvn = 7;
	q2 = mk(&pki, &o);
	CHECK_INT(coll_run(&sgx, &q2, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "OutOfDate");
		CHECK_STR(claim_s(c, "platform_tcb_status"), "SWHardeningNeeded");
		CHECK_STR(claim_s(c, "qe_tcb_status"), "OutOfDate");
		CHECK_STR(claim_s(c, "advisory_ids"), "INTEL-SA-00615");
		sgx.d->claims_free(sgx.ctx, c);
	}
	ti.levels[1].status = "ConfigurationAndSWHardeningNeeded";
	ti.levels[1].advisories = "INTEL-SA-00289,INTEL-SA-00615";
	CHECK_INT(coll_run(&sgx, &q2, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "OutOfDateConfigurationNeeded");
		CHECK_STR(claim_s(c, "advisory_ids"),
			  "INTEL-SA-00289,INTEL-SA-00615");
		sgx.d->claims_free(sgx.ctx, c);
	}
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "ConfigurationAndSWHardeningNeeded");
		sgx.d->claims_free(sgx.ctx, c);
	}
	free(q2.d);

	printf("sgx collateral: level order in the document does not matter\n");
	gen_tcb_info_defaults(&ti, false);
	struct gen_level l0 = ti.levels[0];
	ti.levels[0] = ti.levels[2];
	ti.levels[2] = l0;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "SWHardeningNeeded");
		sgx.d->claims_free(sgx.ctx, c);
	}

	printf("sgx collateral: lower PCK TCB matches a lower level\n");
	struct gen_pck_opts po = pki.pck_opts;
	po.pcesvn = 10;
	po.comp_svn[7] = 0;
	X509 *x = gen_cert(pki.pck_key, po.cn, pki.ca, pki.ca_key, 0x1004,
			   1704067200, 1924992000, false, &po);
	gen_quote_defaults(&o, 3, 0, 1);
	o.pck_override = x;
	q2 = mk(&pki, &o);
	gen_tcb_info_defaults(&ti, false);
	CHECK_INT(coll_run(&sgx, &q2, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "OutOfDate");
		CHECK_STR(claim_s(c, "advisory_ids"),
			  "INTEL-SA-00289,INTEL-SA-00615");
		sgx.d->claims_free(sgx.ctx, c);
	}
	free(q2.d);
	X509_free(x);

	printf("sgx collateral: no level matches\n");
	gen_tcb_info_defaults(&ti, false);
	ti.n_levels = 1;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	printf("sgx collateral: revoked level\n");
	gen_tcb_info_defaults(&ti, false);
	ti.levels[1].status = "Revoked";
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	printf("sgx collateral: FMSPC, PCE-ID and TEE mismatches\n");
	gen_tcb_info_defaults(&ti, false);
	ti.fmspc[5] = 1;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_tcb_info_defaults(&ti, false);
	ti.pceid[1] = 1;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_tcb_info_defaults(&ti, true);
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	printf("sgx collateral: unknown status string\n");
	gen_tcb_info_defaults(&ti, false);
	ti.levels[1].status = "Fine";
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_FORMAT);

	printf("sgx collateral: QE Identity mismatches\n");
	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);
	qi.mrsigner[0] ^= 1;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_qe_identity_defaults(&qi, false);
	qi.isvprodid = 9;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_qe_identity_defaults(&qi, false);
	qi.attributes[0] = 0x13;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_qe_identity_defaults(&qi, false);
	qi.miscselect[0] = 1;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_qe_identity_defaults(&qi, false);
	qi.levels[0].isvsvn = 9;
	qi.levels[1].isvsvn = 9;
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_qe_identity_defaults(&qi, false);
	qi.levels[0].status = "Revoked";
	CHECK_INT(coll_run(&sgx, &q, NULL, &qi, T0, NULL), ATOLL_E_TCB);
	printf("sgx collateral: the TD_QE identity is ignored for SGX\n");
	gen_qe_identity_defaults(&qi, true);
	CHECK_INT(coll_run(&sgx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK(claim_find(c, "qe_tcb_status") == NULL);
		sgx.d->claims_free(sgx.ctx, c);
	}
	free(q.d);
}

static void test_collateral_crypto(void)
{
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_collateral c;
	atoll_blob b[8];
	atoll_err err;
	size_t n, len;
	struct q q = mk_default(3, 0, 1);

	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);

	printf("collateral: tampered TCB Info\n");
	gen_collateral(&pki, &ti, &qi, &c);
	char *s = strstr((char *)c.data[0], "SWHardeningNeeded");
	memcpy(s, "UpToDate\",\"x\":\"", 15);
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_E_SIGNATURE);
	gen_collateral_free(&c);

	printf("collateral: TCB Info signed by another key\n");
	gen_collateral(&pki, &ti, &qi, &c);
	char *body = gen_tcb_info_body(&ti);
	free(c.data[0]);
	c.data[0] = (uint8_t *)gen_pcs_json("tcbInfo", body, other.tcb_key);
	c.len[0] = strlen((char *)c.data[0]);
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_E_SIGNATURE);
	printf("collateral: ... with that key's TCB Signing chain (other root)\n");
	char *pem = gen_pem(other.tcb);
	char *rootpem = gen_pem(other.root);
	gen_collateral_add(&c, pem, strlen(pem));
	gen_collateral_add(&c, rootpem, strlen(rootpem));
	CHECK_INT(run(&sgx, &q, &c, T0, NULL), ATOLL_E_CHAIN);
	gen_collateral_free(&c);
	free(body);

	printf("collateral: no TCB Signing certificate\n");
	gen_collateral(&pki, &ti, &qi, &c);
	with_blobs(&c, 2, b, &n);
	CHECK_INT(run_blobs(&sgx, q.d, q.len, b, n, T0, NULL, &err),
		  ATOLL_E_CHAIN);
	gen_collateral_free(&c);

	printf("collateral: TCB Info and QE Identity dates\n");
	gen_collateral(&pki, &ti, &qi, &c);
	with_blobs(&c, 3, b, &n); /* drop the CRLs, whose dates differ */
	n--;
	CHECK_INT(run_blobs(&sgx, q.d, q.len, b, n, 1750550400 /* 06-22 */,
			    NULL, &err),
		  ATOLL_E_EXPIRED);
	CHECK(strstr(err.msg, "expired") != NULL);
	CHECK_INT(run_blobs(&sgx, q.d, q.len, b, n, 1747000000 /* 05-11 */,
			    NULL, &err),
		  ATOLL_E_EXPIRED);
	CHECK(strstr(err.msg, "not yet issued") != NULL);
	gen_collateral_free(&c);

	printf("collateral: CRLs\n");
	static const long pck_serial[] = { 0x1001 }, ca_serial[] = { 2 },
			  tcb_serial[] = { 3 }, unrelated[] = { 77, 78 };
	struct {
		X509 *issuer;
		EVP_PKEY *key;
		const long *serials;
		size_t n;
		int64_t tu, nu;
		int slot, want;
	} crls[] = {
		{ pki.ca, pki.ca_key, pck_serial, 1, T0 - 100, T0 + 100, 3,
		  ATOLL_E_CHAIN },
		{ pki.root, pki.root_key, ca_serial, 1, T0 - 100, T0 + 100, 4,
		  ATOLL_E_CHAIN },
		{ pki.root, pki.root_key, tcb_serial, 1, T0 - 100, T0 + 100, 4,
		  ATOLL_E_CHAIN },
		{ pki.ca, pki.ca_key, unrelated, 2, T0 - 100, T0 + 100, 3,
		  ATOLL_OK },
		{ pki.ca, other.ca_key, NULL, 0, T0 - 100, T0 + 100, 3,
		  ATOLL_E_CHAIN },
		{ pki.ca, pki.ca_key, NULL, 0, T0 - 200, T0 - 100, 3,
		  ATOLL_E_EXPIRED },
		{ pki.root, pki.root_key, NULL, 0, T0 + 100, T0 + 200, 4,
		  ATOLL_E_EXPIRED },
	};
	for (size_t i = 0; i < sizeof(crls) / sizeof(*crls); i++) {
		gen_collateral(&pki, &ti, &qi, &c);
		free(c.data[crls[i].slot]);
		c.data[crls[i].slot] = gen_crl(crls[i].issuer, crls[i].key,
					       crls[i].serials, crls[i].n,
					       crls[i].tu, crls[i].nu, &len);
		c.len[crls[i].slot] = len;
		CHECK_INT(run(&sgx, &q, &c, T0, NULL), crls[i].want);
		/* An out-of-date CRL is named by its own date. */
		char bound[40], needle[120];
		time_rfc3339_format((crls[i].nu < T0 ? crls[i].nu : crls[i].tu) * 1000, bound,
				    sizeof(bound));
		snprintf(needle, sizeof(needle), "%s %s; verification time",
			 crls[i].nu < T0 ? "past its nextUpdate" : "not yet issued: thisUpdate",
			 bound);
		if (crls[i].want == ATOLL_E_EXPIRED)
			run_msg(&sgx, &q, &c, T0, needle);
		gen_collateral_free(&c);
	}

	printf("collateral: unrecognized blobs\n");
	static const char *const junk[] = {
		"{}", "{\"tcbInfo\":{},\"signature\":\"00\"}", "{\"a\":",
		"not collateral at all, just text",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++) {
		atoll_blob jb = { (const uint8_t *)junk[i], strlen(junk[i]) };
		CHECK_INT(run_blobs(&sgx, q.d, q.len, &jb, 1, T0, NULL, &err),
			  ATOLL_E_FORMAT);
	}
	atoll_blob empty = { (const uint8_t *)"", 0 };
	CHECK_INT(run_blobs(&sgx, q.d, q.len, &empty, 1, T0, NULL, &err),
		  ATOLL_E_FORMAT);
	printf("collateral: a PEM public key is ignored\n");
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *p;
		PEM_write_bio_PUBKEY(bio, pki.pck_key);
		long pl = BIO_get_mem_data(bio, &p);
		atoll_blob kb = { (const uint8_t *)p, (size_t)pl };
		CHECK_INT(run_blobs(&sgx, q.d, q.len, &kb, 1, T0, NULL, &err),
			  ATOLL_OK);
		BIO_free(bio);
	}
	free(q.d);
}

/* The same collateral as a bundle of string fields, and as bare bodies
 * with detached signatures, DER certificates and PEM CRLs, shuffled. */
static void test_collateral_forms(void)
{
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	atoll_claims *cl = NULL;
	atoll_err err;
	uint8_t sig_t[64], sig_q[64];
	size_t len, dl;
	struct q q = mk_default(3, 0, 1);

	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);
	char *tb = gen_tcb_info_body(&ti), *qb = gen_qe_identity_body(&qi);
	gen_sign_raw(pki.tcb_key, tb, strlen(tb), sig_t);
	gen_sign_raw(pki.tcb_key, qb, strlen(qb), sig_q);
	char *tpem = gen_pem(pki.tcb), *rpem = gen_pem(pki.root);
	uint8_t *pck_crl = gen_crl(pki.ca, pki.ca_key, NULL, 0, T0 - 100,
				   T0 + 100, &len);
	char *pck_crl_hex = enc_hex_dup(pck_crl, len);
	uint8_t *root_crl = gen_crl(pki.root, pki.root_key, NULL, 0, T0 - 100,
				    T0 + 100, &dl);
	char *root_crl_hex = enc_hex_dup(root_crl, dl);
	char *sig_t_hex = enc_hex_dup(sig_t, 64), *sig_q_hex = enc_hex_dup(sig_q, 64);

	printf("collateral forms: one bundle of string fields\n");
	struct buf doc = { 0 }, chain = { 0 };
	buf_puts(&chain, tpem);
	buf_puts(&chain, rpem);
	buf_puts(&doc, "{\"root_ca_crl\":");
	json_quote(&doc, root_crl_hex, strlen(root_crl_hex));
	buf_puts(&doc, ",\"pck_crl\":");
	json_quote(&doc, pck_crl_hex, strlen(pck_crl_hex));
	buf_puts(&doc, ",\"tcb_info_issuer_chain\":");
	json_quote(&doc, (const char *)chain.data, chain.len);
	buf_puts(&doc, ",\"tcb_info\":");
	json_quote(&doc, tb, strlen(tb));
	buf_puts(&doc, ",\"tcb_info_signature\":");
	json_quote(&doc, sig_t_hex, 128);
	buf_puts(&doc, ",\"qe_identity_issuer_chain\":");
	json_quote(&doc, (const char *)chain.data, chain.len);
	buf_puts(&doc, ",\"qe_identity\":");
	json_quote(&doc, qb, strlen(qb));
	buf_puts(&doc, ",\"qe_identity_signature\":");
	json_quote(&doc, sig_q_hex, 128);
	buf_puts(&doc, "}");
	atoll_blob bundle = { doc.data, doc.len };
	CHECK_INT(run_blobs(&sgx, q.d, q.len, &bundle, 1, T0, &cl, &err),
		  ATOLL_OK);
	if (cl) {
		CHECK_STR(cl->tcb_status, "SWHardeningNeeded");
		CHECK_STR(claim_s(cl, "qe_tcb_status"), "UpToDate");
		sgx.d->claims_free(sgx.ctx, cl);
	}
	printf("collateral forms: bundles with bad fields\n");
	static const char *const bad[] = {
		"{\"pck_crl_issuer_chain\":\"\"}",
		"{\"pck_crl\":\"3082zz\"}",
		"{\"root_ca_crl\":\"308\"}",
		"{\"tcb_info\":\"{}\"}",
		"{\"qe_identity\":\"{}\",\"qe_identity_signature\":\"00\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		atoll_blob b = { (const uint8_t *)bad[i], strlen(bad[i]) };
		CHECK_INT(run_blobs(&sgx, q.d, q.len, &b, 1, T0, NULL, &err),
			  ATOLL_E_FORMAT);
	}
	buf_free(&doc);
	buf_free(&chain);

	printf("collateral forms: detached signatures, DER and PEM, shuffled\n");
	uint8_t *tder = gen_der(pki.tcb, &dl);
	uint8_t *rder = gen_der(pki.root, &len);
	atoll_blob blobs[] = {
		{ sig_q, 64 },
		{ (const uint8_t *)tb, strlen(tb) },
		{ rder, len },
		{ pck_crl, 0 },
		{ (const uint8_t *)qb, strlen(qb) },
		{ tder, dl },
		{ sig_t, 64 },
	};
	blobs[3].len = strlen(pck_crl_hex) / 2;
	CHECK_INT(run_blobs(&sgx, q.d, q.len, blobs, 7, T0, &cl, &err),
		  ATOLL_OK);
	if (cl) {
		CHECK_STR(cl->tcb_status, "SWHardeningNeeded");
		CHECK_STR(claim_s(cl, "qe_tcb_status"), "UpToDate");
		sgx.d->claims_free(sgx.ctx, cl);
	}
	printf("collateral forms: a bare body without its signature\n");
	CHECK_INT(run_blobs(&sgx, q.d, q.len, blobs + 1, 6, T0, NULL, &err),
		  ATOLL_E_SIGNATURE);
	free(tder);
	free(rder);
	free(pck_crl);
	free(root_crl);
	free(pck_crl_hex);
	free(root_crl_hex);
	free(sig_t_hex);
	free(sig_q_hex);
	free(tb);
	free(qb);
	free(tpem);
	free(rpem);
	free(q.d);
}

static void test_tdx_collateral(void)
{
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_quote_opts o;
	atoll_claims *c = NULL;
	struct q q;

	gen_tcb_info_defaults(&ti, true);
	gen_qe_identity_defaults(&qi, true);
	printf("tdx collateral: UpToDate\n");
	q = mk_default(4, 0x81, 2);
	CHECK_INT(coll_run(&tdx, &q, &ti, &qi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "UpToDate");
		CHECK_STR(claim_s(c, "tdx_module_tcb_status"), "UpToDate");
		CHECK_STR(claim_s(c, "advisory_ids"), "");
		tdx.d->claims_free(tdx.ctx, c);
	}
	printf("tdx collateral: SGX TCB Info and QE identity do not fit\n");
	struct gen_tcb_info sti;
	struct gen_qe_identity sqi;
	gen_tcb_info_defaults(&sti, false);
	gen_qe_identity_defaults(&sqi, false);
	CHECK_INT(coll_run(&tdx, &q, &sti, &qi, T0, NULL), ATOLL_E_TCB);
	CHECK_INT(coll_run(&tdx, &q, &ti, &sqi, T0, &c), ATOLL_OK);
	if (c) {
		CHECK(claim_find(c, "qe_tcb_status") == NULL);
		tdx.d->claims_free(tdx.ctx, c);
	}
	printf("tdx collateral: MRSIGNERSEAM mismatch\n");
	ti.modules[0].mrsigner[0] = 1;
	CHECK_INT(coll_run(&tdx, &q, &ti, &qi, T0, NULL), ATOLL_E_TCB);
	gen_tcb_info_defaults(&ti, true);
	free(q.d);

	static const struct {
		uint8_t svn[3];
		uint16_t type;
		uint8_t svn2[3];
		const char *status; /* NULL: ATOLL_E_TCB */
		const char *adv;
	} cases[] = {
		{ { 3, 1, 2 }, 2, { 0 }, "OutOfDate", "INTEL-SA-01099" },
		{ { 4, 1, 1 }, 2, { 0 }, "OutOfDate", "INTEL-SA-01036" },
		{ { 4, 1, 0 }, 2, { 0 }, NULL, NULL },
		{ { 1, 1, 2 }, 2, { 0 }, NULL, NULL },
		{ { 4, 2, 2 }, 2, { 0 }, NULL, NULL },
		{ { 4, 0, 2 }, 2, { 0 }, "UpToDate", "" },
		{ { 3, 1, 2 }, 3, { 4, 1, 2 }, "TDRelaunchAdvised",
		  "INTEL-SA-01099" },
		{ { 3, 1, 2 }, 3, { 3, 1, 2 }, "OutOfDate", "INTEL-SA-01099" },
		{ { 3, 1, 2 }, 3, { 4, 0, 2 }, "TDRelaunchAdvised",
		  "INTEL-SA-01099" },
		{ { 3, 1, 2 }, 3, { 4, 5, 2 }, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		printf("tdx collateral: TEE_TCB_SVN %u,%u,%u (type %u)\n",
		       cases[i].svn[0], cases[i].svn[1], cases[i].svn[2],
		       cases[i].type);
		gen_quote_defaults(&o, 5, 0x81, cases[i].type);
		memcpy(o.body, cases[i].svn, 3);
		if (cases[i].type == 3)
			memcpy(o.body + 584, cases[i].svn2, 3);
		q = mk(&pki, &o);
		int r = coll_run(&tdx, &q, &ti, &qi, T0, &c);
		CHECK_INT(r, cases[i].status ? ATOLL_OK : ATOLL_E_TCB);
		if (c) {
			CHECK_STR(c->tcb_status, cases[i].status);
			CHECK_STR(claim_s(c, "advisory_ids"), cases[i].adv);
			tdx.d->claims_free(tdx.ctx, c);
		}
		free(q.d);
	}
}

static void test_config(void)
{
	struct drv d;
	atoll_err err;

	printf("configuration\n");
	static const atoll_kv unknown[] = { { "root_fingerprints", "00" } };
	CHECK_INT(drv_open(&d, "sgx", unknown, 1, &err), ATOLL_E_CONFIG);
	CHECK(strstr(err.msg, "root_fingerprints") != NULL);
	static const atoll_kv badfp[] = { { "root_fingerprint", "abcd" } };
	CHECK_INT(drv_open(&d, "tdx", badfp, 1, &err), ATOLL_E_CONFIG);
	static const atoll_kv badbool[] = { { "chain_cache", "maybe" } };
	CHECK_INT(drv_open(&d, "sgx", badbool, 1, &err), ATOLL_E_CONFIG);
	static const atoll_kv badsize[] = { { "chain_cache_size", "0" } };
	CHECK_INT(drv_open(&d, "sgx", badsize, 1, &err), ATOLL_E_CONFIG);
	static const atoll_kv tsm[] = { { "tsm_dir", "/nonexistent/tsm" } };
	CHECK_INT(drv_open(&d, "sgx", tsm, 1, &err), ATOLL_E_CONFIG);
	CHECK_INT(drv_open(&d, "tdx", tsm, 1, &err), ATOLL_OK);
	if (d.d) {
		struct loaded_driver ld = drv_loaded(&d);

		CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_E_UNAVAILABLE);
		drv_close(&d);
	}

	printf("two pinned roots, no cache, cache of one entry\n");
	char both[200];
	snprintf(both, sizeof(both), "%s, %s", other.root_fp_hex,
		 pki.root_fp_hex);
	atoll_kv cfg[] = { { "root_fingerprint", both },
			   { "chain_cache", "false" } };
	struct gen_quote_opts o;
	gen_quote_defaults(&o, 3, 0, 1);
	struct q q1 = mk(&pki, &o), q2 = mk(&other, &o);
	CHECK_INT(drv_open(&d, "sgx", cfg, 2, &err), ATOLL_OK);
	if (d.d) {
		CHECK_INT(run(&d, &q1, NULL, T0, NULL), ATOLL_OK);
		CHECK_INT(run(&d, &q2, NULL, T0, NULL), ATOLL_OK);
		drv_close(&d);
	}
	cfg[1] = (atoll_kv){ "chain_cache_size", "1" };
	CHECK_INT(drv_open(&d, "sgx", cfg, 2, &err), ATOLL_OK);
	if (d.d) {
		for (int i = 0; i < 3; i++) {
			CHECK_INT(run(&d, &q1, NULL, T0, NULL), ATOLL_OK);
			CHECK_INT(run(&d, &q2, NULL, T0, NULL), ATOLL_OK);
		}
		drv_close(&d);
	}

	printf("require_collateral\n");
	atoll_kv req[] = { { "root_fingerprint", pki.root_fp_hex },
			   { "require_collateral", "true" } };
	CHECK_INT(drv_open(&d, "sgx", req, 2, &err), ATOLL_OK);
	if (d.d) {
		struct gen_tcb_info ti;
		struct gen_qe_identity qi;
		struct gen_collateral c;
		atoll_blob b[8];
		size_t n;
		gen_tcb_info_defaults(&ti, false);
		gen_qe_identity_defaults(&qi, false);
		CHECK_INT(run(&d, &q1, NULL, T0, NULL), ATOLL_E_POLICY);
		gen_collateral(&pki, &ti, &qi, &c);
		CHECK_INT(run(&d, &q1, &c, T0, NULL), ATOLL_OK);
		for (size_t skip = 0; skip < c.n; skip++) {
			with_blobs(&c, skip, b, &n);
			CHECK_INT(run_blobs(&d, q1.d, q1.len, b, n, T0, NULL,
					    &err),
				  skip == 2 ? ATOLL_E_CHAIN : ATOLL_E_POLICY);
		}
		gen_collateral_free(&c);
		drv_close(&d);
	}
	free(q1.d);
	free(q2.d);
}

static void test_detect_collect(void)
{
	atoll_err err;
	atoll_evidence *ev = NULL;
	uint8_t rd[64] = { 0 };
	struct loaded_driver lsgx = drv_loaded(&sgx), ltdx = drv_loaded(&tdx);

	printf("detect and collect on a machine without SGX or TDX\n");
	/* sgx collects only inside Gramine (/dev/attestation). */
	CHECK(sgx.d->detect && sgx.d->collect && sgx.d->evidence_free);
	int r = plugin_driver_detect(&lsgx, &err);
	CHECK_INT(r, ATOLL_E_UNAVAILABLE);
	printf("    sgx detect: %s\n", err.msg);
	CHECK(strstr(err.msg, "not an SGX enclave under Gramine: /dev/attestation/attestation_type") != NULL);
	CHECK_INT(plugin_driver_collect(&lsgx, rd, &ev, &err), ATOLL_E_UNAVAILABLE);
	CHECK(ev == NULL);
	plugin_driver_evidence_free(&lsgx, NULL);
	r = plugin_driver_detect(&ltdx, &err);
	printf("    tdx detect: %s\n", r == ATOLL_OK ? "ok" : err.msg);
	if (r != ATOLL_OK) {
		CHECK_INT(r, ATOLL_E_UNAVAILABLE);
		CHECK_INT(plugin_driver_collect(&ltdx, rd, &ev, &err),
			  ATOLL_E_UNAVAILABLE);
		CHECK(ev == NULL);
	}
	tdx.d->evidence_free(tdx.ctx, NULL);
	sgx.d->claims_free(sgx.ctx, NULL);
	tdx.d->claims_free(tdx.ctx, NULL);

	printf("bad verify arguments\n");
	atoll_verify_args a = { .struct_size = 8 };
	atoll_claims *c = NULL;
	CHECK_INT(sgx.d->verify(sgx.ctx, &a, &c, &err), ATOLL_E_INVALID_ARGUMENT);
	CHECK_INT(tdx.d->verify(tdx.ctx, NULL, &c, &err),
		  ATOLL_E_INVALID_ARGUMENT);
	CHECK(c == NULL);

	printf("only the entry point is exported\n");
	CHECK(dlsym(sgx.dl, "dcap_verify") == NULL);
	CHECK(dlsym(tdx.dl, "dcap_quote_parse") == NULL);
	CHECK(dlsym(tdx.dl, "json_parse") == NULL);
	CHECK(dlsym(sgx.dl, "atoll_tee_driver_entry") != NULL);
	atoll_tee_driver_entry_fn entry =
		(atoll_tee_driver_entry_fn)dlsym(sgx.dl, "atoll_tee_driver_entry");
	CHECK(entry && entry(ATOLL_TEE_DRIVER_ABI_MAJOR + 1, 0) == NULL);
	CHECK(entry && entry(ATOLL_TEE_DRIVER_ABI_MAJOR, 0) == sgx.d);
	CHECK_STR(sgx.d->name, "sgx");
	CHECK_STR(tdx.d->name, "tdx");
	CHECK_INT(sgx.d->struct_size, sizeof(atoll_tee_driver));
}

struct worker {
	struct q q[2];
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_collateral c;
	atoll_claims *cl;

	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);
	if (gen_collateral(&pki, &ti, &qi, &c) < 0) {
		w->failures++;
		return NULL;
	}
	atoll_blob b[8];
	for (size_t i = 0; i < c.n; i++)
		b[i] = (atoll_blob){ c.data[i], c.len[i] };
	for (int i = 0; i < 40; i++) {
		atoll_err err;
		int r = drv_verify(&sgx, w->q[i & 1].d, w->q[i & 1].len, b,
				   (i % 3) ? c.n : 0, T0, NULL, 0, &cl, &err);
		if (r != ATOLL_OK) {
			w->failures++;
			continue;
		}
		if ((i % 3) && (!cl->tcb_status ||
				strcmp(cl->tcb_status, "SWHardeningNeeded") != 0))
			w->failures++;
		sgx.d->claims_free(sgx.ctx, cl);
	}
	gen_collateral_free(&c);
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	struct worker w[4];
	struct gen_quote_opts o;

	printf("4 threads verifying on one driver instance\n");
	gen_quote_defaults(&o, 3, 0, 1);
	for (int i = 0; i < 4; i++) {
		w[i].q[0] = mk(&pki, &o);
		w[i].q[1] = mk(&pki, &o);
		w[i].failures = 0;
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(w[i].failures, 0);
		free(w[i].q[0].d);
		free(w[i].q[1].d);
	}
}

int main(void)
{
	atoll_err err;

	if (gen_pki_init(&pki, NULL, NULL) < 0 ||
	    gen_pki_init(&other, NULL, NULL) < 0) {
		fprintf(stderr, "cannot generate the test PKI\n");
		return 1;
	}
	atoll_kv cfg[] = { { "root_fingerprint", pki.root_fp_hex } };
	if (drv_open(&sgx, "sgx", cfg, 1, &err) != ATOLL_OK ||
	    drv_open(&tdx, "tdx", cfg, 1, &err) != ATOLL_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	test_sgx_basic();
	test_tdx_basic();
	test_truncation();
	test_lengths();
	test_tamper();
	test_chain();
	test_sgx_collateral();
	test_collateral_crypto();
	test_collateral_forms();
	test_tdx_collateral();
	test_config();
	test_detect_collect();
	test_threads();
	drv_close(&sgx);
	drv_close(&tdx);
	gen_pki_free(&pki);
	gen_pki_free(&other);
	CHECK_DONE();
}
