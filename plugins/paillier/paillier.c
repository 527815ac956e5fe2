/* The paillier backend: linear classification and aggregation on Paillier
 * ciphertexts only (docs/homomorphic.md). The island never holds a
 * private key; what leaves is re-randomized ciphertext, its full
 * randomizers taken from the instance's pool when one is ready. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/backend.h"
#include "he/he.h"
#include "he/paillier.h"
#include "he/rnpool.h"
#include "ml/backend.h"
#include "ml/model.h"
#include "util/buf.h"
#include "util/errmsg.h"

enum op { OP_CLASSIFY, OP_AGGREGATE };

struct pl_backend {
	enum op op;
	struct he_linear *lin; /* classify only */
	char *keys_dir;        /* NULL: keys come with each job */
	unsigned feature_bits;
	int min_key_bits;
	struct he_rnpool *pool; /* NULL with pool_size 0 */
};

static int parse_uint(const char *s, unsigned long lo, unsigned long hi,
		      unsigned long *ret)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -EINVAL;
	unsigned long v = strtoul(s, NULL, 10);
	if (v < lo || v > hi)
		return -ERANGE;
	*ret = v;
	return 0;
}

static void pl_fini(void *ctx)
{
	struct pl_backend *b = ctx;
	if (!b)
		return;
	he_rnpool_free(b->pool);
	he_linear_free(b->lin);
	free(b->keys_dir);
	free(b);
}

static int pl_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		   atoll_err *err)
{
	const char *model = NULL, *op = "classify", *keys = NULL;
	unsigned long weight_bits = 32, feature_bits = 32, min_bits = PAILLIER_MIN_BITS;
	unsigned long pool_size = 64, pool_keys = 16;
	for (size_t i = 0; i < n_config; i++) {
		const char *k = config[i].key, *v = config[i].value;
		if (!k || !v)
			return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "config entry %zu is NULL", i);
		if (strcmp(k, "model") == 0) {
			model = v;
		} else if (strcmp(k, "op") == 0) {
			op = v;
		} else if (strcmp(k, "keys") == 0) {
			keys = v;
		} else if (strcmp(k, "weight_bits") == 0) {
			if (parse_uint(v, 1, 64, &weight_bits) < 0)
				return err_setf(err, ATOLL_E_CONFIG,
						"weight_bits: '%s' is not an integer in 1..64", v);
		} else if (strcmp(k, "feature_bits") == 0) {
			if (parse_uint(v, 0, 1024, &feature_bits) < 0)
				return err_setf(err, ATOLL_E_CONFIG,
						"feature_bits: '%s' is not an integer in 0..1024", v);
		} else if (strcmp(k, "min_key_bits") == 0) {
			if (parse_uint(v, 512, PAILLIER_MAX_BITS, &min_bits) < 0)
				return err_setf(err, ATOLL_E_CONFIG,
						"min_key_bits: '%s' is not an integer in 512..%d",
						v, PAILLIER_MAX_BITS);
		} else if (strcmp(k, "pool_size") == 0) {
			if (parse_uint(v, 0, HE_RNPOOL_MAX_PER_KEY, &pool_size) < 0)
				return err_setf(err, ATOLL_E_CONFIG,
						"pool_size: '%s' is not an integer in 0..%d", v,
						HE_RNPOOL_MAX_PER_KEY);
		} else if (strcmp(k, "pool_keys") == 0) {
			if (parse_uint(v, 1, HE_RNPOOL_MAX_KEYS, &pool_keys) < 0)
				return err_setf(err, ATOLL_E_CONFIG,
						"pool_keys: '%s' is not an integer in 1..%d", v,
						HE_RNPOOL_MAX_KEYS);
		} else {
			return err_setf(err, ATOLL_E_CONFIG,
					"unknown option '%s' (the paillier backend takes model, op, keys, weight_bits, feature_bits, min_key_bits, pool_size, pool_keys)",
					k);
		}
	}
	struct pl_backend *b = calloc(1, sizeof *b);
	if (!b)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	b->feature_bits = (unsigned)feature_bits;
	b->min_key_bits = (int)min_bits;
	int st = ATOLL_OK;
	if (strcmp(op, "classify") == 0) {
		b->op = OP_CLASSIFY;
		if (!model) {
			st = err_setf(err, ATOLL_E_CONFIG,
				      "op classify needs 'model: <linear model file>'");
			goto fail_b;
		}
		struct ml_model *m = NULL;
		char msg[ATOLL_ERR_MAX];
		int r = ml_model_load(model, &m, msg, sizeof msg);
		if (r < 0) {
			st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM
				       : r == -EBADMSG ? ATOLL_E_CONFIG : ATOLL_E_IO,
				      "%s", msg);
			goto fail_b;
		}
		if (m->kind != ML_KIND_LINEAR) {
			ml_model_free(m);
			st = err_setf(err, ATOLL_E_CONFIG,
				      "%s: not a linear model (only linear models run on ciphertext)",
				      model);
			goto fail_b;
		}
		r = he_linear_new(m, (unsigned)weight_bits, &b->lin);
		ml_model_free(m);
		if (r < 0) {
			st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM : ATOLL_E_CONFIG,
				      "%s: cannot encode the weights at %lu bits", model,
				      weight_bits);
			goto fail_b;
		}
	} else if (strcmp(op, "aggregate") == 0) {
		b->op = OP_AGGREGATE;
		if (model) {
			st = err_setf(err, ATOLL_E_CONFIG, "op aggregate takes no model");
			goto fail_b;
		}
	} else {
		st = err_setf(err, ATOLL_E_CONFIG, "op: '%s' is not classify or aggregate", op);
		goto fail_b;
	}
	if (keys && !(b->keys_dir = strdup(keys))) {
		st = err_setf(err, ATOLL_E_NOMEM, "out of memory");
		goto fail_b;
	}
	/* Last, so that a refused configuration never starts a thread. */
	if (pool_size > 0) {
		int r = he_rnpool_new(pool_keys, pool_size, &b->pool);
		if (r < 0) {
			st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM : ATOLL_E_INTERNAL,
				      "cannot start the randomizer pool (%s)", strerror(-r));
			goto fail_b;
		}
	}
	*ret_ctx = b;
	return ATOLL_OK;

