/* The paillier backend through its real shared object: on all 569 breast
 * cancer records the homomorphic score equals the plain model's within the
 * fixed-point error bound and the label is the same (2048-bit key; a few
 * records with 3072 bits); multi-class and multi-record jobs; aggregation
 * of 1,000 encrypted values equals the plain sum exactly; and every
 * rejection: wrong count, ciphertext outside Z*_{n^2}, key mismatch,
 * unknown or malformed key id, small key, overflowing scale, corrupted or
 * wrong model, wrong mode, cancellation. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atoll/backend.h"
#include "check.h"
#include "he/he.h"
#include "he/paillier.h"
#include "json/json.h"
#include "ml/dataset.h"
#include "ml/io.h"
#include "ml/model.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define SCALE 40
#define WEIGHT_BITS 32

static char build_dir[512], src_dir[512], module_dir[600];
static const atoll_backend *B;

struct sink {
	struct buf out;
	int cancelled;
};

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	struct sink *s = host;
	return buf_append(&s->out, data, len) < 0 ? ATOLL_E_NOMEM : ATOLL_OK;
}

static int sink_cancelled(void *host)
{
	return ((struct sink *)host)->cancelled;
}

static int run_doc(void *ctx, uint32_t mode, const struct buf *doc, struct buf *out,
		   atoll_err *err, int cancelled)
{
	struct sink s = { .cancelled = cancelled };
	atoll_backend_job job = { sizeof job, "job_he", 7, mode, doc->data, doc->len };
	atoll_backend_io io = { sizeof io, &s, sink_emit, sink_cancelled };
	memset(err, 0, sizeof *err);
	int st = B->run(ctx, &job, &io, err);
	*out = s.out;
	return st;
}

static int init_kv(const char *const *kv, size_t n, void **ctx, atoll_err *err)
{
	atoll_kv c[8];
	for (size_t i = 0; i < n; i++) {
		c[i].key = kv[2 * i];
		c[i].value = kv[2 * i + 1];
	}
	memset(err, 0, sizeof *err);
	*ctx = NULL;
	return B->init(c, n, ctx, err);
}

/* A document from ciphertexts given as BIGNUMs (any value, valid or not). */
static void make_doc(const struct paillier_pub *pk, int with_n, const char *key_id,
		     BIGNUM *const *cts, size_t n, unsigned scale, unsigned records,
		     struct buf *doc)
{
	uint8_t bytes[2048];
	struct json_writer w;
	buf_reset(doc);
	jw_init(&w, doc);
	jw_object_begin(&w);
	jw_key(&w, "homomorphic");
	jw_object_begin(&w);
	if (key_id) {
		jw_key(&w, "key_id");
		jw_string(&w, key_id);
	}
	if (with_n) {
		paillier_pub_n(pk, bytes);
		jw_key(&w, "public_key");
		jw_base64(&w, bytes, paillier_n_bytes(pk));
	}
	jw_key(&w, "ciphertexts");
	jw_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		int len = BN_bn2bin(cts[i], bytes);
		jw_base64(&w, bytes, (size_t)len);
	}
	jw_array_end(&w);
	jw_key(&w, "scale_bits");
	jw_uint(&w, scale);
	jw_key(&w, "records");
	jw_uint(&w, records);
	jw_object_end(&w);
	jw_object_end(&w);
}

/* A copy of doc with the first `from` replaced by `to`. */
static void edited(const struct buf *doc, const char *from, const char *to, struct buf *out)
{
	buf_reset(out);
	const char *s = (const char *)doc->data;
	const char *p = strstr(s, from);
	CHECK(p != NULL);
	if (!p)
		return;
	buf_append(out, s, (size_t)(p - s));
	buf_puts(out, to);
	buf_puts(out, p + strlen(from));
	buf_cstr(out);
}

