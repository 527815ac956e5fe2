/* Homomorphic jobs (docs/homomorphic.md): the JobInput.homomorphic
 * document, the island's operations on ciphertexts (linear classification
 * and aggregation), the output document, and the client's side (encrypt a
 * feature vector, decrypt the scores into the plain model's answer).
 *
 * Standardization is the island's business: it is affine, so the island
 * folds it into the plaintext weights (w' = w / std, b' = b - sum(w * mean
 * / std)) and the client encrypts raw features.
 *
 * Fixed point: features are encoded with scale 2^s (the document's
 * scale_bits), weights with 2^t (the backend's weight_bits) and the bias
 * with 2^(s+t); an encrypted score is sum X_i W_i + B at scale 2^(s+t),
 * which the output document states as its scale_bits. */
#ifndef ATOLL_HE_HE_H
#define ATOLL_HE_HE_H

#include <stddef.h>
#include <stdint.h>

#include "he/paillier.h"
#include "he/rnpool.h"
#include "ml/model.h"
#include "util/buf.h"

/* Largest homomorphic input document accepted. */
#define HE_MAX_INPUT (64u << 20)
#define HE_MAX_KEY_ID 128

/* A parsed JobInput.homomorphic: still bytes, not yet checked against a
 * key. */
struct he_job {
	char *key_id;       /* NULL when absent */
	uint8_t *n;         /* public_key: n big-endian; NULL when absent */
	size_t n_len;
	size_t n_ct;
	uint8_t **ct;       /* ciphertexts as sent */
	size_t *ct_len;
	uint32_t scale_bits;
	uint32_t records;   /* >= 1 (0 in the document means 1) */
};

/* Parse {"homomorphic": {...}}. -EINVAL with a message naming the field
 * ("homomorphic.ciphertexts[2]: not base64"), -ENOMEM. */
int he_job_parse(const uint8_t *doc, size_t len, struct he_job **ret_job,
		 char *err, size_t err_size);
struct he_job *he_job_free(struct he_job *job);

/* Decode and check every ciphertext against pk (each must lie in
 * Z*_{n^2}). ret_cts gets job->n_ct BIGNUMs (free with he_bn_array_free).
 * -EDOM / -EINVAL with a message naming the index, -ECANCELED when
 * cancelled() (may be NULL) returns nonzero between ciphertexts. */
int he_job_ciphertexts(const struct he_job *job, const struct paillier_pub *pk,
		       BIGNUM ***ret_cts, int (*cancelled)(void *), void *arg,
		       char *err, size_t err_size);
void he_bn_array_free(BIGNUM **v, size_t n);

/* ---- island: linear classification ---- */

/* A linear model's folded weights in fixed point (scale 2^weight_bits),
 * ready for any key. */
struct he_linear;
/* -EINVAL when m is not linear or weight_bits is out of 1..64. */
int he_linear_new(const struct ml_model *m, unsigned weight_bits,
		  struct he_linear **ret_lin);
struct he_linear *he_linear_free(struct he_linear *lin);
uint32_t he_linear_features(const struct he_linear *lin);
uint32_t he_linear_outputs(const struct he_linear *lin);
unsigned he_linear_weight_bits(const struct he_linear *lin);

/* The overflow bound: with every |feature| < 2^feature_bits, each score
 * satisfies |sum X_i W_i + B| <= 2^(s+feature_bits) * sum |W_i| + |B|;
 * 0 when that is at most floor(n/2) for every output, -ERANGE otherwise. */
int he_linear_check_bound(const struct he_linear *lin, const struct paillier_pub *pk,
			  unsigned scale_bits, unsigned feature_bits);

/* Encrypted scores for one record: x holds he_linear_features()
 * ciphertexts, ret_scores receives he_linear_outputs() new BIGNUMs, each
 * E(sum X_i W_i + B) re-randomized with a fresh full r^n. */
int he_linear_eval(const struct he_linear *lin, const struct paillier_pub *pk,
		   const BIGNUM *const *x, unsigned scale_bits, BIGNUM **ret_scores,
		   BN_CTX *ctx);
/* The same with each full r^n taken from pool (he_rnpool_take; NULL
 * computes them here, as he_linear_eval does). */
int he_linear_eval_pool(const struct he_linear *lin, const struct paillier_pub *pk,
			const BIGNUM *const *x, unsigned scale_bits, struct he_rnpool *pool,
			BIGNUM **ret_scores, BN_CTX *ctx);

/* ---- island: aggregation ---- */

/* Column sums of records x cols ciphertexts laid out record-major,
 * re-randomized: ret_sums receives cols new BIGNUMs. -ECANCELED when
 * cancelled() returns nonzero (polled between columns). */
int he_aggregate(const struct paillier_pub *pk, const BIGNUM *const *cts,
		 size_t records, size_t cols, BIGNUM **ret_sums,
		 int (*cancelled)(void *), void *arg, BN_CTX *ctx);
/* The same with each full r^n taken from pool (NULL: computed here). */
int he_aggregate_pool(const struct paillier_pub *pk, const BIGNUM *const *cts,
		      size_t records, size_t cols, struct he_rnpool *pool,
		      BIGNUM **ret_sums, int (*cancelled)(void *), void *arg, BN_CTX *ctx);

/* ---- output document ---- */

/* Append {"ciphertexts": [...], "scale_bits": s, "count": count}. */
int he_output_write(const struct paillier_pub *pk, const BIGNUM *const *cts,
		    size_t n, unsigned scale_bits, uint64_t count, struct buf *out);

/* ---- client ---- */

/* Encrypt values (records x features, record-major) at scale 2^scale_bits
 * and append the JobInput document {"homomorphic": {...}}. rz NULL uses
 * full randomizers. key_id may be NULL. -EDOM when a value does not fit
 * the key at that scale. */
int he_input_write(const struct paillier_pub *pk, const struct paillier_rand *rz,
		   const char *key_id, const double *values, size_t n_values,
		   uint32_t records, unsigned scale_bits, struct buf *out);
/* The same for the key owner, through the CRT: rz from
 * paillier_rand_new_priv() (or paillier_rand_new()), or NULL for full
 * randomizers (paillier_rand_full_crt). The document is the same as
 * he_input_write's; only the work differs. */
int he_input_write_priv(const struct paillier_priv *k, const struct paillier_rand *rz,
			const char *key_id, const double *values, size_t n_values,
			uint32_t records, unsigned scale_bits, struct buf *out);

/* Parse an output document and decrypt it: ret_values gets the decoded
 * numbers (malloc'd, *ret_n of them). -EINVAL / -EDOM with a message. */
int he_output_decrypt(const struct paillier_priv *k, const uint8_t *doc, size_t len,
		      double **ret_values, size_t *ret_n, uint64_t *ret_count,
		      unsigned *ret_scale_bits, char *err, size_t err_size);

/* The plain model's answer from decrypted scores: for one record the
 * prediction object, for several a JSON array of them. scores holds
 * records x n_outputs values (n_outputs 1: sigmoid, else softmax). */
int he_predictions_write(const double *scores, size_t records, uint32_t n_outputs,
			 uint32_t n_classes, const char *const *class_names,
			 struct buf *out);

#endif
