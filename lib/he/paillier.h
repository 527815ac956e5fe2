/* Paillier encryption over OpenSSL BIGNUM (docs/homomorphic.md).
 *
 * Public key n = p*q with g = n + 1, so g^m = 1 + m*n (mod n^2) and a
 * ciphertext is c = (1 + m*n) * r^n mod n^2 for a randomizer r in Z*_n.
 * Decryption uses the CRT over p^2 and q^2. Plaintexts are signed
 * fixed-point numbers: v is encoded as V = round(v * 2^scale_bits), and a
 * negative V as n - |V|; a result decodes correctly while |V| < n/2.
 *
 * Two randomizers: the full one (r uniform in Z*_n, then r^n: one
 * exponentiation by n) and the short-exponent one of Damgard, Jurik and
 * Nielsen (h = -x^2 mod n, h_s = h^n mod n^2, then r^n = h_s^a for a
 * uniform ceil(k/2)-bit a), which with a fixed-base table costs a few
 * hundred multiplications instead of thousands. The key owner (the client)
 * may compute either through the CRT over p^2 and q^2: the same values for
 * the same randomness, for a quarter of the full randomizer's work and half
 * of the table's.
 *
 * Functions return 0 or a negative errno: -EINVAL for arguments out of
 * range, -EDOM for a value outside Z*_{n^2} or a plaintext too large for
 * the key, -ENOMEM, -EIO when OpenSSL fails. Keys and randomizer tables
 * are read-only after creation and may be shared between threads; each
 * thread passes its own BN_CTX (or NULL to have one made per call). */
#ifndef ATOLL_HE_PAILLIER_H
#define ATOLL_HE_PAILLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

#define PAILLIER_DEFAULT_BITS 3072
#define PAILLIER_MIN_BITS 2048
#define PAILLIER_MAX_BITS 8192
/* Largest fixed-point scale a job document may state. */
#define PAILLIER_MAX_SCALE_BITS 1024
/* Largest scale the fixed-point functions take: products of two scaled
 * numbers carry the sum of their scales. */
#define PAILLIER_MAX_FIXED_BITS 2048

struct paillier_pub {
	int bits;        /* bit length of n */
	BIGNUM *n;
	BIGNUM *n2;      /* n^2 */
	BIGNUM *half_n;  /* floor(n / 2): largest positive encoded value */
	BN_MONT_CTX *mont_n2;
};

struct paillier_priv {
	struct paillier_pub pub;
	BIGNUM *p, *q;
	BIGNUM *p2, *q2;     /* p^2, q^2 */
	BIGNUM *pm1, *qm1;   /* p - 1, q - 1: the CRT decryption exponents */
	BIGNUM *hp, *hq;     /* L_p((n+1)^(p-1) mod p^2)^-1 mod p, same for q */
	BIGNUM *p_inv_q;     /* p^-1 mod q */
	BN_MONT_CTX *mont_p2, *mont_q2;
	/* For r^n through the CRT: r^n = (r^(q mod p-1) mod p)^p mod p^2,
	 * the same for q, recombined with (p^2)^-1 mod q^2. */
	BIGNUM *q_mod_pm1, *p_mod_qm1;
	BIGNUM *p2_inv_q2;
	BN_MONT_CTX *mont_p, *mont_q;
};

/* ---- keys ---- */

/* A public key from n given big-endian (leading zeros allowed). n must be
 * odd with PAILLIER_MIN_BITS..PAILLIER_MAX_BITS bits (min_bits may ask for
 * more, or for less in tests down to 512). */
int paillier_pub_from_bytes(const uint8_t *n_be, size_t len, int min_bits,
			    struct paillier_pub **ret_pub);
/* An independent copy of pk (its own numbers and Montgomery context). */
int paillier_pub_dup(const struct paillier_pub *pk, struct paillier_pub **ret_pub);
struct paillier_pub *paillier_pub_free(struct paillier_pub *pk);
/* n big-endian, no leading zeros: len = (bits + 7) / 8. */
size_t paillier_n_bytes(const struct paillier_pub *pk);
/* Ciphertext size in bytes: that of n^2. */
size_t paillier_ct_bytes(const struct paillier_pub *pk);
int paillier_pub_n(const struct paillier_pub *pk, uint8_t *out);
/* Same modulus. */
bool paillier_pub_equal(const struct paillier_pub *a, const struct paillier_pub *b);