/* The fixed-point error bound of one score (docs/homomorphic.md). */
static double error_bound(const double *w, const double *x, size_t d)
{
	double b = ldexp(1, -(SCALE + WEIGHT_BITS + 1));
	for (size_t i = 0; i < d; i++)
		b += fabs(x[i]) * ldexp(1, -(WEIGHT_BITS + 1)) +
		     fabs(w[i]) * ldexp(1, -(SCALE + 1)) + ldexp(1, -(SCALE + WEIGHT_BITS + 2));
	return b;
}

struct classify_stats {
	size_t jobs, label_same;
	double max_err, max_ratio;
};

/* How the client encrypts: with the public key only, or as the key owner
 * through the CRT (he_input_write_priv). */
static bool client_crt;

/* Encrypt records [first, first+records) of ds, run them as one job,
 * decrypt, and compare each score and label with the plain model. */
static void classify_check(void *ctx, const struct paillier_priv *k,
			   const struct paillier_rand *rz, const struct ml_model *m,
			   const struct ml_dataset *ds, size_t first, size_t records,
			   struct classify_stats *st)
{
	const uint32_t d = m->n_features, K = ml_model_outputs(m);
	double *wf = malloc((size_t)K * d * sizeof *wf), *bf = malloc(K * sizeof *bf);
	ml_linear_fold(m, wf, bf);
	struct buf doc = { 0 }, out = { 0 };
	atoll_err err;
	if (client_crt)
		CHECK_INT(he_input_write_priv(k, rz, "ck_test", ds->x + first * d, records * d,
					      (uint32_t)records, SCALE, &doc), 0);
	else
		CHECK_INT(he_input_write(&k->pub, rz, "ck_test", ds->x + first * d,
					 records * d, (uint32_t)records, SCALE, &doc), 0);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	if (err.msg[0])
		fprintf(stderr, "run: %s\n", err.msg);
	double *scores = NULL;
	size_t n = 0;
	uint64_t count = 0;
	unsigned scale = 0;
	char msg[256];
	CHECK_INT(he_output_decrypt(k, out.data, out.len, &scores, &n, &count, &scale, msg,
				    sizeof msg), 0);
	CHECK_INT(n, records * K);
	CHECK_INT(count, records);
	CHECK_INT(scale, SCALE + WEIGHT_BITS);
	for (size_t r = 0; scores && n == records * K && r < records; r++) {
		const double *x = ds->x + (first + r) * d;
		double plain[16];
		ml_model_scores(m, x, plain);
		for (uint32_t o = 0; o < K; o++) {
			double e = fabs(scores[r * K + o] - plain[o]);
			/* The plain path standardizes then multiplies; the fold
			 * reorders the same arithmetic: allow for double rounding. */
			double bound = error_bound(wf + (size_t)o * d, x, d) +
				       1e-9 * (1 + fabs(plain[o]));
			if (e > st->max_err)
				st->max_err = e;
			if (e / bound > st->max_ratio)
				st->max_ratio = e / bound;
			CHECK(e <= bound);
		}
		struct buf a = { 0 }, b = { 0 };
		CHECK_INT(he_predictions_write(scores + r * K, 1, K, m->n_classes,
					       (const char *const *)m->class_names, &a), 0);
		uint32_t cls;
		double probs[16];
		ml_model_predict(m, x, &cls, probs);
		ml_output_write((const char *const *)m->class_names, m->n_classes, cls, probs, &b);
		/* Same class and label; the probability agrees to fixed-point
		 * precision, not necessarily to the last digit. */
		char want[300];
		snprintf(want, sizeof want, "{\"label\":\"%s\",", m->class_names[cls]);
		const char *as = buf_cstr(&a);
		if (strncmp(as, want, strlen(want)) == 0 && strstr(as, "\"class\":") &&
		    atoi(strstr(as, "\"class\":") + 8) == (int)cls)
			st->label_same++;
		json_value *v = NULL;
		if (json_parse(as, a.len, &v, msg, sizeof msg) == 0) {
			CHECK(fabs(json_number(json_get(v, "probability")) - probs[cls]) < 1e-6);
			json_free(v);
		}
		buf_free(&a);
		buf_free(&b);
		st->jobs++;
	}
	free(scores);
	free(wf);
	free(bf);
	buf_free(&doc);
	buf_free(&out);
}

