/* The paillier backend's randomizer pool through the shared object: the
 * pool options and their refusals; scores decrypt to the plain model's
 * with the pool on and off, identically; identical jobs give different
 * ciphertexts; the second job under a key takes pooled randomness; LRU
 * eviction with pool_keys 1; fini while a 3072-bit value is being
 * computed returns within a second; four threads at once; aggregation
 * with the pool. Classification scores and configuration go through the
 * installed module (paillier.so); what needs the pool's counters goes
 * through the same source built with ATOLL_PAILLIER_TEST_HOOKS, which
 * also exports atoll_paillier_test_pool_stats. */
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
#include "he/rnpool.h"
#include "ml/model.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define SCALE 40
#define DEADLINE_NS (120 * 1000000000LL)

typedef int (*stats_fn)(void *ctx, struct he_rnpool_stats *ret);

static const atoll_backend *REAL, *HOOKED;
static stats_fn pool_stats;
static char model[1024];
static struct ml_model *M;

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	return buf_append(host, data, len) < 0 ? ATOLL_E_NOMEM : ATOLL_OK;
}

static int never_cancelled(void *host)
{
	(void)host;
	return 0;
}

static int run(const atoll_backend *B, void *ctx, const struct buf *doc, struct buf *out)
{
	atoll_backend_job job = { sizeof job, "job_pool", 7, ATOLL_MODE_HOMOMORPHIC, doc->data,
				  doc->len };
	atoll_backend_io io = { sizeof io, out, sink_emit, never_cancelled };
	atoll_err err = { 0 };
	buf_reset(out);
	int st = B->run(ctx, &job, &io, &err);
	if (st != ATOLL_OK)
		fprintf(stderr, "run: %s\n", err.msg);
	return st;
}

/* init with up to 4 key/value pairs after "model". */
static void *init(const atoll_backend *B, const char *const *kv, size_t n, atoll_err *err)
{
	atoll_kv c[5] = { { "model", model } };
	for (size_t i = 0; i < n; i++) {
		c[i + 1].key = kv[2 * i];
		c[i + 1].value = kv[2 * i + 1];
	}
	void *ctx = NULL;
	memset(err, 0, sizeof *err);
	if (B->init(c, n + 1, &ctx, err) != ATOLL_OK)
		return NULL;
	return ctx;
}

/* Record i of a fixed set of plausible feature vectors. */
static void features(int i, double x[30])
{
	for (int j = 0; j < 30; j++)
		x[j] = (j + 1) * (1.0 + 0.01 * ((i * 31 + j * 7) % 50));
}

static void make_doc(const struct paillier_priv *k, const struct paillier_rand *rz, int i,
		     struct buf *doc)
{
	double x[30];
	features(i, x);
	buf_reset(doc);
	CHECK_INT(he_input_write(&k->pub, rz, NULL, x, 30, 1, SCALE, doc), 0);
}

/* Decrypt a one-score output and check it against the plain model. */
static double check_score(const struct paillier_priv *k, const struct buf *out, int i)
{
	double *v = NULL, x[30], plain[4];
	size_t n = 0;
	uint64_t count = 0;
	unsigned scale = 0;
	char msg[256];
	features(i, x);
	ml_model_scores(M, x, plain);
	int r = he_output_decrypt(k, out->data, out->len, &v, &n, &count, &scale, msg,
				  sizeof msg);
	CHECK_INT(r, 0);
	CHECK_INT(n, 1);
	double s = r == 0 && n == 1 ? v[0] : NAN;
	CHECK(fabs(s - plain[0]) < 1e-6);
	free(v);
	return s;
}

static struct he_rnpool_stats stats(void *ctx)
{
	struct he_rnpool_stats st = { 0 };
	CHECK_INT(pool_stats(ctx, &st), 0);
	return st;
}

