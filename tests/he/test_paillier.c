/* he: Paillier keys, the three randomizers and the key owner's CRT
 * versions (equal values for equal randomness), CRT decryption,
 * homomorphic sums and Bos-Coster dot products against plain arithmetic,
 * fixed point, Z*_{n^2} checks (one value and many at once, naming the first that
 * fails), key files, the job document parser, and aggregation of
 * 1,000 encrypted values (exact). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "he/he.h"
#include "he/paillier.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"

static BN_CTX *ctx;

static void test_roundtrip(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	BIGNUM *m = BN_new(), *c = BN_new(), *c2 = BN_new(), *d = BN_new();
	/* Edge plaintexts and random ones, with each randomizer. */
	for (int i = 0; i < 8; i++) {
		if (i == 0)
			BN_zero(m);
		else if (i == 1)
			BN_one(m);
		else if (i == 2)
			BN_sub(m, pk->n, BN_value_one());
		else
			BN_rand_range(m, pk->n);
		CHECK_INT(paillier_encrypt(pk, NULL, m, c, ctx), 0);
		CHECK_INT(paillier_check_ct(pk, c, ctx), 0);
		CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
		CHECK(BN_cmp(m, d) == 0);
		CHECK_INT(paillier_encrypt(pk, rz, m, c2, ctx), 0);
		CHECK(BN_cmp(c, c2) != 0); /* probabilistic */
		CHECK_INT(paillier_decrypt(k, c2, d, ctx), 0);
		CHECK(BN_cmp(m, d) == 0);
	}
	/* Randomizers are encryptions of zero. */
	CHECK_INT(paillier_rand_short(rz, c, ctx), 0);
	CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
	CHECK(BN_is_zero(d));
	CHECK_INT(paillier_rand_short_ct(rz, c, ctx), 0);
	CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
	CHECK(BN_is_zero(d));
	CHECK_INT(paillier_rand_full(pk, c, ctx), 0);
	CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
	CHECK(BN_is_zero(d));
	/* Out of range plaintexts. */
	CHECK_INT(paillier_encrypt(pk, NULL, pk->n, c, ctx), -EDOM);
	BN_set_word(m, 5);
	BN_set_negative(m, 1);
	CHECK_INT(paillier_encrypt(pk, NULL, m, c, ctx), -EDOM);
	/* Rerandomization: new ciphertext, same plaintext. */
	BN_set_word(m, 1234567);
	CHECK_INT(paillier_encrypt(pk, rz, m, c, ctx), 0);
	CHECK_INT(paillier_rerandomize(pk, c, c2, ctx), 0);
	CHECK(BN_cmp(c, c2) != 0);
	CHECK_INT(paillier_decrypt(k, c2, d, ctx), 0);
	CHECK(BN_is_word(d, 1234567));
	BN_free(m);
	BN_free(c);
	BN_free(c2);
	BN_free(d);
}

