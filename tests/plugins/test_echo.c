/* Tests of the echo backend through the plugin loader: options, chunking,
 * prompt extraction, cancellation during delays, forced failures and
 * concurrent runs on one instance. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin/plugin.h"
#include "util/buf.h"
#include "util/timeutil.h"

static struct loaded_backend lb;

/* The host side of a run: collects chunks, cancels on request. */
struct sink {
	struct buf out;
	size_t n_chunks;
	size_t max_chunk;
	size_t min_chunk;
	/* Cancel once this many chunks arrived (0: never). */
	size_t cancel_after;
	/* emit() answers this from the nth chunk on (0: never). */
	size_t refuse_at;
	int refuse_with;
	int cancelled;
};

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	struct sink *s = host;

	s->n_chunks++;
	if (s->refuse_at && s->n_chunks >= s->refuse_at)
		return s->refuse_with;
	if (len > s->max_chunk)
		s->max_chunk = len;
	if (!s->min_chunk || len < s->min_chunk)
		s->min_chunk = len;
	if (buf_append(&s->out, data, len) < 0)
		return ATOLL_E_NOMEM;
	if (s->cancel_after && s->n_chunks >= s->cancel_after)
		s->cancelled = 1;
	return ATOLL_OK;
}

static int sink_cancelled(void *host)
{
	struct sink *s = host;

	return __atomic_load_n(&s->cancelled, __ATOMIC_SEQ_CST);
}

static void *instance(size_t n, const atoll_kv *kv, char *err, size_t err_size)
{
	void *ctx = NULL;

	err[0] = '\0';
	if (plugin_backend_init(&lb, kv, n, &ctx, err, err_size) != 0)
		return NULL;
	return ctx;
}

static int run(void *ctx, const char *input, size_t len, uint32_t mode,
	       struct sink *s, atoll_err *e)
{
	atoll_backend_job job = {
		.struct_size = sizeof(job),
		.job_id = "job_test",
		.workload_id = 42,
		.mode = mode,
		.input = (const uint8_t *)input,
		.input_len = len,
	};
	atoll_backend_io io = {
		.struct_size = sizeof(io),
		.host = s,
		.emit = sink_emit,
		.cancelled = sink_cancelled,
	};

	e->msg[0] = '\0';
	return lb.b->run(ctx, &job, &io, e);
}

static int out_is(struct sink *s, const char *want, size_t want_len)
{
	return s->out.len == want_len &&
	       (want_len == 0 || memcmp(s->out.data, want, want_len) == 0);
}

static void test_table(void)
{
	CHECK_STR(lb.b->name, "echo");
	CHECK_INT(lb.b->modes, ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) |
				       ATOLL_MODE_BIT(ATOLL_MODE_TEE));
}

