/* Paillier keys: public keys from n, private keys from their primes with
 * the CRT decryption and randomizer constants, key generation
 * (he/paillier.h). */
#include "he/paillier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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
