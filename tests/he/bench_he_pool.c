/* atoll-he-pool-bench: what the randomizer pool saves the paillier
 * backend. For each key size, the median run() of a one-record
 * 30-feature classification (the bundled breast-cancer model) with
 * pool_size 0, with a full pool and its thread idle before every job,
 * and with jobs back to back (the thread refills while the jobs run);
 * then the randomizer alone, computed and taken from a pool. Each run()
 * also shows its own CPU time (the calling thread's), which other load on
 * a shared machine does not stretch.
 *
 *   atoll-he-pool-bench [--reps N] [--bits N]
 *
 * Uses the module built with the test hooks (its run() is the installed
 * one's) to wait for the pool and count its hits. Prints figures; asserts
 * nothing. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atoll/backend.h"
#include "he/he.h"
#include "he/paillier.h"
#include "he/rnpool.h"
#include "util/buf.h"
#include "util/timeutil.h"

typedef int (*stats_fn)(void *ctx, struct he_rnpool_stats *ret);

static const atoll_backend *B;
static stats_fn pool_stats;
static char model[1024];

static void die(const char *what)
{
	fprintf(stderr, "atoll-he-pool-bench: %s\n", what);
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_ms(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	return (double)v[n / 2] / 1e6;
}

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	return buf_append(host, data, len) < 0 ? ATOLL_E_NOMEM : ATOLL_OK;
}

static int never_cancelled(void *host)
{
	(void)host;
	return 0;
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the last run_once(): the job's own work, which other load on
 * the machine does not stretch (the pool's thread is not counted). */
static int64_t last_cpu;

static int64_t run_once(void *ctx, const struct buf *doc)
{
	struct buf out = { 0 };
	atoll_backend_job job = { sizeof job, "bench", 7, ATOLL_MODE_HOMOMORPHIC, doc->data,
				  doc->len };
	atoll_backend_io io = { sizeof io, &out, sink_emit, never_cancelled };
	atoll_err err;
	int64_t c0 = thread_cpu_ns(), t0 = time_mono_ns();
	int st = B->run(ctx, &job, &io, &err);
	int64_t t = time_mono_ns() - t0;
	last_cpu = thread_cpu_ns() - c0;
	buf_free(&out);
	if (st != ATOLL_OK)
		die(err.msg);
	return t;
}

static void *init(const char *pool_size)
{
	atoll_kv c[] = { { "model", model }, { "pool_size", pool_size } };
	void *ctx = NULL;
	atoll_err err;
	if (B->init(c, 2, &ctx, &err) != ATOLL_OK)
		die(err.msg);
	return ctx;
}

static uint64_t hits(void *ctx)
{
	struct he_rnpool_stats st;
	return pool_stats(ctx, &st) == 0 ? st.hits : 0;
}

/* Until the pool holds `want` values and the thread is idle. */
static void wait_pool(void *ctx, size_t want)
{
	struct he_rnpool_stats st;
	for (;;) {
		if (pool_stats(ctx, &st) < 0)
			die("no pool");
		if (st.ready >= want && !st.filling)
			return;
		usleep(500);
	}
}