fail_b:
	pl_fini(b);
	return st;
}

/* key ids name files under keys_dir: nothing that could leave it. */
static int key_id_ok(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= HE_MAX_KEY_ID && id[0] != '.' &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
}

/* The job's key: the registered one named by key_id when the workload has
 * a key directory (public_key, if sent, must be that key), else the
 * public_key sent. */
static int resolve_key(const struct pl_backend *b, const struct he_job *job,
		       struct paillier_pub **ret_pk, atoll_err *err)
{
	struct paillier_pub *sent = NULL, *named = NULL;
	int r;
	if (job->n) {
		r = paillier_pub_from_bytes(job->n, job->n_len, b->min_key_bits, &sent);
		if (r == -ENOMEM)
			return err_setf(err, ATOLL_E_NOMEM, "out of memory");
		if (r < 0)
			return err_setf(err, ATOLL_E_CRYPTO,
					"homomorphic.public_key: not an odd modulus of %d..%d bits",
					b->min_key_bits, PAILLIER_MAX_BITS);
	}
	if (!b->keys_dir) {
		if (!sent)
			return err_setf(err, ATOLL_E_FORMAT, "homomorphic.public_key: required");
		*ret_pk = sent;
		return ATOLL_OK;
	}
	int st = ATOLL_OK;
	if (!job->key_id) {
		st = err_setf(err, ATOLL_E_FORMAT,
			      "homomorphic.key_id: required (this workload takes registered keys)");
		goto fail_keys;
	}
	if (!key_id_ok(job->key_id)) {
		st = err_setf(err, ATOLL_E_FORMAT, "homomorphic.key_id: malformed");
		goto fail_keys;
	}
	char path[4096], msg[ATOLL_ERR_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s.pub", b->keys_dir, job->key_id) >=
	    sizeof path) {
		st = err_setf(err, ATOLL_E_FORMAT, "homomorphic.key_id: too long");
		goto fail_keys;
	}
	r = paillier_pub_load(path, b->min_key_bits, &named, msg, sizeof msg);
	if (r == -ENOENT) {
		st = err_setf(err, ATOLL_E_FORMAT, "homomorphic.key_id: unknown key '%s'",
			      job->key_id);
		goto fail_keys;
	}
	if (r < 0) {
		st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM : ATOLL_E_IO, "%s", msg);
		goto fail_keys;
	}
	if (sent && !paillier_pub_equal(sent, named)) {
		st = err_setf(err, ATOLL_E_CRYPTO,
			      "key mismatch: public_key is not the key '%s' names", job->key_id);
		goto fail_keys;
	}
	paillier_pub_free(sent);
	*ret_pk = named;
	return ATOLL_OK;

