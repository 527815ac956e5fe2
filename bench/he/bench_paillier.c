/* atoll-he-bench: per-operation costs of lib/he's Paillier, and one
 * dot product described in a file, for side-by-side runs (compare.mjs).
 *
 *   atoll-he-bench [--bits N] [--reps N]     the per-operation table
 *   atoll-he-bench dot FILE [--bits N]       FILE: {"x": [...], "w": [...],
 *                                            "scale_bits": s, "weight_bits": t}
 *                                            prints one JSON line of timings */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "he/he.h"
#include "he/paillier.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static double ms_since(int64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e6;
}

/* The table is in CPU time of this thread, so that other work on a shared
 * machine does not count; compare.mjs's dot runs stay in wall-clock time
 * like the JavaScript they are compared with. */
static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_ms_since(int64_t t0)
{
	return (double)(cpu_ns() - t0) / 1e6;
}

__attribute__((noreturn)) static void die(const char *what, int r)
{
	fprintf(stderr, "atoll-he-bench: %s failed (%d)\n", what, r);
	exit(1);
}

/* Random plaintexts and signed 40-bit weights. */
static void fill(BIGNUM **m, BIGNUM **w, size_t n, const struct paillier_pub *pk)
{
	for (size_t i = 0; i < n; i++) {
		m[i] = BN_new();
		w[i] = BN_new();
		if (!m[i] || !w[i] || !BN_rand_range(m[i], pk->n) ||
		    !BN_rand(w[i], 40, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
			die("setup", -ENOMEM);
		BN_set_negative(w[i], (int)(i & 1));
	}
}

static void table(int bits, int reps)
{
	BN_CTX *ctx = BN_CTX_new();
	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	int r;
	int kreps = bits >= 3072 ? 2 : 3;
	double keygen = 0;
	for (int i = 0; i < kreps; i++) {
		int64_t t0 = cpu_ns();
		paillier_priv_free(k);
		if ((r = paillier_keygen(bits, &k)) < 0)
			die("keygen", r);
		keygen += cpu_ms_since(t0);
	}
	const struct paillier_pub *pk = &k->pub;
	int64_t t0 = cpu_ns();
	if ((r = paillier_rand_new(pk, &rz)) < 0)
		die("rand_new", r);
	double setup = cpu_ms_since(t0);
	struct paillier_rand *crt = NULL;
	t0 = cpu_ns();
	if ((r = paillier_rand_new_priv(k, &crt)) < 0)
		die("rand_new_priv", r);
	double setup_crt = cpu_ms_since(t0);

	enum { DIM = 64 };
	BIGNUM *m[DIM], *w[DIM], *c[DIM];
	fill(m, w, DIM, pk);
	for (int i = 0; i < DIM; i++)
		c[i] = BN_new();
	BIGNUM *t = BN_new(), *acc = BN_new();

	double full = 0, shortct = 0, fixed = 0, full_crt = 0, shortct_crt = 0, fixed_crt = 0;
	for (int i = 0; i < reps; i++) {
		t0 = cpu_ns();
		if ((r = paillier_encrypt_priv(k, NULL, m[i % DIM], c[i % DIM], ctx)) < 0)
			die("encrypt", r);
		full_crt += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_rand_short_ct(crt, t, ctx)) < 0 ||
		    !BN_mod_mul(t, t, c[i % DIM], pk->n2, ctx))
			die("short", r);
		shortct_crt += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_encrypt_priv(k, crt, m[i % DIM], c[i % DIM], ctx)) < 0)
			die("encrypt", r);
		fixed_crt += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_encrypt(pk, NULL, m[i % DIM], c[i % DIM], ctx)) < 0)
			die("encrypt", r);
		full += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_rand_short_ct(rz, t, ctx)) < 0 ||
		    !BN_mod_mul(t, t, c[i % DIM], pk->n2, ctx))
			die("short", r);
		shortct += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_encrypt(pk, rz, m[i % DIM], c[i % DIM], ctx)) < 0)
			die("encrypt", r);
		fixed += cpu_ms_since(t0);
	}
	for (int i = 0; i < DIM; i++)
		if ((r = paillier_encrypt(pk, rz, m[i], c[i], ctx)) < 0)
			die("encrypt", r);

	double dot[2] = { 0, 0 }, naive[2] = { 0, 0 };
	const int dims[2] = { 30, 64 };
	int dreps = reps / 4 > 0 ? reps / 4 : 1;
	for (int d = 0; d < 2; d++) {
		for (int i = 0; i < dreps; i++) {
			t0 = cpu_ns();
			if ((r = paillier_dot(pk, (const BIGNUM *const *)c,
					      (const BIGNUM *const *)w, (size_t)dims[d], acc,
					      ctx)) < 0)
				die("dot", r);
			dot[d] += cpu_ms_since(t0);
			/* The same product with one modexp per feature. */
			t0 = cpu_ns();
			BN_one(acc);
			for (int j = 0; j < dims[d]; j++) {
				BIGNUM *e = BN_dup(w[j]);
				BN_set_negative(e, 0);
				BN_mod_exp_mont(t, c[j], e, pk->n2, ctx, pk->mont_n2);
				if (BN_is_negative(w[j]))
					BN_mod_inverse(t, t, pk->n2, ctx);
				BN_mod_mul(acc, acc, t, pk->n2, ctx);
				BN_free(e);
			}
			naive[d] += cpu_ms_since(t0);
		}
	}
	double dec = 0, rerand = 0;
	for (int i = 0; i < reps; i++) {
		t0 = cpu_ns();
		if ((r = paillier_decrypt(k, c[i % DIM], t, ctx)) < 0)
			die("decrypt", r);
		dec += cpu_ms_since(t0);
		t0 = cpu_ns();
		if ((r = paillier_rerandomize(pk, c[i % DIM], acc, ctx)) < 0)
			die("rerandomize", r);
		rerand += cpu_ms_since(t0);
	}

	printf("\n%d-bit modulus (ciphertexts of %zu bytes); CPU time, means over %d runs "
	       "(keygen %d)\n",
	       bits, paillier_ct_bytes(pk), reps, kreps);
	printf("  %-52s %10.3f ms\n", "keygen (p, q = 3 mod 4, gcd(p-1,q-1) = 2)",
	       keygen / kreps);
	printf("  %-52s %10.3f ms\n", "short-exponent table setup (once per key)", setup);
	printf("  %-52s %10.3f ms\n", "encrypt, full randomizer r^n", full / reps);
	printf("  %-52s %10.3f ms\n", "encrypt, short exponent h_s^a (constant-time exp)",
	       shortct / reps);
	printf("  %-52s %10.3f ms\n", "encrypt, short exponent, fixed-base table", fixed / reps);
	printf("  key owner, through the CRT over p^2 and q^2:\n");
	printf("  %-52s %10.3f ms\n", "short-exponent table setup (once per key)", setup_crt);
	printf("  %-52s %10.3f ms\n", "encrypt, full randomizer r^n", full_crt / reps);
	printf("  %-52s %10.3f ms\n", "encrypt, short exponent h_s^a (constant-time exp)",
	       shortct_crt / reps);
	printf("  %-52s %10.3f ms\n", "encrypt, short exponent, fixed-base table",
	       fixed_crt / reps);
	for (int d = 0; d < 2; d++) {
		char label[80];
		snprintf(label, sizeof label, "%d-dim dot product, Bos-Coster (40-bit weights)", dims[d]);
		printf("  %-52s %10.3f ms\n", label, dot[d] / dreps);
		snprintf(label, sizeof label, "%d-dim dot product, one modexp per feature", dims[d]);
		printf("  %-52s %10.3f ms\n", label, naive[d] / dreps);
	}
	printf("  %-52s %10.3f ms\n", "re-randomize (full r^n)", rerand / reps);
	printf("  %-52s %10.3f ms\n", "decrypt (CRT)", dec / reps);

	for (int i = 0; i < DIM; i++) {
		BN_free(m[i]);
		BN_free(w[i]);
		BN_free(c[i]);
	}
	BN_free(t);
	BN_free(acc);
	paillier_rand_free(rz);
	paillier_rand_free(crt);
	paillier_priv_free(k);
	BN_CTX_free(ctx);
}

