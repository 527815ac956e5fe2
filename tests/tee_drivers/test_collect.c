/* The island side of the drivers against fake interfaces that hand out
 * real evidence: the collect() of sgx (Gramine's /dev/attestation files),
 * cca, sev_snp and tdx (configfs-tsm), nitro (/dev/nsm) and psa (a token
 * provider program), each followed by the driver's own verify().
 *
 * configfs and the NSM are emulated in this process: the program defines
 * mkdir(), rmdir() and ioctl() and exports them, so that the driver
 * modules it dlopen()s call these first. Under a fake report directory
 * mkdir() fills the new entry the way configfs does (provider, inblob,
 * generation, outblob); ioctl(NSM_IOCTL_RAW) on the fake NSM device
 * decodes the request and answers with a document. Everything else goes
 * to the C library. The NSM request bytes and ioctl layout are checked
 * here as well. With --psa-provider KEY HEX the program is itself a PSA
 * token provider (a generated IAK signing a token over HEX). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "check.h"
#include "dc_cose.h"
#include "dc_util.h"
#include "gen.h"
#include "nsm.h"
#include "plugin/plugin.h"
#include "tdrv.h"
#include "util/buf.h"

/* ---- the fake kernel interfaces ---- */

static char fake_tsm[512];
static const char *fake_provider;
static const uint8_t *fake_outblob;
static size_t fake_outblob_len;
static uint8_t last_inblob[128];
static size_t last_inblob_len;
static int entries_made, entries_removed;

static char fake_nsm[512];
/* The document answering the next request, or NULL: generate one over
 * the request's nonce. An error text answers {"Error": text}. */
static const uint8_t *nsm_doc;
static size_t nsm_doc_len;
static const char *nsm_error;
static uint8_t last_request[NSM_REQUEST_MAX];
static size_t last_request_len;
static struct gen_nitro_pki nitro_pki;

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		fprintf(stderr, "fake: cannot write %s\n", path);
	if (fd >= 0)
		close(fd);
}

static bool under_fake_tsm(const char *path)
{
	size_t n = strlen(fake_tsm);
	return fake_tsm[0] && strncmp(path, fake_tsm, n) == 0 && path[n] == '/' &&
	       !strchr(path + n + 1, '/');
}

int mkdir(const char *path, mode_t mode)
{
	static int (*real)(const char *, mode_t);
	if (!real)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	int r = real(path, mode);
	if (r == 0 && under_fake_tsm(path)) {
		/* configfs makes the attributes of a new report entry. */
		entries_made++;
		put(path, "provider", fake_provider, strlen(fake_provider));
		put(path, "generation", "1\n", 2);
		put(path, "inblob", "", 0);
		put(path, "outblob", fake_outblob, fake_outblob_len);
	}
	return r;
}

int rmdir(const char *path)
{
	static int (*real)(const char *);
	if (!real)
		real = (int (*)(const char *))dlsym(RTLD_NEXT, "rmdir");
	if (under_fake_tsm(path)) {
		/* configfs removes the attributes with the entry; keep what
		 * the driver wrote for the test. */
		char p[700];
		snprintf(p, sizeof p, "%s/inblob", path);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, last_inblob, sizeof last_inblob);
			last_inblob_len = n > 0 ? (size_t)n : 0;
			close(fd);
		}
		static const char *const attrs[] = { "provider", "generation", "inblob", "outblob" };
		for (size_t i = 0; i < 4; i++) {
			snprintf(p, sizeof p, "%s/%s", path, attrs[i]);
			unlink(p);
		}
		entries_removed++;
	}
	return real(path);
}

static bool is_fake_nsm(int fd)
{
	char link[64], target[600];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	return fake_nsm[0] && strcmp(target, fake_nsm) == 0;
}

