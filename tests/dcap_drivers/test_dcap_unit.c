/* atoll_dcap internals: the DER reader and PCK extension parser, the quote
 * parser's offsets, the verified-chain cache (bounds, eviction, time
 * windows, hits through dcap_verify), configuration, collateral sorting
 * and TCB status names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dcap.h"
#include "gen.h"

static void test_der(void)
{
	atoll_err err;
	struct der in, v;
	uint8_t tag;

	printf("DER reader\n");
	static const uint8_t ok[] = { 0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00 };
	in = (struct der){ ok, sizeof(ok) };
	CHECK_INT(der_read(&in, &tag, &v), 0);
	CHECK_INT(tag, 0x04);
	CHECK_INT(v.len, 2);
	CHECK_INT(der_read(&in, &tag, &v), 0);
	CHECK_INT(v.len, 0);
	CHECK_INT(in.len, 0);
	CHECK(der_read(&in, &tag, &v) < 0);
	static const uint8_t overrun[] = { 0x04, 0x05, 0xaa };
	in = (struct der){ overrun, sizeof(overrun) };
	CHECK(der_read(&in, &tag, &v) < 0);
	static const uint8_t indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
	in = (struct der){ indefinite, sizeof(indefinite) };
	CHECK(der_read(&in, &tag, &v) < 0);
	static const uint8_t longlen[] = { 0x04, 0x85, 1, 0, 0, 0, 0 };
	in = (struct der){ longlen, sizeof(longlen) };
	CHECK(der_read(&in, &tag, &v) < 0);
	static const uint8_t nonminimal[] = { 0x04, 0x81, 0x01, 0xaa };
	in = (struct der){ nonminimal, sizeof(nonminimal) };
	CHECK(der_read(&in, &tag, &v) < 0);
	static const uint8_t hightag[] = { 0x1f, 0x01, 0x00 };
	in = (struct der){ hightag, sizeof(hightag) };
	CHECK(der_read(&in, &tag, &v) < 0);

	printf("PCK SGX extension\n");
	struct gen_pki p;
	struct dcap_pck_ext e;
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	CHECK_INT(dcap_pck_ext_from_cert(p.pck, &e, &err), ATOLL_OK);
	CHECK_INT(e.pcesvn, 11);
	CHECK_INT(e.comp_svn[0], 5);
	CHECK_INT(e.comp_svn[7], 3);
	CHECK_INT(e.fmspc[2], 0x6e);
	CHECK_INT(e.sgx_type, 0);
	CHECK(e.has_ppid && e.ppid[0] == 0xa0);
	CHECK_INT(dcap_pck_ext_from_cert(p.ca, &e, &err), ATOLL_E_FORMAT);

	/* Every truncation and every single-byte change of the extension
	 * either parses or fails cleanly. */
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int idx = X509_get_ext_by_OBJ(p.pck, oid, -1);
	ASN1_OBJECT_free(oid);
	CHECK(idx >= 0);
	const ASN1_OCTET_STRING *os =
		X509_EXTENSION_get_data(X509_get_ext(p.pck, idx));
	const uint8_t *d = ASN1_STRING_get0_data(os);
	size_t n = (size_t)ASN1_STRING_length(os);
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		if (dcap_pck_ext_parse(d, i, &e, &err) != ATOLL_E_FORMAT)
			bad++;
	CHECK_INT(bad, 0);
	uint8_t *m = malloc(n);
	for (size_t i = 0; i < n; i++) {
		memcpy(m, d, n);
		m[i] ^= 0xff;
		int r = dcap_pck_ext_parse(m, n, &e, &err);
		CHECK(r == ATOLL_OK || r == ATOLL_E_FORMAT);
	}
	free(m);
	gen_pki_free(&p);
}

