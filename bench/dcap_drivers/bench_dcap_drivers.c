/* Verification throughput of the sgx and tdx drivers on one core, with and
 * without the verified-chain cache, with and without collateral, and the
 * cost of one ECDSA P-256 signature check measured alone, from which the
 * share of each verification spent in signature checks is estimated.
 *
 * Usage: bench_dcap_drivers [seconds per figure, default 1]
 * Each figure is the fastest of three rounds, which filters out time lost
 * to other processes on a shared machine.
 * Needs ATOLL_MODULE_DIR (defaults to the build's modules dir) and uses
 * the public samples of ATOLL_SHARED_DIR/evidence when present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "drv.h"
#include "gen.h"
#include "util/timeutil.h"

static double seconds = 1.0;
/* Each figure is the best of a few rounds: the machine may be shared. */
#define ROUNDS 3

struct input {
	const char *tee;
	const char *what;
	const uint8_t *q;
	size_t len;
	atoll_blob coll[16];
	size_t n_coll;
	int64_t t;
	const char *pin; /* NULL: the driver's default (Intel) */
	/* ECDSA verifications of a cold verification (chains, CRLs,
	 * collateral, QE report, quote); a warm cache leaves 2. */
	int cold_sigs;
};

/* Microseconds per call of fn(arg), the best of ROUNDS rounds of
 * seconds / ROUNDS each; fn runs batch times between clock reads. */
static double best_us(void (*fn)(void *arg), void *arg, int batch)
{
	double best = 1e30;

	for (int round = 0; round < ROUNDS; round++) {
		long iters = 0;
		int64_t t0 = time_mono_ns(), t1;
		do {
			for (int i = 0; i < batch; i++)
				fn(arg);
			iters += batch;
			t1 = time_mono_ns();
		} while (t1 - t0 < (int64_t)(seconds / ROUNDS * 1e9));
		double us = (double)(t1 - t0) / 1e3 / (double)iters;
		if (us < best)
			best = us;
	}
	return best;
}

struct sig_case {
	uint8_t msg[632], sig[64], xy[64];
};

static void sig_once(void *arg)
{
	const struct sig_case *s = arg;
	EVP_PKEY *pk = dcap_p256_from_raw(s->xy);

	if (!pk || dcap_ecdsa_verify(pk, s->msg, sizeof(s->msg), s->sig) != 1) {
		fprintf(stderr, "signature check failed\n");
		exit(1);
	}
	EVP_PKEY_free(pk);
}

/* Per-call cost of one signature check as the driver does it: import the
 * raw key, verify a raw r||s signature over a message of quote size. */
static double sig_us(void)
{
	EVP_PKEY *k = gen_key();
	struct sig_case s;
	uint8_t pt[65];
	size_t n = 0;
	double us;

	memset(s.msg, 0x5a, sizeof(s.msg));
	gen_sign_raw(k, s.msg, sizeof(s.msg), s.sig);
	EVP_PKEY_get_octet_string_param(k, "pub", pt, sizeof(pt), &n);
	memcpy(s.xy, pt + 1, 64);
	us = best_us(sig_once, &s, 20);
	EVP_PKEY_free(k);
	return us;
}

struct verify_case {
	struct drv *d;
	const struct input *in;
	const atoll_blob *b;
	size_t nb;
};

static void verify_once(void *arg)
{
	const struct verify_case *v = arg;
	atoll_err err;

	drv_verify(v->d, v->in->q, v->in->len, v->b, v->nb, v->in->t, NULL, 0,
		   NULL, &err);
}

static double verify_us(struct drv *d, const struct input *in, bool coll)
{
	struct verify_case v = { d, in, coll ? in->coll : NULL,
				 coll ? in->n_coll : 0 };
	atoll_err err;

	/* Warm up (fills the caches when they are on). */
	if (drv_verify(d, in->q, in->len, v.b, v.nb, in->t, NULL, 0, NULL,
		       &err) != ATOLL_OK) {
		fprintf(stderr, "%s %s: %s\n", in->tee, in->what, err.msg);
		exit(1);
	}
	return best_us(verify_once, &v, 5);
}