/* The NSM: {"Attestation": {"document": doc}} or {"Error": text}. */
static int nsm_answer(struct nsm_raw *raw)
{
	last_request_len = raw->request.len < sizeof last_request ? raw->request.len : 0;
	memcpy(last_request, (const void *)(uintptr_t)raw->request.addr, last_request_len);
	struct buf b = { 0 };
	uint8_t *gen = NULL;
	size_t doc_len = nsm_doc_len;
	const uint8_t *doc = nsm_doc;
	cw_head(&b, 5, 1);
	if (nsm_error) {
		cw_text(&b, "Error");
		cw_text(&b, nsm_error);
	} else {
		if (!doc) {
			/* Sign a document over the request's nonce. */
			cbor_item_t *req = NULL;
			atoll_err e;
			const uint8_t *nonce = NULL;
			size_t nonce_len = 0;
			if (dc_cbor_decode(last_request, last_request_len, &req, &e) != ATOLL_OK)
				return -EINVAL;
			const cbor_item_t *att = dc_cbor_map_str(req, "Attestation", NULL);
			const cbor_item_t *n = att ? dc_cbor_map_str(att, "nonce", NULL) : NULL;
			if (!n || !dc_cbor_bytes(n, &nonce, &nonce_len)) {
				cbor_decref(&req);
				return -EINVAL;
			}
			struct gen_nitro_doc d;
			gen_nitro_doc_defaults(&d);
			d.nonce = nonce;
			d.nonce_len = nonce_len;
			gen = gen_nitro_doc_make(&d, &nitro_pki, &doc_len);
			doc = gen;
			cbor_decref(&req);
		}
		cw_text(&b, "Attestation");
		cw_head(&b, 5, 1);
		cw_text(&b, "document");
		cw_bytes(&b, doc, doc_len);
	}
	free(gen);
	if (b.len > raw->response.len) {
		buf_free(&b);
		return -ENOMEM;
	}
	memcpy((void *)(uintptr_t)raw->response.addr, b.data, b.len);
	raw->response.len = b.len;
	buf_free(&b);
	return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (request == NSM_IOCTL_RAW && is_fake_nsm(fd)) {
		int r = nsm_answer(arg);
		if (r < 0) {
			errno = -r;
			return -1;
		}
		return 0;
	}
	return real(fd, request, arg);
}

/* ---- helpers ---- */

static struct loaded_driver load(const char *name, const atoll_kv *kv, size_t n)
{
	char path[700], err[512];
	struct loaded_driver ld = { 0 };
	snprintf(path, sizeof path, "%s/%s.so", check_env("ATOLL_MODULE_DIR", "modules"), name);
	if (plugin_load_driver(path, name, kv, n, NULL, 0, &ld, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		check_failures++;
	}
	return ld;
}

static int collect(const struct loaded_driver *ld, const uint8_t rd[64], atoll_evidence **ev,
		   atoll_err *err)
{
	*ev = NULL;
	memset(err, 0, sizeof *err);
	int r = plugin_driver_collect(ld, rd, ev, err);
	if (r != ATOLL_OK)
		printf("    collect: %s\n", err->msg);
	return r;
}

static int verify(const struct loaded_driver *ld, const uint8_t *ev, size_t len, int64_t when,
		  const uint8_t *expect_rd, atoll_claims **ret)
{
	atoll_verify_args a = { 0 };
	atoll_err err = { "" };
	a.struct_size = sizeof a;
	a.evidence = ev;
	a.evidence_len = len;
	a.verify_time = when;
	a.expected_report_data = expect_rd;
	a.expected_report_data_len = expect_rd ? 64 : 0;
	*ret = NULL;
	int r = plugin_driver_verify(ld, &a, ret, &err);
	if (r != ATOLL_OK)
		printf("    verify: %s\n", err.msg);
	return r;
}

static void rd_fill(uint8_t rd[64], uint8_t seed)
{
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(seed + i * 3);
}

static const char *mkdir_tmp(const char *name)
{
	static char path[4][600];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s", tdrv_tmpdir(), name);
	CHECK(mkdir(path[k], 0700) == 0);
	return path[k];
}

/* ---- Gramine ---- */

static void test_sgx_gramine(void)
{
	printf("sgx: Gramine's /dev/attestation\n");
	size_t qlen;
	uint8_t *quote = tdrv_read("sgx/phala-dcap-qvl/sgx_quote", &qlen);
	if (!quote) {
		printf("skipped: no evidence dir (sgx quote)\n");
		return;
	}
	const char *dir = mkdir_tmp("attestation");
	put(dir, "attestation_type", "dcap", 4);
	put(dir, "user_report_data", "", 0);
	put(dir, "quote", quote, qlen);
	atoll_kv kv[] = { { "attestation_dir", dir } };
	struct loaded_driver ld = load("sgx", kv, 1);
	if (!ld.d)
		return;
	atoll_err err;
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
	/* The quote's own report data: what Gramine would have bound. */
	const uint8_t *qrd = quote + 48 + 320;
	atoll_evidence *ev = NULL;
	CHECK_INT(collect(&ld, qrd, &ev, &err), ATOLL_OK);
	if (ev) {
		CHECK(ev->len == qlen && memcmp(ev->data, quote, qlen) == 0);
		CHECK_INT(ev->n_collateral, 0);
		atoll_claims *c = NULL;
		CHECK_INT(verify(&ld, ev->data, ev->len, tdrv_time("2025-07-19T10:01:17Z"), qrd, &c),
			  ATOLL_OK);
		CHECK(c && c->report_data_len == 64 && memcmp(c->report_data, qrd, 64) == 0);
		plugin_driver_claims_free(&ld, c);
	}
	plugin_driver_evidence_free(&ld, ev);
	size_t n;
	char path[700];
	snprintf(path, sizeof path, "%s/user_report_data", dir);
	FILE *f = fopen(path, "rb");
	uint8_t got[80] = { 0 };
	n = f ? fread(got, 1, sizeof got, f) : 0;
	if (f)
		fclose(f);
	CHECK_INT(n, 64);
	CHECK(memcmp(got, qrd, 64) == 0);

	/* Another report data than the quote's: refused here, by name. */
	uint8_t rd[64];
	rd_fill(rd, 9);
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_E_BINDING);
	CHECK(strstr(err.msg, "does not carry the report data written to user_report_data"));
	CHECK(ev == NULL);
	/* Not a quote at all. */
	put(dir, "quote", "garbage", 7);
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_E_IO);
	/* Attestation types other than DCAP. */
	put(dir, "attestation_type", "epid", 4);
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_E_UNAVAILABLE);
	CHECK(strstr(err.msg, "'epid', not dcap") != NULL);
	put(dir, "attestation_type", "none\n", 5);
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_E_UNAVAILABLE);
	CHECK(strstr(err.msg, "sgx.remote_attestation = \"dcap\"") != NULL);
	plugin_unload_driver(&ld);
	free(quote);
}

