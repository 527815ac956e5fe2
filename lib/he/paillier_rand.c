/* Paillier randomizers r^n mod n^2: the full one (with the key owner's CRT
 * shortcut) and the short-exponent one of Damgard, Jurik and Nielsen with
 * its fixed-base tables (he/paillier.h). */
#include "he/paillier.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "he/paillier_internal.h"

/* Largest window of the fixed-base tables. */
#define MAX_WINDOW 8

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
