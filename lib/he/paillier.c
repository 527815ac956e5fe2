/* Paillier encryption, CRT decryption, ciphertext checks, homomorphic
 * addition and re-randomization, fixed-point encoding and ciphertext bytes
 * (he/paillier.h). Keys are in paillier_key.c, randomizers in
 * paillier_rand.c, the dot product in paillier_dot.c. */
#include "he/paillier.h"

#include <errno.h>
#include <math.h>

#include <openssl/err.h>

#include "he/paillier_internal.h"

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
