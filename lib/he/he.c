/* Homomorphic job documents, the island's operations on them, and the
 * client's encryption and decryption of those documents. */
#include "he/he.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json/json.h"
#include "ml/io.h"
#include "util/enc.h"
#include "util/errmsg.h"

void he_bn_array_free(BIGNUM **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		BN_free(v[i]);
	free(v);
}

/* ---- input document ---- */

struct he_job *he_job_free(struct he_job *job)
{
	if (!job)
		return NULL;
	free(job->key_id);
	free(job->n);
	if (job->ct) {
		for (size_t i = 0; i < job->n_ct; i++)
			free(job->ct[i]);
		free(job->ct);
	}
	free(job->ct_len);
	free(job);
	return NULL;
}

/* A proto3 JSON uint32: a number or a decimal string. */
static int read_u32(const json_value *v, uint32_t *ret)
{
	uint64_t u;
	if (json_type_of(v) == JSON_NUMBER) {
		if (json_uint64(v, &u) < 0)
			return -EINVAL;
	} else if (json_type_of(v) == JSON_STRING) {
		size_t n;
		const char *s = json_string(v, &n);
		if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
			return -EINVAL;
		u = strtoull(s, NULL, 10);
	} else {
		return -EINVAL;
	}
	if (u > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)u;
	return 0;
}

/* Decode a base64 string value into a malloc'd buffer. */
static int read_b64(const json_value *v, uint8_t **ret, size_t *ret_len)
{
	size_t n;
	const char *s = json_string(v, &n);
	if (!s)
		return -EINVAL;
	uint8_t *out = malloc(n * 3 / 4 + 3);
	if (!out)
		return -ENOMEM;
	long len = enc_base64_decode(s, n, out);
	if (len < 0) {
		free(out);
		return -EINVAL;
	}
	*ret = out;
	*ret_len = (size_t)len;
	return 0;
}

static int parse_homomorphic(const json_value *h, struct he_job *job, char *err,
			     size_t err_size)
{
	if (json_type_of(h) != JSON_OBJECT) {
		err_buf_setf(err, err_size, "homomorphic: expected an object, got %s",
			    json_type_name(json_type_of(h)));
		return -EINVAL;
	}
	const json_value *cts = NULL;
	int r;
	for (size_t i = 0; i < json_count(h); i++) {
		const char *key = json_key_at(h, i);
		const json_value *v = json_at(h, i);
		if (json_type_of(v) == JSON_NULL)
			continue;
		if (strcmp(key, "key_id") == 0 || strcmp(key, "keyId") == 0) {
			size_t n;
			const char *s = json_string(v, &n);
			if (!s || n > HE_MAX_KEY_ID || strlen(s) != n) {
				err_buf_setf(err, err_size,
					    "homomorphic.key_id: expected a string of at most %d bytes",
					    HE_MAX_KEY_ID);
				return -EINVAL;
			}
			if (n && !(job->key_id = strdup(s)))
				return -ENOMEM;
		} else if (strcmp(key, "public_key") == 0 || strcmp(key, "publicKey") == 0) {
			if ((r = read_b64(v, &job->n, &job->n_len)) == -ENOMEM)
				return r;
			if (r < 0) {
				err_buf_setf(err, err_size, "homomorphic.public_key: not base64");
				return -EINVAL;
			}
			if (job->n_len == 0) {
				free(job->n);
				job->n = NULL;
			}
		} else if (strcmp(key, "ciphertexts") == 0) {
			cts = v;
		} else if (strcmp(key, "scale_bits") == 0 || strcmp(key, "scaleBits") == 0) {
			if (read_u32(v, &job->scale_bits) < 0 ||
			    job->scale_bits > PAILLIER_MAX_SCALE_BITS) {
				err_buf_setf(err, err_size,
					    "homomorphic.scale_bits: expected an integer in 0..%d",
					    PAILLIER_MAX_SCALE_BITS);
				return -EINVAL;
			}
		} else if (strcmp(key, "records") == 0) {
			if (read_u32(v, &job->records) < 0) {
				err_buf_setf(err, err_size,
					    "homomorphic.records: expected an unsigned 32-bit integer");
				return -EINVAL;
			}
		} else {
			err_buf_setf(err, err_size, "homomorphic: unexpected field '%s'", key);
			return -EINVAL;
		}
	}
	if (job->records == 0)
		job->records = 1;
	if (!cts || json_type_of(cts) != JSON_ARRAY || json_count(cts) == 0) {
		err_buf_setf(err, err_size,
			    "homomorphic.ciphertexts: expected a non-empty array of base64 strings");
		return -EINVAL;
	}
	job->n_ct = json_count(cts);
	job->ct = calloc(job->n_ct, sizeof *job->ct);
	job->ct_len = calloc(job->n_ct, sizeof *job->ct_len);
	if (!job->ct || !job->ct_len)
		return -ENOMEM;
	for (size_t i = 0; i < job->n_ct; i++) {
		r = read_b64(json_at(cts, i), &job->ct[i], &job->ct_len[i]);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			err_buf_setf(err, err_size, "homomorphic.ciphertexts[%zu]: not a base64 string",
				    i);
			return -EINVAL;
		}
	}
	return 0;
}