/* New key pair with an n of exactly `bits` bits (512..8192; below 2048
 * only for tests). p and q are 3 mod 4 with gcd(p-1, q-1) = 2, which the
 * short-exponent randomizer's argument needs. */
int paillier_keygen(int bits, struct paillier_priv **ret_key);
/* A private key from its primes (checked: distinct, prime, n = p*q of at
 * least min_bits bits). */
int paillier_priv_from_primes(const BIGNUM *p, const BIGNUM *q, int min_bits,
			      struct paillier_priv **ret_key);
struct paillier_priv *paillier_priv_free(struct paillier_priv *k);

/* Key files (format in docs/homomorphic.md): JSON with base64 numbers.
 * The private file is written 0600, and loading refuses one that group
 * or others may read (-EPERM). On a malformed file, -EBADMSG with the
 * reason in err. */
int paillier_pub_save(const struct paillier_pub *pk, const char *path);
int paillier_pub_load(const char *path, int min_bits, struct paillier_pub **ret_pub,
		      char *err, size_t err_size);
/* Creates path (mode 0600); -EEXIST when a file is there (it stays). */
int paillier_priv_save(const struct paillier_priv *k, const char *path);
int paillier_priv_load(const char *path, int min_bits, struct paillier_priv **ret_key,
		       char *err, size_t err_size);

/* ---- randomizers ---- */

/* r^n mod n^2 for a fresh uniform r in Z*_n. */
int paillier_rand_full(const struct paillier_pub *pk, BIGNUM *ret, BN_CTX *ctx);
/* The same for the key owner, through the CRT with constant-time
 * exponentiations by the secret exponents: about 4x faster. */
int paillier_rand_full_crt(const struct paillier_priv *k, BIGNUM *ret, BN_CTX *ctx);
/* r^n mod n^2 through the CRT for a given 0 <= r < n (the core of
 * paillier_rand_full_crt; equal to BN_mod_exp(r, n, n^2)). -EDOM for r
 * out of range. */
int paillier_pow_n_crt(const struct paillier_priv *k, const BIGNUM *r, BIGNUM *ret,
		       BN_CTX *ctx);

/* Short-exponent randomizer with its fixed-base table. */
struct paillier_rand;
int paillier_rand_new(const struct paillier_pub *pk, struct paillier_rand **ret_rz);
/* The same for the key owner: the table is kept as two, mod p^2 and mod
 * q^2, so each value costs half, and setting up costs about a third. k is
 * borrowed and must outlive the table. */
int paillier_rand_new_priv(const struct paillier_priv *k, struct paillier_rand **ret_rz);
/* Either of the above from a chosen h in 1..n-1 (they draw h = -x^2 mod n
 * for a uniform x): h_s = h^n mod n^2. k NULL: public tables. For tests
 * that compare the two; -EDOM for h out of range. */
int paillier_rand_from_h(const struct paillier_pub *pk, const struct paillier_priv *k,
			 const BIGNUM *h, struct paillier_rand **ret_rz);
struct paillier_rand *paillier_rand_free(struct paillier_rand *rz);
/* h_s mod n^2 (public in the scheme of DJN). */
const BIGNUM *paillier_rand_hs(const struct paillier_rand *rz);
/* h_s^a mod n^2 from the table for a given 0 <= a < 2^ceil(bits/2). */
int paillier_rand_pow(const struct paillier_rand *rz, const BIGNUM *a, BIGNUM *ret,
		      BN_CTX *ctx);
/* h_s^a mod n^2 for a fresh uniform a of ceil(bits/2) bits, from the table. */
int paillier_rand_short(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx);
/* The same value computed by plain constant-time exponentiation (no table);
 * for comparison and for callers who want no secret-indexed table reads. */
int paillier_rand_short_ct(const struct paillier_rand *rz, BIGNUM *ret, BN_CTX *ctx);

/* ---- encryption ---- */

/* Encrypt m (0 <= m < n). rz NULL uses the full randomizer. */
int paillier_encrypt(const struct paillier_pub *pk, const struct paillier_rand *rz,
		     const BIGNUM *m, BIGNUM *ret_c, BN_CTX *ctx);
