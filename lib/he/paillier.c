/* Paillier keys, randomizers, encryption, CRT decryption, homomorphic
 * operations with the Straus multi-exponentiation, fixed-point encoding. */
#include "he/paillier.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

/* Largest window for the fixed-base table and the multi-exponentiation. */
#define MAX_WINDOW 8

/* Work with the caller's BN_CTX or a fresh one. */
#define CTX_BEGIN(ctx, own)                          \
	BN_CTX *own = NULL;                          \
	if (!(ctx) && !((ctx) = own = BN_CTX_new())) \
		return -ENOMEM

/* ---- keys ---- */

static void pub_clear(struct paillier_pub *pk)
{
	BN_free(pk->n);
	BN_free(pk->n2);
	BN_free(pk->half_n);
	BN_MONT_CTX_free(pk->mont_n2);
	memset(pk, 0, sizeof *pk);
}

static int pub_init(struct paillier_pub *pk, const BIGNUM *n, BN_CTX *ctx)
{
	memset(pk, 0, sizeof *pk);
	pk->n = BN_dup(n);
	pk->n2 = BN_new();
	pk->half_n = BN_new();
	pk->mont_n2 = BN_MONT_CTX_new();
	if (!pk->n || !pk->n2 || !pk->half_n || !pk->mont_n2 ||
	    !BN_sqr(pk->n2, n, ctx) || !BN_rshift1(pk->half_n, n) ||
	    !BN_MONT_CTX_set(pk->mont_n2, pk->n2, ctx)) {
		pub_clear(pk);
		return -ENOMEM;
	}
	pk->bits = BN_num_bits(n);
	return 0;
}

static int clamp_min_bits(int min_bits)
{
	return min_bits < 512 ? 512 : min_bits;
}

int paillier_pub_from_bytes(const uint8_t *n_be, size_t len, int min_bits,
			    struct paillier_pub **ret_pub)
{
	if (len > PAILLIER_MAX_BITS / 8 + 64)
		return -EINVAL;
	BIGNUM *n = BN_bin2bn(n_be, (int)len, NULL);
	if (!n)
		return -ENOMEM;
	int r = -EINVAL;
	int bits = BN_num_bits(n);
	if (!BN_is_odd(n) || bits < clamp_min_bits(min_bits) ||
	    bits > PAILLIER_MAX_BITS)
		goto done_n;
	struct paillier_pub *pk = malloc(sizeof *pk);
	BN_CTX *ctx = BN_CTX_new();
	r = -ENOMEM;
	if (pk && ctx && (r = pub_init(pk, n, ctx)) == 0) {
		*ret_pub = pk;
		pk = NULL;
	}
	free(pk);
	BN_CTX_free(ctx);

done_n:
	BN_free(n);
	return r;
}

int paillier_pub_dup(const struct paillier_pub *pk, struct paillier_pub **ret_pub)
{
	struct paillier_pub *copy = malloc(sizeof *copy);
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM;
	if (copy && ctx && (r = pub_init(copy, pk->n, ctx)) == 0) {
		*ret_pub = copy;
		copy = NULL;
	}
	free(copy);
	BN_CTX_free(ctx);
	return r;
}

struct paillier_pub *paillier_pub_free(struct paillier_pub *pk)
{
	if (!pk)
		return NULL;
	pub_clear(pk);
	free(pk);
	return NULL;
}

size_t paillier_n_bytes(const struct paillier_pub *pk)
{
	return (size_t)(pk->bits + 7) / 8;
}

size_t paillier_ct_bytes(const struct paillier_pub *pk)
{
	return (size_t)BN_num_bytes(pk->n2);
}

int paillier_pub_n(const struct paillier_pub *pk, uint8_t *out)
{
	return BN_bn2binpad(pk->n, out, (int)paillier_n_bytes(pk)) < 0 ? -EINVAL : 0;
}

bool paillier_pub_equal(const struct paillier_pub *a, const struct paillier_pub *b)
{
	return BN_cmp(a->n, b->n) == 0;
}

