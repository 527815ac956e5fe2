/* Paillier keys, randomizers (with the key owner's CRT shortcuts),
 * encryption, CRT decryption, homomorphic operations with the Bos-Coster
 * multi-exponentiation, fixed-point encoding. */
#include "he/paillier.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

/* Largest window of the fixed-base tables. */
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
	BN_clear_free(k->q_mod_pm1);
	BN_clear_free(k->p_mod_qm1);
	BN_clear_free(k->p2_inv_q2);
	BN_MONT_CTX_free(k->mont_p2);
	BN_MONT_CTX_free(k->mont_q2);
	BN_MONT_CTX_free(k->mont_p);
	BN_MONT_CTX_free(k->mont_q);
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
	k->q_mod_pm1 = BN_secure_new();
	k->p_mod_qm1 = BN_secure_new();
	k->p2_inv_q2 = BN_secure_new();
	k->mont_p2 = BN_MONT_CTX_new();
	k->mont_q2 = BN_MONT_CTX_new();
	k->mont_p = BN_MONT_CTX_new();
	k->mont_q = BN_MONT_CTX_new();
	if (!k->p || !k->q || !k->p2 || !k->q2 || !k->pm1 || !k->qm1 || !k->hp ||
	    !k->hq || !k->p_inv_q || !k->q_mod_pm1 || !k->p_mod_qm1 || !k->p2_inv_q2 ||
	    !k->mont_p2 || !k->mont_q2 || !k->mont_p || !k->mont_q)
		goto fail_key;
	if (!BN_copy(k->p, p) || !BN_copy(k->q, q) || !BN_sqr(k->p2, p, ctx) ||
	    !BN_sqr(k->q2, q, ctx) || !BN_copy(k->pm1, p) ||
	    !BN_sub_word(k->pm1, 1) || !BN_copy(k->qm1, q) ||
	    !BN_sub_word(k->qm1, 1) ||
	    !BN_nnmod(k->q_mod_pm1, q, k->pm1, ctx) ||
	    !BN_nnmod(k->p_mod_qm1, p, k->qm1, ctx) ||
	    !BN_MONT_CTX_set(k->mont_p2, k->p2, ctx) ||
	    !BN_MONT_CTX_set(k->mont_q2, k->q2, ctx) ||
	    !BN_MONT_CTX_set(k->mont_p, k->p, ctx) ||
	    !BN_MONT_CTX_set(k->mont_q, k->q, ctx))
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
	if (!BN_mod_inverse(k->p_inv_q, k->p, k->q, ctx) ||
	    !BN_mod_inverse(k->p2_inv_q2, k->p2, k->q2, ctx)) {
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

/* r^n mod p^2. Z*_{p^2} has order p(p-1) and x^p mod p^2 depends only on
 * x mod p, so r^n = (r^q)^p = (r^(q mod p-1) mod p)^p mod p^2 (also when p
 * divides r: both sides are 0). Two constant-time exponentiations by
 * secrets of half the size of n, modulo p and p^2, instead of one by n
 * modulo n^2. */
static int pow_n_half(const BIGNUM *base, const BIGNUM *p, const BIGNUM *p2,
		      const BIGNUM *q_mod_pm1, BN_MONT_CTX *mont_p, BN_MONT_CTX *mont_p2,
		      BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *x = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (x && BN_nnmod(x, base, p, ctx) &&
	    BN_mod_exp_mont_consttime(x, x, q_mod_pm1, p, ctx, mont_p) &&
	    BN_mod_exp_mont_consttime(ret, x, p, p2, ctx, mont_p2))
		r = 0;
	if (x)
		BN_clear(x);
	BN_CTX_end(ctx);
	return r;
}

/* The x mod n^2 with x = x_p mod p^2 and x = x_q mod q^2 (Garner). */
static int crt_combine(const struct paillier_priv *k, const BIGNUM *xp, const BIGNUM *xq,
		       BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *t = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (t && BN_mod_sub(t, xq, xp, k->q2, ctx) && BN_mod_mul(t, t, k->p2_inv_q2, k->q2, ctx) &&
	    BN_mul(t, t, k->p2, ctx) && BN_add(ret, t, xp))
		r = 0;
	if (t)
		BN_clear(t);
	BN_CTX_end(ctx);
	return r;
}

int paillier_pow_n_crt(const struct paillier_priv *k, const BIGNUM *r, BIGNUM *ret,
		       BN_CTX *ctx)
{
	if (BN_is_negative(r) || BN_cmp(r, k->pub.n) >= 0)
		return -EDOM;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *xp = BN_CTX_get(ctx);
	BIGNUM *xq = BN_CTX_get(ctx);
	int res = -ENOMEM;
	if (!xq)
		goto done_ctx;
	if ((res = pow_n_half(r, k->p, k->p2, k->q_mod_pm1, k->mont_p, k->mont_p2, xp, ctx)) < 0 ||
	    (res = pow_n_half(r, k->q, k->q2, k->p_mod_qm1, k->mont_q, k->mont_q2, xq, ctx)) < 0)
		goto done_ctx;
	res = crt_combine(k, xp, xq, ret, ctx);

done_ctx:
	if (xq) {
		BN_clear(xp);
		BN_clear(xq);
	}
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return res;
}

int paillier_rand_full_crt(const struct paillier_priv *k, BIGNUM *ret, BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *x = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (x && (r = random_nonzero(k->pub.n, x)) == 0)
		r = paillier_pow_n_crt(k, x, ret, ctx);
	if (x)
		BN_clear(x);
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

struct paillier_rand {
	const struct paillier_pub *pk;  /* borrowed: must outlive the table */
	const struct paillier_priv *k;  /* borrowed; NULL for public tables */
	int exp_bits;   /* bits of the exponent a */
	int window;     /* bits per table digit */
	int n_win;      /* digits: ceil(exp_bits / window) */
	BIGNUM *hs;     /* h_s = (-x^2)^n mod n^2 */
	/* tab[i] = h_s^(2^(window*i)) in Montgomery form mod n^2; with k,
	 * tab_p and tab_q hold the same mod p^2 and q^2 instead, and hs_p and
	 * hs_q are h_s mod p^2 and q^2. */
	BIGNUM **tab;
	BIGNUM **tab_p, **tab_q;
	BIGNUM *hs_p, *hs_q;
};

static void table_free(BIGNUM **tab, int n, bool secret)
{
	if (!tab)
		return;
	for (int i = 0; i < n; i++)
		secret ? BN_clear_free(tab[i]) : BN_free(tab[i]);
	free(tab);
}

struct paillier_rand *paillier_rand_free(struct paillier_rand *rz)
{
	if (!rz)
		return NULL;
	BN_free(rz->hs);
	table_free(rz->tab, rz->n_win, false);
	/* Values mod p^2 and q^2 give the factors away: wiped. */
	table_free(rz->tab_p, rz->n_win, true);
	table_free(rz->tab_q, rz->n_win, true);
	BN_clear_free(rz->hs_p);
	BN_clear_free(rz->hs_q);
	free(rz);
	return NULL;
}

/* tab[i] = base^(2^(window*i)) in Montgomery form. */
static BIGNUM **table_new(const BIGNUM *base, int n_win, int window, BN_MONT_CTX *mont,
			  BN_CTX *ctx)
{
	BIGNUM **tab = calloc((size_t)n_win, sizeof *tab);
	if (!tab)
		return NULL;
	for (int i = 0; i < n_win; i++) {
		if (!(tab[i] = BN_new()))
			goto fail_tab;
		if (i == 0) {
			if (!BN_to_montgomery(tab[0], base, mont, ctx))
				goto fail_tab;
			continue;
		}
		if (!BN_copy(tab[i], tab[i - 1]))
			goto fail_tab;
		for (int s = 0; s < window; s++)
			if (!BN_mod_mul_montgomery(tab[i], tab[i], tab[i], mont, ctx))
				goto fail_tab;
	}
	return tab;

fail_tab:
	table_free(tab, n_win, true);
	return NULL;
}

int paillier_rand_from_h(const struct paillier_pub *pk, const struct paillier_priv *k,
			 const BIGNUM *h, struct paillier_rand **ret_rz)
{
	if (k)
		pk = &k->pub;
	if (BN_is_zero(h) || BN_is_negative(h) || BN_cmp(h, pk->n) >= 0)
		return -EDOM;
	struct paillier_rand *rz = calloc(1, sizeof *rz);
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM;
	if (!rz || !ctx)
		goto fail_rz;
	rz->pk = pk;
	rz->k = k;
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
	if (!(rz->hs = BN_new()))
		goto fail_rz;
	if (k) {
		rz->hs_p = BN_secure_new();
		rz->hs_q = BN_secure_new();
		if (!rz->hs_p || !rz->hs_q)
			goto fail_rz;
		if ((r = pow_n_half(h, k->p, k->p2, k->q_mod_pm1, k->mont_p, k->mont_p2, rz->hs_p,
				    ctx)) < 0 ||
		    (r = pow_n_half(h, k->q, k->q2, k->p_mod_qm1, k->mont_q, k->mont_q2, rz->hs_q,
				    ctx)) < 0 ||
		    (r = crt_combine(k, rz->hs_p, rz->hs_q, rz->hs, ctx)) < 0)
			goto fail_rz;
		r = -ENOMEM;
		if (!(rz->tab_p = table_new(rz->hs_p, rz->n_win, rz->window, k->mont_p2, ctx)) ||
		    !(rz->tab_q = table_new(rz->hs_q, rz->n_win, rz->window, k->mont_q2, ctx)))
			goto fail_rz;
	} else {
		if (!BN_mod_exp_mont(rz->hs, h, pk->n, pk->n2, ctx, pk->mont_n2) ||
		    !(rz->tab = table_new(rz->hs, rz->n_win, rz->window, pk->mont_n2, ctx)))
			goto fail_rz;
	}
	*ret_rz = rz;
	rz = NULL;
	r = 0;

fail_rz:
	BN_CTX_free(ctx);
	paillier_rand_free(rz);
	return r;
}

/* h = -x^2 mod n for a uniform x, then the tables. */
static int rand_new(const struct paillier_pub *pk, const struct paillier_priv *k,
		    struct paillier_rand **ret_rz)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *x = BN_new(), *h = BN_new();
	int r = -ENOMEM;
	if (!ctx || !x || !h)
		goto done_bn;
	if ((r = random_nonzero(pk->n, x)) < 0)
		goto done_bn;
	r = -ENOMEM;
	if (!BN_mod_sqr(h, x, pk->n, ctx) || !BN_sub(h, pk->n, h))
		goto done_bn;
	r = paillier_rand_from_h(pk, k, h, ret_rz);

done_bn:
	BN_clear_free(x);
	BN_clear_free(h);
	BN_CTX_free(ctx);
	return r;
}

int paillier_rand_new(const struct paillier_pub *pk, struct paillier_rand **ret_rz)
{
	return rand_new(pk, NULL, ret_rz);
}

int paillier_rand_new_priv(const struct paillier_priv *k, struct paillier_rand **ret_rz)
{
	return rand_new(&k->pub, k, ret_rz);
}

const BIGNUM *paillier_rand_hs(const struct paillier_rand *rz)
{
	return rz->hs;
}

/* base^a from a fixed-base table, given a's digits: prod_d (prod_{digit_i
 * = d} tab[i])^d, evaluated from the largest digit down: B collects the
 * tab[i] of digits >= d and A multiplies B in once per step, so B's entries
 * end up raised to their digit. ret in normal form. */
static int table_pow(BIGNUM *const *tab, int n_win, int window, const uint8_t *digit,
		     BN_MONT_CTX *mont, BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *A = BN_CTX_get(ctx);
	BIGNUM *B = BN_CTX_get(ctx);
	int r = -ENOMEM, a_one = 1, b_one = 1;
	if (!B)
		goto done_ctx;
	for (int d = (1 << window) - 1; d >= 1; d--) {
		for (int i = 0; i < n_win; i++) {
			if (digit[i] != d)
				continue;
			if (b_one ? !BN_copy(B, tab[i]) : !BN_mod_mul_montgomery(B, B, tab[i], mont, ctx))
				goto done_ctx;
			b_one = 0;
		}
		if (b_one)
			continue;
		if (a_one ? !BN_copy(A, B) : !BN_mod_mul_montgomery(A, A, B, mont, ctx))
			goto done_ctx;
		a_one = 0;
	}
	if (a_one ? !BN_one(ret) : !BN_from_montgomery(ret, A, mont, ctx))
		goto done_ctx;
	r = 0;

done_ctx:
	if (B) {
		BN_clear(A);
		BN_clear(B);
	}
	BN_CTX_end(ctx);
	return r;
}

int paillier_rand_pow(const struct paillier_rand *rz, const BIGNUM *a, BIGNUM *ret,
		      BN_CTX *ctx)
{
	if (BN_is_negative(a) || BN_num_bits(a) > rz->exp_bits)
		return -EDOM;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *xp = BN_CTX_get(ctx);
	BIGNUM *xq = BN_CTX_get(ctx);
	uint8_t *digit = malloc((size_t)rz->n_win);
	int r = -ENOMEM;
	if (!xq || !digit)
		goto done_ctx;
	for (int i = 0; i < rz->n_win; i++) {
		unsigned d = 0;
		for (int b = rz->window - 1; b >= 0; b--)
			d = d << 1 | (unsigned)BN_is_bit_set(a, i * rz->window + b);
		digit[i] = (uint8_t)d;
	}
	if (!rz->k) {
		r = table_pow(rz->tab, rz->n_win, rz->window, digit, rz->pk->mont_n2, ret, ctx);
		goto done_ctx;
	}
	if ((r = table_pow(rz->tab_p, rz->n_win, rz->window, digit, rz->k->mont_p2, xp, ctx)) < 0 ||
	    (r = table_pow(rz->tab_q, rz->n_win, rz->window, digit, rz->k->mont_q2, xq, ctx)) < 0)
		goto done_ctx;
	r = crt_combine(rz->k, xp, xq, ret, ctx);

done_ctx:
	if (digit) {
		OPENSSL_cleanse(digit, (size_t)rz->n_win);
		free(digit);
	}
	if (xq) {
		BN_clear(xp);
		BN_clear(xq);
	}
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_rand_short(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx)
{
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *a = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!a)
		goto done_ctx;
	r = -EIO;
	if (!BN_priv_rand(a, rz->exp_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
		goto done_ctx;
	r = paillier_rand_pow(rz, a, ret, ctx);
	BN_clear(a);

done_ctx:
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int paillier_rand_short_ct(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx)
{
	const struct paillier_pub *pk = rz->pk;
	const struct paillier_priv *k = rz->k;
	CTX_BEGIN(ctx, own);
	BN_CTX_start(ctx);
	BIGNUM *a = BN_CTX_get(ctx);
	BIGNUM *xp = BN_CTX_get(ctx);
	BIGNUM *xq = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!xq)
		goto done_ctx;
	r = -EIO;
	if (!BN_priv_rand(a, rz->exp_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
		goto done_ctx;
	BN_set_flags(a, BN_FLG_CONSTTIME);
	if (!k) {
		if (BN_mod_exp_mont_consttime(ret, rz->hs, a, pk->n2, ctx, pk->mont_n2))
			r = 0;
	} else if (BN_mod_exp_mont_consttime(xp, rz->hs_p, a, k->p2, ctx, k->mont_p2) &&
		   BN_mod_exp_mont_consttime(xq, rz->hs_q, a, k->q2, ctx, k->mont_q2)) {
		r = crt_combine(k, xp, xq, ret, ctx);
	}

done_ctx:
	if (xq) {
		BN_clear(a);
		BN_clear(xp);
		BN_clear(xq);
	}
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

/* (1 + m n) r^n mod n^2 with r^n from rz, else the full randomizer
 * (through the CRT when k is given). */
static int encrypt_with(const struct paillier_pub *pk, const struct paillier_priv *k,
			const struct paillier_rand *rz, const BIGNUM *m, BIGNUM *ret_c,
			BN_CTX *ctx)
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
	if ((r = rz  ? paillier_rand_short(rz, rn, ctx)
		 : k ? paillier_rand_full_crt(k, rn, ctx)
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

int paillier_encrypt(const struct paillier_pub *pk, const struct paillier_rand *rz,
		     const BIGNUM *m, BIGNUM *ret_c, BN_CTX *ctx)
{
	return encrypt_with(pk, NULL, rz, m, ret_c, ctx);
}

int paillier_encrypt_priv(const struct paillier_priv *k, const struct paillier_rand *rz,
			  const BIGNUM *m, BIGNUM *ret_c, BN_CTX *ctx)
{
	return encrypt_with(&k->pub, k, rz, m, ret_c, ctx);
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

/* ---- the dot product ---- */

/* A base of the Bos-Coster reduction: its index and remaining exponent. */
struct bc_entry {
	BIGNUM *e;
	size_t i;
};

/* Max-heap by exponent. */
static void heap_down(struct bc_entry *h, size_t n, size_t at)
{
	for (;;) {
		size_t l = 2 * at + 1, r = l + 1, big = at;
		if (l < n && BN_ucmp(h[l].e, h[big].e) > 0)
			big = l;
		if (r < n && BN_ucmp(h[r].e, h[big].e) > 0)
			big = r;
		if (big == at)
			return;
		struct bc_entry t = h[at];
		h[at] = h[big];
		h[big] = t;
		at = big;
	}
}

/* ret = base^e, all in Montgomery form; e >= 1. Short exponents (the
 * common case: quotients of two weights) by square and multiply, long
 * ones by OpenSSL's windowed exponentiation. */
static int mont_pow(const struct paillier_pub *pk, const BIGNUM *base, const BIGNUM *e,
		    BIGNUM *ret, BN_CTX *ctx)
{
	int bits = BN_num_bits(e);
	if (bits > 32) {
		BN_CTX_start(ctx);
		BIGNUM *t = BN_CTX_get(ctx);
		int ok = t && BN_from_montgomery(t, base, pk->mont_n2, ctx) &&
			 BN_mod_exp_mont(t, t, e, pk->n2, ctx, pk->mont_n2) &&
			 BN_to_montgomery(ret, t, pk->mont_n2, ctx);
		BN_CTX_end(ctx);
		return ok ? 0 : -ENOMEM;
	}
	if (ret == base)
		return -EINVAL;
	if (!BN_copy(ret, base))
		return -ENOMEM;
	for (int b = bits - 2; b >= 0; b--) {
		if (!BN_mod_mul_montgomery(ret, ret, ret, pk->mont_n2, ctx) ||
		    (BN_is_bit_set(e, b) &&
		     !BN_mod_mul_montgomery(ret, ret, base, pk->mont_n2, ctx)))
			return -ENOMEM;
	}
	return 0;
}

/* prod b[h[k].i]^h[k].e for the n entries of h (bases in Montgomery form,
 * exponents >= 1, both consumed) into ret, in Montgomery form. Bos-Coster:
 * with e1 >= e2 the two largest, b1^e1 b2^e2 = b1^(e1 - q e2) (b1^q b2)^e2,
 * so b2 *= b1^q and e1 %= e2 (q = floor(e1/e2), mostly 1) keep the product
 * and at least halve e1. The last base standing carries the gcd of the
 * exponents, usually 1. */
static int bos_coster(const struct paillier_pub *pk, BIGNUM **b, struct bc_entry *h, size_t n,
		      BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *q = BN_CTX_get(ctx);
	BIGNUM *t = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!t)
		goto done_ctx;
	for (size_t k = n / 2; k-- > 0;)
		heap_down(h, n, k);
	while (n > 1) {
		size_t s = n > 2 && BN_ucmp(h[2].e, h[1].e) > 0 ? 2 : 1;
		BIGNUM *e1 = h[0].e, *e2 = h[s].e, *b1 = b[h[0].i], *b2 = b[h[s].i];
		if (!BN_lshift1(t, e2))
			goto done_ctx;
		if (BN_ucmp(e1, t) < 0) {
			if (!BN_mod_mul_montgomery(b2, b2, b1, pk->mont_n2, ctx) ||
			    !BN_usub(e1, e1, e2))
				goto done_ctx;
		} else {
			if (!BN_div(q, e1, e1, e2, ctx) || (r = mont_pow(pk, b1, q, t, ctx)) < 0)
				goto done_ctx;
			r = -ENOMEM;
			if (!BN_mod_mul_montgomery(b2, b2, t, pk->mont_n2, ctx))
				goto done_ctx;
		}
		if (BN_is_zero(e1)) {
			struct bc_entry gone = h[0];
			h[0] = h[--n];
			h[n] = gone;
		}
		heap_down(h, n, 0);
	}
	r = BN_is_one(h[0].e) ? (BN_copy(ret, b[h[0].i]) ? 0 : -ENOMEM)
			      : mont_pow(pk, b[h[0].i], h[0].e, ret, ctx);

done_ctx:
	BN_CTX_end(ctx);
	return r;
}

/* ret = a^-1 mod n^2: the inverse y0 mod n (a quarter of the work of one
 * mod n^2), lifted by y = y0 (2 - a y0): if a y0 = 1 + k n then
 * a y = 1 - k^2 n^2. -EDOM when a is not a unit. */
static int inverse_n2(const struct paillier_pub *pk, const BIGNUM *a, BIGNUM *ret, BN_CTX *ctx)
{
	BN_CTX_start(ctx);
	BIGNUM *y0 = BN_CTX_get(ctx);
	BIGNUM *u = BN_CTX_get(ctx);
	BIGNUM *two = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (!two || !BN_nnmod(y0, a, pk->n, ctx) || !BN_set_word(two, 2))
		goto done_ctx;
	/* Values derived from ciphertexts are public: the variable-time
	 * inverse is fine, and its "no inverse" error is an answer. */
	ERR_set_mark();
	bool unit = BN_mod_inverse(y0, y0, pk->n, ctx) != NULL;
	ERR_pop_to_mark();
	if (!unit) {
		r = -EDOM;
		goto done_ctx;
	}
	if (BN_mod_mul(u, a, y0, pk->n2, ctx) && BN_mod_sub(u, two, u, pk->n2, ctx) &&
	    BN_mod_mul(ret, y0, u, pk->n2, ctx))
		r = 0;

done_ctx:
	BN_CTX_end(ctx);
	return r;
}

int paillier_dot(const struct paillier_pub *pk, const BIGNUM *const *c,
		 const BIGNUM *const *w, size_t count, BIGNUM *ret, BN_CTX *ctx)
{
	for (size_t i = 0; i < count; i++)
		if (BN_ucmp(w[i], pk->half_n) > 0)
			return -EDOM;
	CTX_BEGIN(ctx, own);
	/* Bases in Montgomery form, and per sign the weights' magnitudes. */
	BIGNUM **b = count ? calloc(count, sizeof *b) : NULL;
	struct bc_entry *h[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 };
	BIGNUM *acc[2] = { BN_new(), BN_new() };
	int r = -ENOMEM;
	if (count) {
		h[0] = calloc(count, sizeof *h[0]);
		h[1] = calloc(count, sizeof *h[1]);
	}
	if ((count && (!b || !h[0] || !h[1])) || !acc[0] || !acc[1])
		goto done_b;
	for (size_t i = 0; i < count; i++) {
		if (BN_is_zero(w[i]))
			continue;
		int s = BN_is_negative(w[i]) ? 1 : 0;
		BIGNUM *e = BN_dup(w[i]);
		if (!e)
			goto done_b;
		BN_set_negative(e, 0);
		h[s][n[s]++] = (struct bc_entry){ e, i };
		if (!(b[i] = BN_new()) || !BN_to_montgomery(b[i], c[i], pk->mont_n2, ctx))
			goto done_b;
	}
	for (int s = 0; s < 2; s++) {
		if (!n[s]) {
			if (!BN_one(acc[s]))
				goto done_b;
			continue;
		}
		if ((r = bos_coster(pk, b, h[s], n[s], acc[s], ctx)) < 0)
			goto done_b;
		r = -ENOMEM;
		if (!BN_from_montgomery(acc[s], acc[s], pk->mont_n2, ctx))
			goto done_b;
	}
	if (n[1]) {
		/* The inputs are units of Z_{n^2}, so the inverse exists. */
		if ((r = inverse_n2(pk, acc[1], acc[1], ctx)) < 0)
			goto done_b;
		r = -ENOMEM;
		if (!BN_mod_mul(acc[0], acc[0], acc[1], pk->n2, ctx))
			goto done_b;
	}
	r = BN_copy(ret, acc[0]) ? 0 : -ENOMEM;

done_b:
	for (size_t i = 0; b && i < count; i++)
		BN_free(b[i]);
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < n[s]; i++)
			BN_free(h[s][i].e);
		free(h[s]);
	}
	free(b);
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