static void test_quote(void)
{
	struct gen_pki p;
	struct gen_quote_opts o;
	struct gen_offsets off;
	struct dcap_quote q;
	atoll_err err;
	uint8_t *d;
	size_t len;

	printf("quote parser offsets\n");
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	gen_quote_defaults(&o, 5, 0x81, 3);
	o.trailing = 9;
	CHECK_INT(gen_quote(&p, &o, &d, &len, &off), 0);
	CHECK_INT(dcap_quote_parse(d, len, &q, &err), ATOLL_OK);
	CHECK_INT(q.version, 5);
	CHECK_INT(q.body_type, 3);
	CHECK_INT(q.body - d, 54);
	CHECK_INT(q.body_len, 648);
	CHECK_INT(q.signed_len, 54 + 648);
	CHECK_INT(q.signature - d, off.signature);
	CHECK_INT(q.attest_key - d, off.attest_key);
	CHECK_INT(q.qe_report - d, off.qe_report);
	CHECK_INT(q.qe_auth_len, 32);
	CHECK_INT(q.cert_type, 5);
	CHECK_INT(q.cert_data - d, off.cert_data);
	CHECK_INT(q.trailing, 9);
	free(d);
	gen_quote_defaults(&o, 3, 0, 1);
	CHECK_INT(gen_quote(&p, &o, &d, &len, &off), 0);
	CHECK_INT(dcap_quote_parse(d, len, &q, &err), ATOLL_OK);
	CHECK_INT(q.body - d, 48);
	CHECK_INT(q.qe_report - d, 48 + 384 + 4 + 128);
	CHECK_INT(q.trailing, 0);
	CHECK_INT(dcap_quote_parse(NULL, 0, &q, &err), ATOLL_E_FORMAT);
	free(d);
	gen_pki_free(&p);
}

static void test_cache(void)
{
	uint8_t k1[32] = { 1 }, k2[32] = { 2 }, k3[32] = { 3 };
	uint64_t hits, misses;
	size_t n;

	printf("cache bounds, windows and eviction\n");
	CHECK(dcap_cache_new(0) == NULL);
	struct dcap_cache *c = dcap_cache_new(2);
	CHECK(!dcap_cache_check(c, k1, 100));
	dcap_cache_put(c, k1, 50, 150);
	CHECK(dcap_cache_check(c, k1, 100));
	CHECK(dcap_cache_check(c, k1, 50));
	CHECK(dcap_cache_check(c, k1, 150));
	CHECK(!dcap_cache_check(c, k1, 151));
	CHECK(!dcap_cache_check(c, k1, 49));
	dcap_cache_put(c, k2, 0, 1000);
	CHECK(dcap_cache_check(c, k1, 100)); /* k1 now most recent */
	dcap_cache_put(c, k3, 0, 1000);      /* evicts k2 */
	CHECK(!dcap_cache_check(c, k2, 100));
	CHECK(dcap_cache_check(c, k1, 100));
	CHECK(dcap_cache_check(c, k3, 100));
	dcap_cache_put(c, k3, 10, 5); /* empty window: ignored */
	CHECK(dcap_cache_check(c, k3, 100));
	dcap_cache_stats(c, &hits, &misses, &n);
	CHECK_INT(n, 2);
	CHECK_INT(hits, 7);
	CHECK_INT(misses, 4);
	CHECK(dcap_cache_free(c) == NULL);
	CHECK(dcap_cache_free(NULL) == NULL);
	CHECK(!dcap_cache_check(NULL, k1, 0));
	dcap_cache_put(NULL, k1, 0, 1);

	printf("cache slots: free ones first, then the least recently used\n");
	struct dcap_lru l;
	bool ev;
	CHECK_INT(dcap_lru_init(&l, 0, sizeof(int)), -EINVAL);
	CHECK_INT(dcap_lru_init(&l, 2, sizeof(int)), 0);
	CHECK_INT(dcap_lru_find(&l, k1), -1);
	CHECK_INT(dcap_lru_claim(&l, k1, &ev), 0);
	CHECK(!ev);
	CHECK_INT(dcap_lru_claim(&l, k2, &ev), 1);
	CHECK(!ev);
	CHECK_INT(*(int *)dcap_lru_val(&l, 1), 0);
	*(int *)dcap_lru_val(&l, 1) = 7;
	CHECK_INT(dcap_lru_find(&l, k2), 1);
	dcap_lru_touch(&l, 0); /* k2 is now the least recent */
	CHECK_INT(dcap_lru_claim(&l, k3, &ev), 1);
	CHECK(ev);
	CHECK_INT(*(int *)dcap_lru_val(&l, 1), 7); /* left for the caller */
	CHECK_INT(dcap_lru_find(&l, k2), -1);
	CHECK_INT(dcap_lru_find(&l, k3), 1);
	CHECK_INT(dcap_lru_find(&l, k1), 0);
	dcap_lru_done(&l);
}