struct paillier_priv *paillier_priv_free(struct paillier_priv *k)
{
	if (!k)
		return NULL;
	pub_clear(&k->pub);
	BN_clear_free(k->p);
	BN_clear_free(k->q);
	BN_clear_free(k->p2);
	BN_clear_free(k->q2);
	BN_clear_free(k->pm1);
	BN_clear_free(k->qm1);
	BN_clear_free(k->hp);
	BN_clear_free(k->hq);
	BN_clear_free(k->p_inv_q);
	BN_MONT_CTX_free(k->mont_p2);
	BN_MONT_CTX_free(k->mont_q2);
	OPENSSL_cleanse(k, sizeof *k);
	free(k);
	return NULL;
}

/* h = L_p((n+1)^(p-1) mod p^2)^-1 mod p, where L_p(x) = (x - 1) / p. */
static int crt_h(const BIGNUM *n, const BIGNUM *p, const BIGNUM *p2,
		 const BIGNUM *pm1, BIGNUM *ret_h, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *g = BN_CTX_get(ctx);
	BIGNUM *x = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!x || !BN_copy(g, n) || !BN_add_word(g, 1) ||
	    !BN_mod_exp(x, g, pm1, p2, ctx) || !BN_sub_word(x, 1) ||
	    !BN_div(x, NULL, x, p, ctx))
		goto done_ctx;
	r = BN_mod_inverse(ret_h, x, p, ctx) ? 0 : -EINVAL;

done_ctx:
	BN_CTX_end(ctx);
	return r;
}

int paillier_priv_from_primes(const BIGNUM *p, const BIGNUM *q, int min_bits,
			      struct paillier_priv **ret_key)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	struct paillier_priv *k = calloc(1, sizeof *k);
	BIGNUM *n = BN_new(), *g = BN_new();
	int r = -ENOMEM;
	if (!ctx || !k || !n || !g)
		goto fail_key;
	r = -EINVAL;
	if (BN_cmp(p, q) == 0 || BN_is_negative(p) || BN_is_negative(q) ||
	    BN_num_bits(p) < 256 || BN_num_bits(q) < 256)
		goto fail_key;
	if (!BN_mul(n, p, q, ctx)) {
		r = -ENOMEM;
		goto fail_key;
	}
	if (BN_num_bits(n) < clamp_min_bits(min_bits) ||
	    BN_num_bits(n) > PAILLIER_MAX_BITS)
		goto fail_key;
	if (BN_check_prime(p, ctx, NULL) != 1 || BN_check_prime(q, ctx, NULL) != 1)
		goto fail_key;
	r = -ENOMEM;
	k->p = BN_secure_new();
	k->q = BN_secure_new();
	k->p2 = BN_secure_new();
	k->q2 = BN_secure_new();
	k->pm1 = BN_secure_new();
	k->qm1 = BN_secure_new();
	k->hp = BN_secure_new();
	k->hq = BN_secure_new();
	k->p_inv_q = BN_secure_new();
	k->mont_p2 = BN_MONT_CTX_new();
	k->mont_q2 = BN_MONT_CTX_new();
	if (!k->p || !k->q || !k->p2 || !k->q2 || !k->pm1 || !k->qm1 || !k->hp ||
	    !k->hq || !k->p_inv_q || !k->mont_p2 || !k->mont_q2)
		goto fail_key;
	if (!BN_copy(k->p, p) || !BN_copy(k->q, q) || !BN_sqr(k->p2, p, ctx) ||
	    !BN_sqr(k->q2, q, ctx) || !BN_copy(k->pm1, p) ||
	    !BN_sub_word(k->pm1, 1) || !BN_copy(k->qm1, q) ||
	    !BN_sub_word(k->qm1, 1) ||
	    !BN_MONT_CTX_set(k->mont_p2, k->p2, ctx) ||
	    !BN_MONT_CTX_set(k->mont_q2, k->q2, ctx))
		goto fail_key;
	/* gcd(n, (p-1)(q-1)) = 1 is what makes 1 + n generate the plaintext
	 * group; it holds for primes of equal size but costs nothing to check. */
	if (!BN_mul(g, k->pm1, k->qm1, ctx) || !BN_gcd(g, g, n, ctx))
		goto fail_key;
	if (!BN_is_one(g)) {
		r = -EINVAL;
		goto fail_key;
	}
	if ((r = crt_h(n, k->p, k->p2, k->pm1, k->hp, ctx)) < 0 ||
	    (r = crt_h(n, k->q, k->q2, k->qm1, k->hq, ctx)) < 0)
		goto fail_key;
	if (!BN_mod_inverse(k->p_inv_q, k->p, k->q, ctx)) {
		r = -EINVAL;
		goto fail_key;
	}
	BN_set_flags(k->pm1, BN_FLG_CONSTTIME);
	BN_set_flags(k->qm1, BN_FLG_CONSTTIME);
	if ((r = pub_init(&k->pub, n, ctx)) < 0)
		goto fail_key;
	*ret_key = k;
	k = NULL;
	r = 0;