/* ---- configfs-tsm ---- */

static void test_cca_tsm(void)
{
	printf("cca: configfs-tsm (arm_cca_guest)\n");
	const char *tsm = mkdir_tmp("tsm-cca");
	snprintf(fake_tsm, sizeof fake_tsm, "%s", tsm);
	EVP_PKEY *cpak = gen_ec_key("P-384"), *rak = gen_ec_key("P-384");
	size_t n;
	char *pem = gen_pubkey_pem(cpak, &n);
	const char *cpak_file = tdrv_write_tmp("cpak.pem", pem, n);
	free(pem);
	atoll_kv kv[] = { { "tsm_dir", tsm }, { "cpak_keys", cpak_file } };
	struct loaded_driver ld = load("cca", kv, 2);
	if (!ld.d)
		goto out;
	uint8_t rd[64];
	rd_fill(rd, 1);
	struct gen_cca_token t;
	gen_cca_token_defaults(&t, cpak, rak);
	memcpy(t.realm_challenge, rd, 64);
	size_t tlen;
	uint8_t *tok = gen_cca_token_make(&t, &tlen);
	fake_provider = "arm_cca_guest\n";
	fake_outblob = tok;
	fake_outblob_len = tlen;
	atoll_err err;
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
	atoll_evidence *ev = NULL;
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
	CHECK_INT(last_inblob_len, 64);
	CHECK(memcmp(last_inblob, rd, 64) == 0);
	CHECK_INT(entries_made, entries_removed);
	if (ev) {
		CHECK(ev->len == tlen && memcmp(ev->data, tok, tlen) == 0);
		atoll_claims *c = NULL;
		CHECK_INT(verify(&ld, ev->data, ev->len, 0, rd, &c), ATOLL_OK);
		CHECK(c && c->report_data_len == 64 && memcmp(c->report_data, rd, 64) == 0);
		plugin_driver_claims_free(&ld, c);
	}
	plugin_driver_evidence_free(&ld, ev);
	/* A token over another challenge. */
	uint8_t other[64];
	rd_fill(other, 77);
	CHECK_INT(collect(&ld, other, &ev, &err), ATOLL_E_BINDING);
	CHECK(strstr(err.msg, "does not carry the report data as its realm challenge"));
	/* Arm's real example token, served by the fake realm: its own
	 * challenge passes through, another one is refused. Arm's example
	 * CPAK is registered under the token's made-up instance id. */
	size_t rlen, plen;
	uint8_t *real = tdrv_read("cca/tf-m-tools/cca_example_token.cbor", &rlen);
	uint8_t *ppem = tdrv_read("cca/tf-m-tools/cca_platform.pem", &plen);
	if (real && ppem) {
		BIO *bio = BIO_new_mem_buf(ppem, (int)plen);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		char *pub = k ? gen_pubkey_pem(k, &n) : NULL;
		char entry[900];
		snprintf(entry, sizeof entry,
			 "0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918=%s",
			 pub ? tdrv_write_tmp("arm-cpak.pem", pub, n) : "");
		free(pub);
		EVP_PKEY_free(k);
		atoll_kv kr[] = { { "tsm_dir", tsm }, { "cpak_keys", entry } };
		struct loaded_driver lr = load("cca", kr, 2);
		atoll_claims *c = NULL;
		uint8_t challenge[64];
		CHECK_INT(lr.d ? verify(&lr, real, rlen, 0, NULL, &c) : -1, ATOLL_OK);
		if (c && c->report_data_len == 64) {
			memcpy(challenge, c->report_data, 64);
			fake_outblob = real;
			fake_outblob_len = rlen;
			CHECK_INT(collect(&lr, challenge, &ev, &err), ATOLL_OK);
			CHECK(ev && ev->len == rlen && memcmp(ev->data, real, rlen) == 0);
			plugin_driver_evidence_free(&lr, ev);
			CHECK_INT(collect(&lr, rd, &ev, &err), ATOLL_E_BINDING);
		}
		plugin_driver_claims_free(&lr, c);
		plugin_unload_driver(&lr);
	} else {
		printf("skipped: no evidence dir (cca token)\n");
	}
	free(real);
	free(ppem);
	fake_outblob = tok;
	fake_outblob_len = tlen;
	/* Another TEE's provider, and no interface at all. */
	fake_provider = "sev_guest\n";
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_E_UNAVAILABLE);
	CHECK(strstr(err.msg, "answers for 'sev_guest', not arm_cca_guest"));
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_E_UNAVAILABLE);
	CHECK_INT(entries_made, entries_removed);
	plugin_unload_driver(&ld);
	free(tok);
