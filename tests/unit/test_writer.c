/* The store writer (server/store/writer.c) against a store that fails on
 * demand: writes land in order; a write that runs out of patience gives
 * up only while it has not been sent, on time even while the writing
 * thread is stuck in the store; a write in doubt (the connection broke
 * with COMMIT on its way) is tried again until the store answers; and a
 * stopping writer tells never-sent writes from writes in doubt; a write
 * the store refuses for its values fails alone, at once. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "store/writer.h"
#include "util/timeutil.h"

enum mode {
	OK,      /* batches land */
	DOWN,    /* begin fails: nothing is sent */
	STUCK,   /* begin waits until the mode changes (a call that hangs) */
	IN_DOUBT /* commit lands the batch but answers -ECONNRESET */
};

#define MAX_IDS 64

struct fake {
	struct store base;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	enum mode mode;
	bool in_stuck_begin;
	/* What the current batch sent, and what landed (ids, in order). */
	char sent[MAX_IDS][JOB_ID_LEN + 1];
	size_t n_sent;
	char landed[MAX_IDS][JOB_ID_LEN + 1];
	size_t n_landed;
	char pending[MAX_IDS][JOB_ID_LEN + 1];
	size_t n_pending;
	size_t ever_sent; /* writes sent over all attempts */
};

static struct fake F;

static void set_mode(enum mode m)
{
	pthread_mutex_lock(&F.mu);
	F.mode = m;
	pthread_cond_broadcast(&F.cond);
	pthread_mutex_unlock(&F.mu);
}

static bool has(char (*list)[JOB_ID_LEN + 1], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], id) == 0)
			return true;
	return false;
}

static int f_begin(struct store *s, char *err, size_t err_size)
{
	(void)s;
	pthread_mutex_lock(&F.mu);
	while (F.mode == STUCK) {
		F.in_stuck_begin = true;
		pthread_cond_broadcast(&F.cond);
		pthread_cond_wait(&F.cond, &F.mu);
	}
	F.in_stuck_begin = false;
	int e = F.mode == DOWN ? -EIO : 0;
	F.n_pending = 0;
	pthread_mutex_unlock(&F.mu);
	if (e)
		snprintf(err, err_size, "down");
	return e;
}

static int f_commit(struct store *s, char *err, size_t err_size)
{
	(void)s;
	pthread_mutex_lock(&F.mu);
	for (size_t i = 0; i < F.n_pending && F.n_landed < MAX_IDS; i++)
		if (!has(F.landed, F.n_landed, F.pending[i]))
			memcpy(F.landed[F.n_landed++], F.pending[i], JOB_ID_LEN + 1);
	int e = F.mode == IN_DOUBT ? -ECONNRESET : 0;
	pthread_mutex_unlock(&F.mu);
	if (e)
		snprintf(err, err_size, "connection lost during COMMIT");
	return e;
}

static void f_rollback(struct store *s)
{
	(void)s;
}

static int f_write(struct store *s, const struct job_row *r)
{
	(void)s;
	/* Values the store refuses (as PostgreSQL refuses text that is not
	 * UTF-8): never landed, whatever the retries. */
	if (strstr(r->id, "bad"))
		return -EINVAL;
	pthread_mutex_lock(&F.mu);
	if (F.n_pending < MAX_IDS)
		memcpy(F.pending[F.n_pending++], r->id, JOB_ID_LEN + 1);
	if (F.n_sent < MAX_IDS && !has(F.sent, F.n_sent, r->id))
		memcpy(F.sent[F.n_sent++], r->id, JOB_ID_LEN + 1);
	F.ever_sent++;
	pthread_mutex_unlock(&F.mu);
	return 0;
}

static int f_insert(struct store *s, const struct job_row *r, struct job_row *existing)
{
	(void)existing;
	return f_write(s, r);
}

static const struct store_ops FAKE_OPS = {
	.name = "fake",
	.batch_begin = f_begin,
	.batch_commit = f_commit,
	.batch_rollback = f_rollback,
	.insert_job = f_insert,
	.finish_job = f_write,
};

/* ---- writes and their answers ---- */

struct w {
	struct store_op op;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
	int err;
	int64_t at_ms;
};

static struct w ws[16];