fail_key:
	paillier_priv_free(k);
	BN_free(n);
	BN_free(g);
	BN_CTX_free(ctx);
	return r;
}

int paillier_keygen(int bits, struct paillier_priv **ret_key)
{
	if (bits < 512 || bits > PAILLIER_MAX_BITS)
		return -EINVAL;
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *p = BN_secure_new(), *q = BN_secure_new(), *n = BN_new();
	BIGNUM *g = BN_new(), *four = BN_new(), *three = BN_new();
	int r = -ENOMEM;
	if (!ctx || !p || !q || !n || !g || !four || !three ||
	    !BN_set_word(four, 4) || !BN_set_word(three, 3))
		goto done_bn;
	/* The generator sets only the top bit of each prime, so the product
	 * may come out one bit short: draw again until it has `bits` bits. */
	for (int tries = 0; tries < 1000; tries++) {
		if (!BN_generate_prime_ex(p, (bits + 1) / 2, 0, four, three, NULL) ||
		    !BN_generate_prime_ex(q, bits / 2, 0, four, three, NULL) ||
		    !BN_mul(n, p, q, ctx)) {
			r = -EIO;
			goto done_bn;
		}
		if (BN_num_bits(n) != bits || BN_cmp(p, q) == 0)
			continue;
		/* gcd(p-1, q-1) = 2 makes the Jacobi-1 subgroup cyclic, so that
		 * h = -x^2 generates a large subgroup of it. */
		if (!BN_sub_word(p, 1) || !BN_sub_word(q, 1) || !BN_gcd(g, p, q, ctx) ||
		    !BN_add_word(p, 1) || !BN_add_word(q, 1)) {
			r = -ENOMEM;
			goto done_bn;
		}
		if (!BN_is_word(g, 2))
			continue;
		r = paillier_priv_from_primes(p, q, 512, ret_key);
		goto done_bn;
	}
	r = -EIO;

done_bn:
	BN_clear_free(p);
	BN_clear_free(q);
	BN_free(n);
	BN_free(g);
	BN_free(four);
	BN_free(three);
	BN_CTX_free(ctx);
	return r;
}

/* ---- randomizers ---- */

/* Uniform in 1..n-1. Not checked to be a unit of Z_n: one that is not
 * would share a factor with n, which happens with probability about
 * 2^(1 - bits/2), i.e. never unless n can be factored anyway. */
static int random_nonzero(const BIGNUM *n, BIGNUM *ret)
{
	do {
		if (!BN_priv_rand_range(ret, n))
			return -EIO;
	} while (BN_is_zero(ret));
	return 0;
}

int paillier_rand_full(const struct paillier_pub *pk, BIGNUM *ret, BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *x = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!x || (r = random_nonzero(pk->n, x)) < 0)
		goto done_ctx;
	r = BN_mod_exp_mont(ret, x, pk->n, pk->n2, ctx, pk->mont_n2) ? 0 : -EIO;
	BN_clear(x);

done_ctx:
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

struct paillier_rand {
	const struct paillier_pub *pk; /* borrowed: must outlive the table */
	int exp_bits;   /* bits of the exponent a */
	int window;     /* bits per table digit */
	int n_win;      /* digits: ceil(exp_bits / window) */
	BIGNUM *hs;     /* h_s = (-x^2)^n mod n^2 */
	BIGNUM **tab;   /* tab[i] = h_s^(2^(window*i)), Montgomery form */
};