out:
	fake_tsm[0] = 0;
	EVP_PKEY_free(cpak);
	EVP_PKEY_free(rak);
}

static void test_snp_tsm(void)
{
	printf("sev_snp: configfs-tsm (sev_guest)\n");
	size_t len;
	uint8_t *report = tdrv_read("sev-snp/go-sev-guest/attestation.bin", &len);
	if (!report) {
		printf("skipped: no evidence dir (snp report)\n");
		return;
	}
	const char *tsm = mkdir_tmp("tsm-snp");
	snprintf(fake_tsm, sizeof fake_tsm, "%s", tsm);
	fake_provider = "sev_guest\n";
	fake_outblob = report;
	fake_outblob_len = len;
	atoll_kv kv[] = { { "tsm_dir", tsm }, { "device", "/nonexistent/sev-guest" } };
	struct loaded_driver ld = load("sev_snp", kv, 2);
	if (ld.d) {
		atoll_err err;
		uint8_t rd[64];
		rd_fill(rd, 5);
		CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
		atoll_evidence *ev = NULL;
		CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
		CHECK(ev && ev->len == len && memcmp(ev->data, report, len) == 0);
		CHECK_INT(last_inblob_len, 64);
		CHECK(memcmp(last_inblob, rd, 64) == 0);
		plugin_driver_evidence_free(&ld, ev);
		plugin_unload_driver(&ld);
	}
	CHECK_INT(entries_made, entries_removed);
	fake_tsm[0] = 0;
	free(report);
}