static void test_chunks(void)
{
	static const char prompt[] =
		"{\"prompt\": \"The quick brown fox jumps over the lazy dog\"}";
	static const char text[] = "The quick brown fox jumps over the lazy dog";
	atoll_kv four = { "chunk_size", "4" };
	struct sink s = { 0 };
	atoll_err e;
	char err[512];
	void *ctx;

	/* Defaults: 16-byte chunks. */
	ctx = instance(0, NULL, err, sizeof(err));
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	CHECK_INT(run(ctx, prompt, strlen(prompt), ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_OK);
	CHECK(out_is(&s, text, strlen(text)));
	CHECK_INT(s.n_chunks, (strlen(text) + 15) / 16);
	CHECK_INT(s.max_chunk, 16);
	buf_free(&s.out);
	lb.b->fini(ctx);

	ctx = instance(1, &four, err, sizeof(err));
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = (struct sink){ 0 };
	CHECK_INT(run(ctx, prompt, strlen(prompt), ATOLL_MODE_TEE, &s, &e),
		  ATOLL_OK);
	CHECK(out_is(&s, text, strlen(text)));
	CHECK_INT(s.n_chunks, (strlen(text) + 3) / 4);
	CHECK_INT(s.max_chunk, 4);
	CHECK_INT(s.min_chunk, strlen(text) % 4 ? strlen(text) % 4 : 4);
	buf_free(&s.out);

	/* JSON escapes are decoded; embedded NULs survive. */
	s = (struct sink){ 0 };
	{
		static const char in[] = "{\"prompt\":\"a\\nb\\u00e9\\u0000z\"}";

		CHECK_INT(run(ctx, in, strlen(in), ATOLL_MODE_PLAIN, &s, &e),
			  ATOLL_OK);
		CHECK(out_is(&s, "a\nb\xc3\xa9\0z", 7));
	}
	buf_free(&s.out);

	/* Everything else comes back byte for byte. */
	{
		static const char *raw[] = {
			"{\"features\": [1, 2, 3]}",
			"{\"prompt\": 42}",
			"[\"prompt\", \"x\"]",
			"not json at all",
			"{\"prompt\": \"unterminated",
			"\"a bare string\"",
		};

		for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
			s = (struct sink){ 0 };
			CHECK_INT(run(ctx, raw[i], strlen(raw[i]),
				      ATOLL_MODE_PLAIN, &s, &e), ATOLL_OK);
			CHECK(out_is(&s, raw[i], strlen(raw[i])));
			buf_free(&s.out);
		}
	}
	/* Binary input, and empty input (no chunks at all). */
	s = (struct sink){ 0 };
	CHECK_INT(run(ctx, "\xff\x00\x01", 3, ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_OK);
	CHECK(out_is(&s, "\xff\x00\x01", 3));
	buf_free(&s.out);
	s = (struct sink){ 0 };
	CHECK_INT(run(ctx, NULL, 0, ATOLL_MODE_PLAIN, &s, &e), ATOLL_OK);
	CHECK_INT(s.n_chunks, 0);
	s = (struct sink){ 0 };
	CHECK_INT(run(ctx, "{\"prompt\":\"\"}", 13, ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_OK);
	CHECK_INT(s.n_chunks, 0);

	/* Homomorphic jobs are not echo's. */
	CHECK_INT(run(ctx, prompt, strlen(prompt), ATOLL_MODE_HOMOMORPHIC, &s,
		      &e), ATOLL_E_UNSUPPORTED);
	CHECK_STR(e.msg, "echo runs plain and tee jobs, not mode 3");

	/* The host cancelling through emit() stops the run; another refusal
	 * comes back with its code. */
	s = (struct sink){ .refuse_at = 2, .refuse_with = ATOLL_E_CANCELLED };
	CHECK_INT(run(ctx, text, strlen(text), ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_E_CANCELLED);
	CHECK_INT(s.n_chunks, 2);
	buf_free(&s.out);
	s = (struct sink){ .refuse_at = 1,
			   .refuse_with = ATOLL_E_INVALID_ARGUMENT };
	CHECK_INT(run(ctx, text, strlen(text), ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_E_INVALID_ARGUMENT);
	CHECK_STR(e.msg, "the host refused a chunk of 4 bytes at offset 0");
	lb.b->fini(ctx);
}

static void test_delay_and_cancel(void)
{
	atoll_kv slow[] = { { "chunk_size", "1" }, { "delay_ms", "20" } };
	atoll_kv very_slow[] = { { "chunk_size", "1" }, { "delay_ms", "60000" } };
	struct sink s = { 0 };
	atoll_err e;
	char err[512];
	int64_t t0, dt;
	void *ctx;

	ctx = instance(2, slow, err, sizeof(err));
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	/* Four pauses between five chunks. */
	t0 = time_mono_ms();
	CHECK_INT(run(ctx, "hello", 5, ATOLL_MODE_PLAIN, &s, &e), ATOLL_OK);
	dt = time_mono_ms() - t0;
	CHECK(out_is(&s, "hello", 5));
	CHECK_INT(s.n_chunks, 5);
	CHECK(dt >= 80);
	buf_free(&s.out);
	lb.b->fini(ctx);

	/* A minute between chunks, cancelled after the first: the run must
	 * return long before the pause would end. */
	ctx = instance(2, very_slow, err, sizeof(err));
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = (struct sink){ .cancel_after = 1 };
	t0 = time_mono_ms();
	CHECK_INT(run(ctx, "hello", 5, ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_E_CANCELLED);
	dt = time_mono_ms() - t0;
	CHECK_STR(e.msg, "cancelled");
	CHECK(out_is(&s, "h", 1));
	CHECK(dt < 1000);
	printf("cancel latency: %lld ms\n", (long long)dt);
	buf_free(&s.out);
	lb.b->fini(ctx);
}

struct cancel_later {
	struct sink *s;
	int64_t after_ms;
};

static void *cancel_thread(void *arg)
{
	struct cancel_later *c = arg;

	time_sleep_ms(c->after_ms);
	__atomic_store_n(&c->s->cancelled, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_cancel_from_another_thread(void)
{
	atoll_kv very_slow[] = { { "chunk_size", "2" }, { "delay_ms", "60000" } };
	struct sink s = { 0 };
	struct cancel_later c = { &s, 50 };
	pthread_t t;
	atoll_err e;
	char err[512];
	int64_t t0, dt;
	void *ctx = instance(2, very_slow, err, sizeof(err));

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	t0 = time_mono_ms();
	CHECK(pthread_create(&t, NULL, cancel_thread, &c) == 0);
	CHECK_INT(run(ctx, "abcdef", 6, ATOLL_MODE_TEE, &s, &e),
		  ATOLL_E_CANCELLED);
	dt = time_mono_ms() - t0;
	pthread_join(t, NULL);
	CHECK(out_is(&s, "ab", 2));
	CHECK(dt >= 40 && dt < 1000);
	buf_free(&s.out);
	lb.b->fini(ctx);
}

static void test_fail_with(void)
{
	atoll_kv kv = { "fail_with", "model exploded on purpose" };
	struct sink s = { 0 };
	atoll_err e;
	char err[512];
	void *ctx = instance(1, &kv, err, sizeof(err));

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	CHECK_INT(run(ctx, "{\"prompt\":\"x\"}", 14, ATOLL_MODE_PLAIN, &s, &e),
		  ATOLL_E_INTERNAL);
	CHECK_STR(e.msg, "model exploded on purpose");
	CHECK_INT(s.n_chunks, 0);
	lb.b->fini(ctx);
}

static void test_options(void)
{
	static const struct {
		atoll_kv kv[2];
		size_t n;
		const char *msg;
	} bad[] = {
		{ { { "model", "/models/m.bin" } }, 1,
		  "echo takes no model; remove 'model: /models/m.bin' from the "
		  "workload" },
		{ { { "temperature", "0.7" } }, 1, "unknown option 'temperature'" },
		{ { { "chunk_size", "0" } }, 1,
		  "chunk_size: '0' is not a byte count in 1..1048576" },
		{ { { "chunk_size", "1048577" } }, 1,
		  "chunk_size: '1048577' is not a byte count in 1..1048576" },
		{ { { "chunk_size", "12abc" } }, 1,
		  "chunk_size: '12abc' is not a byte count in 1..1048576" },
		{ { { "chunk_size", "-5" } }, 1,
		  "chunk_size: '-5' is not a byte count in 1..1048576" },
		{ { { "delay_ms", "" } }, 1,
		  "delay_ms: '' is not a number of milliseconds in 0..600000" },
		{ { { "delay_ms", "600001" } }, 1,
		  "delay_ms: '600001' is not a number of milliseconds in "
		  "0..600000" },
		{ { { "chunk_size", "4" }, { "chunk_size", "8" } }, 2,
		  "option 'chunk_size' given twice" },
		{ { { "fail_with", "a" }, { "fail_with", "b" } }, 2,
		  "option 'fail_with' given twice" },
	};
	char err[1024], want[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *ctx = (void *)err;
		int rc = plugin_backend_init(&lb, bad[i].kv, bad[i].n, &ctx, err,
					     sizeof(err));

		snprintf(want, sizeof(want),
			 "backend 'echo' in [%s]: init failed: %s", lb.path,
			 bad[i].msg);
		CHECK_INT(rc, -EINVAL);
		CHECK_STR(err, want);
		CHECK(ctx == (void *)err);
	}
}

struct par {
	void *ctx;
	int failures;
};

static void *run_many(void *arg)
{
	struct par *p = arg;
	static const char in[] = "{\"prompt\":\"concurrent runs share one "
				 "instance\"}";
	atoll_err e;

	for (int i = 0; i < 200; i++) {
		struct sink s = { 0 };

		if (run(p->ctx, in, strlen(in), ATOLL_MODE_PLAIN, &s, &e) !=
			    ATOLL_OK ||
		    !out_is(&s, "concurrent runs share one instance", 34))
			p->failures++;
		buf_free(&s.out);
	}
	return NULL;
}

static void test_concurrent(void)
{
	atoll_kv kv = { "chunk_size", "3" };
	char err[512];
	void *ctx = instance(1, &kv, err, sizeof(err));
	struct par p[4];
	pthread_t t[4];

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	for (int i = 0; i < 4; i++) {
		p[i] = (struct par){ ctx, 0 };
		CHECK(pthread_create(&t[i], NULL, run_many, &p[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(p[i].failures, 0);
	}
	lb.b->fini(ctx);
	lb.b->fini(NULL);
}

int main(void)
{
	const char *mods = getenv("ATOLL_MODULE_DIR");
	char path[4096], err[1024];

	if (!mods) {
		printf("skipped: ATOLL_MODULE_DIR is not set\n");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/echo.so", mods);
	if (plugin_load_backend(path, &lb, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	test_table();
	test_chunks();
	test_delay_and_cancel();
	test_cancel_from_another_thread();
	test_fail_with();
	test_options();
	test_concurrent();
	plugin_unload_backend(&lb);
	CHECK_DONE();
}
