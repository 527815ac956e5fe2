/* Benchmark of the sev_snp, nitro and psa verifier drivers on one thread:
 * verifications per second through the driver ABI with both caches (parsed
 * certificates and verified chains), with the chain cache off, and with
 * neither; the rate of the signature checks alone; and, measured in the
 * same run by running the openssl binary, `openssl speed -seconds 3
 * ecdsap384` and the ratio of the cached SEV-SNP and Nitro rates to its
 * P-384 verify rate. openssl speed divides by the CPU time it used, so the
 * rates here are per CPU second of this process too (the wall-clock rate
 * is printed beside them: on a shared machine the two differ by the load).
 * Uses the real samples from $ATOLL_SHARED_DIR/evidence when present,
 * generated evidence otherwise.
 *
 * Usage: bench_tee_drivers [seconds per figure, default 2] [tee ...]
 *        [--no-openssl] [--profile]. Naming TEEs (sev_snp, nitro, psa)
 *        runs only those; --no-openssl skips openssl speed; --profile
 *        runs only the default configuration's verify loop (for perf). The
 *        openssl binary is $ATOLL_OPENSSL, else openssl from PATH. Prints
 *        figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dc_cose.h"
#include "dc_x509.h"
#include "gen.h"
#include "tdrv.h"
#include "util/timeutil.h"

static double seconds = 2.0;
/* --profile: only the default configuration's verify loop, for perf. */
static bool profile_only;

struct workload {
	const char *tee;
	const char *source;
	uint8_t *ev;
	size_t ev_len;
	atoll_blob col[4];
	size_t n_col;
	int64_t when;
	const char *cfg_key, *cfg_val;
	/* Signature checks of one verification, for the sig-only rate. */
	int (*sig_once)(struct workload *w, bool with_chain);
	EVP_PKEY *key;
	STACK_OF(X509) *links; /* child, issuer, child, issuer, ... */
	struct dc_cose_sign1 cose;
};

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct rate {
	double cpu;  /* calls per CPU second of this process */
	double wall; /* calls per second of wall-clock time */
};

/* Calls per second of fn over about `seconds` of CPU time. */
static struct rate rate(int (*fn)(void *), void *arg)
{
	int64_t w0 = time_mono_ns(), c0 = cpu_ns(), c;
	struct rate r;
	long n = 0;

	do {
		if (fn(arg) != 0) {
			fprintf(stderr, "benchmark step failed\n");
			exit(1);
		}
		n++;
		c = cpu_ns();
	} while (c - c0 < (int64_t)(seconds * 1e9));
	r.cpu = (double)n * 1e9 / (double)(c - c0);
	r.wall = (double)n * 1e9 / (double)(time_mono_ns() - w0);
	return r;
}

struct verify_arg {
	struct tdrv *t;
	void *ctx;
	struct workload *w;
};

static int verify_once(void *p)
{
	struct verify_arg *a = p;
	atoll_claims *c = NULL;
	atoll_err err;
	int r = tdrv_verify(a->t, a->ctx, a->w->ev, a->w->ev_len, a->w->col,
			    a->w->n_col, a->w->when, &c, &err);

	if (r != ATOLL_OK) {
		fprintf(stderr, "%s: %s\n", a->w->tee, err.msg);
		return -1;
	}
	a->t->drv->claims_free(a->ctx, c);
	return 0;
}

static int chain_sigs(struct workload *w)
{
	int i;

	for (i = 0; i + 1 < sk_X509_num(w->links); i += 2)
		if (X509_verify(sk_X509_value(w->links, i),
				X509_get0_pubkey(sk_X509_value(w->links, i + 1))) != 1)
			return -1;
	return 0;
}

static int snp_sig(struct workload *w, bool with_chain)
{
	atoll_err err;

	if (dc_ecdsa_verify_raw(w->key, EVP_sha384(), w->ev, 0x2a0,
				w->ev + 0x2a0, 144, true, &err) != ATOLL_OK)
		return -1;
	return with_chain ? chain_sigs(w) : 0;
}

static int cose_sig(struct workload *w, bool with_chain)
{
	atoll_err err;

	if (dc_cose_sign1_verify(&w->cose, w->key, &err) != ATOLL_OK)
		return -1;
	return with_chain ? chain_sigs(w) : 0;
}

static int sig_only_chain(void *p)
{
	return ((struct workload *)p)->sig_once(p, true);
}

static int sig_only_leaf(void *p)
{
	return ((struct workload *)p)->sig_once(p, false);
}

static X509 *find_cn(STACK_OF(X509) *certs, const char *cn)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (dc_cert_cn_is(sk_X509_value(certs, i), cn))
			return sk_X509_value(certs, i);
	return NULL;
}