static void test_tdx_tsm(void)
{
	printf("tdx: configfs-tsm (tdx_guest)\n");
	size_t len;
	uint8_t *quote = tdrv_read("tdx/phala-dcap-qvl/tdx_quote", &len);
	if (!quote) {
		printf("skipped: no evidence dir (tdx quote)\n");
		return;
	}
	const char *tsm = mkdir_tmp("tsm-tdx");
	snprintf(fake_tsm, sizeof fake_tsm, "%s", tsm);
	put(tdrv_tmpdir(), "tdx_guest", "", 0);
	char dev[600];
	snprintf(dev, sizeof dev, "%s/tdx_guest", tdrv_tmpdir());
	fake_provider = "tdx_guest\n";
	fake_outblob = quote;
	fake_outblob_len = len;
	atoll_kv kv[] = { { "tsm_dir", tsm }, { "device", dev } };
	struct loaded_driver ld = load("tdx", kv, 2);
	if (ld.d) {
		atoll_err err;
		uint8_t rd[64];
		rd_fill(rd, 7);
		CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
		atoll_evidence *ev = NULL;
		CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
		CHECK(ev && ev->len == len && memcmp(ev->data, quote, len) == 0);
		CHECK_INT(last_inblob_len, 64);
		CHECK(memcmp(last_inblob, rd, 64) == 0);
		if (ev) {
			/* The quote from the fake is Phala's, genuine as of its
			 * collateral's time. */
			atoll_claims *c = NULL;
			CHECK_INT(verify(&ld, ev->data, ev->len, tdrv_time("2025-06-20T00:00:00Z"), NULL,
					 &c),
				  ATOLL_OK);
			plugin_driver_claims_free(&ld, c);
		}
		plugin_driver_evidence_free(&ld, ev);
		fake_provider = "arm_cca_guest\n";
		CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_E_UNAVAILABLE);
		CHECK(strstr(err.msg, "not tdx_guest") != NULL);
		plugin_unload_driver(&ld);
	}
	CHECK_INT(entries_made, entries_removed);
	fake_tsm[0] = 0;
	free(quote);
}

/* ---- NSM ---- */

static void test_nsm_encoding(void)
{
	printf("nitro: NSM request bytes and the raw ioctl\n");
	/* include/uapi/linux/nsm.h: two {u64 addr, u64 len} iovecs, and
	 * _IOWR(0x0A, 0, struct nsm_raw). */
	CHECK_INT(sizeof(struct nsm_raw), 32);
	CHECK_INT(offsetof(struct nsm_raw, response), 16);
	CHECK_INT(offsetof(struct nsm_raw, response.len), 24);
	CHECK_INT(NSM_IOCTL_RAW, 0xc0200a00ul);
	uint8_t rd[64], req[NSM_ATTESTATION_REQUEST_LEN + 8];
	rd_fill(rd, 0x40);
	CHECK_INT(nsm_attestation_request(rd, req), NSM_ATTESTATION_REQUEST_LEN);
	/* map(1) "Attestation" map(3) "user_data" null "nonce" bytes(64)
	 * ... "public_key" null */
	static const char head[] = "\xa1\x6b" "Attestation" "\xa3\x69" "user_data" "\xf6\x65" "nonce"
				   "\x58\x40";
	static const char tail[] = "\x6a" "public_key" "\xf6";
	CHECK(memcmp(req, head, sizeof head - 1) == 0);
	CHECK(memcmp(req + sizeof head - 1, rd, 64) == 0);
	CHECK(memcmp(req + sizeof head - 1 + 64, tail, sizeof tail - 1) == 0);
	CHECK_INT(sizeof head - 1 + 64 + sizeof tail - 1, NSM_ATTESTATION_REQUEST_LEN);

	/* Responses. */
	atoll_err err;
	cbor_item_t *item = NULL;
	const uint8_t *doc;
	size_t n;
	struct buf b = { 0 };
	cw_head(&b, 5, 1);
	cw_text(&b, "Attestation");
	cw_head(&b, 5, 1);
	cw_text(&b, "document");
	cw_bytes(&b, "\x84\x40\xa0\x40\x40", 5);
	CHECK_INT(nsm_attestation_response(b.data, b.len, &item, &doc, &n, &err), ATOLL_OK);
	CHECK(n == 5 && memcmp(doc, "\x84\x40\xa0\x40\x40", 5) == 0);
	if (item)
		cbor_decref(&item);
	buf_reset(&b);
	cw_head(&b, 5, 1);
	cw_text(&b, "Error");
	cw_text(&b, "InvalidNonce");
	CHECK_INT(nsm_attestation_response(b.data, b.len, &item, &doc, &n, &err), ATOLL_E_IO);
	CHECK_STR(err.msg, "NSM error InvalidNonce");
	buf_reset(&b);
	cw_head(&b, 5, 1);
	cw_text(&b, "Attestation");
	cw_head(&b, 5, 0);
	CHECK_INT(nsm_attestation_response(b.data, b.len, &item, &doc, &n, &err), ATOLL_E_IO);
	CHECK_STR(err.msg, "NSM response has no attestation document");
	CHECK_INT(nsm_attestation_response((const uint8_t *)"\xff", 1, &item, &doc, &n, &err),
		  ATOLL_E_IO);
	CHECK_INT(nsm_attestation_response((const uint8_t *)"\x01", 1, &item, &doc, &n, &err),
		  ATOLL_E_IO);
	buf_free(&b);
}