static void test_x509_cache(void)
{
	struct gen_pki p;
	size_t l1, l2;

	printf("parsed-certificate cache\n");
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	uint8_t *d1 = gen_der(p.root, &l1), *d2 = gen_der(p.ca, &l2);
	struct dcap_x509_cache *xc = dcap_x509_cache_new(1);
	X509 *a = dcap_x509_parse(xc, d1, l1);
	X509 *b = dcap_x509_parse(xc, d1, l1);
	CHECK(a && a == b);
	X509 *c = dcap_x509_parse(xc, d2, l2); /* evicts the root */
	X509 *d = dcap_x509_parse(xc, d1, l1);
	CHECK(c && d && d != a && X509_cmp(a, d) == 0);
	CHECK(dcap_x509_parse(xc, d1, l1 - 1) == NULL);
	X509 *e = dcap_x509_parse(NULL, d2, l2);
	CHECK(e && X509_cmp(e, c) == 0);
	X509_free(e);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
	CHECK(dcap_x509_cache_free(xc) == NULL);
	CHECK(dcap_x509_cache_free(NULL) == NULL);
	CHECK(dcap_x509_cache_new(0) == NULL);
	free(d1);
	free(d2);
	gen_pki_free(&p);
}

static void test_config(void)
{
	struct dcap_verifier v;
	atoll_err err;

	printf("verifier configuration\n");
	CHECK_INT(dcap_verifier_init(&v, NULL, 0, NULL, &err), ATOLL_OK);
	CHECK_INT(v.n_pins, 1);
	CHECK(memcmp(v.pins[0], dcap_intel_root_sha256, 32) == 0);
	CHECK(v.cache != NULL);
	CHECK(!v.require_collateral);
	dcap_verifier_done(&v);
	dcap_verifier_done(NULL);

	atoll_kv cfg[] = {
		{ "root_fingerprint",
		  "44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3,"
		  "0000000000000000000000000000000000000000000000000000000000000001" },
		{ "chain_cache", "off" },
		{ "require_collateral", "yes" },
		{ "extra_key", "anything" },
	};
	static const char *const extra[] = { "extra_key", NULL };
	CHECK_INT(dcap_verifier_init(&v, cfg, 4, extra, &err), ATOLL_OK);
	CHECK_INT(v.n_pins, 2);
	CHECK(memcmp(v.pins[0], dcap_intel_root_sha256, 32) == 0);
	CHECK_INT(v.pins[1][31], 1);
	CHECK(v.cache == NULL);
	CHECK(v.require_collateral);
	dcap_verifier_done(&v);
	CHECK_INT(dcap_verifier_init(&v, cfg, 4, NULL, &err), ATOLL_E_CONFIG);
	CHECK(strstr(err.msg, "extra_key") != NULL);
	static const atoll_kv bad[][1] = {
		{ { "root_fingerprint", "" } },
		{ { "root_fingerprint", "zz" } },
		{ { "root_fingerprint",
		    "44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3FF" } },
		{ { "root_fingerprint",
		    "44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3," } },
		{ { "chain_cache_size", "4097" } },
		{ { "chain_cache_size", "12x" } },
		{ { "require_collateral", "2" } },
		{ { NULL, "x" } },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK_INT(dcap_verifier_init(&v, bad[i], 1, NULL, &err),
			  ATOLL_E_CONFIG);

	/* On the heap, as the drivers hold it. */
	struct dcap_verifier *hv = NULL;
	CHECK_INT(dcap_verifier_new(cfg, 4, extra, &hv, &err), ATOLL_OK);
	CHECK(hv && hv->n_pins == 2 && hv->require_collateral);
	dcap_verifier_free(hv);
	hv = NULL;
	CHECK_INT(dcap_verifier_new(bad[1], 1, NULL, &hv, &err),
		  ATOLL_E_CONFIG);
	CHECK(hv == NULL);
	dcap_verifier_free(NULL);
}

/* The cache at work: the second verification of the same chain skips
 * OpenSSL's chain and CRL checks, a later time outside the window does
 * not hit. */
static void test_cache_hits(void)
{
	struct gen_pki p;
	struct gen_quote_opts o;
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_collateral c;
	struct dcap_verifier v;
	struct dcap_result res;
	atoll_blob b[8];
	atoll_err err;
	uint64_t h0, h1, h2, m;
	uint8_t *d;
	size_t len;

	printf("cache hits through dcap_verify\n");
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	atoll_kv cfg[] = { { "root_fingerprint", p.root_fp_hex } };
	CHECK_INT(dcap_verifier_init(&v, cfg, 1, NULL, &err), ATOLL_OK);
	gen_quote_defaults(&o, 3, 0, 1);
	CHECK_INT(gen_quote(&p, &o, &d, &len, NULL), 0);
	gen_tcb_info_defaults(&ti, false);
	gen_qe_identity_defaults(&qi, false);
	CHECK_INT(gen_collateral(&p, &ti, &qi, &c), 0);
	for (size_t i = 0; i < c.n; i++)
		b[i] = (atoll_blob){ c.data[i], c.len[i] };
	atoll_verify_args a = { .struct_size = sizeof(a),
				.evidence = d,
				.evidence_len = len,
				.collateral = b,
				.n_collateral = c.n,
				.verify_time = GEN_T0 };
	CHECK_INT(dcap_verify(&v, DCAP_TEE_SGX, &a, &res, &err), ATOLL_OK);
	CHECK(res.has_tcb && res.tcb.status == DCAP_TCB_SW_HARDENING_NEEDED);
	dcap_result_done(&res);
	dcap_cache_stats(v.cache, &h0, &m, NULL);
	CHECK_INT(dcap_verify(&v, DCAP_TEE_SGX, &a, &res, &err), ATOLL_OK);
	dcap_result_done(&res);
	dcap_cache_stats(v.cache, &h1, &m, NULL);
	/* PCK chain, two CRLs, the TCB Signing chain (twice), its CRL
	 * (twice), two JSON signatures. */
	CHECK(h1 - h0 >= 5);
	a.verify_time = 1938000000; /* PCK expired */
	CHECK_INT(dcap_verify(&v, DCAP_TEE_SGX, &a, &res, &err), ATOLL_E_EXPIRED);
	dcap_cache_stats(v.cache, &h2, &m, NULL);
	a.verify_time = 0; /* now: collateral long expired or PCK valid */
	int r = dcap_verify(&v, DCAP_TEE_SGX, &a, &res, &err);
	CHECK(r == ATOLL_E_EXPIRED);
	a.evidence_len = 10;
	CHECK_INT(dcap_verify(&v, DCAP_TEE_SGX, &a, &res, &err), ATOLL_E_FORMAT);
	CHECK_INT(dcap_verify(&v, DCAP_TEE_SGX, NULL, &res, &err),
		  ATOLL_E_INVALID_ARGUMENT);
	gen_collateral_free(&c);
	free(d);
	dcap_verifier_done(&v);
	gen_pki_free(&p);
}

static void test_collateral_sort(void)
{
	struct gen_pki p;
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_collateral c;
	struct dcap_collateral dc;
	atoll_blob b[8];
	atoll_err err;

	printf("collateral sorted by content\n");
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	gen_tcb_info_defaults(&ti, true);
	gen_qe_identity_defaults(&qi, true);
	CHECK_INT(gen_collateral(&p, &ti, &qi, &c), 0);
	for (size_t i = 0; i < c.n; i++)
		b[c.n - 1 - i] = (atoll_blob){ c.data[i], c.len[i] };
	uint8_t sig[64] = { 0x42 };
	b[c.n] = (atoll_blob){ sig, 64 };
	CHECK_INT(dcap_collateral_load(NULL, b, c.n + 1, &dc, &err), ATOLL_OK);
	CHECK_INT(sk_X509_num(dc.certs), 2);
	CHECK_INT(sk_X509_CRL_num(dc.crls), 2);
	CHECK_INT(dc.n_items, 2);
	CHECK_INT(dc.n_sigs, 1);
	size_t tcb = dc.items[0].kind == DCAP_JSON_TCB_INFO ? 0 : 1;
	CHECK_INT(dc.items[tcb].kind, DCAP_JSON_TCB_INFO);
	CHECK(dc.items[tcb].has_sig);
	/* The signed bytes are exactly the member's value. */
	CHECK(dc.items[tcb].body[0] == '{' &&
	      dc.items[tcb].body[dc.items[tcb].body_len - 1] == '}');

	struct dcap_tcb_info t;
	CHECK_INT(dcap_tcb_info_parse(dc.items[tcb].body, dc.items[tcb].body_len,
				      &t, &err),
		  ATOLL_OK);
	CHECK_STR(t.id, "TDX");
	CHECK_INT(t.version, 3);
	CHECK_INT(t.n_levels, 2);
	CHECK_INT(t.levels[0].tdx[0], 4); /* highest first */
	CHECK_INT(t.n_modules, 1);
	CHECK_STR(t.modules[0].id, "TDX_01");
	CHECK_INT(t.eval_num, 17);
	dcap_tcb_info_done(&t);
	dcap_tcb_info_done(NULL);
	struct dcap_qe_identity q;
	CHECK_INT(dcap_qe_identity_parse(dc.items[1 - tcb].body,
					 dc.items[1 - tcb].body_len, &q, &err),
		  ATOLL_OK);
	CHECK_STR(q.id, "TD_QE");
	CHECK_INT(q.isvprodid, 2);
	CHECK_INT(q.n_levels, 2);
	dcap_qe_identity_done(&q);
	dcap_collateral_done(&dc);
	dcap_collateral_done(NULL);

	/* Truncating each blob never crashes the sorter. */
	for (size_t i = 0; i < c.n; i++)
		for (size_t n = 0; n < c.len[i]; n += 7) {
			atoll_blob t1 = { c.data[i], n };
			if (dcap_collateral_load(NULL, &t1, 1, &dc, &err) == ATOLL_OK)
				dcap_collateral_done(&dc);
		}
	gen_collateral_free(&c);
	gen_pki_free(&p);
}

static int count_blocks(void *userdata, const char *name, const uint8_t *der,
			size_t len)
{
	int *n = userdata;

	(*n)++;
	return strcmp(name, "STOP") == 0 ? 42 : 0;
}

static void test_pem_blocks(void)
{
	struct gen_pki p;
	atoll_blob b;
	struct dcap_collateral dc;
	atoll_err err;
	int n = 0;

	printf("PEM blocks, their end and malformed ones\n");
	CHECK_INT(gen_pki_init(&p, NULL, NULL), 0);
	char *root = gen_pem(p.root), *text;
	size_t len = strlen(root);
	text = malloc(3 * len + 200);
	snprintf(text, 3 * len + 200,
		 "%s-----BEGIN OTHER-----\nAAAA\n-----END OTHER-----\n%s", root,
		 root);
	CHECK_INT(dcap_pem_each((uint8_t *)text, strlen(text), count_blocks, &n),
		  0);
	CHECK_INT(n, 3);
	n = 0;
	CHECK_INT(dcap_pem_each((uint8_t *)"no pem", 6, count_blocks, &n), 0);
	CHECK_INT(n, 0);
	snprintf(text, 3 * len + 200,
		 "-----BEGIN STOP-----\nAAAA\n-----END STOP-----\n%s", root);
	CHECK_INT(dcap_pem_each((uint8_t *)text, strlen(text), count_blocks, &n),
		  42);
	CHECK_INT(n, 1);
	snprintf(text, 3 * len + 200, "%s-----BEGIN CERTIFICATE-----\nAAAA",
		 root);
	CHECK_INT(dcap_pem_each((uint8_t *)text, strlen(text), count_blocks, &n),
		  -EBADMSG);

	/* The collateral sorter's messages over them. */
	b = (atoll_blob){ (uint8_t *)text, strlen(text) };
	CHECK_INT(dcap_collateral_load(NULL, &b, 1, &dc, &err), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "collateral[0]: malformed PEM");
	snprintf(text, 3 * len + 200,
		 "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
	b.len = strlen(text);
	CHECK_INT(dcap_collateral_load(NULL, &b, 1, &dc, &err), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "collateral[0]: PEM CRL does not parse");
	free(text);
	free(root);
	gen_pki_free(&p);
}

static void test_status_names(void)
{
	enum dcap_tcb_status s;

	printf("TCB status names\n");
	for (int i = DCAP_TCB_UP_TO_DATE;
	     i <= DCAP_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED; i++) {
		CHECK_INT(dcap_tcb_status_parse(dcap_tcb_status_name(i), &s), 0);
		CHECK_INT(s, i);
	}
	CHECK(dcap_tcb_status_parse("uptodate", &s) < 0);
	CHECK_STR(dcap_tcb_status_name(DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED),
		  "OutOfDateConfigurationNeeded");
	CHECK_STR(dcap_tcb_status_name(99), "?");
}

int main(void)
{
	test_der();
	test_quote();
	test_cache();
	test_x509_cache();
	test_config();
	test_cache_hits();
	test_collateral_sort();
	test_pem_blocks();
	test_status_names();
	CHECK_DONE();
}
