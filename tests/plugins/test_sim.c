/* Tests of the sim TEE driver loaded through the plugin loader, and of the
 * simtool provisioning functions: a CA and island keys made in a temporary
 * folder, reports collected on an island-side instance and verified on a
 * verifier-side one, then every way a report can be wrong. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "check.h"
#include "plugin/plugin.h"
#include "report.h"
#include "simtool.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static char tmp[256];
static char sim_path[1024];

static const char *in_tmp(const char *rel)
{
	static char slots[8][512];
	static int next;
	char *p = slots[next++ % 8];

	snprintf(p, sizeof(slots[0]), "%s/%s", tmp, rel);
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void rm_tmp(void)
{
	if (tmp[0])
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Load sim.so with alternating key, value strings ending in NULL. */
static int load(struct loaded_driver *ld, char *err, size_t err_size, ...)
{
	atoll_kv kv[16];
	size_t n = 0;
	va_list ap;
	const char *k;

	va_start(ap, err_size);
	while ((k = va_arg(ap, const char *)) && n < 16) {
		kv[n].key = k;
		kv[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	err[0] = '\0';
	return plugin_load_driver(sim_path, "sim", kv, n, NULL, 0, ld, err,
				  err_size);
}

/* The init message sim.so gives for a config, through the loader. */
static const char *init_error(const char *k1, const char *v1, const char *k2,
			      const char *v2, const char *k3, const char *v3)
{
	static char err[1024];
	static char msg[2048];
	struct loaded_driver ld = { 0 };
	int rc = load(&ld, err, sizeof(err), k1, v1, k2, v2, k3, v3, NULL);
	const char *prefix;

	if (rc == 0) {
		plugin_unload_driver(&ld);
		return "(loaded)";
	}
	snprintf(msg, sizeof(msg), "driver 'sim' in [%s]: init failed: ",
		 sim_path);
	prefix = msg;
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		return err;
	return err + strlen(prefix);
}

struct island {
	char key[512], cert[512];
};

static void make_island(const char *ca_dir, const char *name,
			struct island *out)
{
	char err[256] = "";
	int rc = simtool_make_island_key(ca_dir, name, 30, tmp, err,
					 sizeof(err));

	if (rc != 0)
		fprintf(stderr, "make_island %s: %s\n", name, err);
	CHECK_INT(rc, 0);
	snprintf(out->key, sizeof(out->key), "%s/%s.key", tmp, name);
	snprintf(out->cert, sizeof(out->cert), "%s/%s.pem", tmp, name);
}

static int64_t get_i64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

static int verify(const struct loaded_driver *v, const uint8_t *ev, size_t len,
		  const uint8_t *expect_rd, size_t expect_len, int64_t when,
		  atoll_claims **ret, atoll_err *e)
{
	atoll_verify_args a = {
		.struct_size = sizeof(a),
		.evidence = ev,
		.evidence_len = len,
		.expected_report_data = expect_rd,
		.expected_report_data_len = expect_len,
		.verify_time = when,
	};
	atoll_claims *c = NULL;
	int rc;

	e->msg[0] = '\0';
	rc = plugin_driver_verify(v, &a, &c, e);
	if (ret)
		*ret = c;
	else
		plugin_driver_claims_free(v, c);
	return rc;
}

static const atoll_claim *extra(const atoll_claims *c, const char *name)
{
	for (size_t i = 0; i < c->n_extra; i++)
		if (strcmp(c->extra[i].name, name) == 0)
			return &c->extra[i];
	return NULL;
}

static void spki_sha256_of(const char *cert_path, uint8_t out[32])
{
	FILE *f = fopen(cert_path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = x ? i2d_PUBKEY(X509_get0_pubkey(x), &der) : -1;

	memset(out, 0, 32);
	CHECK(len > 0);
	if (len > 0)
		SHA256(der, (size_t)len, out);
	OPENSSL_free(der);
	X509_free(x);
	if (f)
		fclose(f);
}

static void test_simtool(void)
{
	char err[256] = "", hex[SIMTOOL_MEASUREMENT_HEX];
	struct stat st;
	struct island isl;

	CHECK_INT(simtool_make_ca(in_tmp("ca"), "Atoll test CA", 30, err,
				  sizeof(err)), 0);
	CHECK(stat(in_tmp("ca/sim-ca.key"), &st) == 0 &&
	      (st.st_mode & 0777) == 0600);
	CHECK(stat(in_tmp("ca/sim-ca.pem"), &st) == 0);
	CHECK(stat(in_tmp("ca"), &st) == 0 && (st.st_mode & 0777) == 0700);
	/* An existing CA is never overwritten. */
	CHECK_INT(simtool_make_ca(in_tmp("ca"), "again", 30, err, sizeof(err)),
		  -EEXIST);
	CHECK(strstr(err, "already exists") != NULL);
	CHECK_INT(simtool_make_ca(in_tmp("ca3"), "x", 0, err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(simtool_make_ca(in_tmp("ca3"), "x", SIMTOOL_MAX_DAYS + 1, err,
				  sizeof(err)), -EINVAL);
	CHECK_INT(simtool_make_ca(in_tmp("ca3"), "", 30, err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(simtool_make_ca(in_tmp("ca2"), "Other CA", 30, err,
				  sizeof(err)), 0);

	make_island(in_tmp("ca"), "island-1", &isl);
	CHECK(stat(isl.key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(isl.cert, &st) == 0);
	CHECK_INT(simtool_make_island_key(in_tmp("ca"), "island-1", 30, tmp,
					  err, sizeof(err)), -EEXIST);
	/* The name becomes a file name: no path tricks. */
	CHECK_INT(simtool_make_island_key(in_tmp("ca"), "../evil", 30, tmp, err,
					  sizeof(err)), -EINVAL);
	CHECK_INT(simtool_make_island_key(in_tmp("ca"), ".hidden", 30, tmp, err,
					  sizeof(err)), -EINVAL);
	CHECK_INT(simtool_make_island_key(in_tmp("none"), "x", 30, tmp, err,
					  sizeof(err)), -ENOENT);
	CHECK(strstr(err, "sim-ca.pem") != NULL);

	/* SHA-384("abc"), FIPS 180-2 appendix D. */
	CHECK_INT(fs_write_atomic(in_tmp("abc"), "abc", 3, 0644), 0);
	CHECK_INT(simtool_measure(in_tmp("abc"), hex, err, sizeof(err)), 0);
	CHECK_STR(hex, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
		       "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	CHECK_INT(simtool_measure(in_tmp("missing"), hex, err, sizeof(err)),
		  -ENOENT);
}

struct fixture {
	struct island isl, other;
	struct loaded_driver island, verifier;
	uint8_t rd[64];
	atoll_evidence *ev;
};

static void test_roundtrip(struct fixture *f)
{
	uint8_t self_hash[48], signer[32];
	atoll_claims *c = NULL;
	const atoll_claim *x;
	atoll_err e = { "" };
	int64_t issued_ms, expires_ms;
	int64_t now = (int64_t)(time_now_ms() / 1000);

	CHECK_INT(plugin_driver_detect(&f->island, &e), ATOLL_OK);
	CHECK_INT(plugin_driver_detect(&f->verifier, &e),
		  ATOLL_E_UNAVAILABLE);
	CHECK_STR(e.msg, "key_file and cert_file are not configured");

	for (int i = 0; i < 64; i++)
		f->rd[i] = (uint8_t)(0xc0 ^ i);
	CHECK_INT(plugin_driver_collect(&f->island, f->rd, &f->ev, &e),
		  ATOLL_OK);
	if (!f->ev)
		return;
	CHECK(f->ev->struct_size >= sizeof(atoll_evidence));
	CHECK_INT(f->ev->n_collateral, 0);
	CHECK(f->ev->len > SIM_HEADER_LEN + SIM_SIG_LEN);
	CHECK(memcmp(f->ev->data, "ATOLLSIM", 8) == 0);
	CHECK_INT(f->ev->data[SIM_OFF_VERSION], 1);
	CHECK_INT(f->ev->data[SIM_OFF_FLAGS], 0);
	issued_ms = get_i64(f->ev->data + SIM_OFF_ISSUED_AT);
	expires_ms = get_i64(f->ev->data + SIM_OFF_EXPIRES_AT);
	CHECK_INT(expires_ms - issued_ms, 60 * 1000);
	CHECK(issued_ms / 1000 >= now - 1 && issued_ms / 1000 <= now + 5);

	CHECK_INT(verify(&f->verifier, f->ev->data, f->ev->len, f->rd, 64,
			 issued_ms / 1000, &c, &e), ATOLL_OK);
	if (e.msg[0])
		fprintf(stderr, "verify: %s\n", e.msg);
	if (!c)
		return;
	CHECK(c->struct_size >= sizeof(atoll_claims));
	CHECK_STR(c->tee_type, "sim");
	/* The measurement is the program that collects: this one. */
	CHECK(simtool_measure_raw("/proc/self/exe", self_hash) == 0);
	CHECK_INT(c->measurement_len, 48);
	CHECK(c->measurement && memcmp(c->measurement, self_hash, 48) == 0);
	spki_sha256_of(f->isl.cert, signer);
	CHECK_INT(c->signer_len, 32);
	CHECK(c->signer && memcmp(c->signer, signer, 32) == 0);
	CHECK_INT(c->debug, 0);
	CHECK_INT(c->svn, 7);
	CHECK_INT(c->tcb, 0);
	CHECK(c->tcb_status == NULL);
	CHECK_INT(c->report_data_len, 64);
	CHECK(c->report_data && memcmp(c->report_data, f->rd, 64) == 0);
	CHECK_INT(c->issued_at, issued_ms / 1000);
	CHECK_INT(c->not_before, issued_ms / 1000);
	CHECK_INT(c->not_after, expires_ms / 1000);
	x = extra(c, "island_cert_subject");
	CHECK(x && x->type == ATOLL_CLAIM_STRING);
	if (x)
		CHECK_STR((const char *)x->bytes, "CN=island-1");
	x = extra(c, "svn");
	CHECK(x && x->type == ATOLL_CLAIM_UINT && x->u64 == 7);
	plugin_driver_claims_free(&f->verifier, c);

	/* Without an expected value the driver leaves binding to the core. */
	CHECK_INT(verify(&f->verifier, f->ev->data, f->ev->len, NULL, 0,
			 issued_ms / 1000, NULL, &e), ATOLL_OK);
	/* The island-side instance has no CA and cannot verify. */
	CHECK_INT(verify(&f->island, f->ev->data, f->ev->len, NULL, 0,
			 issued_ms / 1000, NULL, &e), ATOLL_E_CONFIG);
	CHECK_STR(e.msg, "no ca_file configured: this instance cannot verify");
}

static void test_binding_and_time(struct fixture *f)
{
	const uint8_t *ev = f->ev->data;
	size_t len = f->ev->len;
	int64_t issued = get_i64(ev + SIM_OFF_ISSUED_AT) / 1000;
	int64_t expires = get_i64(ev + SIM_OFF_EXPIRES_AT) / 1000;
	uint8_t wrong[64];
	atoll_err e = { "" };

	memcpy(wrong, f->rd, 64);
	wrong[63] ^= 1;
	CHECK_INT(verify(&f->verifier, ev, len, wrong, 64, issued, NULL, &e),
		  ATOLL_E_BINDING);
	CHECK_STR(e.msg, "report data does not match the expected value");
	CHECK_INT(verify(&f->verifier, ev, len, f->rd, 32, issued, NULL, &e),
		  ATOLL_E_BINDING);

	/* The window is inclusive at both ends, in whole seconds. */
	CHECK_INT(verify(&f->verifier, ev, len, NULL, 0, expires, NULL, &e),
		  ATOLL_OK);
	CHECK_INT(verify(&f->verifier, ev, len, NULL, 0, expires + 1, NULL, &e),
		  ATOLL_E_EXPIRED);
	CHECK(strncmp(e.msg, "report expired at ", 18) == 0);
	CHECK_INT(verify(&f->verifier, ev, len, NULL, 0, issued - 1, NULL, &e),
		  ATOLL_E_EXPIRED);
	CHECK(strncmp(e.msg, "report issued at ", 17) == 0);
	/* Past the certificates' 30 days: the chain has expired. */
	CHECK_INT(verify(&f->verifier, ev, len, NULL, 0, issued + 40 * 86400,
			 NULL, &e), ATOLL_E_EXPIRED);
	CHECK(strstr(e.msg, "island certificate: certificate ") == e.msg);
	CHECK(strstr(e.msg, " expired at ") != NULL);
}

static void test_tampering(struct fixture *f)
{
	size_t len = f->ev->len;
	int64_t when = get_i64(f->ev->data + SIM_OFF_ISSUED_AT) / 1000;
	uint8_t *m = malloc(len + 1);
	atoll_err e = { "" };
	int bad_sig = 0, bad_fmt = 0, not_ok = 0;

	if (!m)
		return;
	/* Every truncation, and one byte too many, is a format error. */
	for (size_t n = 0; n < len; n++) {
		memcpy(m, f->ev->data, n);
		if (verify(&f->verifier, n ? m : NULL, n, NULL, 0, when, NULL,
			   &e) != ATOLL_E_FORMAT)
			bad_fmt++;
	}
	CHECK_INT(bad_fmt, 0);
	memcpy(m, f->ev->data, len);
	m[len] = 0;
	CHECK_INT(verify(&f->verifier, m, len + 1, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);

	/* Every signed field after the header bytes, the debug flag and every
	 * signature byte: the signature no longer verifies. */
	for (size_t i = 0; i < len; i++) {
		bool signed_field = i >= SIM_OFF_SVN && i < SIM_OFF_CERT_LEN;
		bool sig = i >= len - SIM_SIG_LEN;
		int rc;

		memcpy(m, f->ev->data, len);
		m[i] ^= 0x01;
		rc = verify(&f->verifier, m, len, NULL, 0, when, NULL, &e);
		if ((signed_field || sig || i == SIM_OFF_FLAGS) &&
		    rc != ATOLL_E_SIGNATURE) {
			fprintf(stderr, "byte %zu: %s (%s)\n", i,
				atoll_status_name(rc), e.msg);
			bad_sig++;
		}
		if (rc == ATOLL_OK)
			not_ok++;
	}
	CHECK_INT(bad_sig, 0);
	CHECK_INT(not_ok, 0);

	/* Structural fields are refused before any crypto. */
	memcpy(m, f->ev->data, len);
	m[0] = 'X';
	CHECK_INT(verify(&f->verifier, m, len, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);
	CHECK_STR(e.msg, "not a sim report (bad magic)");
	memcpy(m, f->ev->data, len);
	m[SIM_OFF_VERSION] = 2;
	CHECK_INT(verify(&f->verifier, m, len, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);
	CHECK_STR(e.msg, "report version 2, this driver reads 1");
	memcpy(m, f->ev->data, len);
	m[SIM_OFF_FLAGS] |= 0x02;
	CHECK_INT(verify(&f->verifier, m, len, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);
	memcpy(m, f->ev->data, len);
	m[SIM_OFF_CERT_LEN + 1] ^= 0x01;
	CHECK_INT(verify(&f->verifier, m, len, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);
	memcpy(m, f->ev->data, len);
	m[SIM_OFF_CERT_LEN + 3] = 0x80;
	CHECK_INT(verify(&f->verifier, m, len, NULL, 0, when, NULL, &e),
		  ATOLL_E_FORMAT);
	free(m);

	/* Bad arguments. */
	{
		atoll_verify_args a = { .struct_size = 8 };
		atoll_claims *c = NULL;

		CHECK_INT(plugin_driver_verify(&f->verifier, &a, &c, &e),
			  ATOLL_E_INVALID_ARGUMENT);
		CHECK_INT(plugin_driver_collect(&f->island, NULL, &f->ev, &e),
			  ATOLL_E_INVALID_ARGUMENT);
	}
}

static void test_other_ca(struct fixture *f)
{
	struct loaded_driver other = { 0 };
	atoll_evidence *ev = NULL;
	char err[1024];
	atoll_err e = { "" };

	make_island(in_tmp("ca2"), "island-2", &f->other);
	CHECK_INT(load(&other, err, sizeof(err), "key_file", f->other.key,
		       "cert_file", f->other.cert, NULL), 0);
	if (!other.d)
		return;
	CHECK_INT(plugin_driver_collect(&other, f->rd, &ev, &e), ATOLL_OK);
	if (ev) {
		CHECK_INT(verify(&f->verifier, ev->data, ev->len, f->rd, 64,
				 get_i64(ev->data + SIM_OFF_ISSUED_AT) / 1000,
				 NULL, &e), ATOLL_E_CHAIN);
		CHECK(strstr(e.msg, "island certificate: ") == e.msg);
		/* Default island settings: svn 1, ttl 600 s. */
		CHECK_INT(ev->data[SIM_OFF_SVN], 1);
		CHECK_INT(get_i64(ev->data + SIM_OFF_EXPIRES_AT) -
			  get_i64(ev->data + SIM_OFF_ISSUED_AT), 600 * 1000);
	}
	plugin_driver_evidence_free(&other, ev);
	plugin_driver_evidence_free(&other, NULL);
	plugin_driver_claims_free(&other, NULL);
	plugin_unload_driver(&other);
}

static void test_debug_and_default_measure(struct fixture *f)
{
	struct loaded_driver both = { 0 };
	atoll_evidence *ev = NULL;
	atoll_claims *c = NULL;
	uint8_t self[48];
	char err[1024];
	atoll_err e = { "" };

	/* One instance with both sides verifies its own reports. The
	 * measurement defaults to this very program. */
	CHECK_INT(load(&both, err, sizeof(err), "key_file", f->isl.key,
		       "cert_file", f->isl.cert, "ca_file",
		       in_tmp("ca/sim-ca.pem"), "debug", "true", NULL), 0);
	if (!both.d)
		return;
	CHECK_INT(plugin_driver_collect(&both, f->rd, &ev, &e), ATOLL_OK);
	if (ev) {
		CHECK_INT(ev->data[SIM_OFF_FLAGS], SIM_FLAG_DEBUG);
		CHECK_INT(verify(&both, ev->data, ev->len, f->rd, 64,
				 get_i64(ev->data + SIM_OFF_ISSUED_AT) / 1000,
				 &c, &e), ATOLL_OK);
	}
	if (c) {
		CHECK_INT(c->debug, 1);
		CHECK_INT(simtool_measure_raw("/proc/self/exe", self), 0);
		CHECK(memcmp(c->measurement, self, 48) == 0);
		plugin_driver_claims_free(&both, c);
	}
	plugin_driver_evidence_free(&both, ev);
	plugin_unload_driver(&both);
}

static void test_config(struct fixture *f)
{
	const char *k = f->isl.key, *ce = f->isl.cert;
	struct loaded_driver ld = { 0 };
	atoll_evidence *ev = NULL;
	char err[4096], want[4096];
	atoll_err e = { "" };

	CHECK_STR(init_error("bogus", "1", NULL, NULL, NULL, NULL),
		  "unknown key 'bogus'");
	CHECK_STR(init_error(NULL, NULL, NULL, NULL, NULL, NULL),
		  "configure ca_file (verifier side), key_file and cert_file "
		  "(island side), or both");
	CHECK_STR(init_error("key_file", k, NULL, NULL, NULL, NULL),
		  "key_file needs cert_file");
	CHECK_STR(init_error("cert_file", ce, NULL, NULL, NULL, NULL),
		  "cert_file needs key_file");
	CHECK_STR(init_error("ca_file", "/nonexistent/ca.pem", NULL, NULL, NULL,
			     NULL),
		  "ca_file: cannot open /nonexistent/ca.pem: No such file or "
		  "directory");
	/* A private key where the CA certificate should be. */
	CHECK(strncmp(init_error("ca_file", k, NULL, NULL, NULL, NULL),
		      "ca_file: ", 9) == 0);
	CHECK_STR(init_error("ca_file", in_tmp("ca/sim-ca.pem"), "debug", "1",
			     NULL, NULL),
		  "debug is an island setting; it needs key_file and cert_file");
	CHECK_STR(init_error("ca_file", in_tmp("ca/sim-ca.pem"), "ca_file",
			     in_tmp("ca/sim-ca.pem"), NULL, NULL),
		  "key 'ca_file' given twice");
	CHECK_STR(init_error("key_file", k, "cert_file", ce, "debug", "maybe"),
		  "debug: 'maybe' is not true or false");
	CHECK_STR(init_error("key_file", k, "cert_file", ce, "svn", "-1"),
		  "svn: '-1' is not an integer in 0..4294967295");
	CHECK_STR(init_error("key_file", k, "cert_file", ce, "svn",
			     "4294967296"),
		  "svn: '4294967296' is not an integer in 0..4294967295");
	CHECK_STR(init_error("key_file", k, "cert_file", ce, "report_ttl", "0"),
		  "report_ttl: '0' is not a number of seconds in 1..31536000");
	/* The host may not choose what is measured. */
	CHECK_STR(init_error("key_file", k, "cert_file", ce, "measure_file",
			     in_tmp("abc")), "unknown key 'measure_file'");
	/* Key and certificate that do not belong together. */
	snprintf(want, sizeof(want), "cert_file: %s does not certify the key "
		 "in %s", f->other.cert, k);
	CHECK_STR(init_error("key_file", k, "cert_file", f->other.cert, NULL,
			     NULL), want);
	snprintf(want, sizeof(want), "key_file: %s is not an unencrypted PEM "
		 "private key", ce);
	CHECK_STR(init_error("key_file", ce, "cert_file", ce, NULL, NULL), want);

	/* Unreadable island files load, but detect and collect say why. */
	CHECK_INT(load(&ld, err, sizeof(err), "key_file", in_tmp("nokey.key"),
		       "cert_file", ce, NULL), 0);
	if (!ld.d)
		return;
	snprintf(want, sizeof(want), "key_file: cannot read %s: No such file "
		 "or directory", in_tmp("nokey.key"));
	CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_E_UNAVAILABLE);
	CHECK_STR(e.msg, want);
	CHECK_INT(plugin_driver_collect(&ld, f->rd, &ev, &e), ATOLL_E_UNAVAILABLE);
	CHECK(ev == NULL);
	CHECK_STR(e.msg, want);
	plugin_unload_driver(&ld);
}

struct verify_job {
	struct fixture *f;
	int failures;
};

static void *verify_many(void *arg)
{
	struct verify_job *j = arg;
	int64_t when = get_i64(j->f->ev->data + SIM_OFF_ISSUED_AT) / 1000;
	atoll_err e;

	for (int i = 0; i < 50; i++) {
		atoll_claims *c = NULL;

		if (verify(&j->f->verifier, j->f->ev->data, j->f->ev->len,
			   j->f->rd, 64, when, &c, &e) != ATOLL_OK ||
		    memcmp(c->report_data, j->f->rd, 64) != 0)
			j->failures++;
		plugin_driver_claims_free(&j->f->verifier, c);
	}
	return NULL;
}

static void test_threads(struct fixture *f)
{
	pthread_t t[4];
	struct verify_job jobs[4];

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct verify_job){ f, 0 };
		CHECK(pthread_create(&t[i], NULL, verify_many, &jobs[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(jobs[i].failures, 0);
	}
}

int main(void)
{
	const char *mods = getenv("ATOLL_MODULE_DIR");
	const char *base = getenv("TMPDIR");
	struct fixture f = { 0 };
	char err[1024];

	if (!mods) {
		printf("skipped: ATOLL_MODULE_DIR is not set\n");
		return 0;
	}
	snprintf(sim_path, sizeof(sim_path), "%s/sim.so", mods);
	snprintf(tmp, sizeof(tmp), "%s/atoll-sim-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmp);

	test_simtool();
	make_island(in_tmp("ca2"), "stranger", &f.other);
	f.isl = (struct island){ "", "" };
	snprintf(f.isl.key, sizeof(f.isl.key), "%s", in_tmp("island-1.key"));
	snprintf(f.isl.cert, sizeof(f.isl.cert), "%s", in_tmp("island-1.pem"));

	CHECK_INT(load(&f.island, err, sizeof(err), "key_file", f.isl.key,
		       "cert_file", f.isl.cert, "svn", "7", "report_ttl", "60", NULL), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	CHECK_INT(load(&f.verifier, err, sizeof(err), "ca_file",
		       in_tmp("ca/sim-ca.pem"), NULL), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	if (!f.island.d || !f.verifier.d)
		CHECK_DONE();

	test_roundtrip(&f);
	if (f.ev) {
		test_binding_and_time(&f);
		test_tampering(&f);
		test_threads(&f);
	}
	test_config(&f);
	test_other_ca(&f);
	test_debug_and_default_measure(&f);

	plugin_driver_evidence_free(&f.island, f.ev);
	plugin_unload_driver(&f.island);
	plugin_unload_driver(&f.verifier);
	CHECK_DONE();
}