static int wait_ready(void *ctx, size_t want)
{
	int64_t end = time_mono_ns() + DEADLINE_NS;
	while (stats(ctx).ready < want) {
		if (time_mono_ns() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static void test_config(void)
{
	atoll_err err;
	const struct {
		const char *key, *value, *msg;
	} bad[] = {
		{ "pool_size", "1025", "pool_size: '1025' is not an integer in 0..1024" },
		{ "pool_size", "-1", "pool_size: '-1' is not an integer in 0..1024" },
		{ "pool_size", "", "pool_size: '' is not an integer in 0..1024" },
		{ "pool_size", "64k", "pool_size: '64k' is not an integer in 0..1024" },
		{ "pool_keys", "0", "pool_keys: '0' is not an integer in 1..1024" },
		{ "pool_keys", "1025", "pool_keys: '1025' is not an integer in 1..1024" },
		{ "pool_keys", "sixteen", "pool_keys: 'sixteen' is not an integer in 1..1024" },
		{ "pool", "64", "unknown option 'pool' (the paillier backend takes model, op, keys,"
				" weight_bits, feature_bits, min_key_bits, pool_size, pool_keys)" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *kv[] = { bad[i].key, bad[i].value };
		CHECK(init(REAL, kv, 1, &err) == NULL);
		CHECK_STR(err.msg, bad[i].msg);
	}
	const char *good[] = { "pool_size", "1024", "pool_keys", "1024" };
	void *ctx = init(REAL, good, 2, &err);
	CHECK(ctx != NULL);
	REAL->fini(ctx);
	/* pool_size 0: no pool at all. */
	const char *off[] = { "pool_size", "0", "pool_keys", "1" };
	ctx = init(HOOKED, off, 2, &err);
	CHECK(ctx != NULL);
	struct he_rnpool_stats st;
	CHECK_INT(pool_stats(ctx, &st), -ENOENT);
	HOOKED->fini(ctx);
}

/* Scores with the pool on and off: right, identical, and every output
 * ciphertext different, also for the same input sent twice. */
static void test_scores(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	enum { JOBS = 8 };
	atoll_err err;
	const char *on_kv[] = { "pool_size", "4" }, *off_kv[] = { "pool_size", "0" };
	void *on = init(REAL, on_kv, 1, &err), *off = init(REAL, off_kv, 1, &err);
	CHECK(on && off);
	if (!on || !off)
		return;
	struct buf doc = { 0 }, out[4 * JOBS] = { { 0 } };
	int n_out = 0;
	for (int i = 0; i < JOBS; i++) {
		make_doc(k, rz, i, &doc);
		double s[4];
		for (int t = 0; t < 4; t++) {
			/* on, off, on, off: the same document twice to each. */
			CHECK_INT(run(REAL, t % 2 ? off : on, &doc, &out[n_out]), ATOLL_OK);
			s[t] = check_score(k, &out[n_out], i);
			n_out++;
		}
		CHECK(s[0] == s[1] && s[1] == s[2] && s[2] == s[3]);
	}
	int same = 0;
	for (int i = 0; i < n_out; i++)
		for (int j = 0; j < i; j++)
			same += out[i].len == out[j].len &&
				memcmp(out[i].data, out[j].data, out[i].len) == 0;
	CHECK_INT(same, 0);
	printf("scores: %d jobs with the pool and %d without decrypt alike; %d outputs, all"
	       " different\n", 2 * JOBS, 2 * JOBS, n_out);
	for (int i = 0; i < n_out; i++)
		buf_free(&out[i]);
	buf_free(&doc);
	REAL->fini(on);
	REAL->fini(off);
}

static void test_hits(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	atoll_err err;
	const char *kv[] = { "pool_size", "8" };
	void *ctx = init(HOOKED, kv, 1, &err);
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	struct buf doc = { 0 }, out1 = { 0 }, out2 = { 0 };
	make_doc(k, rz, 3, &doc);
	CHECK_INT(run(HOOKED, ctx, &doc, &out1), ATOLL_OK);
	check_score(k, &out1, 3);
	struct he_rnpool_stats st = stats(ctx);
	CHECK_INT(st.hits, 0);
	CHECK_INT(st.misses, 1);
	CHECK_INT(st.keys, 1);
	CHECK_INT(wait_ready(ctx, 1), 0);
	CHECK_INT(run(HOOKED, ctx, &doc, &out2), ATOLL_OK);
	check_score(k, &out2, 3);
	st = stats(ctx);
	CHECK_INT(st.hits, 1);
	CHECK_INT(st.misses, 1);
	CHECK(out1.len != out2.len || memcmp(out1.data, out2.data, out1.len) != 0);
	/* A full pool serves the next eight jobs. */
	CHECK_INT(wait_ready(ctx, 8), 0);
	for (int i = 0; i < 8; i++) {
		make_doc(k, rz, i, &doc);
		CHECK_INT(run(HOOKED, ctx, &doc, &out1), ATOLL_OK);
		check_score(k, &out1, i);
	}
	st = stats(ctx);
	CHECK_INT(st.hits, 9);
	CHECK_INT(st.misses, 1);
	printf("pooled randomness: second job and the 8 after a full pool took from it\n");
	buf_free(&doc);
	buf_free(&out1);
	buf_free(&out2);
	HOOKED->fini(ctx);
}

static void test_aggregate(const struct paillier_priv *k, const struct paillier_rand *rz)
{
	atoll_err err;
	atoll_kv c[] = { { "op", "aggregate" }, { "pool_size", "4" } };
	void *ctx = NULL;
	CHECK_INT(HOOKED->init(c, 2, &ctx, &err), ATOLL_OK);
	if (!ctx)
		return;
	double v[15];
	for (int i = 0; i < 15; i++)
		v[i] = i - 7.25;
	struct buf doc = { 0 }, out = { 0 };
	CHECK_INT(he_input_write(&k->pub, rz, NULL, v, 15, 5, 8, &doc), 0);
	for (int round = 0; round < 2; round++) {
		CHECK_INT(run(HOOKED, ctx, &doc, &out), ATOLL_OK);
		double *s = NULL;
		size_t n = 0;
		uint64_t count;
		unsigned scale;
		char msg[128];
		CHECK_INT(he_output_decrypt(k, out.data, out.len, &s, &n, &count, &scale, msg,
					    sizeof msg), 0);
		CHECK_INT(n, 3);
		for (size_t j = 0; s && j < 3 && n == 3; j++) {
			double want = 0;
			for (int i = 0; i < 5; i++)
				want += v[i * 3 + j];
			CHECK(s[j] == want);
		}
		free(s);
		if (round == 0)
			CHECK_INT(wait_ready(ctx, 3), 0);
	}
	/* The first job's later columns may find a value the thread made
	 * meanwhile; the second finds three waiting. */
	struct he_rnpool_stats st = stats(ctx);
	CHECK_INT(st.hits + st.misses, 6);
	CHECK(st.hits >= 3);
	buf_free(&doc);
	buf_free(&out);
	HOOKED->fini(ctx);
}

static void test_eviction(const struct paillier_priv *a, const struct paillier_rand *rza,
			  const struct paillier_priv *b, const struct paillier_rand *rzb)
{
	atoll_err err;
	const char *kv[] = { "pool_size", "4", "pool_keys", "1" };
	void *ctx = init(HOOKED, kv, 2, &err);
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	struct buf da = { 0 }, db = { 0 }, out = { 0 };
	make_doc(a, rza, 1, &da);
	make_doc(b, rzb, 2, &db);
	CHECK_INT(run(HOOKED, ctx, &da, &out), ATOLL_OK);
	check_score(a, &out, 1);
	CHECK_INT(wait_ready(ctx, 1), 0);
	/* b pushes a out, and a's values with it. */
	CHECK_INT(run(HOOKED, ctx, &db, &out), ATOLL_OK);
	check_score(b, &out, 2);
	struct he_rnpool_stats st = stats(ctx);
	CHECK_INT(st.keys, 1);
	CHECK_INT(st.evicted, 1);
	CHECK(st.wiped >= 1);
	CHECK_INT(st.hits, 0);
	/* a again: nothing of a's is left. */
	CHECK_INT(run(HOOKED, ctx, &da, &out), ATOLL_OK);
	check_score(a, &out, 1);
	st = stats(ctx);
	CHECK_INT(st.hits, 0);
	CHECK_INT(st.misses, 3);
	CHECK_INT(st.evicted, 2);
	CHECK_INT(st.keys, 1);
	/* And a's pool serves a's next job. */
	CHECK_INT(wait_ready(ctx, 1), 0);
	CHECK_INT(run(HOOKED, ctx, &da, &out), ATOLL_OK);
	check_score(a, &out, 1);
	CHECK_INT(stats(ctx).hits, 1);
	buf_free(&da);
	buf_free(&db);
	buf_free(&out);
	HOOKED->fini(ctx);
}

static void test_fini_while_filling(const struct paillier_priv *k,
				    const struct paillier_rand *rz)
{
	atoll_err err;
	void *ctx = init(HOOKED, NULL, 0, &err); /* the default 64 per key */
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	struct buf doc = { 0 }, out = { 0 };
	make_doc(k, rz, 0, &doc);
	CHECK_INT(run(HOOKED, ctx, &doc, &out), ATOLL_OK);
	check_score(k, &out, 0);
	int64_t end = time_mono_ns() + DEADLINE_NS;
	struct he_rnpool_stats st;
	do
		st = stats(ctx);
	while (!(st.computed >= 1 && st.filling) && time_mono_ns() < end);
	/* The thread has just begun its second value; the rest of the 64
	 * would take over a second. */
	CHECK(st.filling);
	int64_t t0 = time_mono_ns();
	HOOKED->fini(ctx);
	double ms = (double)(time_mono_ns() - t0) / 1e6;
	printf("fini while computing a %d-bit value: %.1f ms (%llu of 64 made)\n", k->pub.bits,
	       ms, (unsigned long long)st.computed);
	CHECK(ms < 1000);
	buf_free(&doc);
	buf_free(&out);
}

struct worker {
	void *ctx;
	const struct paillier_priv *k;
	const struct paillier_rand *rz;
	int first, ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct buf doc = { 0 }, out = { 0 };
	for (int i = w->first; i < w->first + 6; i++) {
		double x[30], plain[4], *v = NULL;
		size_t n = 0;
		uint64_t count;
		unsigned scale;
		char msg[128];
		features(i, x);
		ml_model_scores(M, x, plain);
		buf_reset(&doc);
		if (he_input_write(&w->k->pub, w->rz, NULL, x, 30, 1, SCALE, &doc) == 0 &&
		    run(HOOKED, w->ctx, &doc, &out) == ATOLL_OK &&
		    he_output_decrypt(w->k, out.data, out.len, &v, &n, &count, &scale, msg,
				      sizeof msg) == 0 &&
		    n == 1 && fabs(v[0] - plain[0]) < 1e-6)
			w->ok++;
		free(v);
	}
	buf_free(&doc);
	buf_free(&out);
	return NULL;
}

static void test_threads(const struct paillier_priv *a, const struct paillier_rand *rza,
			 const struct paillier_priv *b, const struct paillier_rand *rzb,
			 const char *pool_keys)
{
	atoll_err err;
	const char *kv[] = { "pool_size", "4", "pool_keys", pool_keys };
	void *ctx = init(HOOKED, kv, 2, &err);
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ ctx, i % 2 ? b : a, i % 2 ? rzb : rza, i * 10, 0 };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	struct he_rnpool_stats st = stats(ctx);
	for (int i = 0; i < 4; i++)
		CHECK_INT(w[i].ok, 6);
	CHECK_INT(st.hits + st.misses, 24);
	printf("4 threads, 2 keys, pool_keys %s: 24 jobs right, %llu took pooled values,"
	       " %llu evictions\n", pool_keys, (unsigned long long)st.hits,
	       (unsigned long long)st.evicted);
	HOOKED->fini(ctx);
}

static const atoll_backend *open_module(const char *path, void **ret_h)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cannot open [%s]: %s\n", path, dlerror());
		return NULL;
	}
	atoll_backend_entry_fn entry;
	*(void **)&entry = dlsym(h, ATOLL_BACKEND_ENTRY);
	*ret_h = h;
	return entry ? entry(ATOLL_BACKEND_ABI_MAJOR, ATOLL_BACKEND_ABI_MINOR) : NULL;
}

int main(void)
{
	const char *build = check_env("ATOLL_BUILD_DIR", "."), *mods = check_env("ATOLL_MODULE_DIR", NULL);
	char path[1024], msg[256];
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model", build);
	if (mods)
		snprintf(path, sizeof path, "%s/paillier.so", mods);
	else
		snprintf(path, sizeof path, "%s/modules/paillier.so", build);
	void *h_real = NULL, *h_hooked = NULL;
	REAL = open_module(path, &h_real);
	HOOKED = open_module(PAILLIER_TESTHOOKS_SO, &h_hooked);
	CHECK(REAL && HOOKED);
	if (!REAL || !HOOKED)
		CHECK_DONE();
	/* The installed module exports its entry point and nothing else. */
	CHECK(dlsym(h_real, "atoll_paillier_test_pool_stats") == NULL);
	*(void **)&pool_stats = dlsym(h_hooked, "atoll_paillier_test_pool_stats");
	CHECK(pool_stats != NULL);
	CHECK_INT(ml_model_load(model, &M, msg, sizeof msg), 0);
	if (!pool_stats || !M)
		CHECK_DONE();

	struct paillier_priv *a = NULL, *b = NULL, *big = NULL;
	struct paillier_rand *rza = NULL, *rzb = NULL, *rzbig = NULL;
	CHECK_INT(paillier_keygen(2048, &a), 0);
	CHECK_INT(paillier_keygen(2048, &b), 0);
	CHECK_INT(paillier_keygen(3072, &big), 0);
	CHECK_INT(paillier_rand_new(&a->pub, &rza), 0);
	CHECK_INT(paillier_rand_new(&b->pub, &rzb), 0);
	CHECK_INT(paillier_rand_new(&big->pub, &rzbig), 0);
	if (!rza || !rzb || !rzbig)
		CHECK_DONE();
	test_config();
	test_scores(a, rza);
	test_hits(a, rza);
	test_aggregate(b, rzb);
	test_eviction(a, rza, b, rzb);
	test_fini_while_filling(big, rzbig);
	test_threads(a, rza, b, rzb, "16");
	test_threads(a, rza, b, rzb, "1");
	paillier_rand_free(rza);
	paillier_rand_free(rzb);
	paillier_rand_free(rzbig);
	paillier_priv_free(a);
	paillier_priv_free(b);
	paillier_priv_free(big);
	ml_model_free(M);
	dlclose(h_real);
	dlclose(h_hooked);
	CHECK_DONE();
}