static void test_nitro_nsm(void)
{
	printf("nitro: /dev/nsm\n");
	int64_t now = time(NULL);
	gen_nitro_pki_make(&nitro_pki, now - 3600, now + 3600);
	snprintf(fake_nsm, sizeof fake_nsm, "%s/nsm", tdrv_tmpdir());
	put(tdrv_tmpdir(), "nsm", "", 0);
	atoll_kv kv[] = { { "device", fake_nsm }, { "root_fingerprints", nitro_pki.root_fp } };
	struct loaded_driver ld = load("nitro", kv, 2);
	if (!ld.d)
		goto out;
	atoll_err err;
	uint8_t rd[64], req[NSM_ATTESTATION_REQUEST_LEN];
	rd_fill(rd, 0x21);
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
	atoll_evidence *ev = NULL;
	/* A document signed over the request's nonce, verified by the
	 * driver's own verify(). */
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
	nsm_attestation_request(rd, req);
	CHECK(last_request_len == sizeof req && memcmp(last_request, req, sizeof req) == 0);
	if (ev) {
		atoll_claims *c = NULL;
		CHECK_INT(verify(&ld, ev->data, ev->len, now, rd, &c), ATOLL_OK);
		CHECK(c && c->report_data_len == 64 && memcmp(c->report_data, rd, 64) == 0);
		plugin_driver_claims_free(&ld, c);
	}
	plugin_driver_evidence_free(&ld, ev);
	/* A real document from AWS passes through byte for byte. */
	size_t dlen;
	uint8_t *real = tdrv_read_b64("nitro/blocky-nitrite/nitro_attestation.b64", &dlen);
	if (real) {
		nsm_doc = real;
		nsm_doc_len = dlen;
		CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
		CHECK(ev && ev->len == dlen && memcmp(ev->data, real, dlen) == 0);
		plugin_driver_evidence_free(&ld, ev);
		nsm_doc = NULL;
		free(real);
	} else {
		printf("skipped: no evidence dir (nitro document)\n");
	}
	nsm_error = "InvalidArgument";
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_E_IO);
	CHECK_STR(err.msg, "NSM error InvalidArgument");
	nsm_error = NULL;
	plugin_unload_driver(&ld);
out:
	fake_nsm[0] = 0;
	gen_nitro_pki_free(&nitro_pki);
}

/* ---- PSA token provider ---- */