static void test_breast_cancer(void)
{
	char model[1024], data[1024], msg[512];
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model", build_dir);
	snprintf(data, sizeof data, "%s/data/breast_cancer.csv", src_dir);
	struct ml_model *m = NULL;
	struct ml_dataset *ds = NULL;
	CHECK_INT(ml_model_load(model, &m, msg, sizeof msg), 0);
	CHECK_INT(ml_dataset_load_csv(data, &ds, msg, sizeof msg), 0);
	if (!m || !ds)
		return;
	void *ctx;
	atoll_err err;
	const char *kv[] = { "model", model, "op", "classify" };
	CHECK_INT(init_kv(kv, 2, &ctx, &err), ATOLL_OK);
	if (!ctx) {
		fprintf(stderr, "init: %s\n", err.msg);
		return;
	}

	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	CHECK_INT(paillier_keygen(2048, &k), 0);
	CHECK_INT(paillier_rand_new(&k->pub, &rz), 0);
	struct classify_stats st = { 0 };
	for (size_t i = 0; i < ds->n_rows; i++)
		classify_check(ctx, k, rz, m, ds, i, 1, &st);
	CHECK_INT(st.jobs, 569);
	CHECK_INT(st.label_same, 569);
	printf("breast cancer, 2048-bit: %zu records, %zu labels equal, max |score error| %.3g"
	       " (at most %.2f of the bound)\n", st.jobs, st.label_same, st.max_err, st.max_ratio);
	/* Several records in one job. */
	struct classify_stats st3 = { 0 };
	classify_check(ctx, k, rz, m, ds, 100, 3, &st3);
	CHECK_INT(st3.label_same, 3);
	paillier_rand_free(rz);
	paillier_priv_free(k);

	/* A handful with the default 3072-bit size. */
	CHECK_INT(paillier_keygen(3072, &k), 0);
	CHECK_INT(paillier_rand_new(&k->pub, &rz), 0);
	struct classify_stats st4 = { 0 };
	for (size_t i = 0; i < 5; i++)
		classify_check(ctx, k, rz, m, ds, i * 97, 1, &st4);
	CHECK_INT(st4.label_same, 5);
	printf("breast cancer, 3072-bit: %zu records, %zu labels equal\n", st4.jobs,
	       st4.label_same);
	paillier_rand_free(rz);
	/* The key owner's CRT encryptions, with the short-exponent tables and
	 * with full randomizers, are the same documents to the island. */
	client_crt = true;
	CHECK_INT(paillier_rand_new_priv(k, &rz), 0);
	struct classify_stats st5 = { 0 };
	for (size_t i = 0; i < 3; i++)
		classify_check(ctx, k, rz, m, ds, 11 + i * 101, 1, &st5);
	classify_check(ctx, k, NULL, m, ds, 400, 2, &st5);
	CHECK_INT(st5.label_same, 5);
	printf("breast cancer, 3072-bit, CRT encryption: %zu records, %zu labels equal\n",
	       st5.jobs, st5.label_same);
	client_crt = false;
	paillier_rand_free(rz);
	paillier_priv_free(k);
	B->fini(ctx);
	ml_model_free(m);
	ml_dataset_free(ds);
}