int he_job_parse(const uint8_t *doc, size_t len, struct he_job **ret_job,
		 char *err, size_t err_size)
{
	if (len > HE_MAX_INPUT) {
		err_buf_setf(err, err_size, "input: %zu bytes, the limit is %u", len,
			    HE_MAX_INPUT);
		return -EINVAL;
	}
	char jerr[128];
	json_value *root;
	int r = json_parse((const char *)doc, len, &root, jerr, sizeof jerr);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		err_buf_setf(err, err_size, "input is not JSON: %s", jerr);
		return -EINVAL;
	}
	struct he_job *job = calloc(1, sizeof *job);
	const json_value *h = NULL;
	r = -ENOMEM;
	if (!job)
		goto fail_job;
	r = -EINVAL;
	if (json_type_of(root) != JSON_OBJECT) {
		err_buf_setf(err, err_size, "input: expected a JSON object, got %s",
			    json_type_name(json_type_of(root)));
		goto fail_job;
	}
	for (size_t i = 0; i < json_count(root); i++) {
		const char *key = json_key_at(root, i);
		if (json_type_of(json_at(root, i)) == JSON_NULL)
			continue;
		if (strcmp(key, "homomorphic") == 0) {
			h = json_at(root, i);
		} else {
			err_buf_setf(err, err_size,
				    "input: unexpected field '%s' (a homomorphic job carries only 'homomorphic')",
				    key);
			goto fail_job;
		}
	}
	if (!h) {
		err_buf_setf(err, err_size, "input: no 'homomorphic' field");
		goto fail_job;
	}
	if ((r = parse_homomorphic(h, job, err, err_size)) < 0)
		goto fail_job;
	json_free(root);
	*ret_job = job;
	return 0;

fail_job:
	he_job_free(job);
	json_free(root);
	return r;
}

int he_job_ciphertexts(const struct he_job *job, const struct paillier_pub *pk,
		       BIGNUM ***ret_cts, int (*cancelled)(void *), void *arg,
		       char *err, size_t err_size)
{
	BIGNUM **v = calloc(job->n_ct, sizeof *v);
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM, bad_r = 0;
	if (!v || !ctx)
		goto fail_v;
	/* Parse and range-check up to the first failure, then test the
	 * values before it for units all at once (one inverse instead of one
	 * each, which was most of the work): the message names the first
	 * value that fails either test, as checking one by one would. */
	size_t n_ok = job->n_ct;
	const char *why = "";
	for (size_t i = 0; i < job->n_ct; i++) {
		if (cancelled && (i & 63) == 0 && cancelled(arg)) {
			r = -ECANCELED;
			goto fail_v;
		}
		if (!(v[i] = BN_new())) {
			r = -ENOMEM;
			goto fail_v;
		}
		r = paillier_ct_parse(pk, job->ct[i], job->ct_len[i], v[i], &why);
		if (r == -ENOMEM)
			goto fail_v;
		if (r < 0) {
			n_ok = i;
			bad_r = r;
			break;
		}
	}
	size_t bad = n_ok;
	r = paillier_check_cts(pk, (const BIGNUM *const *)v, n_ok, &bad, ctx);
	if (r == -ENOMEM)
		goto fail_v;
	if (r == -EDOM)
		why = "shares a factor with n";
	else
		r = bad_r;
	if (r < 0) {
		err_buf_setf(err, err_size, "homomorphic.ciphertexts[%zu]: not in Z*_{n^2} (%s)", bad,
			    why);
		goto fail_v;
	}
	BN_CTX_free(ctx);
	*ret_cts = v;
	return 0;

fail_v:
	he_bn_array_free(v, job->n_ct);
	BN_CTX_free(ctx);
	return r;
}