static void bench(int bits, int reps)
{
	struct paillier_priv *k = NULL;
	struct paillier_rand *rz = NULL;
	if (paillier_keygen(bits, &k) < 0 || paillier_rand_new(&k->pub, &rz) < 0)
		die("keygen failed");
	double x[30];
	for (int i = 0; i < 30; i++)
		x[i] = 1.0 + i * 0.37;
	struct buf doc = { 0 };
	if (he_input_write(&k->pub, rz, NULL, x, 30, 1, 40, &doc) < 0)
		die("encryption failed");
	int64_t *t = calloc((size_t)reps, sizeof *t), *cpu = calloc((size_t)reps, sizeof *cpu);
	if (!t || !cpu)
		die("out of memory");

	printf("%d-bit key, one 30-feature record, run() median of %d:\n", bits, reps);
	void *off = init("0");
	run_once(off, &doc);
	for (int i = 0; i < reps; i++) {
		t[i] = run_once(off, &doc);
		cpu[i] = last_cpu;
	}
	printf("  pool_size 0                %8.2f ms   (CPU %.2f ms)\n", median_ms(t, reps),
	       median_ms(cpu, reps));
	B->fini(off);

	void *on = init("64");
	run_once(on, &doc); /* registers the key */
	uint64_t h0 = hits(on);
	for (int i = 0; i < reps; i++) {
		wait_pool(on, 64);
		t[i] = run_once(on, &doc);
		cpu[i] = last_cpu;
	}
	printf("  pool full, thread idle     %8.2f ms   (CPU %.2f ms; %llu of %d from the pool)\n",
	       median_ms(t, reps), median_ms(cpu, reps), (unsigned long long)(hits(on) - h0),
	       reps);
	B->fini(on);

	on = init("64");
	h0 = hits(on);
	for (int i = 0; i < reps; i++) {
		t[i] = run_once(on, &doc);
		cpu[i] = last_cpu;
	}
	printf("  pool, jobs back to back    %8.2f ms   (CPU %.2f ms; %llu of %d from the pool)\n",
	       median_ms(t, reps), median_ms(cpu, reps), (unsigned long long)(hits(on) - h0),
	       reps);
	B->fini(on);

	/* The randomizer alone. */
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *v = BN_new();
	struct he_rnpool *pool = NULL;
	if (!ctx || !v || he_rnpool_new(1, (size_t)reps, &pool) < 0)
		die("out of memory");
	for (int i = 0; i < reps; i++) {
		int64_t t0 = time_mono_ns();
		if (paillier_rand_full(&k->pub, v, ctx) < 0)
			die("paillier_rand_full failed");
		t[i] = time_mono_ns() - t0;
	}
	double computed = median_ms(t, reps);
	he_rnpool_take(pool, &k->pub, v, ctx);
	while (he_rnpool_ready(pool, &k->pub) < (size_t)reps)
		usleep(1000);
	usleep(100000); /* the thread goes back to sleep */
	for (int i = 0; i < reps; i++) {
		int64_t t0 = time_mono_ns();
		he_rnpool_take(pool, &k->pub, v, ctx);
		t[i] = time_mono_ns() - t0;
	}
	printf("  r^n computed (full)        %8.2f ms\n", computed);
	printf("  r^n taken from the pool    %8.2f us\n", median_ms(t, reps) * 1000);
	fflush(stdout);
	he_rnpool_free(pool);
	BN_free(v);
	BN_CTX_free(ctx);
	free(t);
	free(cpu);
	buf_free(&doc);
	paillier_rand_free(rz);
	paillier_priv_free(k);
}

int main(int argc, char **argv)
{
	int reps = 30, bits = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc)
			bits = atoi(argv[++i]);
		else
			die("usage: atoll-he-pool-bench [--reps N] [--bits N]");
	}
	if (reps < 1 || reps > HE_RNPOOL_MAX_PER_KEY)
		die("--reps: 1..1024");
	const char *build = getenv("ATOLL_BUILD_DIR");
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model",
		 build && *build ? build : BUILD_DIR_DEFAULT);
	void *h = dlopen(PAILLIER_SO, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		die(dlerror());
	atoll_backend_entry_fn entry;
	*(void **)&entry = dlsym(h, ATOLL_BACKEND_ENTRY);
	*(void **)&pool_stats = dlsym(h, "atoll_paillier_test_pool_stats");
	if (!entry || !pool_stats || !(B = entry(ATOLL_BACKEND_ABI_MAJOR, ATOLL_BACKEND_ABI_MINOR)))
		die("not the paillier module built with the test hooks");
	if (bits) {
		bench(bits, reps);
	} else {
		bench(2048, reps);
		bench(3072, reps);
	}
	dlclose(h);
	return 0;
}