fail_keys:
	paillier_pub_free(sent);
	paillier_pub_free(named);
	return st;
}

static int io_cancelled(void *arg)
{
	const atoll_backend_io *io = arg;
	return io->cancelled ? io->cancelled(io->host) : 0;
}

static int pl_run(void *ctx, const atoll_backend_job *job, const atoll_backend_io *io,
		  atoll_err *err)
{
	struct pl_backend *b = ctx;
	if (!b || !job || !io || !io->emit || (!job->input && job->input_len))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "NULL argument");
	if (job->mode != ATOLL_MODE_HOMOMORPHIC)
		return err_setf(err, ATOLL_E_UNSUPPORTED,
				"mode %u: this backend runs homomorphic jobs only", job->mode);
	char msg[ATOLL_ERR_MAX];
	struct he_job *hj = NULL;
	struct paillier_pub *pk = NULL;
	BIGNUM **cts = NULL, **res = NULL;
	size_t n_res = 0;
	BN_CTX *bctx = NULL;
	struct buf out = { 0 };
	int st, r;

	r = he_job_parse(job->input ? job->input : (const uint8_t *)"", job->input_len,
			 &hj, msg, sizeof msg);
	if (r < 0) {
		st = r == -ENOMEM ? err_setf(err, ATOLL_E_NOMEM, "out of memory")
				  : err_setf(err, ATOLL_E_FORMAT, "%s", msg);
		goto done;
	}
	if ((st = resolve_key(b, hj, &pk, err)) != ATOLL_OK)
		goto done;

	size_t records = hj->records, cols;
	if (b->op == OP_CLASSIFY) {
		cols = he_linear_features(b->lin);
		if (hj->n_ct != records * cols) {
			st = err_setf(err, ATOLL_E_FORMAT,
				      "homomorphic.ciphertexts: expected %zu (%zu record%s x %zu features), got %zu",
				      records * cols, records, records == 1 ? "" : "s", cols,
				      hj->n_ct);
			goto done;
		}
		r = he_linear_check_bound(b->lin, pk, hj->scale_bits, b->feature_bits);
	} else {
		if (hj->n_ct % records != 0) {
			st = err_setf(err, ATOLL_E_FORMAT,
				      "homomorphic.ciphertexts: %zu values do not split into %zu records",
				      hj->n_ct, records);
			goto done;
		}
		cols = hj->n_ct / records;
		/* records * 2^(s + feature_bits) must stay below n/2. */
		r = 0;
		BIGNUM *bound = BN_new();
		if (!bound || !BN_set_word(bound, records) ||
		    !BN_lshift(bound, bound, (int)(hj->scale_bits + b->feature_bits)))
			r = -ENOMEM;
		else if (BN_ucmp(bound, pk->half_n) > 0)
			r = -ERANGE;
		BN_free(bound);
	}
	if (r == -ERANGE) {
		st = err_setf(err, ATOLL_E_FORMAT,
			      "scale_bits %u: results could reach n/2 with a %d-bit key (values bounded by 2^%u)",
			      hj->scale_bits, pk->bits, b->feature_bits);
		goto done;
	}
	if (r < 0) {
		st = err_setf(err, ATOLL_E_NOMEM, "out of memory");
		goto done;
	}

	r = he_job_ciphertexts(hj, pk, &cts, io_cancelled, (void *)io, msg, sizeof msg);
	if (r < 0) {
		st = r == -ECANCELED ? err_setf(err, ATOLL_E_CANCELLED, "cancelled")
		     : r == -ENOMEM  ? err_setf(err, ATOLL_E_NOMEM, "out of memory")
				     : err_setf(err, ATOLL_E_CRYPTO, "%s", msg);
		goto done;
	}
	if (!(bctx = BN_CTX_new())) {
		st = err_setf(err, ATOLL_E_NOMEM, "out of memory");
		goto done;
	}
	unsigned out_scale;
	if (b->op == OP_CLASSIFY) {
		uint32_t k = he_linear_outputs(b->lin);
		n_res = records * k;
		res = calloc(n_res, sizeof *res);
		if (!res) {
			st = err_setf(err, ATOLL_E_NOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < records; i++) {
			if (io_cancelled((void *)io)) {
				st = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
				goto done;
			}
			r = he_linear_eval_pool(b->lin, pk, (const BIGNUM *const *)cts + i * cols,
						hj->scale_bits, b->pool, res + i * k, bctx);
			if (r < 0) {
				st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM : ATOLL_E_INTERNAL,
					      "evaluation failed (%s)", strerror(-r));
				goto done;
			}
		}
		out_scale = hj->scale_bits + he_linear_weight_bits(b->lin);
	} else {
		n_res = cols;
		res = calloc(n_res, sizeof *res);
		if (!res) {
			st = err_setf(err, ATOLL_E_NOMEM, "out of memory");
			goto done;
		}
		r = he_aggregate_pool(pk, (const BIGNUM *const *)cts, records, cols, b->pool,
				      res, io_cancelled, (void *)io, bctx);
		if (r == -ECANCELED) {
			st = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
			goto done;
		}
		if (r < 0) {
			st = err_setf(err, r == -ENOMEM ? ATOLL_E_NOMEM : ATOLL_E_INTERNAL,
				      "aggregation failed (%s)", strerror(-r));
			goto done;
		}
		out_scale = hj->scale_bits;
	}
	if ((r = he_output_write(pk, (const BIGNUM *const *)res, n_res, out_scale, records,
				 &out)) < 0) {
		st = err_setf(err, ATOLL_E_NOMEM, "cannot write the output (%s)", strerror(-r));
		goto done;
	}
	st = ml_backend_emit(io, out.data, out.len);
	if (st == ATOLL_E_CANCELLED)
		err_setf(err, st, "cancelled");
	else if (st != ATOLL_OK)
		err_setf(err, st, "emit failed");