/* ---- linear classification ---- */

struct he_linear {
	uint32_t d, k;
	unsigned t;
	BIGNUM **W; /* k x d, round(w' * 2^t) */
	double *b;  /* k folded biases */
};

struct he_linear *he_linear_free(struct he_linear *lin)
{
	if (!lin)
		return NULL;
	he_bn_array_free(lin->W, (size_t)lin->k * lin->d);
	free(lin->b);
	free(lin);
	return NULL;
}

int he_linear_new(const struct ml_model *m, unsigned weight_bits,
		  struct he_linear **ret_lin)
{
	if (m->kind != ML_KIND_LINEAR || weight_bits < 1 || weight_bits > 64)
		return -EINVAL;
	struct he_linear *lin = calloc(1, sizeof *lin);
	double *w = NULL;
	int r = -ENOMEM;
	if (!lin)
		return r;
	lin->d = m->n_features;
	lin->k = ml_model_outputs(m);
	lin->t = weight_bits;
	size_t nw = (size_t)lin->k * lin->d;
	lin->W = calloc(nw, sizeof *lin->W);
	lin->b = calloc(lin->k, sizeof *lin->b);
	w = malloc(nw * sizeof *w);
	if (!lin->W || !lin->b || !w)
		goto fail_lin;
	if ((r = ml_linear_fold(m, w, lin->b)) < 0)
		goto fail_lin;
	for (size_t i = 0; i < nw; i++) {
		r = -ENOMEM;
		if (!(lin->W[i] = BN_new()))
			goto fail_lin;
		if ((r = paillier_fixed(w[i], weight_bits, lin->W[i])) < 0)
			goto fail_lin;
	}
	free(w);
	*ret_lin = lin;
	return 0;

fail_lin:
	free(w);
	he_linear_free(lin);
	return r;
}

uint32_t he_linear_features(const struct he_linear *lin)
{
	return lin->d;
}

uint32_t he_linear_outputs(const struct he_linear *lin)
{
	return lin->k;
}

unsigned he_linear_weight_bits(const struct he_linear *lin)
{
	return lin->t;
}

int he_linear_check_bound(const struct he_linear *lin, const struct paillier_pub *pk,
			  unsigned scale_bits, unsigned feature_bits)
{
	if (scale_bits > PAILLIER_MAX_SCALE_BITS || feature_bits > 1024)
		return -ERANGE;
	/* Past this the bias alone could not be encoded. */
	if (scale_bits + lin->t > PAILLIER_MAX_FIXED_BITS)
		return -ERANGE;
	BIGNUM *sum = BN_new(), *bias = BN_new();
	int r = -ENOMEM;
	if (!sum || !bias)
		goto done_bn;
	for (uint32_t o = 0; o < lin->k; o++) {
		BN_zero(sum);
		for (uint32_t i = 0; i < lin->d; i++) {
			const BIGNUM *W = lin->W[(size_t)o * lin->d + i];
			/* BN_uadd adds magnitudes: the sign does not matter here. */
			if (!BN_uadd(sum, sum, W))
				goto done_bn;
		}
		if (!BN_lshift(sum, sum, (int)(scale_bits + feature_bits)))
			goto done_bn;
		if ((r = paillier_fixed(lin->b[o], scale_bits + lin->t, bias)) < 0)
			goto done_bn;
		r = -ENOMEM;
		if (!BN_uadd(sum, sum, bias))
			goto done_bn;
		if (BN_ucmp(sum, pk->half_n) > 0) {
			r = -ERANGE;
			goto done_bn;
		}
	}
	r = 0;

done_bn:
	BN_free(sum);
	BN_free(bias);
	return r;
}

