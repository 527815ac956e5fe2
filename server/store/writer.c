/* The store writer thread: batches, retries, callbacks (store/writer.h). */
#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"
#include "util/timeutil.h"

/* The most writes in one transaction: large enough to take whatever
 * arrived during one fsync, small enough to keep a batch's callbacks
 * from holding back the next commit for long. */
#define MAX_BATCH 2048
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct store_writer {
	struct store *s;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* work queued, or stopping */
	pthread_cond_t idle; /* writes finished */
	struct store_op *head, *tail;
	uint64_t pushed, finished;
	bool stopping;
	int64_t stop_deadline_ms;
	pthread_t thread;
	struct store_writer_stats st;
};

static void wait_ms(struct store_writer *w, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mu);
	if (!w->stopping)
		pthread_cond_timedwait(&w->cond, &w->mu, &ts);
	pthread_mutex_unlock(&w->mu);
}

/* One transaction for the batch. Per-write outcomes in results. */
static int apply(struct store *s, struct store_op *batch, int *results, char *err,
		 size_t err_size)
{
	int e = store_batch_begin(s, err, err_size);
	if (e < 0)
		return e;
	size_t i = 0;
	for (struct store_op *op = batch; op; op = op->next, i++) {
		switch (op->kind) {
		case STORE_OP_INSERT_JOB:
			job_row_clear(&op->existing);
			e = store_insert_job(s, &op->row, &op->existing);
			break;
		case STORE_OP_FINISH_JOB:
			e = store_finish_job(s, &op->row);
			break;
		default:
			e = -EINVAL;
		}
		results[i] = e;
		if (e < 0 && e != -EEXIST) {
			snprintf(err, err_size, "cannot write job %s", op->row.id);
			store_batch_rollback(s);
			return e;
		}
	}
	return store_batch_commit(s, err, err_size);
}

/* Call done for each write of the list, in order, with its outcome (or
 * with err for all when results is NULL). */
static size_t finish_list(struct store_op *list, const int *results, int err)
{
	size_t n = 0;
	while (list) {
		struct store_op *next = list->next;
		list->next = NULL;
		int e = results ? results[n] : err;
		if (e != -EEXIST)
			job_row_clear(&list->existing);
		list->done(list, e, list->ud);
		n++;
		list = next;
	}
	return n;
}

/* Take out the writes that ran out of patience (all of them once a
 * stopping writer's own patience is over). */
static struct store_op *give_up(struct store_writer *w, struct store_op **batch, size_t *ret_n)
{
	int64_t now = time_mono_ms();
	pthread_mutex_lock(&w->mu);
	bool all = w->stopping && now >= w->stop_deadline_ms;
	pthread_mutex_unlock(&w->mu);
	struct store_op *out = NULL, **tail = &out;
	size_t n = 0;
	for (struct store_op **pp = batch; *pp;) {
		struct store_op *op = *pp;
		if (all || (op->patience_ms && now - op->queued_ms >= op->patience_ms)) {
			*pp = op->next;
			op->next = NULL;
			*tail = op;
			tail = &op->next;
			n++;
		} else {
			pp = &op->next;
		}
	}
	*ret_n = n;
	return out;
}

static void *run(void *arg)
{
	struct store_writer *w = arg;
	int *results = malloc(MAX_BATCH * sizeof *results);
	int64_t backoff = 0;
	bool failing = false;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->mu);
		if (!w->head)
			break;
		struct store_op *batch = w->head, *last = w->head;
		size_t n = 1;
		while (last->next && n < MAX_BATCH) {
			last = last->next;
			n++;
		}
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
		w->st.queued -= n;
		pthread_mutex_unlock(&w->mu);

		size_t done = 0;
		char err[256] = "";
		for (;;) {
			int e = results ? apply(w->s, batch, results, err, sizeof err) : -ENOMEM;
			if (e == 0) {
				if (failing)
					log_info("store: writes land again");
				failing = false;
				backoff = 0;
				pthread_mutex_lock(&w->mu);
				w->st.batches++;
				w->st.writes += n;
				pthread_mutex_unlock(&w->mu);
				done += finish_list(batch, results, 0);
				break;
			}
			if (!failing)
				log_error("store: a batch of %zu write(s) failed (%s); retrying", n, err);
			failing = true;
			pthread_mutex_lock(&w->mu);
			w->st.failures++;
			pthread_mutex_unlock(&w->mu);
			size_t k;
			struct store_op *out = give_up(w, &batch, &k);
			if (out) {
				log_error("store: %zu write(s) gave up", k);
				done += finish_list(out, NULL, w->stopping ? -ESHUTDOWN : -EIO);
				n -= k;
			}
			if (!batch)
				break;
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			wait_ms(w, backoff);
		}
		pthread_mutex_lock(&w->mu);
		w->finished += done;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	free(results);
	return NULL;
}

int store_writer_start(struct store *s, struct store_writer **ret)
{
	struct store_writer *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->s = s;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		pthread_cond_destroy(&w->idle);
		free(w);
		return -EAGAIN;
	}
	*ret = w;
	return 0;
}

void store_writer_push(struct store_writer *w, struct store_op *op)
{
	op->next = NULL;
	op->queued_ms = time_mono_ms();
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	w->pushed++;
	w->st.queued++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

void store_writer_sync(struct store_writer *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t target = w->pushed;
	while (w->finished < target)
		pthread_cond_wait(&w->idle, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void store_writer_stats(struct store_writer *w, struct store_writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	pthread_mutex_unlock(&w->mu);
}

void store_writer_stop(struct store_writer *w, int64_t patience_ms)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	w->stop_deadline_ms = time_mono_ms() + patience_ms;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	free(w);
}