static void run(const struct input *in, double sig)
{
	for (int coll = 0; coll < 2; coll++) {
		if (coll && in->n_coll == 0)
			continue;
		for (int cache = 1; cache >= 0; cache--) {
			atoll_kv cfg[2];
			size_t n = 0;
			struct drv d;
			atoll_err err;
			if (in->pin)
				cfg[n++] = (atoll_kv){ "root_fingerprint", in->pin };
			cfg[n++] = (atoll_kv){ "chain_cache",
					       cache ? "true" : "false" };
			if (drv_open(&d, in->tee, cfg, n, &err) != ATOLL_OK) {
				fprintf(stderr, "%s\n", err.msg);
				exit(1);
			}
			double us = verify_us(&d, in, coll);
			int sigs = cache ? 2 : (coll ? in->cold_sigs : 4);
			printf("%-4s %-28s %-10s %-5s %9.0f %9.1f %6d %8.0f%%\n",
			       in->tee, in->what, coll ? "yes" : "none",
			       cache ? "on" : "off", 1e6 / us, us, sigs,
			       100.0 * sigs * sig / us);
			drv_close(&d);
		}
	}
}

static void generated(const char *tee, int version, double sig)
{
	struct gen_pki p;
	struct gen_quote_opts o;
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;
	struct gen_collateral c;
	struct input in = { .tee = tee, .t = GEN_T0, .cold_sigs = 12 };
	uint8_t *q;
	char what[64];
	bool tdx = strcmp(tee, "tdx") == 0;

	if (gen_pki_init(&p, NULL, NULL) < 0)
		exit(1);
	gen_quote_defaults(&o, version, tdx ? 0x81 : 0, 0);
	if (gen_quote(&p, &o, &q, &in.len, NULL) < 0)
		exit(1);
	gen_tcb_info_defaults(&ti, tdx);
	gen_qe_identity_defaults(&qi, tdx);
	if (gen_collateral(&p, &ti, &qi, &c) < 0)
		exit(1);
	for (size_t i = 0; i < c.n; i++)
		in.coll[i] = (atoll_blob){ c.data[i], c.len[i] };
	in.n_coll = c.n;
	in.q = q;
	in.pin = p.root_fp_hex;
	snprintf(what, sizeof(what), "generated v%d", version);
	in.what = what;
	run(&in, sig);
	gen_collateral_free(&c);
	free(q);
	gen_pki_free(&p);
}

static void sample(const char *ev, const char *tee, const char *what,
		   const char *quote, const char *coll, const char *when,
		   double sig)
{
	char path[1024];
	size_t len, clen;
	struct input in = { .tee = tee, .what = what, .t = ts(when),
			    .cold_sigs = 12 };

	snprintf(path, sizeof(path), "%s/%s", ev, quote);
	uint8_t *q = file_read(path, &len, false);
	snprintf(path, sizeof(path), "%s/%s", ev, coll);
	uint8_t *c = file_read(path, &clen, false);
	if (!q || !c) {
		free(q);
		free(c);
		return;
	}
	in.q = q;
	in.len = len;
	in.coll[0] = (atoll_blob){ c, clen };
	in.n_coll = 1;
	run(&in, sig);
	free(q);
	free(c);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0)
		seconds = 1.0;
#ifdef ATOLL_BENCH_MODULE_DIR
	setenv("ATOLL_MODULE_DIR", ATOLL_BENCH_MODULE_DIR, 0);
#endif
	double sig = sig_us();
	printf("ECDSA P-256 signature check (raw key import + verify): %.0f ops/s, %.1f us\n\n",
	       1e6 / sig, sig);
	printf("%-4s %-28s %-10s %-5s %9s %9s %6s %9s\n", "tee", "evidence",
	       "collateral", "cache", "verifs/s", "us/verif", "sigs",
	       "sig share");
	generated("sgx", 3, sig);
	generated("tdx", 4, sig);
	generated("tdx", 5, sig);
	const char *ev = evidence_dir();
	if (ev) {
		sample(ev, "sgx", "phala sgx_quote (real)",
		       "sgx/phala-dcap-qvl/sgx_quote",
		       "sgx/phala-dcap-qvl/sgx_quote_collateral.json",
		       "2025-07-19T10:01:17Z", sig);
		sample(ev, "tdx", "phala tdx_quote (real)",
		       "tdx/phala-dcap-qvl/tdx_quote",
		       "tdx/phala-dcap-qvl/tdx_quote_collateral.json",
		       "2025-06-20T00:00:00Z", sig);
	}
	printf("\nsigs: ECDSA checks per verification (a warm cache leaves the QE report and\n"
	       "quote signatures); sig share = sigs x single-check time / verification time.\n");
	return 0;
}
