/* The sgx and tdx drivers against the real public samples in
 * $ATOLL_SHARED_DIR/evidence/{sgx,tdx}: each verdict and claim stated in
 * PROVENANCE.md, as of the stated times, plus verification outside the
 * validity windows and tampered copies. Skips when the folder is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "drv.h"

#define MAX_COLL 16

struct coll {
	atoll_blob b[MAX_COLL];
	uint8_t *own[MAX_COLL];
	size_t n;
};

static const char *ev;

static uint8_t *sample(const char *rel, size_t *len, bool hex)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", ev, rel);
	uint8_t *d = file_read(path, len, hex);
	if (!d) {
		fprintf(stderr, "cannot read %s\n", path);
		check_failures++;
	}
	return d;
}

static void coll_add(struct coll *c, const char *rel)
{
	size_t len = 0;
	uint8_t *d = sample(rel, &len, false);

	if (!d)
		return;
	c->own[c->n] = d;
	c->b[c->n].data = d;
	c->b[c->n].len = len;
	c->n++;
}

/* Each of names, from the folder dir. */
static void coll_add_files(struct coll *c, const char *dir,
			   const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char rel[256];
		snprintf(rel, sizeof(rel), "%s/%s", dir, names[i]);
		coll_add(c, rel);
	}
}

static void coll_free(struct coll *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->own[i]);
	c->n = 0;
}

static int verify(struct drv *d, const uint8_t *q, size_t len,
		  const struct coll *c, int64_t t, atoll_claims **ret)
{
	atoll_err err;
	int r = drv_verify(d, q, len, c ? c->b : NULL, c ? c->n : 0, t, NULL,
			   0, ret, &err);
	if (r != ATOLL_OK)
		printf("    -> %d: %s\n", r, err.msg);
	return r;
}