static X509 *issuer_of(STACK_OF(X509) *certs, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);

		if (c != x && X509_check_issued(c, x) == X509_V_OK)
			return c;
	}
	return NULL;
}

/* child/issuer pairs from leaf up to a self-signed certificate. */
static STACK_OF(X509) *links_from(STACK_OF(X509) *certs, X509 *leaf)
{
	STACK_OF(X509) *l = sk_X509_new_null();
	X509 *x = leaf, *up;
	int guard = 0;

	while (x && guard++ < 8 && X509_check_issued(x, x) != X509_V_OK &&
	       (up = issuer_of(certs, x))) {
		sk_X509_push(l, x);
		sk_X509_push(l, up);
		x = up;
	}
	return l;
}

static void snp_workload(struct workload *w, struct dc_collateral *keep)
{
	atoll_err err;
	X509 *vcek;

	memset(w, 0, sizeof(*w));
	w->tee = "sev_snp";
	w->sig_once = snp_sig;
	w->ev = tdrv_read("sev-snp/go-sev-guest/attestation.bin", &w->ev_len);
	w->col[0].data = tdrv_read("sev-snp/go-sev-guest/vcek.testcer",
				   &w->col[0].len);
	w->col[1].data = tdrv_read("sev-snp/go-sev-guest/ask_ark_milan.pem",
				   &w->col[1].len);
	if (w->ev && w->col[0].data && w->col[1].data) {
		w->source = "go-sev-guest sample (AMD Milan, RSA-4096 ASK/ARK)";
		w->n_col = 2;
		w->when = 1748736000;
	} else {
		struct gen_snp_vcek_opts o = { 0 };
		struct gen_snp_pki p;
		struct gen_snp_report r;
		static char fp[65];

		free(w->ev);
		free((void *)w->col[0].data);
		free((void *)w->col[1].data);
		gen_snp_report_defaults(&r);
		o.product = "Milan-B0";
		o.tcb = r.reported_tcb;
		o.hwid = r.chip_id;
		o.hwid_len = 64;
		o.not_before = 1700000000;
		o.not_after = 1900000000;
		gen_snp_pki_make(&p, &o);
		w->ev = malloc(1184);
		w->ev_len = 1184;
		gen_snp_report_sign(&r, p.vcek_key, w->ev);
		w->col[0].data = gen_der(p.vcek, &w->col[0].len);
		w->col[1].data = (uint8_t *)gen_pem(p.ask, &w->col[1].len);
		w->col[2].data = (uint8_t *)gen_pem(p.ark, &w->col[2].len);
		w->n_col = 3;
		w->when = 1750000000;
		memcpy(fp, p.ark_fp, sizeof(fp));
		w->cfg_key = "ark_fingerprints";
		w->cfg_val = fp;
		w->source = "generated (RSA-2048 test ASK/ARK)";
		gen_snp_pki_free(&p);
	}
	dc_collateral_add_all(keep, w->col, w->n_col, &err);
	vcek = find_cn(keep->certs, "SEV-VCEK");
	w->key = X509_get0_pubkey(vcek);
	w->links = links_from(keep->certs, vcek);
}

static void nitro_workload(struct workload *w, struct dc_collateral *keep,
			   struct gen_nitro_pki *p)
{
	cbor_item_t *payload = NULL;
	const cbor_item_t *v;
	atoll_err err;
	const uint8_t *d;
	size_t n, i;
	X509 *leaf = NULL;

	memset(w, 0, sizeof(*w));
	w->tee = "nitro";
	w->sig_once = cose_sig;
	w->ev = tdrv_read_b64("nitro/blocky-nitrite/nitro_attestation.b64",
			      &w->ev_len);
	if (w->ev) {
		w->source = "blocky-nitrite sample (AWS, 4 P-384 links)";
		w->when = 1725719859;
	} else {
		struct gen_nitro_doc doc;
		static char fp[65];

		gen_nitro_pki_make(p, 1725719800, 1725729800);
		gen_nitro_doc_defaults(&doc);
		w->ev = gen_nitro_doc_make(&doc, p, &w->ev_len);
		w->when = 1725719859;
		memcpy(fp, p->root_fp, sizeof(fp));
		w->cfg_key = "root_fingerprints";
		w->cfg_val = fp;
		w->source = "generated (2 P-384 links)";
	}
	if (dc_cose_sign1_parse(w->ev, w->ev_len, &w->cose, &err) != ATOLL_OK ||
	    dc_cbor_decode(w->cose.payload, w->cose.payload_len, &payload,
			   &err) != ATOLL_OK) {
		fprintf(stderr, "nitro sample: %s\n", err.msg);
		exit(1);
	}
	v = dc_cbor_map_str(payload, "certificate", NULL);
	dc_cbor_bytes(v, &d, &n);
	dc_collateral_add(keep, d, n, &err);
	leaf = sk_X509_value(keep->certs, 0);
	v = dc_cbor_map_str(payload, "cabundle", NULL);
	for (i = 0; i < cbor_array_size(v); i++) {
		dc_cbor_bytes(cbor_array_handle(v)[i], &d, &n);
		dc_collateral_add(keep, d, n, &err);
	}
	cbor_decref(&payload);
	w->key = X509_get0_pubkey(leaf);
	w->links = links_from(keep->certs, leaf);
}