static void on_done(struct store_op *op, int err, void *ud)
{
	struct w *x = ud;
	(void)op;
	pthread_mutex_lock(&x->mu);
	x->done = true;
	x->err = err;
	x->at_ms = time_mono_ms();
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->mu);
}

static struct w *write_of(int i, enum store_op_kind kind, int64_t patience_ms)
{
	struct w *x = &ws[i];
	memset(&x->op, 0, sizeof x->op);
	x->done = false;
	x->err = 1;
	x->op.kind = kind;
	snprintf(x->op.row.id, sizeof x->op.row.id, "job_%02d", i);
	x->op.patience_ms = patience_ms;
	x->op.done = on_done;
	x->op.ud = x;
	return x;
}

/* Wait (at most 20 s) for the answer. */
static bool answered(struct w *x)
{
	int64_t until = time_mono_ms() + 20000;
	pthread_mutex_lock(&x->mu);
	while (!x->done && time_mono_ms() < until)
		time_cond_wait_ms(&x->cond, &x->mu, 50);
	bool d = x->done;
	pthread_mutex_unlock(&x->mu);
	return d;
}

static bool is_done(struct w *x)
{
	pthread_mutex_lock(&x->mu);
	bool d = x->done;
	pthread_mutex_unlock(&x->mu);
	return d;
}

static bool was_sent(const char *id)
{
	pthread_mutex_lock(&F.mu);
	bool s = has(F.sent, F.n_sent, id);
	pthread_mutex_unlock(&F.mu);
	return s;
}

static bool has_landed(const char *id)
{
	pthread_mutex_lock(&F.mu);
	bool s = has(F.landed, F.n_landed, id);
	pthread_mutex_unlock(&F.mu);
	return s;
}

static void reset(void)
{
	pthread_mutex_lock(&F.mu);
	F.n_sent = F.n_landed = F.n_pending = F.ever_sent = 0;
	F.mode = OK;
	pthread_mutex_unlock(&F.mu);
}

static void test_in_order(void)
{
	reset();
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	for (int i = 0; i < 8; i++)
		store_writer_push(wr, &write_of(i, STORE_OP_INSERT_JOB, 5000)->op);
	store_writer_sync(wr);
	for (int i = 0; i < 8; i++) {
		CHECK(is_done(&ws[i]));
		CHECK_INT(ws[i].err, 0);
	}
	CHECK_INT(F.n_landed, 8);
	for (size_t i = 0; i < F.n_landed && i < 8; i++)
		CHECK_STR(F.landed[i], ws[i].op.row.id);
	store_writer_stop(wr, 1000);
}

/* The store is down: a final write (no patience) keeps failing at the
 * head; the insert queued behind it gives up on time, unsent, and the
 * final write lands once the store is back. */
static void test_gives_up_behind_failing_batch(void)
{
	reset();
	set_mode(DOWN);
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	struct w *fin = write_of(0, STORE_OP_FINISH_JOB, 0);
	store_writer_push(wr, &fin->op);
	time_sleep_ms(20); /* the final write is the writing thread's batch */
	struct w *ins = write_of(1, STORE_OP_INSERT_JOB, 300);
	int64_t t0 = time_mono_ms();
	store_writer_push(wr, &ins->op);
	CHECK(answered(ins));
	CHECK_INT(ins->err, -EIO);
	CHECK(ins->at_ms - t0 >= 300);
	fprintf(stderr, "insert behind a failing batch gave up after %lld ms\n",
		(long long)(ins->at_ms - t0));
	CHECK(!was_sent(ins->op.row.id));
	CHECK(!is_done(fin));
	set_mode(OK);
	CHECK(answered(fin));
	CHECK_INT(fin->err, 0);
	store_writer_sync(wr);
	CHECK(!has_landed(ins->op.row.id));
	store_writer_stop(wr, 1000);
}

/* The writing thread hangs inside the store: the keeper still answers
 * the queued insert on time. */