static void test_multiclass(void)
{
	char model[1024], data[1024], msg[512];
	snprintf(model, sizeof model, "%s/models/digits_softmax.model", build_dir);
	snprintf(data, sizeof data, "%s/data/digits.csv.gz", src_dir);
	struct ml_model *m = NULL;
	struct ml_dataset *ds = NULL;
	CHECK_INT(ml_model_load(model, &m, msg, sizeof msg), 0);
	CHECK_INT(ml_dataset_load_csv(data, &ds, msg, sizeof msg), 0);
	if (!m || !ds)
		return;
	CHECK_INT(ml_model_outputs(m), 10);
	void *ctx;
	atoll_err err;
	const char *kv[] = { "model", model };
	CHECK_INT(init_kv(kv, 1, &ctx, &err), ATOLL_OK);
	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	CHECK_INT(paillier_keygen(2048, &k), 0);
	CHECK_INT(paillier_rand_new(&k->pub, &rz), 0);
	struct classify_stats st = { 0 };
	classify_check(ctx, k, rz, m, ds, 0, 4, &st);
	classify_check(ctx, k, rz, m, ds, 1000, 1, &st);
	CHECK_INT(st.label_same, 5);
	printf("digits softmax, 2048-bit: %zu records x 10 scores, %zu labels equal\n", st.jobs,
	       st.label_same);
	paillier_rand_free(rz);
	paillier_priv_free(k);
	B->fini(ctx);
	ml_model_free(m);
	ml_dataset_free(ds);
}