static int psa_provider(const char *key_file, const char *hex)
{
	FILE *f = fopen(key_file, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	size_t n = 0;
	uint8_t *ch = tdrv_unhex(hex, &n);
	if (!k || !ch || n != 64)
		return 2;
	struct gen_psa_token t;
	gen_psa_token_defaults(&t, k);
	memcpy(t.nonce, ch, 64);
	t.nonce_len = 64;
	size_t plen, tlen;
	uint8_t *payload = gen_psa_claims(&t, &plen);
	uint8_t *tok = gen_cose_sign1(true, DC_COSE_ES256, payload, plen, k, false, &tlen);
	fwrite(tok, 1, tlen, stdout);
	free(tok);
	free(payload);
	free(ch);
	EVP_PKEY_free(k);
	return 0;
}

static const char *script(const char *name, const char *body)
{
	char text[2048];
	snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
	const char *p = tdrv_write_tmp(name, text, strlen(text));
	chmod(p, 0700);
	return p;
}

static void test_psa_provider(void)
{
	printf("psa: token provider program\n");
	EVP_PKEY *iak = gen_ec_key("P-256");
	size_t n;
	char *pem = gen_pubkey_pem(iak, &n);
	char iak_pub[600], iak_priv[600], self[600], body[1800];
	snprintf(iak_pub, sizeof iak_pub, "%s", tdrv_write_tmp("iak.pem", pem, n));
	free(pem);
	snprintf(iak_priv, sizeof iak_priv, "%s/iak.key", tdrv_tmpdir());
	FILE *f = fopen(iak_priv, "w");
	if (f) {
		PEM_write_PrivateKey(f, iak, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	self[sl > 0 ? sl : 0] = 0;
	snprintf(body, sizeof body, "echo \"$1\" > %s/challenge\nexec %s --psa-provider %s \"$1\"",
		 tdrv_tmpdir(), self, iak_priv);
	char provider[600];
	snprintf(provider, sizeof provider, "%s", script("provider.sh", body));
	atoll_kv kv[] = { { "token_command", provider }, { "iak_keys", iak_pub } };
	struct loaded_driver ld = load("psa", kv, 2);
	if (!ld.d)
		goto out;
	atoll_err err;
	uint8_t rd[64];
	rd_fill(rd, 0x33);
	CHECK_INT(plugin_driver_detect(&ld, &err), ATOLL_OK);
	atoll_evidence *ev = NULL;
	CHECK_INT(collect(&ld, rd, &ev, &err), ATOLL_OK);
	if (ev) {
		atoll_claims *c = NULL;
		CHECK_INT(verify(&ld, ev->data, ev->len, 0, rd, &c), ATOLL_OK);
		CHECK(c && c->report_data_len == 64 && memcmp(c->report_data, rd, 64) == 0);
		plugin_driver_claims_free(&ld, c);
	}
	plugin_driver_evidence_free(&ld, ev);
	char hex[129], path[700];
	for (int i = 0; i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", rd[i]);
	snprintf(path, sizeof path, "%s/challenge", tdrv_tmpdir());
	FILE *cf = fopen(path, "r");
	char got[200] = "";
	if (cf) {
		if (!fgets(got, sizeof got, cf))
			got[0] = 0;
		fclose(cf);
	}
	CHECK(strncmp(got, hex, 128) == 0);
	plugin_unload_driver(&ld);

	/* Providers that fail in each way. */
	struct {
		const char *name, *body, *want;
		int status;
	} cases[] = {
		{ "fails.sh", "echo oops >&2; exit 3", "exited with status 3", ATOLL_E_IO },
		{ "silent.sh", "exit 0", "wrote no token", ATOLL_E_IO },
		{ "slow.sh", "exec sleep 5", "no token within 300 ms", ATOLL_E_IO },
		{ "junk.sh", "echo not-a-token", "the provider's token", ATOLL_E_IO },
		/* A real TF-M token: genuine, but over another challenge. */
		{ "real.sh", "", "does not carry the report data as its challenge",
		  ATOLL_E_BINDING },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *b = cases[i].body;
		char cat[800];
		if (!b[0]) {
			if (!tdrv_evidence_dir()) {
				printf("skipped: no evidence dir (psa token)\n");
				continue;
			}
			snprintf(cat, sizeof cat, "exec cat %s/psa/veraison-psatoken/psa-2_0_0_sign1.bin",
				 tdrv_evidence_dir());
			b = cat;
		}
		const char *p = script(cases[i].name, b);
		atoll_kv kc[] = { { "token_command", p }, { "token_timeout_ms", "300" } };
		struct loaded_driver l2 = load("psa", kc, 2);
		if (!l2.d)
			continue;
		CHECK_INT(collect(&l2, rd, &ev, &err), cases[i].status);
		CHECK(strstr(err.msg, cases[i].want) != NULL);
		CHECK(ev == NULL);
		plugin_unload_driver(&l2);
	}
out:
	EVP_PKEY_free(iak);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--psa-provider") == 0)
		return psa_provider(argv[2], argv[3]);
	test_sgx_gramine();
	test_cca_tsm();
	test_snp_tsm();
	test_tdx_tsm();
	test_nsm_encoding();
	test_nitro_nsm();
	test_psa_provider();
	CHECK_DONE();
}