static void psa_workload(struct workload *w, EVP_PKEY **gen_key)
{
	const char *dir = tdrv_evidence_dir();
	static char path[1200];
	atoll_err err;

	memset(w, 0, sizeof(*w));
	w->tee = "psa";
	w->sig_once = cose_sig;
	w->ev = tdrv_read("psa/veraison-psatoken/psa-2_0_0_sign1.bin",
			  &w->ev_len);
	if (w->ev) {
		FILE *f;

		snprintf(path, sizeof(path),
			 "%s/psa/veraison-psatoken/public.pem", dir);
		f = fopen(path, "r");
		w->key = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
		if (f)
			fclose(f);
		w->source = "veraison TF-M sample (ES256)";
	} else {
		struct gen_psa_token t;
		uint8_t *claims;
		size_t cl, pem_len;
		char *pem;

		*gen_key = gen_ec_key("P-256");
		gen_psa_token_defaults(&t, *gen_key);
		claims = gen_psa_claims(&t, &cl);
		w->ev = gen_cose_sign1(true, DC_COSE_ES256, claims, cl,
				       *gen_key, false, &w->ev_len);
		free(claims);
		pem = gen_pubkey_pem(*gen_key, &pem_len);
		snprintf(path, sizeof(path), "%s",
			 tdrv_write_tmp("iak.pem", pem, pem_len));
		free(pem);
		w->key = *gen_key;
		EVP_PKEY_up_ref(w->key);
		w->source = "generated (ES256)";
	}
	w->cfg_key = "iak_keys";
	w->cfg_val = path;
	if (dc_cose_sign1_parse(w->ev, w->ev_len, &w->cose, &err) != ATOLL_OK) {
		fprintf(stderr, "psa sample: %s\n", err.msg);
		exit(1);
	}
}

static struct rate measure(struct tdrv *t, struct workload *w,
			   const char *chain_cache, const char *cert_cache)
{
	struct verify_arg a = { t, NULL, w };
	struct rate r;
	atoll_err err;
	int st;

	if (!chain_cache)
		st = tdrv_init(t, &a.ctx, &err, w->cfg_key, w->cfg_val, NULL);
	else if (w->cfg_key)
		st = tdrv_init(t, &a.ctx, &err, w->cfg_key, w->cfg_val,
			       "chain_cache", chain_cache, "cert_cache",
			       cert_cache, NULL);
	else
		st = tdrv_init(t, &a.ctx, &err, "chain_cache", chain_cache,
			       "cert_cache", cert_cache, NULL);
	if (st != ATOLL_OK) {
		fprintf(stderr, "%s init: %s\n", w->tee, err.msg);
		exit(1);
	}
	r = rate(verify_once, &a);
	t->drv->fini(a.ctx);
	return r;
}

static void line(const char *what, struct rate v, const char *sig_what,
		 struct rate s)
{
	printf("  %-26s %8.1f /s  (wall %7.1f /s)  %s %8.1f /s alone: "
	       "%4.1f%% of the time\n", what, v.cpu, v.wall, sig_what, s.cpu,
	       100.0 * v.cpu / s.cpu);
}

/* Returns the rate per CPU second with every cache on (the defaults). */
static double run(struct workload *w, bool has_chain)
{
	struct tdrv t;
	struct rate both, chains_only, certs_only, none, s_leaf, s_chain;
	char sig_what[64];

	tdrv_load(&t, w->tee);
	printf("%s: %s\n", w->tee, w->source);
	fflush(stdout);
	if (profile_only) {
		both = has_chain ? measure(&t, w, "true", "true") :
				   measure(&t, w, NULL, NULL);
		printf("  verify, defaults %8.1f /s (wall %.1f /s)\n", both.cpu,
		       both.wall);
		tdrv_unload(&t);
		return 0;
	}
	s_leaf = rate(sig_only_leaf, w);
	if (!has_chain) {
		none = measure(&t, w, NULL, NULL);
		line("verify (IAK from config)", none, "signature", s_leaf);
		tdrv_unload(&t);
		return none.cpu;
	}
	s_chain = rate(sig_only_chain, w);
	both = measure(&t, w, "true", "true");
	chains_only = measure(&t, w, "true", "false");
	certs_only = measure(&t, w, "false", "true");
	none = measure(&t, w, "false", "false");
	line("verify, both caches", both, "evidence signature", s_leaf);
	line("verify, cert cache off", chains_only, "evidence signature",
	     s_leaf);
	snprintf(sig_what, sizeof(sig_what), "evidence + %d chain signatures",
		 sk_X509_num(w->links) / 2);
	line("verify, chain cache off", certs_only, sig_what, s_chain);
	line("verify, no caches", none, sig_what, s_chain);
	tdrv_unload(&t);
	return both.cpu;
}