static void test_gives_up_while_stuck(void)
{
	reset();
	set_mode(STUCK);
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	struct w *fin = write_of(0, STORE_OP_FINISH_JOB, 0);
	store_writer_push(wr, &fin->op);
	pthread_mutex_lock(&F.mu);
	while (!F.in_stuck_begin)
		pthread_cond_wait(&F.cond, &F.mu);
	pthread_mutex_unlock(&F.mu);
	struct w *ins = write_of(1, STORE_OP_INSERT_JOB, 300);
	int64_t t0 = time_mono_ms();
	store_writer_push(wr, &ins->op);
	CHECK(answered(ins));
	CHECK_INT(ins->err, -EIO);
	CHECK(ins->at_ms - t0 >= 300);
	pthread_mutex_lock(&F.mu);
	CHECK(F.in_stuck_begin); /* answered while the writer was still stuck */
	pthread_mutex_unlock(&F.mu);
	set_mode(OK);
	CHECK(answered(fin));
	CHECK_INT(fin->err, 0);
	store_writer_sync(wr);
	CHECK(!was_sent(ins->op.row.id));
	store_writer_stop(wr, 1000);
}

/* A batch whose commit answer was lost: its insert, patience or not, is
 * retried (never given up) and answered 0 once the store answers. */
static void test_in_doubt_is_retried(void)
{
	reset();
	set_mode(IN_DOUBT);
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	struct w *ins = write_of(0, STORE_OP_INSERT_JOB, 100);
	store_writer_push(wr, &ins->op);
	time_sleep_ms(600); /* well past its patience */
	CHECK(!is_done(ins));
	CHECK(has_landed(ins->op.row.id));
	set_mode(OK);
	CHECK(answered(ins));
	CHECK_INT(ins->err, 0);
	store_writer_stop(wr, 1000);
}

/* Stopping while the store is away: a write in doubt gets -ETIMEDOUT,
 * one never sent -ESHUTDOWN. */
static void test_stop(void)
{
	reset();
	set_mode(IN_DOUBT);
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	struct w *a = write_of(0, STORE_OP_FINISH_JOB, 0);
	store_writer_push(wr, &a->op);
	int64_t until = time_mono_ms() + 10000;
	while (!has_landed(a->op.row.id) && time_mono_ms() < until)
		time_sleep_ms(5);
	set_mode(DOWN);
	struct w *b = write_of(1, STORE_OP_FINISH_JOB, 0);
	store_writer_push(wr, &b->op);
	store_writer_stop(wr, 200);
	CHECK(is_done(a));
	CHECK_INT(a->err, -ETIMEDOUT);
	CHECK(is_done(b));
	CHECK_INT(b->err, -ESHUTDOWN);
	CHECK(!was_sent(b->op.row.id));
}

/* A final write without patience that the store refuses for its values
 * fails at once with -EINVAL; the writes around it, in the same batch,
 * land in order. */
static void test_refused_write_fails_alone(void)
{
	reset();
	struct store_writer *wr;
	CHECK_INT(store_writer_start(&F.base, &wr), 0);
	int64_t t0 = time_mono_ms();
	struct w *a = write_of(0, STORE_OP_INSERT_JOB, 5000);
	struct w *bad = write_of(1, STORE_OP_FINISH_JOB, 0);
	snprintf(bad->op.row.id, sizeof bad->op.row.id, "job_bad");
	struct w *c = write_of(2, STORE_OP_FINISH_JOB, 0);
	set_mode(STUCK); /* the three go in one batch */
	store_writer_push(wr, &a->op);
	store_writer_push(wr, &bad->op);
	store_writer_push(wr, &c->op);
	set_mode(OK);
	CHECK(answered(bad));
	CHECK(answered(c));
	CHECK_INT(bad->err, -EINVAL);
	CHECK_INT(a->err, 0);
	CHECK_INT(c->err, 0);
	CHECK(time_mono_ms() - t0 < 1000);
	CHECK(has_landed(a->op.row.id));
	CHECK(has_landed(c->op.row.id));
	CHECK(!has_landed("job_bad"));
	store_writer_stop(wr, 1000);
}

int main(void)
{
	F.base.ops = &FAKE_OPS;
	pthread_mutex_init(&F.mu, NULL);
	pthread_cond_init(&F.cond, NULL);
	for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
		pthread_mutex_init(&ws[i].mu, NULL);
		pthread_cond_init(&ws[i].cond, NULL);
	}
	test_in_order();
	test_gives_up_behind_failing_batch();
	test_gives_up_while_stuck();
	test_in_doubt_is_retried();
	test_stop();
	test_refused_write_fails_alone();
	CHECK_DONE();
}