/* c *= r^n with a fresh full randomizer, pooled or not. */
static int mask(const struct paillier_pub *pk, struct he_rnpool *pool, BIGNUM *c,
		BN_CTX *ctx)
{
	BN_CTX *own = NULL;
	if (!ctx && !(ctx = own = BN_CTX_new()))
		return -ENOMEM;
	BN_CTX_start(ctx);
	BIGNUM *rn = BN_CTX_get(ctx);
	int r = -ENOMEM;
	if (rn && (r = he_rnpool_take(pool, pk, rn, ctx)) == 0)
		r = BN_mod_mul(c, c, rn, pk->n2, ctx) ? 0 : -ENOMEM;
	/* With rn and the result the unmasked score would follow. */
	if (rn)
		BN_clear(rn);
	BN_CTX_end(ctx);
	BN_CTX_free(own);
	return r;
}

int he_linear_eval(const struct he_linear *lin, const struct paillier_pub *pk,
		   const BIGNUM *const *x, unsigned scale_bits, BIGNUM **ret_scores,
		   BN_CTX *ctx)
{
	return he_linear_eval_pool(lin, pk, x, scale_bits, NULL, ret_scores, ctx);
}

int he_linear_eval_pool(const struct he_linear *lin, const struct paillier_pub *pk,
			const BIGNUM *const *x, unsigned scale_bits, struct he_rnpool *pool,
			BIGNUM **ret_scores, BN_CTX *ctx)
{
	BIGNUM **out = calloc(lin->k, sizeof *out);
	BIGNUM *bias = BN_new();
	int r = -ENOMEM;
	if (!out || !bias)
		goto fail_out;
	for (uint32_t o = 0; o < lin->k; o++) {
		r = -ENOMEM;
		if (!(out[o] = BN_new()))
			goto fail_out;
		if ((r = paillier_dot(pk, x, (const BIGNUM *const *)lin->W + (size_t)o * lin->d,
				      lin->d, out[o], ctx)) < 0 ||
		    (r = paillier_fixed(lin->b[o], scale_bits + lin->t, bias)) < 0 ||
		    (r = paillier_add_plain(pk, out[o], bias, out[o], ctx)) < 0 ||
		    (r = mask(pk, pool, out[o], ctx)) < 0)
			goto fail_out;
	}
	for (uint32_t o = 0; o < lin->k; o++)
		ret_scores[o] = out[o];
	free(out);
	BN_free(bias);
	return 0;

fail_out:
	he_bn_array_free(out, lin->k);
	BN_free(bias);
	return r;
}

/* ---- aggregation ---- */

int he_aggregate(const struct paillier_pub *pk, const BIGNUM *const *cts,
		 size_t records, size_t cols, BIGNUM **ret_sums,
		 int (*cancelled)(void *), void *arg, BN_CTX *ctx)
{
	return he_aggregate_pool(pk, cts, records, cols, NULL, ret_sums, cancelled, arg, ctx);
}

int he_aggregate_pool(const struct paillier_pub *pk, const BIGNUM *const *cts,
		      size_t records, size_t cols, struct he_rnpool *pool,
		      BIGNUM **ret_sums, int (*cancelled)(void *), void *arg, BN_CTX *ctx)
{
	if (records == 0 || cols == 0)
		return -EINVAL;
	BIGNUM **out = calloc(cols, sizeof *out);
	int r = -ENOMEM;
	if (!out)
		return r;
	for (size_t j = 0; j < cols; j++) {
		if (cancelled && cancelled(arg)) {
			r = -ECANCELED;
			goto fail_out;
		}
		r = -ENOMEM;
		if (!(out[j] = BN_dup(cts[j])))
			goto fail_out;
		for (size_t i = 1; i < records; i++)
			if (!BN_mod_mul(out[j], out[j], cts[i * cols + j], pk->n2, ctx))
				goto fail_out;
		if ((r = mask(pk, pool, out[j], ctx)) < 0)
			goto fail_out;
	}
	for (size_t j = 0; j < cols; j++)
		ret_sums[j] = out[j];
	free(out);
	return 0;

fail_out:
	he_bn_array_free(out, cols);
	return r;
}