static void sgx_phala(struct drv *sgx)
{
	size_t len;
	uint8_t *q = sample("sgx/phala-dcap-qvl/sgx_quote", &len, false);
	int64_t t = ts("2025-07-19T10:01:17Z");
	atoll_claims *c = NULL;
	struct coll coll = { 0 };

	if (!q)
		return;
	printf("sgx: phala sgx_quote without collateral\n");
	CHECK_INT(verify(sgx, q, len, NULL, t, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tee_type, "sgx");
		CHECK(bytes_hex(c->measurement, c->measurement_len,
				"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
				false));
		CHECK(bytes_hex(c->signer, c->signer_len,
				"815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
				false));
		CHECK_INT(c->debug, 0);
		CHECK_INT(c->svn, 0);
		CHECK_INT(claim_u(c, "isv_prod_id"), 0);
		CHECK_INT(c->report_data_len, 64);
		CHECK(c->report_data &&
		      memcmp(c->report_data, "Hello, world!", 13) == 0);
		static const uint8_t zero[64];
		CHECK(c->report_data && memcmp(c->report_data + 13, zero, 51) == 0);
		CHECK(c->tcb_status == NULL);
		CHECK(claim_hex(c, "fmspc", "00a067110000", false));
		CHECK(claim_hex(c, "pce_id", "0000", false));
		CHECK(claim_hex(c, "pck_tcb_components",
				"0b0b0202ff0100000000000000000000", false));
		CHECK_INT(claim_u(c, "pck_pcesvn"), 13);
		CHECK(claim_hex(c, "attributes", "05", true));
		CHECK_INT(claim_u(c, "debug"), 0);
		CHECK_INT(claim_u(c, "qe_isv_svn"), 10);
		CHECK_INT(c->not_before, ts("2023-09-20T21:53:43Z"));
		CHECK_INT(c->not_after, ts("2030-09-20T21:53:43Z"));
		sgx->d->claims_free(sgx->ctx, c);
	}

	printf("sgx: phala sgx_quote with its collateral bundle\n");
	coll_add(&coll, "sgx/phala-dcap-qvl/sgx_quote_collateral.json");
	CHECK_INT(verify(sgx, q, len, &coll, t, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "ConfigurationAndSWHardeningNeeded");
		CHECK_STR(claim_s(c, "advisory_ids"),
			  "INTEL-SA-00289,INTEL-SA-00615");
		CHECK_STR(claim_s(c, "qe_tcb_status"), "UpToDate");
		CHECK_INT(claim_u(c, "tcb_eval_data_number"), 17);
		CHECK(c->not_after <= ts("2025-07-19T10:01:18Z"));
		CHECK(c->not_before >= ts("2025-06-19T10:56:11Z"));
		sgx->d->claims_free(sgx->ctx, c);
	}
	printf("sgx: collateral valid until 2025-07-19T10:01:18Z\n");
	CHECK_INT(verify(sgx, q, len, &coll, ts("2025-08-01T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);
	CHECK_INT(verify(sgx, q, len, &coll, ts("2025-06-01T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);
	coll_free(&coll);

	printf("sgx: phala collateral split into files, shuffled\n");
	static const char *const split[] = {
		"pck_crl.der", "tcb_info.sig.bin", "qe_identity_issuer_chain.pem",
		"qe_identity.signed.json", "root_ca_crl.der",
		"tcb_info.signed.json", "qe_identity.sig.bin",
		"pck_crl_issuer_chain.pem", "tcb_info_issuer_chain.pem",
	};
	coll_add_files(&coll, "sgx/phala-dcap-qvl/derived/sgx_quote_collateral",
		       split, sizeof(split) / sizeof(*split));
	CHECK_INT(verify(sgx, q, len, &coll, t, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "ConfigurationAndSWHardeningNeeded");
		CHECK_STR(claim_s(c, "advisory_ids"),
			  "INTEL-SA-00289,INTEL-SA-00615");
		sgx->d->claims_free(sgx->ctx, c);
	}
	coll_free(&coll);

	printf("sgx: outside the PCK validity\n");
	CHECK_INT(verify(sgx, q, len, NULL, ts("2031-01-01T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);
	CHECK_INT(verify(sgx, q, len, NULL, ts("2023-01-01T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);

	printf("sgx: tampered and truncated copies\n");
	uint8_t *m = malloc(len);
	memcpy(m, q, len);
	m[48 + 100] ^= 0x01; /* in MRSIGNER's neighbourhood of the body */
	CHECK_INT(verify(sgx, m, len, NULL, t, NULL), ATOLL_E_SIGNATURE);
	memcpy(m, q, len);
	m[48 + 384 + 4 + 1] ^= 0x80; /* quote signature */
	CHECK_INT(verify(sgx, m, len, NULL, t, NULL), ATOLL_E_SIGNATURE);
	memcpy(m, q, len);
	m[48 + 384 + 4 + 64 + 3] ^= 0x01; /* attestation key */
	CHECK_INT(verify(sgx, m, len, NULL, t, NULL), ATOLL_E_BINDING);
	memcpy(m, q, len);
	m[48 + 384 + 4 + 128 + 64] ^= 0x01; /* QE report */
	CHECK_INT(verify(sgx, m, len, NULL, t, NULL), ATOLL_E_SIGNATURE);
	CHECK_INT(verify(sgx, q, len - 1, NULL, t, NULL), ATOLL_E_FORMAT);
	CHECK_INT(verify(sgx, q, 600, NULL, t, NULL), ATOLL_E_FORMAT);
	free(m);
	free(q);
}

static void sgx_qvl(struct drv *sgx)
{
	static const atoll_kv test_root[] = {
		{ "root_fingerprint",
		  "84:2A:5B:CB:64:BA:3F:7D:75:50:36:CE:1B:B8:57:78:B3:48:1A:5D:D7:5F:47:31:C3:81:B8:EE:A6:58:AA:0D" },
	};
	static const char *const files[] = {
		"pckCert.pem", "pckSignChain.pem", "trustedRootCaCert.pem",
		"tcbInfo.json", "tcbSignChain.pem", "qeIdentity.json",
		"qveIdentity.json", "intermediateCaCrl.der", "rootCaCrl.der",
	};
	struct coll coll = { 0 };
	struct drv test = { 0 };
	atoll_claims *c = NULL;
	atoll_err err;
	size_t len;
	int64_t t = ts("2025-06-01T00:00:00Z");
	uint8_t *q = sample("sgx/intel-qvl-sampledata/quote.dat", &len, false);

	if (!q)
		return;
	coll_add_files(&coll, "sgx/intel-qvl-sampledata", files,
		       sizeof(files) / sizeof(*files));
	printf("sgx: Intel QVL sample (PPID certification data) against the real root\n");
	CHECK_INT(verify(sgx, q, len, &coll, t, NULL), ATOLL_E_CHAIN);
	printf("sgx: Intel QVL sample without its PCK certificate\n");
	CHECK_INT(verify(sgx, q, len, NULL, t, NULL), ATOLL_E_CHAIN);

	CHECK_INT(drv_open(&test, "sgx", test_root, 1, &err), ATOLL_OK);
	if (!test.d)
		goto out;
	printf("sgx: Intel QVL sample with its test root pinned\n");
	CHECK_INT(verify(&test, q, len, &coll, t, &c), ATOLL_OK);
	if (c) {
		static const uint8_t zero[64];
		CHECK(c->measurement && memcmp(c->measurement, zero, 32) == 0);
		CHECK(c->report_data && memcmp(c->report_data, zero, 64) == 0);
		CHECK(claim_hex(c, "fmspc", "00707f000000", false));
		CHECK(c->tcb_status != NULL);
		printf("    tcb_status %s, advisories '%s'\n",
		       c->tcb_status ? c->tcb_status : "(null)",
		       claim_s(c, "advisory_ids") ? claim_s(c, "advisory_ids") : "");
		test.d->claims_free(test.ctx, c);
	}
	printf("sgx: Intel QVL sample after its PCK expired\n");
	CHECK_INT(verify(&test, q, len, &coll, ts("2026-10-01T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);
	drv_close(&test);
out:
	coll_free(&coll);
	free(q);
}

static void tdx_phala(struct drv *tdx)
{
	size_t len;
	uint8_t *q = sample("tdx/phala-dcap-qvl/tdx_quote", &len, false);
	int64_t t = ts("2025-06-20T00:00:00Z");
	atoll_claims *c = NULL;
	struct coll coll = { 0 };

	if (!q)
		return;
	printf("tdx: phala tdx_quote (v4, 70 trailing bytes) with collateral\n");
	coll_add(&coll, "tdx/phala-dcap-qvl/tdx_quote_collateral.json");
	CHECK_INT(verify(tdx, q, len, &coll, t, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tee_type, "tdx");
		CHECK_STR(c->tcb_status, "UpToDate");
		CHECK_STR(claim_s(c, "advisory_ids"), "");
		CHECK_INT(c->debug, 0);
		CHECK(claim_hex(c, "td_attributes", "0000001000000000", false));
		CHECK(bytes_hex(c->measurement, c->measurement_len,
				"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
				false));
		CHECK(claim_hex(c, "rtmr0",
				"44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
				false));
		CHECK(claim_hex(c, "rtmr1",
				"0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
				false));
		CHECK(claim_hex(c, "rtmr2",
				"d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
				false));
		CHECK(claim_hex(c, "rtmr3",
				"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
				false));
		CHECK(bytes_hex(c->report_data, c->report_data_len,
				"9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
				false));
		CHECK(claim_hex(c, "tee_tcb_svn", "060103", true));
		CHECK(claim_hex(c, "mrseam", "5b38e33a", true));
		CHECK(claim_hex(c, "fmspc", "b0c06f000000", false));
		CHECK_INT(claim_u(c, "sept_ve_disable"), 1);
		tdx->d->claims_free(tdx->ctx, c);
	}
	printf("tdx: phala tdx_quote outside its collateral window\n");
	CHECK_INT(verify(tdx, q, len, &coll, ts("2025-07-20T00:00:00Z"), NULL),
		  ATOLL_E_EXPIRED);
	coll_free(&coll);

	printf("tdx: phala tdx_quote with the split collateral\n");
	static const char *const split[] = {
		"tcb_info.signed.json", "tcb_info.sig.bin", "qe_identity.signed.json",
		"qe_identity.sig.bin", "tcb_info_issuer_chain.pem",
		"qe_identity_issuer_chain.pem", "pck_crl_issuer_chain.pem",
		"pck_crl.der", "root_ca_crl.der",
	};
	coll_add_files(&coll, "tdx/phala-dcap-qvl/derived/tdx_quote_collateral",
		       split, sizeof(split) / sizeof(*split));
	CHECK_INT(verify(tdx, q, len, &coll, t, &c), ATOLL_OK);
	if (c) {
		CHECK_STR(c->tcb_status, "UpToDate");
		tdx->d->claims_free(tdx->ctx, c);
	}
	coll_free(&coll);

	printf("tdx: phala tdx_quote to the sgx driver is refused\n");
	struct drv sgx;
	atoll_err err;
	if (drv_open(&sgx, "sgx", NULL, 0, &err) == ATOLL_OK) {
		CHECK_INT(verify(&sgx, q, len, NULL, t, NULL), ATOLL_E_FORMAT);
		drv_close(&sgx);
	}
	free(q);
}

static void tdx_outdated(struct drv *tdx)
{
	size_t len;
	uint8_t *q = sample("tdx/phala-dcap-qvl/tdx_quote_outdated", &len, false);
	int64_t t = ts("2026-03-01T00:00:00Z");
	atoll_claims *c = NULL;
	struct coll coll = { 0 };
	atoll_err err;

	if (!q)
		return;
	printf("tdx: phala tdx_quote_outdated (v5, TD 1.5) without collateral\n");
	CHECK_INT(verify(tdx, q, len, NULL, t, &c), ATOLL_OK);
	if (c) {
		CHECK(bytes_hex(c->measurement, c->measurement_len,
				"273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
				false));
		for (int i = 0; i < 4; i++) {
			char name[8];
			snprintf(name, sizeof(name), "rtmr%d", i);
			CHECK(claim_hex(c, name, "000000000000000000000000", true));
		}
		CHECK(bytes_hex(c->report_data, c->report_data_len,
				"d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce477280000000000000000000000000000000000000000000000000000000000000000",
				false));
		CHECK(claim_hex(c, "tee_tcb_svn", "070103", true));
		CHECK(claim_hex(c, "tee_tcb_svn2", "0d0103", true));
		CHECK(claim_hex(c, "fmspc", "90c06f000000", false));
		CHECK(claim_hex(c, "pck_tcb_components", "03030202040100030000", true));
		CHECK_INT(claim_u(c, "td_report_type"), 3);
		CHECK_INT(claim_u(c, "quote_version"), 5);
		tdx->d->claims_free(tdx->ctx, c);
	}
	printf("tdx: phala tdx_quote_outdated with collateral: no TCB level matches\n");
	coll_add(&coll, "tdx/phala-dcap-qvl/tdx_quote_outdated_collateral.json");
	int r = drv_verify(tdx, q, len, coll.b, coll.n, t, NULL, 0, NULL, &err);
	CHECK_INT(r, ATOLL_E_TCB);
	CHECK(strstr(err.msg, "TCB level not supported") != NULL);
	printf("    -> %s\n", err.msg);
	coll_free(&coll);
	free(q);
}

static void tdx_hex(struct drv *tdx)
{
	static const char *const files[] = { "tdx/phala-dcap-qvl/tdx-quote.hex",
					     "tdx/phala-dcap-qvl/quote-from-tappd.hex" };
	int64_t t = ts("2025-06-01T00:00:00Z");

	for (int i = 0; i < 2; i++) {
		size_t len;
		atoll_claims *c = NULL;
		uint8_t *q = sample(files[i], &len, true);
		if (!q)
			continue;
		printf("tdx: %s without collateral\n", files[i]);
		CHECK_INT(len, 5006);
		CHECK_INT(verify(tdx, q, len, NULL, t, &c), ATOLL_OK);
		if (c) {
			CHECK(claim_hex(c, "fmspc", "b0c06f000000", false));
			CHECK_INT(claim_u(c, "quote_version"), 4);
			if (i == 1)
				CHECK(claim_hex(c, "rtmr3", "a2d25bc8", true));
			tdx->d->claims_free(tdx->ctx, c);
		}
		CHECK_INT(verify(tdx, q, len, NULL, ts("2031-09-01T00:00:00Z"), NULL),
			  ATOLL_E_EXPIRED);
		free(q);
	}
}

static void tdx_qvl(struct drv *tdx)
{
	static const atoll_kv test_root[] = {
		{ "root_fingerprint",
		  "BF85A53FC08F84CB1F73A4F75F48AF566E30AC040699BA0EC1B8D593C05B56FC" },
	};
	struct drv test;
	struct coll coll = { 0 };
	atoll_claims *c = NULL;
	atoll_err err;
	size_t len;
	int64_t t = ts("2025-06-01T00:00:00Z");
	uint8_t *q = sample("tdx/intel-qvl-sampledata/quote.dat", &len, false);

	if (!q)
		return;
	printf("tdx: Intel QVL synthetic quote (DER chain, root first) against the real root\n");
	CHECK_INT(verify(tdx, q, len, NULL, t, NULL), ATOLL_E_CHAIN);
	CHECK_INT(drv_open(&test, "tdx", test_root, 1, &err), ATOLL_OK);
	if (test.d) {
		printf("tdx: Intel QVL synthetic quote with its test root pinned\n");
		CHECK_INT(verify(&test, q, len, NULL, t, &c), ATOLL_OK);
		if (c) {
			static const uint8_t zero[64];
			CHECK(c->measurement &&
			      memcmp(c->measurement, zero, 48) == 0);
			CHECK(c->report_data && memcmp(c->report_data, zero, 64) == 0);
			CHECK(claim_hex(c, "fmspc", "ed742af8adf5", false));
			CHECK(claim_hex(c, "pce_id", "8a67", false));
			test.d->claims_free(test.ctx, c);
		}
		printf("tdx: Intel QVL synthetic collateral has SVNs above 255\n");
		coll_add(&coll, "tdx/intel-qvl-sampledata/tcbInfo.json");
		coll_add(&coll, "tdx/intel-qvl-sampledata/tcbSignChain.pem");
		CHECK_INT(verify(&test, q, len, &coll, t, NULL), ATOLL_E_FORMAT);
		coll_free(&coll);
		drv_close(&test);
	}
	free(q);
}

int main(void)
{
	struct drv sgx, tdx;
	atoll_err err;

	ev = evidence_dir();
	if (!ev) {
		printf("skipped: no evidence dir\n");
		return 0;
	}
	if (drv_open(&sgx, "sgx", NULL, 0, &err) != ATOLL_OK ||
	    drv_open(&tdx, "tdx", NULL, 0, &err) != ATOLL_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	sgx_phala(&sgx);
	sgx_qvl(&sgx);
	tdx_phala(&tdx);
	tdx_outdated(&tdx);
	tdx_hex(&tdx);
	tdx_qvl(&tdx);
	drv_close(&sgx);
	drv_close(&tdx);
	CHECK_DONE();
}