/* The P-384 verify rate `openssl speed -seconds 3 ecdsap384` prints (it
 * divides by its own CPU time), or 0 when it cannot be run. */
static double openssl_p384_verify(char *cmd, size_t cmd_size)
{
	const char *bin = getenv("ATOLL_OPENSSL");
	char lbuf[700];
	double v = 0;
	FILE *f;

	snprintf(cmd, cmd_size, "%s speed -seconds 3 ecdsap384",
		 bin && *bin ? bin : "openssl");
	snprintf(lbuf, sizeof(lbuf), "%s 2>/dev/null", cmd);
	f = popen(lbuf, "r");
	if (!f)
		return 0;
	while (fgets(lbuf, sizeof(lbuf), f)) {
		char *last;

		if (!strstr(lbuf, "ecdsa (nistp384)"))
			continue;
		lbuf[strcspn(lbuf, "\n")] = '\0';
		last = strrchr(lbuf, ' ');
		if (last)
			v = atof(last + 1);
	}
	if (pclose(f) != 0)
		return 0;
	return v;
}

static void print_load(void)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	printf("load average: %s\n", buf[0] ? buf : "unknown");
}

static void workload_free(struct workload *w)
{
	size_t i;

	free(w->ev);
	for (i = 0; i < w->n_col; i++)
		free((void *)w->col[i].data);
	sk_X509_free(w->links);
	dc_cose_sign1_clear(&w->cose);
}

static bool wanted(char **names, int n, const char *tee)
{
	int i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], tee) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct dc_collateral *keep_snp = dc_collateral_new();
	struct dc_collateral *keep_nitro = dc_collateral_new();
	struct gen_nitro_pki np = { 0 };
	struct workload w;
	EVP_PKEY *psa_key = NULL;
	char *names[8], cmd[512];
	int i, n_names = 0;
	bool with_openssl = true;
	double ossl = 0, snp = 0, nitro = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-openssl") == 0)
			with_openssl = false;
		else if (strcmp(argv[i], "--profile") == 0)
			profile_only = true;
		else if (atof(argv[i]) > 0)
			seconds = atof(argv[i]);
		else if (n_names < 8)
			names[n_names++] = argv[i];
	}
	setenv("ATOLL_MODULE_DIR", ATOLL_BENCH_MODULE_DIR, 0);
	setenv("ATOLL_SHARED_DIR", ATOLL_BENCH_SHARED_DIR, 0);
	printf("one thread, %.1f CPU s per figure; rates per CPU second of "
	       "this process (wall-clock beside); share = verify rate / "
	       "signature-only rate\n", seconds);
	print_load();

	if (wanted(names, n_names, "sev_snp")) {
		snp_workload(&w, keep_snp);
		snp = run(&w, true);
		workload_free(&w);
	}
	if (wanted(names, n_names, "nitro")) {
		nitro_workload(&w, keep_nitro, &np);
		nitro = run(&w, true);
		workload_free(&w);
		if (np.root)
			gen_nitro_pki_free(&np);
	}
	if (wanted(names, n_names, "psa")) {
		psa_workload(&w, &psa_key);
		run(&w, false);
		EVP_PKEY_free(w.key);
		workload_free(&w);
		EVP_PKEY_free(psa_key);
	}
	if (with_openssl && (snp > 0 || nitro > 0)) {
		fflush(stdout);
		ossl = openssl_p384_verify(cmd, sizeof(cmd));
		if (ossl <= 0) {
			printf("%s: did not run; no ratio\n", cmd);
		} else {
			printf("%s: P-384 verify %.1f /s (per CPU second, as "
			       "openssl counts)\n", cmd, ossl);
			printf("ratio, verifications/s with both caches / "
			       "openssl P-384 verify/s:");
			if (snp > 0)
				printf("  sev_snp %.2f", snp / ossl);
			if (nitro > 0)
				printf("  nitro %.2f", nitro / ossl);
			printf("  (goal >= 0.8)\n");
		}
		print_load();
	}

	dc_collateral_free(keep_snp);
	dc_collateral_free(keep_nitro);
	return 0;
}