static void test_homomorphic(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	enum { D = 33 };
	BIGNUM *m[D], *w[D], *c[D];
	BIGNUM *want = BN_new(), *t = BN_new(), *got = BN_new(), *acc = BN_new();
	BN_zero(want);
	for (int i = 0; i < D; i++) {
		m[i] = BN_new();
		w[i] = BN_new();
		c[i] = BN_new();
		BN_rand_range(m[i], pk->n);
		/* Weights of every size up to 70 bits, both signs, some zero. */
		if (i % 7 == 3)
			BN_zero(w[i]);
		else
			BN_rand(w[i], 1 + (i * 13) % 70, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
		BN_set_negative(w[i], i % 3 == 1);
		CHECK_INT(paillier_encrypt(pk, rz, m[i], c[i], ctx), 0);
		BN_mul(t, m[i], w[i], ctx);
		BN_add(want, want, t);
	}
	BN_nnmod(want, want, pk->n, ctx);
	CHECK_INT(paillier_dot(pk, (const BIGNUM *const *)c, (const BIGNUM *const *)w, D, acc,
			       ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	CHECK(BN_cmp(got, want) == 0);
	/* All weights negative, a single base, and no base at all. */
	for (int i = 0; i < D; i++)
		BN_set_negative(w[i], !BN_is_zero(w[i]));
	BN_zero(want);
	for (int i = 0; i < D; i++) {
		BN_mul(t, m[i], w[i], ctx);
		BN_add(want, want, t);
	}
	BN_nnmod(want, want, pk->n, ctx);
	CHECK_INT(paillier_dot(pk, (const BIGNUM *const *)c, (const BIGNUM *const *)w, D, acc,
			       ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	CHECK(BN_cmp(got, want) == 0);
	BN_set_word(w[0], 3);
	CHECK_INT(paillier_dot(pk, (const BIGNUM *const *)c, (const BIGNUM *const *)w, 1, acc,
			       ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	BN_mod_mul(want, m[0], w[0], pk->n, ctx);
	CHECK(BN_cmp(got, want) == 0);
	CHECK_INT(paillier_dot(pk, NULL, NULL, 0, acc, ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	CHECK(BN_is_zero(got));
	/* A weight beyond n/2 is refused. */
	BN_copy(w[0], pk->n);
	CHECK_INT(paillier_dot(pk, (const BIGNUM *const *)c, (const BIGNUM *const *)w, 1, acc,
			       ctx), -EDOM);

	/* Sums and signed plaintext additions. */
	CHECK_INT(paillier_add(pk, c[0], c[1], acc, ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	BN_mod_add(want, m[0], m[1], pk->n, ctx);
	CHECK(BN_cmp(got, want) == 0);
	BN_set_word(t, 1000);
	BN_set_negative(t, 1);
	CHECK_INT(paillier_add_plain(pk, c[0], t, acc, ctx), 0);
	CHECK_INT(paillier_decrypt(k, acc, got, ctx), 0);
	BN_mod_add(want, m[0], t, pk->n, ctx);
	CHECK(BN_cmp(got, want) == 0);

	for (int i = 0; i < D; i++) {
		BN_free(m[i]);
		BN_free(w[i]);
		BN_free(c[i]);
	}
	BN_free(want);
	BN_free(t);
	BN_free(got);
	BN_free(acc);
}

/* The key owner's CRT paths compute exactly the public paths' values for
 * the same randomness, so they share their distribution: r^n for a given
 * r, h_s for a given h, h_s^a for a given a; and encryptions by every path
 * decrypt to their plaintext. */
static void test_crt_paths(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	BIGNUM *r = BN_new(), *want = BN_new(), *got = BN_new(), *a = BN_new(), *h = BN_new();
	BIGNUM *m = BN_new(), *c = BN_new(), *d = BN_new();
	struct paillier_rand *pub_rz = NULL, *crt_rz = NULL, *crt_new = NULL;

	/* r^n mod n^2, random r, the edges, and r sharing a factor with n. */
	for (int i = 0; i < 8; i++) {
		if (i == 0)
			BN_zero(r);
		else if (i == 1)
			BN_one(r);
		else if (i == 2)
			BN_sub(r, pk->n, BN_value_one());
		else if (i == 3)
			BN_copy(r, k->p);
		else if (i == 4)
			BN_mul_word(BN_copy(r, k->q), 5);
		else
			BN_rand_range(r, pk->n);
		BN_mod_exp(want, r, pk->n, pk->n2, ctx);
		CHECK_INT(paillier_pow_n_crt(k, r, got, ctx), 0);
		CHECK(BN_cmp(got, want) == 0);
	}
	CHECK_INT(paillier_pow_n_crt(k, pk->n, got, ctx), -EDOM);
	BN_set_negative(r, 1);
	CHECK_INT(paillier_pow_n_crt(k, r, got, ctx), -EDOM);

	/* The same h gives the same h_s and the same h_s^a both ways. */
	BN_rand_range(h, pk->n);
	CHECK_INT(paillier_rand_from_h(pk, NULL, h, &pub_rz), 0);
	CHECK_INT(paillier_rand_from_h(NULL, k, h, &crt_rz), 0);
	BN_mod_exp(want, h, pk->n, pk->n2, ctx);
	CHECK(pub_rz && BN_cmp(paillier_rand_hs(pub_rz), want) == 0);
	CHECK(crt_rz && BN_cmp(paillier_rand_hs(crt_rz), want) == 0);
	int exp_bits = (pk->bits + 1) / 2;
	for (int i = 0; pub_rz && crt_rz && i < 6; i++) {
		if (i == 0)
			BN_zero(a);
		else if (i == 1)
			BN_one(a);
		else if (i == 2) /* all ones: 2^exp_bits - 1 */
			BN_zero(a), BN_set_bit(a, exp_bits), BN_sub_word(a, 1);
		else
			BN_rand(a, exp_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
		BN_mod_exp(want, paillier_rand_hs(pub_rz), a, pk->n2, ctx);
		CHECK_INT(paillier_rand_pow(pub_rz, a, got, ctx), 0);
		CHECK(BN_cmp(got, want) == 0);
		CHECK_INT(paillier_rand_pow(crt_rz, a, got, ctx), 0);
		CHECK(BN_cmp(got, want) == 0);
	}
	BN_set_bit(a, exp_bits);
	CHECK_INT(paillier_rand_pow(crt_rz, a, got, ctx), -EDOM);
	BN_zero(h);
	CHECK_INT(paillier_rand_from_h(NULL, k, h, &(struct paillier_rand *){ NULL }), -EDOM);
	CHECK_INT(paillier_rand_from_h(pk, NULL, pk->n, &(struct paillier_rand *){ NULL }),
		  -EDOM);

	/* Every way to encrypt decrypts, and every randomizer is E(0). */
	CHECK_INT(paillier_rand_new_priv(k, &crt_new), 0);
	for (int i = 0; crt_new && i < 4; i++) {
		if (i == 0)
			BN_zero(m);
		else if (i == 1)
			BN_sub(m, pk->n, BN_value_one());
		else
			BN_rand_range(m, pk->n);
		CHECK_INT(paillier_encrypt(pk, crt_new, m, c, ctx), 0);
		CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
		CHECK(BN_cmp(d, m) == 0);
		CHECK_INT(paillier_encrypt_priv(k, crt_new, m, c, ctx), 0);
		CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
		CHECK(BN_cmp(d, m) == 0);
		CHECK_INT(paillier_encrypt_priv(k, NULL, m, c, ctx), 0);
		CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
		CHECK(BN_cmp(d, m) == 0);
	}
	CHECK_INT(paillier_encrypt_priv(k, NULL, pk->n, c, ctx), -EDOM);
	CHECK_INT(paillier_rand_short_ct(crt_new, c, ctx), 0);
	CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
	CHECK(BN_is_zero(d));
	CHECK_INT(paillier_rand_full_crt(k, c, ctx), 0);
	CHECK_INT(paillier_decrypt(k, c, d, ctx), 0);
	CHECK(BN_is_zero(d));

	/* The distributions' visible shape is the same both ways. With p and
	 * q = 3 mod 4, h = -x^2 has Jacobi symbol 1 and so has every h_s^a
	 * mod n (rz and crt_new draw h so; pub_rz's h was any), while r^n mod
	 * n for a uniform r has the symbol of r: both signs. Values never
	 * repeat. */
	int full_sym[2][2] = { { 0, 0 }, { 0, 0 } }, short_plus[2] = { 0, 0 };
	BIGNUM *prev = BN_new();
	for (int i = 0; crt_new && i < 40; i++) {
		for (int crt = 0; crt < 2; crt++) {
			CHECK_INT(crt ? paillier_rand_full_crt(k, c, ctx)
				      : paillier_rand_full(pk, c, ctx), 0);
			BN_nnmod(d, c, pk->n, ctx);
			full_sym[crt][BN_kronecker(d, pk->n, ctx) == 1]++;
			CHECK_INT(paillier_rand_short(crt ? crt_new : rz, c, ctx), 0);
			BN_nnmod(d, c, pk->n, ctx);
			short_plus[crt] += BN_kronecker(d, pk->n, ctx) == 1;
			CHECK(BN_cmp(c, prev) != 0);
			BN_copy(prev, c);
		}
	}
	for (int crt = 0; crt < 2; crt++) {
		CHECK(full_sym[crt][0] > 0 && full_sym[crt][1] > 0);
		CHECK_INT(short_plus[crt], 40);
	}
	BN_free(prev);
	paillier_rand_free(pub_rz);
	paillier_rand_free(crt_rz);
	paillier_rand_free(crt_new);
	BN_free(r);
	BN_free(want);
	BN_free(got);
	BN_free(a);
	BN_free(h);
	BN_free(m);
	BN_free(c);
	BN_free(d);
}

/* prod c[i]^w[i] computed the slow way: one exponentiation per base and
 * an inverse for each negative weight. */
static void naive_dot(const struct paillier_pub *pk, BIGNUM *const *c, BIGNUM *const *w,
		      size_t n, BIGNUM *ret)
{
	BIGNUM *t = BN_new(), *e = BN_new();
	BN_one(ret);
	for (size_t i = 0; i < n; i++) {
		BN_copy(e, w[i]);
		BN_set_negative(e, 0);
		BN_mod_exp(t, c[i], e, pk->n2, ctx);
		if (BN_is_negative(w[i]))
			BN_mod_inverse(t, t, pk->n2, ctx);
		BN_mod_mul(ret, ret, t, pk->n2, ctx);
	}
	BN_free(t);
	BN_free(e);
}

/* The Bos-Coster dot product gives exactly the naive product's
 * ciphertext, for weights that exercise its steps: mixed sizes, equal
 * weights, ratios far beyond 2 (quotient steps), one huge weight, signs,
 * zeros, a gcd above 1. */
static void test_dot_exact(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	enum { D = 12 };
	BIGNUM *c[D], *w[D], *want = BN_new(), *got = BN_new(), *m = BN_new();
	for (int i = 0; i < D; i++) {
		c[i] = BN_new();
		w[i] = BN_new();
		BN_rand_range(m, pk->n);
		paillier_encrypt(pk, rz, m, c[i], ctx);
	}
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < D; i++) {
			switch (round) {
			case 0: /* mixed widths, mixed signs */
				BN_rand(w[i], 1 + (i * 7) % 64, BN_RAND_TOP_ANY,
					BN_RAND_BOTTOM_ANY);
				break;
			case 1: /* all equal */
				BN_set_word(w[i], 123456789);
				break;
			case 2: /* one huge, the rest tiny */
				if (i == 0)
					BN_rand(w[i], 700, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
				else
					BN_set_word(w[i], (BN_ULONG)i);
				break;
			case 3: /* powers of two far apart */
				BN_zero(w[i]);
				BN_set_bit(w[i], i * 11);
				break;
			case 4: /* common factor 6 */
				BN_rand(w[i], 30, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
				BN_mul_word(w[i], 6);
				break;
			case 5: /* zeros between */
				if (i % 3)
					BN_zero(w[i]);
				else
					BN_rand(w[i], 48, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
				break;
			case 6: /* near n/2 */
				BN_rshift(w[i], pk->half_n, i);
				break;
			default: /* 40-bit, like folded model weights */
				BN_rand(w[i], 40, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
			}
			if (round != 1 && (i % 2 || round == 7))
				BN_set_negative(w[i], !BN_is_zero(w[i]));
		}
		naive_dot(pk, c, w, D, want);
		CHECK_INT(paillier_dot(pk, (const BIGNUM *const *)c, (const BIGNUM *const *)w, D,
				       got, ctx), 0);
		if (BN_cmp(got, want) != 0)
			fprintf(stderr, "dot round %d differs\n", round);
		CHECK(BN_cmp(got, want) == 0);
	}
	for (int i = 0; i < D; i++) {
		BN_free(c[i]);
		BN_free(w[i]);
	}
	BN_free(want);
	BN_free(got);
	BN_free(m);
}

static void test_fixed(const struct paillier_priv *k)
{
	const struct paillier_pub *pk = &k->pub;
	BIGNUM *v = BN_new(), *m = BN_new();
	CHECK_INT(paillier_fixed(1.5, 4, v), 0);
	CHECK(BN_is_word(v, 24));
	CHECK_INT(paillier_fixed(-1.5, 4, v), 0);
	CHECK(BN_is_negative(v) && BN_is_word(v, 24) == 0);
	CHECK(paillier_bn_to_double(v, 4) == -1.5);
	/* Ties round away from zero; below half a unit rounds to zero. */
	CHECK_INT(paillier_fixed(ldexp(1, -41), 40, v), 0);
	CHECK(BN_is_one(v));
	CHECK_INT(paillier_fixed(-ldexp(1, -41), 40, v), 0);
	CHECK(BN_is_negative(v) && BN_num_bits(v) == 1);
	CHECK_INT(paillier_fixed(ldexp(1, -42), 40, v), 0);
	CHECK(BN_is_zero(v));
	CHECK_INT(paillier_fixed(1e-300, 40, v), 0);
	CHECK(BN_is_zero(v));
	CHECK_INT(paillier_fixed(3.0, 0, v), 0);
	CHECK(BN_is_word(v, 3));
	CHECK_INT(paillier_fixed(2.5, 0, v), 0);
	CHECK(BN_is_word(v, 3));
	CHECK_INT(paillier_fixed(1e300, 100, v), 0);
	CHECK(paillier_bn_to_double(v, 100) == 1e300);
	CHECK_INT(paillier_fixed(NAN, 10, v), -EINVAL);
	CHECK_INT(paillier_fixed(INFINITY, 10, v), -EINVAL);
	CHECK_INT(paillier_fixed(1, PAILLIER_MAX_FIXED_BITS + 1, v), -EINVAL);

	const double vals[] = { 0, 1, -1, 3.14159, -2718.28, 1e-9, -4254.0, 123456789.125 };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		double back;
		CHECK_INT(paillier_encode(pk, vals[i], 40, m), 0);
		CHECK_INT(paillier_decode(pk, m, 40, &back), 0);
		CHECK(fabs(back - vals[i]) <= ldexp(1, -41));
	}
	/* Negative values are n - |V|. */
	CHECK_INT(paillier_encode(pk, -1, 0, m), 0);
	BN_sub(v, pk->n, BN_value_one());
	CHECK(BN_cmp(m, v) == 0);
	/* |V| must not pass n/2 < 2^2047 for a 2048-bit n. */
	CHECK_INT(paillier_encode(pk, ldexp(1, 1023), 1024, m), -EDOM);
	CHECK_INT(paillier_encode(pk, -ldexp(1, 1023), 1024, m), -EDOM);
	CHECK_INT(paillier_encode(pk, ldexp(1, 1000), 1024, m), 0);
	CHECK_INT(paillier_encode(pk, ldexp(1, 1000), 1046, m), 0);
	CHECK_INT(paillier_encode(pk, ldexp(1, 1000), 1047, m), -EDOM);
	CHECK_INT(paillier_encode(pk, 1, PAILLIER_MAX_FIXED_BITS + 1, m), -EINVAL);
	/* Boundary: half_n decodes positive, half_n + 1 negative. */
	double d;
	CHECK_INT(paillier_decode(pk, pk->half_n, 0, &d), 0);
	CHECK(d > 0);
	BN_add(v, pk->half_n, BN_value_one());
	CHECK_INT(paillier_decode(pk, v, 0, &d), 0);
	CHECK(d < 0);
	CHECK_INT(paillier_decode(pk, pk->n, 0, &d), -EDOM);
	BN_free(v);
	BN_free(m);
}

static void test_membership(const struct paillier_priv *k)
{
	const struct paillier_pub *pk = &k->pub;
	BIGNUM *c = BN_new(), *m = BN_new();
	size_t len = paillier_ct_bytes(pk);
	uint8_t *bytes = calloc(1, len + 1);
	const char *why = "";
	CHECK_INT(paillier_check_ct(pk, pk->n2, ctx), -EDOM);
	BN_zero(c);
	CHECK_INT(paillier_check_ct(pk, c, ctx), -EDOM);
	CHECK_INT(paillier_check_ct(pk, k->p, ctx), -EDOM);
	BN_mul(c, k->q, k->q, ctx); /* a multiple of q below n^2 */
	CHECK_INT(paillier_check_ct(pk, c, ctx), -EDOM);
	CHECK_INT(paillier_decrypt(k, c, m, ctx), -EDOM);

	CHECK_INT(paillier_ct_from_bytes(pk, bytes, len, c, &why, ctx), -EDOM);
	CHECK_STR(why, "zero");
	BN_bn2binpad(pk->n2, bytes, (int)len);
	CHECK_INT(paillier_ct_from_bytes(pk, bytes, len, c, &why, ctx), -EDOM);
	CHECK_STR(why, "not below n^2");
	memset(bytes, 0xff, len);
	CHECK_INT(paillier_ct_from_bytes(pk, bytes, len, c, &why, ctx), -EDOM);
	CHECK_STR(why, "not below n^2");
	CHECK_INT(paillier_ct_from_bytes(pk, bytes, len + 1, c, &why, ctx), -EINVAL);
	CHECK_STR(why, "longer than n^2");
	BN_bn2binpad(k->p, bytes, (int)len);
	CHECK_INT(paillier_ct_from_bytes(pk, bytes, len, c, &why, ctx), -EDOM);
	CHECK_STR(why, "shares a factor with n");
	/* Short encodings (leading zeros dropped) are fine. */
	BN_set_word(m, 77);
	CHECK_INT(paillier_encrypt(pk, NULL, m, c, ctx), 0);
	int n = BN_bn2bin(c, bytes);
	CHECK_INT(paillier_ct_from_bytes(pk, bytes, (size_t)n, c, &why, ctx), 0);

	/* Public keys from bytes. */
	struct paillier_pub *pk2 = NULL;
	uint8_t nb[1024];
	CHECK_INT(paillier_pub_n(pk, nb), 0);
	CHECK_INT(paillier_pub_from_bytes(nb, paillier_n_bytes(pk), 2048, &pk2), 0);
	CHECK(pk2 && paillier_pub_equal(pk, pk2));
	paillier_pub_free(pk2);
	CHECK_INT(paillier_pub_from_bytes(nb, paillier_n_bytes(pk), 3072, &pk2), -EINVAL);
	nb[paillier_n_bytes(pk) - 1] ^= 1; /* even */
	CHECK_INT(paillier_pub_from_bytes(nb, paillier_n_bytes(pk), 2048, &pk2), -EINVAL);
	CHECK_INT(paillier_pub_from_bytes(nb, 16, 0, &pk2), -EINVAL);
	free(bytes);
	BN_free(c);
	BN_free(m);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	CHECK_INT(fs_write_atomic(path, text, strlen(text), mode), 0);
}

/* Many values tested at once: the same verdicts and the same first
 * failing index as one by one. */
static void test_batch_membership(const struct paillier_priv *k,
				  const struct paillier_rand *rz)
{
	enum { N = 12 };
	const struct paillier_pub *pk = &k->pub;
	BIGNUM *c[N], *m = BN_new(), *saved[2];
	for (int i = 0; i < N; i++) {
		c[i] = BN_new();
		BN_set_word(m, (BN_ULONG)i * 1000);
		CHECK_INT(paillier_encrypt(pk, rz, m, c[i], ctx), 0);
	}
	const BIGNUM *const *cc = (const BIGNUM *const *)c;
	size_t bad = 99;
	CHECK_INT(paillier_check_cts(pk, cc, N, &bad, ctx), 0);
	CHECK_INT(paillier_check_cts(pk, cc, 0, &bad, ctx), 0);
	CHECK_INT(bad, 99);
	/* Multiples of p and q, zero, n^2: the first one is named. */
	saved[0] = c[7];
	saved[1] = c[4];
	BIGNUM *p3 = BN_new(), *qq = BN_new(), *zero = BN_new();
	BN_mul_word(BN_copy(p3, k->p), 3);
	BN_mul(qq, k->q, k->q, ctx);
	BN_zero(zero);
	c[7] = p3;
	CHECK_INT(paillier_check_cts(pk, cc, N, &bad, ctx), -EDOM);
	CHECK_INT(bad, 7);
	CHECK_INT(paillier_check_cts(pk, cc, 7, &bad, ctx), 0);
	c[4] = qq;
	CHECK_INT(paillier_check_cts(pk, cc, N, &bad, ctx), -EDOM);
	CHECK_INT(bad, 4);
	c[4] = zero;
	CHECK_INT(paillier_check_cts(pk, cc, N, &bad, ctx), -EDOM);
	CHECK_INT(bad, 4);
	c[4] = pk->n2;
	CHECK_INT(paillier_check_cts(pk, cc, N, &bad, ctx), -EDOM);
	CHECK_INT(bad, 4);

	/* Through the job: a range failure after a unit failure and before
	 * one; the message names whichever comes first. */
	size_t len = paillier_ct_bytes(pk);
	uint8_t *bytes[N];
	size_t lens[N];
	struct he_job job = { .n_ct = N, .ct = bytes, .ct_len = lens, .records = 1 };
	char msg[200];
	BIGNUM **out = NULL;
	const struct {
		BIGNUM *at4, *at7;
		int r;
		const char *msg;
	} cases[] = {
		{ saved[1], saved[0], 0, "" },
		{ saved[1], p3, -EDOM, "homomorphic.ciphertexts[7]: not in Z*_{n^2} (shares a factor with n)" },
		{ qq, p3, -EDOM, "homomorphic.ciphertexts[4]: not in Z*_{n^2} (shares a factor with n)" },
		{ zero, p3, -EDOM, "homomorphic.ciphertexts[4]: not in Z*_{n^2} (zero)" },
		{ qq, zero, -EDOM, "homomorphic.ciphertexts[4]: not in Z*_{n^2} (shares a factor with n)" },
		{ saved[1], pk->n2, -EDOM, "homomorphic.ciphertexts[7]: not in Z*_{n^2} (not below n^2)" },
	};
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		c[4] = cases[t].at4;
		c[7] = cases[t].at7;
		for (int i = 0; i < N; i++) {
			bytes[i] = malloc(len);
			lens[i] = len;
			BN_bn2binpad(c[i], bytes[i], (int)len);
		}
		msg[0] = 0;
		CHECK_INT(he_job_ciphertexts(&job, pk, &out, NULL, NULL, msg, sizeof msg),
			  cases[t].r);
		CHECK_STR(msg, cases[t].msg);
		if (cases[t].r == 0) {
			for (int i = 0; out && i < N; i++)
				CHECK(BN_cmp(out[i], c[i]) == 0);
			he_bn_array_free(out, N);
		}
		for (int i = 0; i < N; i++)
			free(bytes[i]);
	}
	c[4] = saved[1];
	c[7] = saved[0];
	for (int i = 0; i < N; i++)
		BN_free(c[i]);
	BN_free(p3);
	BN_free(qq);
	BN_free(zero);
	BN_free(m);
}

static void test_keyfiles(const struct paillier_priv *k)
{
	char dir[] = "/tmp/atoll-he-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char pub[128], priv[128], err[512], want[512];
	snprintf(pub, sizeof pub, "%s/k.pub", dir);
	snprintf(priv, sizeof priv, "%s/k.key", dir);
	CHECK_INT(paillier_pub_save(&k->pub, pub), 0);
	CHECK_INT(paillier_priv_save(k, priv), 0);
	struct stat st;
	CHECK_INT(stat(priv, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);

	struct paillier_pub *pk = NULL;
	struct paillier_priv *k2 = NULL;
	CHECK_INT(paillier_pub_load(pub, 2048, &pk, err, sizeof err), 0);
	CHECK(pk && paillier_pub_equal(pk, &k->pub));
	paillier_pub_free(pk);
	CHECK_INT(paillier_priv_load(priv, 2048, &k2, err, sizeof err), 0);
	CHECK(k2 && paillier_pub_equal(&k2->pub, &k->pub) && BN_cmp(k2->p, k->p) == 0);
	paillier_priv_free(k2);
	/* A private key as a public one, and the other way round. */
	CHECK_INT(paillier_pub_load(priv, 2048, &pk, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want,
		 "%s: not a atoll-paillier-public-key file (type 'atoll-paillier-private-key')",
		 priv);
	CHECK_STR(err, want);
	chmod(priv, 0640);
	CHECK_INT(paillier_priv_load(priv, 2048, &k2, err, sizeof err), -EPERM);
	snprintf(want, sizeof want,
		 "%s: private key is accessible to group or others (mode 0640); chmod 600", priv);
	CHECK_STR(err, want);
	CHECK_INT(paillier_pub_load(pub, 3072, &pk, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s: n is not an odd number of 3072..8192 bits", pub);
	CHECK_STR(err, want);

	/* Damaged files. */
	uint8_t *data;
	size_t len;
	CHECK_INT(fs_read_file(pub, 1 << 16, &data, &len), 0);
	char *s = (char *)data;
	char *n = strstr(s, "\"n\":\"");
	CHECK(n != NULL);
	if (n) {
		n[6] = n[6] == 'A' ? 'B' : 'A'; /* a different modulus, bits unchanged */
		write_text(priv, s, 0600);
	}
	write_text(pub, "{\"type\":\"atoll-paillier-public-key\",\"version\":2}", 0644);
	CHECK_INT(paillier_pub_load(pub, 2048, &pk, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s: unsupported key file version", pub);
	CHECK_STR(err, want);
	write_text(pub, "{\"type\":\"atoll-paillier-public-key\",\"version\":1,\"bits\":2048,\"n\":\"!!\"}",
		   0644);
	CHECK_INT(paillier_pub_load(pub, 2048, &pk, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s: 'n' is not base64", pub);
	CHECK_STR(err, want);
	write_text(pub, "{\"type\":", 0644);
	CHECK_INT(paillier_pub_load(pub, 2048, &pk, err, sizeof err), -EBADMSG);
	CHECK(strstr(err, ": not JSON: ") != NULL);
	free(data);

	/* A private key file is never replaced. */
	CHECK_INT(paillier_priv_save(k, priv), -EEXIST);
	/* A private key whose n is not p*q. */
	unlink(priv);
	CHECK_INT(paillier_priv_save(k, priv), 0);
	CHECK_INT(fs_read_file(priv, 1 << 16, &data, &len), 0);
	s = (char *)data;
	n = strstr(s, "\"n\":\"");
	if (n) {
		n[6] = n[6] == 'A' ? 'B' : 'A';
		write_text(priv, s, 0600);
	}
	CHECK_INT(paillier_priv_load(priv, 2048, &k2, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s: n is not p*q", priv);
	CHECK_STR(err, want);
	free(data);
	unlink(pub);
	unlink(priv);
	rmdir(dir);
}

static const char *job_msg(const char *doc)
{
	static char err[256];
	struct he_job *job = NULL;
	strcpy(err, "(none)");
	int r = he_job_parse((const uint8_t *)doc, strlen(doc), &job, err, sizeof err);
	he_job_free(job);
	if (r == 0)
		return "";
	CHECK_INT(r, -EINVAL);
	return err;
}

static void test_job_parse(void)
{
	struct he_job *job = NULL;
	const char *ok = "{\"homomorphic\": {\"key_id\": \"ck_1\", \"public_key\": \"AQID\","
			 " \"ciphertexts\": [\"BAUG\", \"-_8=\"], \"scale_bits\": \"40\", \"records\": 2}}";
	char err[256];
	CHECK_INT(he_job_parse((const uint8_t *)ok, strlen(ok), &job, err, sizeof err), 0);
	if (job) {
		CHECK_STR(job->key_id, "ck_1");
		CHECK_INT(job->n_len, 3);
		CHECK(job->n[2] == 3);
		CHECK_INT(job->n_ct, 2);
		CHECK(job->ct_len[1] == 2 && job->ct[1][0] == 0xfb);
		CHECK_INT(job->scale_bits, 40);
		CHECK_INT(job->records, 2);
		he_job_free(job);
	}
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"]}}"), "");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": []}}"),
		  "homomorphic.ciphertexts: expected a non-empty array of base64 strings");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\", 5]}}"),
		  "homomorphic.ciphertexts[1]: not a base64 string");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"A!==\"]}}"),
		  "homomorphic.ciphertexts[0]: not a base64 string");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"], \"public_key\": \"*\"}}"),
		  "homomorphic.public_key: not base64");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"], \"scale_bits\": -1}}"),
		  "homomorphic.scale_bits: expected an integer in 0..1024");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"], \"scale_bits\": 2000}}"),
		  "homomorphic.scale_bits: expected an integer in 0..1024");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"], \"records\": 1.5}}"),
		  "homomorphic.records: expected an unsigned 32-bit integer");
	CHECK_STR(job_msg("{\"homomorphic\": {\"ciphertexts\": [\"AQ==\"], \"extra\": 1}}"),
		  "homomorphic: unexpected field 'extra'");
	CHECK_STR(job_msg("{\"features\": [1, 2]}"),
		  "input: unexpected field 'features' (a homomorphic job carries only 'homomorphic')");
	CHECK_STR(job_msg("{}"), "input: no 'homomorphic' field");
	CHECK_STR(job_msg("{\"homomorphic\": []}"), "homomorphic: expected an object, got array");
	CHECK(strncmp(job_msg("{\"homomorphic\""), "input is not JSON: ", 19) == 0);
}

/* 1,000 encrypted values summed by the island's aggregation equal the
 * plain sum exactly (as integers, and so as fixed-point numbers). */
static void test_aggregate(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	enum { N = 1000 };
	BIGNUM **cts = calloc(N, sizeof *cts);
	BIGNUM *m = BN_new(), *want = BN_new(), *got = BN_new(), *v = BN_new();
	BN_zero(want);
	for (int i = 0; i < N; i++) {
		double x = (i % 2 ? -1 : 1) * (i * 37.25 + 0.001 * i);
		cts[i] = BN_new();
		CHECK_INT(paillier_fixed(x, 20, v), 0);
		BN_add(want, want, v);
		CHECK_INT(paillier_encode(pk, x, 20, m), 0);
		CHECK_INT(paillier_encrypt(pk, rz, m, cts[i], ctx), 0);
	}
	BIGNUM *sum[2] = { NULL, NULL };
	CHECK_INT(he_aggregate(pk, (const BIGNUM *const *)cts, N, 1, sum, NULL, NULL, ctx), 0);
	CHECK_INT(paillier_decrypt(k, sum[0], got, ctx), 0);
	BN_nnmod(want, want, pk->n, ctx);
	CHECK(BN_cmp(got, want) == 0);
	BN_free(sum[0]);
	/* As 500 records of 2 columns. */
	CHECK_INT(he_aggregate(pk, (const BIGNUM *const *)cts, 500, 2, sum, NULL, NULL, ctx), 0);
	CHECK_INT(paillier_add(pk, sum[0], sum[1], v, ctx), 0);
	CHECK_INT(paillier_decrypt(k, v, got, ctx), 0);
	CHECK(BN_cmp(got, want) == 0);
	BN_free(sum[0]);
	BN_free(sum[1]);
	he_bn_array_free(cts, N);
	BN_free(m);
	BN_free(want);
	BN_free(got);
	BN_free(v);
}

int main(void)
{
	ctx = BN_CTX_new();
	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	CHECK_INT(paillier_keygen(2048, &k), 0);
	if (!k)
		CHECK_DONE();
	CHECK_INT(k->pub.bits, 2048);
	CHECK_INT(paillier_ct_bytes(&k->pub), 512);
	CHECK_INT(BN_mod_word(k->p, 4), 3);
	CHECK_INT(BN_mod_word(k->q, 4), 3);
	CHECK_INT(paillier_keygen(100, &(struct paillier_priv *){ NULL }), -EINVAL);
	CHECK_INT(paillier_rand_new(&k->pub, &rz), 0);
	test_roundtrip(k, rz);
	test_homomorphic(k, rz);
	test_crt_paths(k, rz);
	test_dot_exact(k, rz);
	test_fixed(k);
	test_membership(k);
	test_batch_membership(k, rz);
	test_keyfiles(k);
	test_job_parse();
	test_aggregate(k, rz);
	paillier_rand_free(rz);
	paillier_priv_free(k);
	BN_CTX_free(ctx);
	CHECK_DONE();
}