struct paillier_rand *paillier_rand_free(struct paillier_rand *rz)
{
	if (!rz)
		return NULL;
	BN_free(rz->hs);
	if (rz->tab) {
		for (int i = 0; i < rz->n_win; i++)
			BN_free(rz->tab[i]);
		free(rz->tab);
	}
	free(rz);
	return NULL;
}

int paillier_rand_new(const struct paillier_pub *pk, struct paillier_rand **ret_rz)
{
	struct paillier_rand *rz = calloc(1, sizeof *rz);
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *x = BN_new(), *h = BN_new();
	int r = -ENOMEM;
	if (!rz || !ctx || !x || !h)
		goto fail_rz;
	rz->pk = pk;
	rz->exp_bits = (pk->bits + 1) / 2;
	/* The evaluation below costs n_win + 2 * (2^w - 1) multiplications:
	 * pick the window that minimises it. */
	int best = 1;
	long best_cost = -1;
	for (int w = 1; w <= MAX_WINDOW; w++) {
		long cost = (rz->exp_bits + w - 1) / w + 2L * ((1L << w) - 1);
		if (best_cost < 0 || cost < best_cost) {
			best = w;
			best_cost = cost;
		}
	}
	rz->window = best;
	rz->n_win = (rz->exp_bits + best - 1) / best;
	rz->hs = BN_new();
	rz->tab = calloc((size_t)rz->n_win, sizeof *rz->tab);
	if (!rz->hs || !rz->tab)
		goto fail_rz;
	if ((r = random_nonzero(pk->n, x)) < 0)
		goto fail_rz;
	r = -ENOMEM;
	if (!BN_mod_sqr(h, x, pk->n, ctx) || !BN_sub(h, pk->n, h) ||
	    !BN_mod_exp_mont(rz->hs, h, pk->n, pk->n2, ctx, pk->mont_n2))
		goto fail_rz;
	for (int i = 0; i < rz->n_win; i++) {
		if (!(rz->tab[i] = BN_new()))
			goto fail_rz;
		if (i == 0) {
			if (!BN_to_montgomery(rz->tab[0], rz->hs, pk->mont_n2, ctx))
				goto fail_rz;
			continue;
		}
		if (!BN_copy(rz->tab[i], rz->tab[i - 1]))
			goto fail_rz;
		for (int s = 0; s < rz->window; s++)
			if (!BN_mod_mul_montgomery(rz->tab[i], rz->tab[i], rz->tab[i],
						   pk->mont_n2, ctx))
				goto fail_rz;
	}
	*ret_rz = rz;
	rz = NULL;
	r = 0;

fail_rz:
	BN_clear_free(x);
	BN_clear_free(h);
	BN_CTX_free(ctx);
	paillier_rand_free(rz);
	return r;
}