/* The key owner's encryption: rz (from either paillier_rand_new) as for
 * paillier_encrypt, NULL for a full randomizer through the CRT
 * (paillier_rand_full_crt). */
int paillier_encrypt_priv(const struct paillier_priv *k, const struct paillier_rand *rz,
			  const BIGNUM *m, BIGNUM *ret_c, BN_CTX *ctx);
/* Decrypt c (checked to lie in Z*_{n^2}) into 0 <= m < n. */
int paillier_decrypt(const struct paillier_priv *k, const BIGNUM *c, BIGNUM *ret_m,
		     BN_CTX *ctx);
/* 0 when 0 < c < n^2 and gcd(c, n) = 1, else -EDOM. */
int paillier_check_ct(const struct paillier_pub *pk, const BIGNUM *c, BN_CTX *ctx);
/* paillier_check_ct for count values at the cost of about one: 0 when all
 * pass, else -EDOM with *ret_bad the first that fails (or -ENOMEM). */
int paillier_check_cts(const struct paillier_pub *pk, const BIGNUM *const *c, size_t count,
		       size_t *ret_bad, BN_CTX *ctx);

/* E(a) * E(b): the sum. */
int paillier_add(const struct paillier_pub *pk, const BIGNUM *a, const BIGNUM *b,
		 BIGNUM *ret, BN_CTX *ctx);
/* E(m) * (1 + k*n): adds the plaintext k (signed, |k| < n/2). */
int paillier_add_plain(const struct paillier_pub *pk, const BIGNUM *c, const BIGNUM *k,
		       BIGNUM *ret, BN_CTX *ctx);
/* c * r^n with a fresh full randomizer: same plaintext, unlinkable. */
int paillier_rerandomize(const struct paillier_pub *pk, const BIGNUM *c, BIGNUM *ret,
			 BN_CTX *ctx);

/* prod c[i]^w[i] mod n^2 = E(sum m_i * w_i), for signed plaintext
 * weights w (|w| < n/2), by the Bos-Coster method: repeatedly
 * c_j *= c_i^q and w_i -= q w_j for the two largest weights, about one
 * multiplication per step; negative weights go to a second product that is
 * inverted once at the end (mod n, lifted to n^2). */
int paillier_dot(const struct paillier_pub *pk, const BIGNUM *const *c,
		 const BIGNUM *const *w, size_t count, BIGNUM *ret, BN_CTX *ctx);

/* ---- fixed point ---- */

/* ret = round(v * 2^scale_bits) as a signed BIGNUM (ties away from zero).
 * -EINVAL for non-finite v or scale_bits > PAILLIER_MAX_FIXED_BITS. */
int paillier_fixed(double v, unsigned scale_bits, BIGNUM *ret);
/* The plaintext for v: round(v * 2^scale_bits) mod n; -EDOM unless
 * |round(v * 2^scale_bits)| <= floor(n/2). */
int paillier_encode(const struct paillier_pub *pk, double v, unsigned scale_bits,
		    BIGNUM *ret_m);
/* Signed value of a plaintext (m > n/2 reads as m - n), divided by
 * 2^scale_bits, as the nearest double. */
int paillier_decode(const struct paillier_pub *pk, const BIGNUM *m,
		    unsigned scale_bits, double *ret);
/* A signed BIGNUM as the nearest double times 2^-scale_bits. */
double paillier_bn_to_double(const BIGNUM *v, unsigned scale_bits);

/* ---- bytes ---- */

/* c as exactly paillier_ct_bytes() big-endian bytes. */
int paillier_ct_to_bytes(const struct paillier_pub *pk, const BIGNUM *c, uint8_t *out);
/* Parse a big-endian ciphertext and check it lies in Z*_{n^2}: -EDOM
 * with *ret_why set to "zero", "not below n^2" or "shares a factor with
 * n" (or -EINVAL when longer than n^2's size). */
int paillier_ct_from_bytes(const struct paillier_pub *pk, const uint8_t *in, size_t len,
			   BIGNUM *ret_c, const char **ret_why, BN_CTX *ctx);
/* Its first half: the length and range checks without the unit test
 * ("longer than n^2", "zero", "not below n^2"), for callers that test many
 * values at once with paillier_check_cts. */
int paillier_ct_parse(const struct paillier_pub *pk, const uint8_t *in, size_t len,
		      BIGNUM *ret_c, const char **ret_why);

#endif