/* ---- output document ---- */

int he_output_write(const struct paillier_pub *pk, const BIGNUM *const *cts,
		    size_t n, unsigned scale_bits, uint64_t count, struct buf *out)
{
	size_t len = paillier_ct_bytes(pk);
	uint8_t *bytes = malloc(len);
	if (!bytes)
		return -ENOMEM;
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "ciphertexts");
	jw_array_begin(&w);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((r = paillier_ct_to_bytes(pk, cts[i], bytes)) == 0)
			jw_base64(&w, bytes, len);
	}
	jw_array_end(&w);
	jw_key(&w, "scale_bits");
	jw_uint(&w, scale_bits);
	jw_key(&w, "count");
	jw_uint(&w, count);
	jw_object_end(&w);
	free(bytes);
	return r < 0 ? r : w.error;
}

/* ---- client ---- */

/* he_input_write with the key owner's k when not NULL. */
static int input_write(const struct paillier_pub *pk, const struct paillier_priv *k,
		       const struct paillier_rand *rz, const char *key_id, const double *values,
		       size_t n_values, uint32_t records, unsigned scale_bits, struct buf *out)
{
	size_t len = paillier_ct_bytes(pk);
	size_t n_len = paillier_n_bytes(pk);
	uint8_t *bytes = malloc(len > n_len ? len : n_len);
	BIGNUM *m = BN_new(), *c = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM;
	if (!bytes || !m || !c || !ctx)
		goto done_bytes;
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "homomorphic");
	jw_object_begin(&w);
	if (key_id) {
		jw_key(&w, "key_id");
		jw_string(&w, key_id);
	}
	if ((r = paillier_pub_n(pk, bytes)) < 0)
		goto done_bytes;
	jw_key(&w, "public_key");
	jw_base64(&w, bytes, n_len);
	jw_key(&w, "ciphertexts");
	jw_array_begin(&w);
	for (size_t i = 0; i < n_values; i++) {
		if ((r = paillier_encode(pk, values[i], scale_bits, m)) < 0 ||
		    (r = k ? paillier_encrypt_priv(k, rz, m, c, ctx)
			   : paillier_encrypt(pk, rz, m, c, ctx)) < 0 ||
		    (r = paillier_ct_to_bytes(pk, c, bytes)) < 0)
			goto done_bytes;
		jw_base64(&w, bytes, len);
	}
	jw_array_end(&w);
	jw_key(&w, "scale_bits");
	jw_uint(&w, scale_bits);
	jw_key(&w, "records");
	jw_uint(&w, records);
	jw_object_end(&w);
	jw_object_end(&w);
	r = w.error;

done_bytes:
	free(bytes);
	BN_clear_free(m);
	BN_free(c);
	BN_CTX_free(ctx);
	return r;
}

int he_input_write(const struct paillier_pub *pk, const struct paillier_rand *rz,
		   const char *key_id, const double *values, size_t n_values,
		   uint32_t records, unsigned scale_bits, struct buf *out)
{
	return input_write(pk, NULL, rz, key_id, values, n_values, records, scale_bits, out);
}

int he_input_write_priv(const struct paillier_priv *k, const struct paillier_rand *rz,
			const char *key_id, const double *values, size_t n_values,
			uint32_t records, unsigned scale_bits, struct buf *out)
{
	return input_write(&k->pub, k, rz, key_id, values, n_values, records, scale_bits, out);
}