done:
	buf_free(&out);
	he_bn_array_free(res, n_res);
	if (cts)
		he_bn_array_free(cts, hj->n_ct);
	BN_CTX_free(bctx);
	paillier_pub_free(pk);
	he_job_free(hj);
	return st;
}

static const atoll_backend paillier_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "paillier",
	.description = "linear classification and aggregation on Paillier ciphertext",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_HOMOMORPHIC),
	.init = pl_init,
	.fini = pl_fini,
	.run = pl_run,
	.cancel = NULL,
	.version = ATOLL_VERSION,
};

ATOLL_BACKEND_EXPORT(paillier_backend)

#ifdef ATOLL_PAILLIER_TEST_HOOKS
/* Only in the copy of this module that tests/he builds: the instance's
 * pool counters, so that tests can see pooled randomness being used
 * without timing anything. -ENOENT with pool_size 0. */
__attribute__((visibility("default"))) int
atoll_paillier_test_pool_stats(void *ctx, struct he_rnpool_stats *ret);

__attribute__((visibility("default"))) int
atoll_paillier_test_pool_stats(void *ctx, struct he_rnpool_stats *ret)
{
	const struct pl_backend *b = ctx;
	if (!b || !b->pool)
		return -ENOENT;
	he_rnpool_get_stats(b->pool, ret);
	return 0;
}
#endif