/* The dot product of compare.mjs: encrypt x, dot with w in fixed point,
 * decrypt. Prints timings and the result as one JSON object. */
static int dot_file(const char *path, int bits)
{
	uint8_t *data;
	size_t len;
	int r = fs_read_file(path, 1 << 20, &data, &len);
	if (r < 0)
		die("read", r);
	json_value *root;
	char err[128];
	if (json_parse((const char *)data, len, &root, err, sizeof err) < 0) {
		fprintf(stderr, "atoll-he-bench: %s: %s\n", path, err);
		return 1;
	}
	const json_value *xs = json_get(root, "x"), *ws = json_get(root, "w");
	size_t n = json_count(xs);
	int64_t sb = 40, tb = 32;
	json_int64(json_get(root, "scale_bits"), &sb);
	json_int64(json_get(root, "weight_bits"), &tb);
	if (n == 0 || json_count(ws) != n) {
		fprintf(stderr, "atoll-he-bench: x and w must have the same length\n");
		return 1;
	}
	double *x = malloc(n * sizeof *x);
	BIGNUM **W = calloc(n, sizeof *W), **C = calloc(n, sizeof *C);
	double plain = 0;
	for (size_t i = 0; i < n; i++) {
		x[i] = json_number(json_at(xs, i));
		double wi = json_number(json_at(ws, i));
		plain += x[i] * wi;
		W[i] = BN_new();
		C[i] = BN_new();
		paillier_fixed(wi, (unsigned)tb, W[i]);
	}
	BN_CTX *ctx = BN_CTX_new();
	struct paillier_priv *k;
	struct paillier_rand *rz;
	int64_t t0 = time_mono_ns();
	if ((r = paillier_keygen(bits, &k)) < 0)
		die("keygen", r);
	double keygen = ms_since(t0);
	t0 = time_mono_ns();
	/* The client holds the key: its CRT tables. */
	if ((r = paillier_rand_new_priv(k, &rz)) < 0)
		die("rand_new", r);
	double setup = ms_since(t0);
	BIGNUM *m = BN_new(), *acc = BN_new();
	t0 = time_mono_ns();
	for (size_t i = 0; i < n; i++)
		if ((r = paillier_encode(&k->pub, x[i], (unsigned)sb, m)) < 0 ||
		    (r = paillier_encrypt_priv(k, rz, m, C[i], ctx)) < 0)
			die("encrypt", r);
	double enc = ms_since(t0);
	t0 = time_mono_ns();
	if ((r = paillier_dot(&k->pub, (const BIGNUM *const *)C, (const BIGNUM *const *)W, n,
			      acc, ctx)) < 0 ||
	    (r = paillier_rerandomize(&k->pub, acc, acc, ctx)) < 0)
		die("dot", r);
	double dot = ms_since(t0);
	double result;
	t0 = time_mono_ns();
	if ((r = paillier_decrypt(k, acc, m, ctx)) < 0 ||
	    (r = paillier_decode(&k->pub, m, (unsigned)(sb + tb), &result)) < 0)
		die("decrypt", r);
	double dec = ms_since(t0);
	printf("{\"impl\":\"atoll\",\"bits\":%d,\"n\":%zu,\"keygen_ms\":%.3f,\"setup_ms\":%.3f,"
	       "\"encrypt_ms\":%.3f,\"dot_ms\":%.3f,\"decrypt_ms\":%.3f,\"result\":%.17g,"
	       "\"plain\":%.17g,\"ciphertext_bytes\":%zu}\n",
	       bits, n, keygen, setup, enc, dot, dec, result, plain,
	       paillier_ct_bytes(&k->pub));
	for (size_t i = 0; i < n; i++) {
		BN_free(W[i]);
		BN_free(C[i]);
	}
	free(W);
	free(C);
	free(x);
	BN_free(m);
	BN_free(acc);
	paillier_rand_free(rz);
	paillier_priv_free(k);
	BN_CTX_free(ctx);
	json_free(root);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int bits = 0, reps = 20;
	const char *dot = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc)
			bits = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "dot") == 0 && i + 1 < argc)
			dot = argv[++i];
		else {
			fprintf(stderr, "usage: atoll-he-bench [--bits N] [--reps N] | dot FILE [--bits N]\n");
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	if (dot)
		return dot_file(dot, bits ? bits : 3072);
	printf("atoll-he-bench: lib/he Paillier on OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION));
	if (bits) {
		table(bits, reps);
	} else {
		table(2048, reps);
		table(3072, reps);
	}
	return 0;
}