static void test_aggregate(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	void *ctx;
	atoll_err err;
	const char *kv[] = { "op", "aggregate" };
	CHECK_INT(init_kv(kv, 1, &ctx, &err), ATOLL_OK);
	enum { N = 1000 };
	double *v = malloc(N * sizeof *v);
	double sum = 0, sum_even = 0;
	for (int i = 0; i < N; i++) {
		/* Multiples of 2^-10: every partial sum is exact in a double. */
		v[i] = ldexp((double)(i * 7919 % 100003) - 50000, -10);
		sum += v[i];
		if (i % 2 == 0)
			sum_even += v[i];
	}
	struct buf doc = { 0 }, out = { 0 };
	CHECK_INT(he_input_write(&k->pub, rz, NULL, v, N, N, 20, &doc), 0);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	double *res = NULL;
	size_t n = 0;
	uint64_t count = 0;
	unsigned scale = 0;
	char msg[256];
	CHECK_INT(he_output_decrypt(k, out.data, out.len, &res, &n, &count, &scale, msg,
				    sizeof msg), 0);
	CHECK_INT(n, 1);
	CHECK_INT(count, 1000);
	CHECK_INT(scale, 20);
	CHECK(res && res[0] == sum);
	printf("aggregate: sum of %d encrypted values %.10g, plain %.10g\n", N, res ? res[0] : 0,
	       sum);
	free(res);
	buf_free(&out);
	/* The same ciphertexts as 500 records of 2 columns. */
	struct buf alt = { 0 };
	edited(&doc, "\"records\":1000", "\"records\":500", &alt);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_OK);
	CHECK_INT(he_output_decrypt(k, out.data, out.len, &res, &n, &count, &scale, msg,
				    sizeof msg), 0);
	CHECK_INT(n, 2);
	CHECK_INT(count, 500);
	CHECK(res && res[0] == sum_even && res[1] == sum - sum_even);
	free(res);
	buf_free(&out);
	/* An island may send any unit mod n^2: one that decrypts to a number
	 * beyond a double is refused, not read as infinity. */
	{
		BIGNUM *m = BN_dup(k->pub.half_n), *c = BN_new();
		BN_CTX *bctx = BN_CTX_new();
		CHECK_INT(paillier_encrypt(&k->pub, rz, m, c, bctx), 0);
		CHECK_INT(he_output_write(&k->pub, (const BIGNUM *const *)&c, 1, 0, 1, &out), 0);
		res = NULL;
		CHECK_INT(he_output_decrypt(k, out.data, out.len, &res, &n, &count, &scale,
					    msg, sizeof msg), -EDOM);
		CHECK_STR(msg, "output: ciphertexts[0]: decrypts to a value beyond a double at scale_bits 0");
		CHECK(res == NULL);
		buf_free(&out);
		BN_free(m);
		BN_free(c);
		BN_CTX_free(bctx);
	}
	edited(&doc, "\"records\":1000", "\"records\":999", &alt);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.ciphertexts: 1000 values do not split into 999 records");
	buf_free(&out);
	/* records * 2^(scale + 32) must stay below n/2. */
	edited(&doc, "\"scale_bits\":20", "\"scale_bits\":2000", &alt);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.scale_bits: expected an integer in 0..1024");
	buf_free(&out);
	/* With values below 2^32 no scale up to 1024 can overflow 1000
	 * records at 2048 bits; declared values up to 2^1024 can. */
	edited(&doc, "\"scale_bits\":20", "\"scale_bits\":1024", &alt);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	void *wide;
	const char *kv_wide[] = { "op", "aggregate", "feature_bits", "1024" };
	CHECK_INT(init_kv(kv_wide, 2, &wide, &err), ATOLL_OK);
	edited(&doc, "\"scale_bits\":20", "\"scale_bits\":1014", &alt);
	CHECK_INT(run_doc(wide, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "scale_bits 1014: results could reach n/2 with a 2048-bit key"
			   " (values bounded by 2^1024)");
	buf_free(&out);
	edited(&doc, "\"scale_bits\":20", "\"scale_bits\":1004", &alt);
	CHECK_INT(run_doc(wide, ATOLL_MODE_HOMOMORPHIC, &alt, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	B->fini(wide);
	buf_free(&alt);
	free(v);
	buf_free(&doc);
	B->fini(ctx);
}

static void test_rejections(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	const struct paillier_pub *pk = &k->pub;
	char model[1024], msg[1200];
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model", build_dir);
	void *ctx;
	atoll_err err;
	const char *kv[] = { "model", model };
	CHECK_INT(init_kv(kv, 1, &ctx, &err), ATOLL_OK);

	enum { D = 30 };
	BIGNUM *c[D + 1], *m = BN_new();
	for (int i = 0; i <= D; i++) {
		c[i] = BN_new();
		paillier_encode(pk, i * 0.5, SCALE, m);
		paillier_encrypt(pk, rz, m, c[i], NULL);
	}
	struct buf doc = { 0 }, out = { 0 };
	make_doc(pk, 1, NULL, c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	buf_free(&out);

	/* Wrong counts. */
	make_doc(pk, 1, NULL, c, D - 1, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.ciphertexts: expected 30 (1 record x 30 features), got 29");
	CHECK_INT(out.len, 0);
	buf_free(&out);
	make_doc(pk, 1, NULL, c, D + 1, SCALE, 2, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.ciphertexts: expected 60 (2 records x 30 features), got 31");
	buf_free(&out);

	/* Ciphertexts outside Z*_{n^2}. */
	BIGNUM *saved = c[3];
	BIGNUM *bad = BN_new();
	const struct {
		void (*make)(BIGNUM *, const struct paillier_priv *);
		const char *why;
	} cases[] = {
		{ NULL, "not below n^2" },
		{ NULL, "shares a factor with n" },
		{ NULL, "zero" },
		{ NULL, "shares a factor with n" },
	};
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		BN_CTX *bctx = BN_CTX_new();
		if (t == 0)
			BN_add(bad, pk->n2, BN_value_one());
		else if (t == 1)
			BN_copy(bad, k->p);
		else if (t == 2)
			BN_zero(bad);
		else
			BN_mul(bad, pk->n, BN_value_one(), bctx);
		BN_CTX_free(bctx);
		c[3] = bad;
		make_doc(pk, 1, NULL, c, D, SCALE, 1, &doc);
		CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_CRYPTO);
		snprintf(msg, sizeof msg, "homomorphic.ciphertexts[3]: not in Z*_{n^2} (%s)",
			 cases[t].why);
		CHECK_STR(err.msg, msg);
		buf_free(&out);
	}
	c[3] = saved;
	BN_free(bad);

	/* No key, a small key, an overflowing scale. */
	make_doc(pk, 0, NULL, c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.public_key: required");
	buf_free(&out);
	struct paillier_priv *small = NULL;
	CHECK_INT(paillier_keygen(1024, &small), 0);
	make_doc(&small->pub, 1, NULL, c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_CRYPTO);
	CHECK_STR(err.msg, "homomorphic.public_key: not an odd modulus of 2048..8192 bits");
	buf_free(&out);
	/* At 2048 bits scale 1024 still fits features below 2^32; declare
	 * features up to 2^1000 and it no longer does (the weights of this
	 * model add about 2^46). */
	make_doc(pk, 1, NULL, c, D, 1024, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	void *wide;
	const char *kv_wide[] = { "model", model, "feature_bits", "1000" };
	CHECK_INT(init_kv(kv_wide, 2, &wide, &err), ATOLL_OK);
	make_doc(pk, 1, NULL, c, D, 1024, 1, &doc);
	CHECK_INT(run_doc(wide, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "scale_bits 1024: results could reach n/2 with a 2048-bit key"
			   " (values bounded by 2^1000)");
	buf_free(&out);
	make_doc(pk, 1, NULL, c, D, 900, 1, &doc);
	CHECK_INT(run_doc(wide, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	B->fini(wide);

	/* Mode, malformed documents, cancellation. */
	make_doc(pk, 1, NULL, c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_PLAIN, &doc, &out, &err, 0), ATOLL_E_UNSUPPORTED);
	buf_free(&out);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 1), ATOLL_E_CANCELLED);
	CHECK_INT(out.len, 0);
	buf_free(&out);
	struct buf junk = { 0 };
	buf_puts(&junk, "{\"homomorphic\": {\"ciphertexts\": [\"@@\"]}}");
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &junk, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.ciphertexts[0]: not a base64 string");
	buf_free(&out);
	buf_free(&junk);
	B->fini(ctx);

	/* Registered keys: key_id names a file, public_key must match it. */
	char dir[] = "/tmp/atoll-he-keys-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/ck_alice.pub", dir);
	CHECK_INT(paillier_pub_save(pk, path), 0);
	const char *kv2[] = { "model", model, "keys", dir };
	CHECK_INT(init_kv(kv2, 2, &ctx, &err), ATOLL_OK);
	make_doc(pk, 0, "ck_alice", c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	make_doc(pk, 1, "ck_alice", c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_OK);
	buf_free(&out);
	struct paillier_priv *other = NULL;
	CHECK_INT(paillier_keygen(2048, &other), 0);
	make_doc(&other->pub, 1, "ck_alice", c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_CRYPTO);
	CHECK_STR(err.msg, "key mismatch: public_key is not the key 'ck_alice' names");
	buf_free(&out);
	make_doc(pk, 1, "ck_bob", c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.key_id: unknown key 'ck_bob'");
	buf_free(&out);
	make_doc(pk, 1, "../ck_alice", c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.key_id: malformed");
	buf_free(&out);
	make_doc(pk, 1, NULL, c, D, SCALE, 1, &doc);
	CHECK_INT(run_doc(ctx, ATOLL_MODE_HOMOMORPHIC, &doc, &out, &err, 0), ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "homomorphic.key_id: required (this workload takes registered keys)");
	buf_free(&out);
	B->fini(ctx);
	unlink(path);
	rmdir(dir);

	/* Configuration. */
	const char *bad_op[] = { "op", "average" };
	CHECK_INT(init_kv(bad_op, 1, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "op: 'average' is not classify or aggregate");
	CHECK_INT(init_kv(NULL, 0, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "op classify needs 'model: <linear model file>'");
	const char *unknown[] = { "model", model, "depth", "3" };
	CHECK_INT(init_kv(unknown, 2, &ctx, &err), ATOLL_E_CONFIG);
	CHECK(strncmp(err.msg, "unknown option 'depth'", 22) == 0);
	const char *wb[] = { "model", model, "weight_bits", "65" };
	CHECK_INT(init_kv(wb, 2, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "weight_bits: '65' is not an integer in 1..64");
	const char *agg_model[] = { "op", "aggregate", "model", model };
	CHECK_INT(init_kv(agg_model, 2, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "op aggregate takes no model");
	char mlp[1024];
	snprintf(mlp, sizeof mlp, "%s/models/digits_mlp.model", build_dir);
	const char *kv_mlp[] = { "model", mlp };
	CHECK_INT(init_kv(kv_mlp, 1, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: not a linear model (only linear models run on ciphertext)",
		 mlp);
	CHECK_STR(err.msg, msg);
	/* A corrupted model file. */
	uint8_t *img;
	size_t len;
	CHECK_INT(fs_read_file(model, 1 << 20, &img, &len), 0);
	char corrupt[] = "/tmp/atoll-he-model-XXXXXX";
	int fd = mkstemp(corrupt);
	close(fd);
	img[100] ^= 0x10;
	CHECK_INT(fs_write_atomic(corrupt, img, len, 0600), 0);
	const char *kv_bad[] = { "model", corrupt };
	CHECK_INT(init_kv(kv_bad, 1, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: checksum mismatch: file is corrupted", corrupt);
	CHECK_STR(err.msg, msg);
	unlink(corrupt);
	free(img);

	for (int i = 0; i <= D; i++)
		BN_free(c[i]);
	BN_free(m);
	buf_free(&doc);
	paillier_priv_free(small);
	paillier_priv_free(other);
}

struct worker {
	void *ctx;
	const struct buf *doc;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 4; i++) {
		struct buf out = { 0 };
		atoll_err err;
		if (run_doc(w->ctx, ATOLL_MODE_HOMOMORPHIC, w->doc, &out, &err, 0) == ATOLL_OK)
			w->ok++;
		buf_free(&out);
	}
	return NULL;
}

static void test_threads(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	char model[1024];
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model", build_dir);
	void *ctx;
	atoll_err err;
	const char *kv[] = { "model", model };
	CHECK_INT(init_kv(kv, 1, &ctx, &err), ATOLL_OK);
	double x[30];
	for (int i = 0; i < 30; i++)
		x[i] = i;
	struct buf doc = { 0 };
	CHECK_INT(he_input_write(&k->pub, rz, NULL, x, 30, 1, SCALE, &doc), 0);
	struct worker w[2] = { { ctx, &doc, 0 }, { ctx, &doc, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(w[0].ok + w[1].ok, 8);
	buf_free(&doc);
	B->fini(ctx);
}

int main(void)
{
	snprintf(build_dir, sizeof build_dir, "%s", check_env("ATOLL_BUILD_DIR", "."));
	snprintf(src_dir, sizeof src_dir, "%s", check_env("ATOLL_SOURCE_DIR", ".."));
	char fallback[600];
	snprintf(fallback, sizeof fallback, "%s/modules", build_dir);
	snprintf(module_dir, sizeof module_dir, "%s", check_env("ATOLL_MODULE_DIR", fallback));
	char path[700];
	snprintf(path, sizeof path, "%s/paillier.so", module_dir);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cannot open [%s]: %s\n", path, dlerror());
		return 1;
	}
	atoll_backend_entry_fn entry;
	*(void **)&entry = dlsym(h, ATOLL_BACKEND_ENTRY);
	CHECK(entry != NULL);
	B = entry ? entry(ATOLL_BACKEND_ABI_MAJOR, ATOLL_BACKEND_ABI_MINOR) : NULL;
	CHECK(B != NULL);
	if (!B)
		CHECK_DONE();
	CHECK_INT(B->abi_major, ATOLL_BACKEND_ABI_MAJOR);
	CHECK_INT(B->abi_minor, ATOLL_BACKEND_ABI_MINOR);
	CHECK_STR(B->name, "paillier");
	CHECK(B->modes == ATOLL_MODE_BIT(ATOLL_MODE_HOMOMORPHIC));

	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	CHECK_INT(paillier_keygen(2048, &k), 0);
	CHECK_INT(paillier_rand_new(&k->pub, &rz), 0);
	test_rejections(k, rz);
	test_aggregate(k, rz);
	test_threads(k, rz);
	test_multiclass();
	test_breast_cancer();
	paillier_rand_free(rz);
	paillier_priv_free(k);
	dlclose(h);
	CHECK_DONE();
}