int he_output_decrypt(const struct paillier_priv *k, const uint8_t *doc, size_t len,
		      double **ret_values, size_t *ret_n, uint64_t *ret_count,
		      unsigned *ret_scale_bits, char *err, size_t err_size)
{
	char jerr[128];
	json_value *root;
	int r = json_parse((const char *)doc, len, &root, jerr, sizeof jerr);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		err_buf_setf(err, err_size, "output is not JSON: %s", jerr);
		return -EINVAL;
	}
	double *values = NULL;
	uint8_t *bytes = NULL;
	size_t n_bytes = 0;
	BIGNUM *c = BN_new(), *m = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	const json_value *cts = json_get(root, "ciphertexts");
	uint32_t scale = 0;
	uint64_t count = 0;
	r = -ENOMEM;
	if (!c || !m || !ctx)
		goto done_root;
	r = -EINVAL;
	if (!cts || json_type_of(cts) != JSON_ARRAY) {
		err_buf_setf(err, err_size, "output: no ciphertexts array");
		goto done_root;
	}
	if (read_u32(json_get(root, "scale_bits"), &scale) < 0 ||
	    scale > PAILLIER_MAX_FIXED_BITS) {
		err_buf_setf(err, err_size, "output: scale_bits missing or out of range");
		goto done_root;
	}
	if (json_uint64(json_get(root, "count"), &count) < 0) {
		err_buf_setf(err, err_size, "output: count missing or not an integer");
		goto done_root;
	}
	size_t n = json_count(cts);
	values = malloc((n ? n : 1) * sizeof *values);
	if (!values) {
		r = -ENOMEM;
		goto done_root;
	}
	for (size_t i = 0; i < n; i++) {
		free(bytes);
		bytes = NULL;
		if ((r = read_b64(json_at(cts, i), &bytes, &n_bytes)) == -ENOMEM)
			goto done_root;
		const char *why = "not base64";
		if (r == 0)
			r = paillier_ct_from_bytes(&k->pub, bytes, n_bytes, c, &why, ctx);
		if (r == -ENOMEM)
			goto done_root;
		if (r < 0) {
			err_buf_setf(err, err_size, "output: ciphertexts[%zu]: %s", i, why);
			goto done_root;
		}
		if ((r = paillier_decrypt(k, c, m, ctx)) < 0 ||
		    (r = paillier_decode(&k->pub, m, scale, &values[i])) < 0) {
			if (r != -ENOMEM)
				err_buf_setf(err, err_size,
					    "output: ciphertexts[%zu]: does not decrypt", i);
			goto done_root;
		}
		/* The island can send any unit mod n^2; with keys of more than
		 * 1024 bits most decrypt to numbers no double holds. */
		if (!isfinite(values[i])) {
			err_buf_setf(err, err_size,
				    "output: ciphertexts[%zu]: decrypts to a value beyond a double at scale_bits %u",
				    i, scale);
			r = -EDOM;
			goto done_root;
		}
	}
	*ret_values = values;
	values = NULL;
	*ret_n = n;
	*ret_count = count;
	*ret_scale_bits = scale;
	r = 0;

done_root:
	free(values);
	free(bytes);
	BN_free(c);
	BN_clear_free(m);
	BN_CTX_free(ctx);
	json_free(root);
	return r;
}

int he_predictions_write(const double *scores, size_t records, uint32_t n_outputs,
			 uint32_t n_classes, const char *const *class_names,
			 struct buf *out)
{
	if (n_outputs == 0 || (n_outputs != 1 && n_outputs != n_classes) || n_classes < 2)
		return -EINVAL;
	double *probs = malloc(n_classes * sizeof *probs);
	if (!probs)
		return -ENOMEM;
	int r = 0;
	if (records != 1)
		r = buf_putc(out, '[');
	for (size_t i = 0; i < records && r == 0; i++) {
		uint32_t cls = ml_probabilities(n_outputs, n_classes,
						scores + i * n_outputs, probs);
		if (i > 0)
			r = buf_putc(out, ',');
		if (r == 0)
			r = ml_output_write(class_names, n_classes, cls, probs, out);
	}
	if (r == 0 && records != 1)
		r = buf_putc(out, ']');
	free(probs);
	return r;
}