int paillier_rand_short(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx)
{
	const struct paillier_pub *pk = rz->pk;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *a = BN_CTX_get(ctx);
	BIGNUM *A = BN_CTX_get(ctx);
	BIGNUM *B = BN_CTX_get(ctx);
	uint8_t *digit = malloc((size_t)rz->n_win);
	int r = -ENOMEM;
	if (!B || !digit)
		goto done_ctx;
	if (!BN_priv_rand(a, rz->exp_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
		r = -EIO;
		goto done_ctx;
	}
	for (int i = 0; i < rz->n_win; i++) {
		unsigned d = 0;
		for (int b = rz->window - 1; b >= 0; b--)
			d = d << 1 | (unsigned)BN_is_bit_set(a, i * rz->window + b);
		digit[i] = (uint8_t)d;
	}
	/* h_s^a = prod_d (prod_{digit_i = d} tab[i])^d, evaluated from the
	 * largest digit down: B collects the tab[i] of digits >= d and A
	 * multiplies B in once per step, so B's entries end up raised to
	 * their digit. */
	int a_one = 1, b_one = 1;
	for (int d = (1 << rz->window) - 1; d >= 1; d--) {
		for (int i = 0; i < rz->n_win; i++) {
			if (digit[i] != d)
				continue;
			if (b_one ? !BN_copy(B, rz->tab[i])
				  : !BN_mod_mul_montgomery(B, B, rz->tab[i], pk->mont_n2, ctx))
				goto done_ctx;
			b_one = 0;
		}
		if (b_one)
			continue;
		if (a_one ? !BN_copy(A, B)
			  : !BN_mod_mul_montgomery(A, A, B, pk->mont_n2, ctx))
			goto done_ctx;
		a_one = 0;
	}
	if (a_one ? !BN_one(ret) : !BN_from_montgomery(ret, A, pk->mont_n2, ctx))
		goto done_ctx;
	r = 0;

done_ctx:
	if (digit) {
		OPENSSL_cleanse(digit, (size_t)rz->n_win);
		free(digit);
	}
	if (B) {
		BN_clear(a);
		BN_clear(A);
		BN_clear(B);
	}
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_rand_short_ct(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx)
{
	const struct paillier_pub *pk = rz->pk;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *a = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!a)
		goto done_ctx;
	r = -EIO;
	if (!BN_priv_rand(a, rz->exp_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
		goto done_ctx;
	BN_set_flags(a, BN_FLG_CONSTTIME);
	if (BN_mod_exp_mont_consttime(ret, rz->hs, a, pk->n2, ctx, pk->mont_n2))
		r = 0;
	BN_clear(a);

done_ctx:
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

/* ---- encryption ---- */

int paillier_check_ct(const struct paillier_pub *pk, const BIGNUM *c, BN_CTX *ctx)
{
	if (BN_is_zero(c) || BN_is_negative(c) || BN_cmp(c, pk->n2) >= 0)
		return -EDOM;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *t = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!t || !BN_nnmod(t, c, pk->n, ctx))
		goto done_ctx;
	/* c is a unit mod n^2 iff it is one mod n, iff it has an inverse mod
	 * n. Ciphertexts are public, so the variable-time inverse (far faster
	 * than OpenSSL's constant-time gcd) is fine; its "no inverse" error is
	 * an answer here, not a failure, so it is popped off the queue. */
	ERR_set_mark();
	r = BN_mod_inverse(t, t, pk->n, ctx) ? 0 : -EDOM;
	ERR_pop_to_mark();

done_ctx:
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_check_cts(const struct paillier_pub *pk, const BIGNUM *const *c, size_t count,
		       size_t *ret_bad, BN_CTX *ctx)
{
	if (count == 0)
		return 0;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *prod = BN_CTX_get(ctx), *t = BN_CTX_get(ctx);
	bool batch_ok = prod && t && BN_one(prod);
	/* A prime factor of n divides the product iff it divides one of the
	 * factors: one inverse answers for all of them. */
	for (size_t i = 0; batch_ok && i < count; i++)
		batch_ok = !BN_is_zero(c[i]) && !BN_is_negative(c[i]) &&
			   BN_cmp(c[i], pk->n2) < 0 && BN_nnmod(t, c[i], pk->n, ctx) &&
			   BN_mod_mul(prod, prod, t, pk->n, ctx);
	if (batch_ok) {
		ERR_set_mark();
		batch_ok = BN_mod_inverse(t, prod, pk->n, ctx) != NULL;
		ERR_pop_to_mark();
	}
	int r = 0;
	/* Some value fails (or memory ran out): find the first one. */
	for (size_t i = 0; !batch_ok && i < count; i++) {
		if ((r = paillier_check_ct(pk, c[i], ctx)) == -EDOM)
			*ret_bad = i;
		if (r < 0)
			break;
	}
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_encrypt(const struct paillier_pub *pk, const struct paillier_rand *rz,
		     const BIGNUM *m, BIGNUM *ret_c, BN_CTX *ctx)
{
	if (BN_is_negative(m) || BN_cmp(m, pk->n) >= 0)
		return -EDOM;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *gm = BN_CTX_get(ctx);
	BIGNUM *rn = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!rn)
		goto done_ctx;
	/* g^m = 1 + m*n, already below n^2 since m < n. */
	if (!BN_mul(gm, m, pk->n, ctx) || !BN_add_word(gm, 1))
		goto done_ctx;
	if ((r = rz ? paillier_rand_short(rz, rn, ctx)
		    : paillier_rand_full(pk, rn, ctx)) < 0)
		goto done_ctx;
	r = BN_mod_mul(ret_c, gm, rn, pk->n2, ctx) ? 0 : -ENOMEM;
	BN_clear(gm);
	BN_clear(rn);

done_ctx:
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

/* m_p = L_p(c^(p-1) mod p^2) * h_p mod p. */
static int decrypt_half(const BIGNUM *c, const BIGNUM *p, const BIGNUM *p2,
			const BIGNUM *pm1, const BIGNUM *hp, BN_MONT_CTX *mont,
			BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *cp = BN_CTX_get(ctx);
	BIGNUM *x = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!x)
		goto done_ctx;
	if (!BN_nnmod(cp, c, p2, ctx) ||
	    !BN_mod_exp_mont_consttime(x, cp, pm1, p2, ctx, mont) ||
	    !BN_sub_word(x, 1) || !BN_div(x, NULL, x, p, ctx) ||
	    !BN_mod_mul(ret, x, hp, p, ctx))
		goto done_ctx;
	r = 0;

done_ctx:
	BN_clear(cp);
	BN_clear(x);
	BN_CTX_end(ctx);
	return r;
}

int paillier_decrypt(const struct paillier_priv *k, const BIGNUM *c, BIGNUM *ret_m,
		     BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	int r = paillier_check_ct(&k->pub, c, ctx);
	if (r < 0) {
		BN_CTX_free(own);
		return r;
	}
	BN_CTX_start(ctx);
	BIGNUM *mp = BN_CTX_get(ctx);
	BIGNUM *mq = BN_CTX_get(ctx);
	BIGNUM *t = BN_CTX_get(ctx);
	r = -ENOMEM;
	if (!t)
		goto done_ctx;
	if ((r = decrypt_half(c, k->p, k->p2, k->pm1, k->hp, k->mont_p2, mp, ctx)) < 0 ||
	    (r = decrypt_half(c, k->q, k->q2, k->qm1, k->hq, k->mont_q2, mq, ctx)) < 0)
		goto done_ctx;
	/* Garner: m = m_p + p * ((m_q - m_p) * p^-1 mod q). */
	r = -ENOMEM;
	if (!BN_mod_sub(t, mq, mp, k->q, ctx) ||
	    !BN_mod_mul(t, t, k->p_inv_q, k->q, ctx) || !BN_mul(t, t, k->p, ctx) ||
	    !BN_add(ret_m, t, mp))
		goto done_ctx;
	r = 0;

done_ctx:
	BN_clear(mp);
	BN_clear(mq);
	BN_clear(t);
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_add(const struct paillier_pub *pk, const BIGNUM *a, const BIGNUM *b,
		 BIGNUM *ret, BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	int r = BN_mod_mul(ret, a, b, pk->n2, ctx) ? 0 : -ENOMEM;
	BN_CTX_free(own);
	return r;
}

int paillier_add_plain(const struct paillier_pub *pk, const BIGNUM *c, const BIGNUM *k,
		       BIGNUM *ret, BN_CTX *ctx)
{
	if (BN_ucmp(k, pk->half_n) > 0)
		return -EDOM;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *t = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (t && BN_nnmod(t, k, pk->n, ctx) && BN_mul(t, t, pk->n, ctx) &&
	    BN_add_word(t, 1) && BN_mod_mul(ret, c, t, pk->n2, ctx))
		r = 0;
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_rerandomize(const struct paillier_pub *pk, const BIGNUM *c, BIGNUM *ret,
			 BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *rn = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (rn && (r = paillier_rand_full(pk, rn, ctx)) == 0)
		r = BN_mod_mul(ret, c, rn, pk->n2, ctx) ? 0 : -ENOMEM;
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

/* Bits [pos, pos + w) of |v|. */
static unsigned window_at(const BIGNUM *v, int pos, int w)
{
	unsigned d = 0;
	for (int b = w - 1; b >= 0; b--)
		d = d << 1 | (unsigned)BN_is_bit_set(v, pos + b);
	return d;
}

int paillier_dot(const struct paillier_pub *pk, const BIGNUM *const *c,
		 const BIGNUM *const *w, size_t count, BIGNUM *ret, BN_CTX *ctx)
{
	int max_bits = 0;
	for (size_t i = 0; i < count; i++) {
		if (BN_ucmp(w[i], pk->half_n) > 0)
			return -EDOM;
		if (BN_num_bits(w[i]) > max_bits)
			max_bits = BN_num_bits(w[i]);
	}
	CTX_BEGIN(ctx, own);
	/* Straus: one shared run of squarings over the longest exponent, and
	 * per base a table of its powers 1..2^win-1 read one digit at a time.
	 * Cost per base: 2^win - 2 multiplications for the table plus one per
	 * non-zero digit; pick win to minimise it. */
	int win = 1;
	long best = -1;
	for (int t = 1; t <= 6; t++) {
		long cost = ((1L << t) - 2) + (max_bits + t - 1) / t;
		if (best < 0 || cost < best) {
			best = cost;
			win = t;
		}
	}
	size_t per = ((size_t)1 << win) - 1;
	BIGNUM **tab = count ? calloc(count * per, sizeof *tab) : NULL;
	BIGNUM *acc[2] = { BN_new(), BN_new() };
	int one[2] = { 1, 1 };
	int r = -ENOMEM;
	if ((count && !tab) || !acc[0] || !acc[1])
		goto done_tab;
	for (size_t i = 0; i < count; i++) {
		if (BN_is_zero(w[i]))
			continue;
		BIGNUM **ti = tab + i * per;
		for (size_t j = 0; j < per; j++)
			if (!(ti[j] = BN_new()))
				goto done_tab;
		if (!BN_to_montgomery(ti[0], c[i], pk->mont_n2, ctx))
			goto done_tab;
		for (size_t j = 1; j < per; j++)
			if (!BN_mod_mul_montgomery(ti[j], ti[j - 1], ti[0], pk->mont_n2, ctx))
				goto done_tab;
	}
	int n_pos = (max_bits + win - 1) / win;
	for (int pos = n_pos - 1; pos >= 0; pos--) {
		for (int s = 0; s < 2; s++) {
			if (one[s])
				continue;
			for (int k = 0; k < win; k++)
				if (!BN_mod_mul_montgomery(acc[s], acc[s], acc[s], pk->mont_n2, ctx))
					goto done_tab;
		}
		for (size_t i = 0; i < count; i++) {
			if (BN_is_zero(w[i]))
				continue;
			unsigned d = window_at(w[i], pos * win, win);
			if (!d)
				continue;
			int s = BN_is_negative(w[i]) ? 1 : 0;
			BIGNUM *f = tab[i * per + d - 1];
			if (one[s] ? !BN_copy(acc[s], f)
				   : !BN_mod_mul_montgomery(acc[s], acc[s], f, pk->mont_n2, ctx))
				goto done_tab;
			one[s] = 0;
		}
	}
	for (int s = 0; s < 2; s++)
		if (one[s] ? !BN_one(acc[s])
			   : !BN_from_montgomery(acc[s], acc[s], pk->mont_n2, ctx))
			goto done_tab;
	if (!one[1]) {
		/* The inputs are units of Z_{n^2}, so the inverse exists. */
		if (!BN_mod_inverse(acc[1], acc[1], pk->n2, ctx)) {
			r = -EDOM;
			goto done_tab;
		}
		if (!BN_mod_mul(acc[0], acc[0], acc[1], pk->n2, ctx))
			goto done_tab;
	}
	r = BN_copy(ret, acc[0]) ? 0 : -ENOMEM;

done_tab:
	if (tab) {
		for (size_t i = 0; i < count * per; i++)
			BN_free(tab[i]);
		free(tab);
	}
	BN_free(acc[0]);
	BN_free(acc[1]);
	BN_CTX_free(own);
	return r;
}

/* ---- fixed point ---- */

int paillier_fixed(double v, unsigned scale_bits, BIGNUM *ret)
{
	if (!isfinite(v) || scale_bits > PAILLIER_MAX_FIXED_BITS)
		return -EINVAL;
	if (v == 0) {
		BN_zero(ret);
		return 0;
	}
	int e;
	double f = frexp(fabs(v), &e); /* |v| = f * 2^e, 0.5 <= f < 1 */
	uint64_t mant = (uint64_t)ldexp(f, 53); /* exact: 2^52 <= mant < 2^53 */
	int shift = e - 53 + (int)scale_bits;
	if (shift >= 0) {
		if (!BN_set_word(ret, mant) || !BN_lshift(ret, ret, shift))
			return -ENOMEM;
	} else if (-shift > 54) {
		BN_zero(ret);
	} else {
		/* Round half away from zero: add half of the dropped unit. */
		mant = (mant + ((uint64_t)1 << (-shift - 1))) >> -shift;
		if (!BN_set_word(ret, mant))
			return -ENOMEM;
	}
	if (v < 0 && !BN_is_zero(ret))
		BN_set_negative(ret, 1);
	return 0;
}

int paillier_encode(const struct paillier_pub *pk, double v, unsigned scale_bits,
		    BIGNUM *ret_m)
{
	BIGNUM *t = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM;
	if (!t || !ctx)
		goto done_t;
	if ((r = paillier_fixed(v, scale_bits, t)) < 0)
		goto done_t;
	if (BN_ucmp(t, pk->half_n) > 0) {
		r = -EDOM;
		goto done_t;
	}
	r = BN_nnmod(ret_m, t, pk->n, ctx) ? 0 : -ENOMEM;

done_t:
	BN_clear_free(t);
	BN_CTX_free(ctx);
	return r;
}

double paillier_bn_to_double(const BIGNUM *v, unsigned scale_bits)
{
	int bits = BN_num_bits(v);
	double d;
	if (bits <= 64) {
		d = ldexp((double)BN_get_word(v), -(int)scale_bits);
	} else {
		/* The top 64 bits carry more precision than a double holds; one
		 * ldexp keeps a large intermediate from overflowing. */
		BIGNUM *t = BN_new();
		if (!t || !BN_rshift(t, v, bits - 64)) {
			BN_free(t);
			return NAN;
		}
		d = ldexp((double)BN_get_word(t), bits - 64 - (int)scale_bits);
		BN_clear_free(t);
	}
	return BN_is_negative(v) ? -d : d;
}

int paillier_decode(const struct paillier_pub *pk, const BIGNUM *m,
		    unsigned scale_bits, double *ret)
{
	if (BN_is_negative(m) || BN_cmp(m, pk->n) >= 0 ||
	    scale_bits > PAILLIER_MAX_FIXED_BITS)
		return -EDOM;
	if (BN_cmp(m, pk->half_n) <= 0) {
		*ret = paillier_bn_to_double(m, scale_bits);
		return 0;
	}
	BIGNUM *t = BN_new();
	if (!t || !BN_sub(t, m, pk->n)) {
		BN_free(t);
		return -ENOMEM;
	}
	*ret = paillier_bn_to_double(t, scale_bits);
	BN_clear_free(t);
	return 0;
}

/* ---- bytes ---- */

int paillier_ct_to_bytes(const struct paillier_pub *pk, const BIGNUM *c, uint8_t *out)
{
	return BN_bn2binpad(c, out, (int)paillier_ct_bytes(pk)) < 0 ? -EINVAL : 0;
}

int paillier_ct_parse(const struct paillier_pub *pk, const uint8_t *in, size_t len,
		      BIGNUM *ret_c, const char **ret_why)
{
	if (len > paillier_ct_bytes(pk)) {
		*ret_why = "longer than n^2";
		return -EINVAL;
	}
	if (!BN_bin2bn(in, (int)len, ret_c))
		return -ENOMEM;
	if (BN_is_zero(ret_c)) {
		*ret_why = "zero";
		return -EDOM;
	}
	if (BN_cmp(ret_c, pk->n2) >= 0) {
		*ret_why = "not below n^2";
		return -EDOM;
	}
	return 0;
}

int paillier_ct_from_bytes(const struct paillier_pub *pk, const uint8_t *in, size_t len,
			   BIGNUM *ret_c, const char **ret_why, BN_CTX *ctx)
{
	int r = paillier_ct_parse(pk, in, len, ret_c, ret_why);
	if (r < 0)
		return r;
	r = paillier_check_ct(pk, ret_c, ctx);
	if (r == -EDOM)
		*ret_why = "shares a factor with n";
	return r;
}
