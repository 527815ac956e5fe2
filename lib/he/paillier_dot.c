/* The Paillier dot product prod c[i]^w[i] mod n^2 by the Bos-Coster
 * multi-exponentiation (he/paillier.h). */
#include "he/paillier.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "he/paillier_internal.h"

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
