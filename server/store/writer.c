/* The store writer: the writing thread (batches, retries, callbacks) and
 * the keeper, which gives up queued writes that ran out of patience while
 * the writing thread is held up by a failing batch (store/writer.h). */
#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/timeutil.h"

/* The most writes in one transaction: large enough to take whatever
 * arrived during one fsync, small enough to keep a batch's callbacks
 * from holding back the next commit for long. */
#define MAX_BATCH 2048
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define NEVER INT64_MAX

struct store_writer {
	struct store *s;
	pthread_mutex_t mu;
	pthread_cond_t cond;  /* work queued, or stopping */
	pthread_cond_t idle;  /* writes finished */
	pthread_cond_t kcond; /* the keeper: an earlier deadline, or stopping */
	struct store_op *head, *tail; /* queued, not taken by the writing thread */
	uint64_t pushed, finished;
	bool stopping, keeper_stop;
	int64_t stop_deadline_ms;
	int64_t keeper_next; /* when the keeper looks next (NEVER: nothing to watch) */
	pthread_t thread, keeper;
	bool keeper_started;
	struct store_writer_stats st;
};

static int64_t due_ms(const struct store_op *op)
{
	return op->patience_ms && !op->in_doubt ? op->queued_ms + op->patience_ms : NEVER;
}

/* Wait until ms from now, or until the writer starts stopping. */
static void wait_ms(struct store_writer *w, int64_t ms)
{
	int64_t until = time_mono_ms() + ms;
	pthread_mutex_lock(&w->mu);
	bool was_stopping = w->stopping;
	for (;;) {
		int64_t now = time_mono_ms();
		if (now >= until || (w->stopping && !was_stopping))
			break;
		time_cond_wait_ms(&w->cond, &w->mu, until - now);
	}
	pthread_mutex_unlock(&w->mu);
}

/* One transaction for the batch. Per-write outcomes in results. 0, or
 * the store's error: -ECONNRESET when the batch may have landed; -EINVAL
 * when the store refused the write *ret_refused for what it holds (it
 * would refuse it again: nothing landed, the others may be tried again
 * without it). */
static int apply(struct store *s, struct store_op *batch, int *results,
		 struct store_op **ret_refused, char *err, size_t err_size)
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
		case STORE_OP_RELEASE_JOB:
			e = store_release_job(s, op->row.id, op->row.attempts, op->unclaim);
			break;
		case STORE_OP_OUTPUT:
			e = store_append_output(s, op->row.id, op->row.attempts, op->seq,
						op->row.output, op->row.output_len);
			break;
		default:
			e = -EINVAL;
		}
		results[i] = e;
		/* Outcomes of one write, not failures of the batch. */
		if (e < 0 && e != -EEXIST && e != -ESTALE) {
			snprintf(err, err_size, "cannot write job %s", op->row.id);
			store_batch_rollback(s);
			if (e == -EINVAL)
				*ret_refused = op;
			return e == -ECONNRESET ? -EIO : e; /* nothing was committed */
		}
	}
	return store_batch_commit(s, err, err_size);
}

/* Call done for each write of the list, in order, with its outcome (or,
 * when results is NULL, with err: -ETIMEDOUT instead of -ESHUTDOWN for a
 * write in doubt). */
static size_t finish_list(struct store_op *list, const int *results, int err)
{
	size_t n = 0;
	while (list) {
		struct store_op *next = list->next;
		list->next = NULL;
		int e = results ? results[n] : err == -ESHUTDOWN && list->in_doubt ? -ETIMEDOUT : err;
		if (e != -EEXIST)
			job_row_clear(&list->existing);
		list->done(list, e, list->ud);
		n++;
		list = next;
	}
	return n;
}

/* Take out of *list the writes that ran out of patience (all of them,
 * even those in doubt, when all). *ret_tail: the last write left, for a
 * list with a tail pointer (NULL when none is left). */
static struct store_op *take_expired(struct store_op **list, int64_t now, bool all,
				     struct store_op **ret_tail, size_t *ret_n)
{
	struct store_op *out = NULL, **tail = &out, *last = NULL;
	size_t n = 0;
	for (struct store_op **pp = list; *pp;) {
		struct store_op *op = *pp;
		if (all || due_ms(op) <= now) {
			*pp = op->next;
			op->next = NULL;
			*tail = op;
			tail = &op->next;
			n++;
		} else {
			last = op;
			pp = &op->next;
		}
	}
	if (ret_tail)
		*ret_tail = last;
	*ret_n = n;
	return out;
}

/* The earliest time a write of the list gives up (NEVER: none will). */
static int64_t next_due(const struct store_op *list)
{
	int64_t next = NEVER;
	for (; list; list = list->next)
		if (due_ms(list) < next)
			next = due_ms(list);
	return next;
}

/* The writing thread's own batch: before each attempt, the writes that
 * ran out of patience go (they are not sent), and all of them once a
 * stopping writer's own patience is over. */
static size_t give_up(struct store_writer *w, struct store_op **batch)
{
	int64_t now = time_mono_ms();
	pthread_mutex_lock(&w->mu);
	bool stopping = w->stopping, all = stopping && now >= w->stop_deadline_ms;
	pthread_mutex_unlock(&w->mu);
	size_t k;
	struct store_op *out = take_expired(batch, now, all, NULL, &k);
	if (!out)
		return 0;
	log_error("store: %zu write(s) gave up", k);
	pthread_mutex_lock(&w->mu);
	w->st.gave_up += k;
	pthread_mutex_unlock(&w->mu);
	return finish_list(out, NULL, stopping ? -ESHUTDOWN : -EIO);
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
			size_t k = give_up(w, &batch);
			done += k;
			n -= k;
			if (!batch)
				break;
			struct store_op *refused = NULL;
			int e = results ? apply(w->s, batch, results, &refused, err, sizeof err)
					: -ENOMEM;
			if (e == -EINVAL && refused) {
				/* Trying it again cannot help, and it would hold back
				 * every write behind it: it alone fails, at once. */
				struct store_op **pp = &batch;
				while (*pp != refused)
					pp = &(*pp)->next;
				*pp = refused->next;
				refused->next = NULL;
				log_error("store: the store refused a write of job %s; it is dropped",
					  refused->row.id);
				pthread_mutex_lock(&w->mu);
				w->st.failures++;
				pthread_mutex_unlock(&w->mu);
				done += finish_list(refused, NULL, -EINVAL);
				n--;
				if (!batch)
					break;
				continue;
			}
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
			if (e == -ECONNRESET)
				for (struct store_op *op = batch; op; op = op->next)
					op->in_doubt = true;
			if (!failing)
				log_error("store: a batch of %zu write(s) failed (%s); retrying", n, err);
			failing = true;
			pthread_mutex_lock(&w->mu);
			w->st.failures++;
			int64_t stop_at = w->stopping ? w->stop_deadline_ms : NEVER;
			pthread_mutex_unlock(&w->mu);
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			/* Back in time for the next write that gives up. */
			int64_t now = time_mono_ms(), next = next_due(batch), pause = backoff;
			if (stop_at < next)
				next = stop_at;
			if (next != NEVER && next - now < pause)
				pause = next > now ? next - now : 0;
			wait_ms(w, pause);
		}
		pthread_mutex_lock(&w->mu);
		w->finished += done;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	free(results);
	return NULL;
}

/* The keeper: gives up the queued writes (never sent) that ran out of
 * patience, so that a batch the writing thread keeps failing, or a call
 * the store is slow to fail, does not hold their answers back. It looks
 * when the earliest patience it knows of runs out. */
static void *keep(void *arg)
{
	struct store_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->keeper_stop) {
		int64_t now = time_mono_ms();
		size_t k;
		struct store_op *tail;
		struct store_op *out = take_expired(&w->head, now, false, &tail, &k);
		w->tail = tail;
		w->st.queued -= k;
		w->st.gave_up += k;
		w->keeper_next = next_due(w->head);
		if (out) {
			pthread_mutex_unlock(&w->mu);
			log_error("store: %zu queued write(s) gave up", k);
			finish_list(out, NULL, -EIO);
			pthread_mutex_lock(&w->mu);
			w->finished += k;
			pthread_cond_broadcast(&w->idle);
			continue;
		}
		if (w->keeper_next == NEVER)
			pthread_cond_wait(&w->kcond, &w->mu);
		else
			time_cond_wait_ms(&w->kcond, &w->mu, w->keeper_next - now);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void writer_free(struct store_writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->kcond);
	free(w);
}

int store_writer_start(struct store *s, struct store_writer **ret)
{
	struct store_writer *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->keeper_next = NEVER;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->kcond, NULL);
	if (pthread_create(&w->keeper, NULL, keep, w) != 0) {
		writer_free(w);
		return -EAGAIN;
	}
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_mutex_lock(&w->mu);
		w->keeper_stop = true;
		pthread_cond_signal(&w->kcond);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->keeper, NULL);
		writer_free(w);
		return -EAGAIN;
	}
	*ret = w;
	return 0;
}

void store_writer_push(struct store_writer *w, struct store_op *op)
{
	op->next = NULL;
	op->in_doubt = false;
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
	if (due_ms(op) < w->keeper_next) {
		w->keeper_next = due_ms(op);
		pthread_cond_signal(&w->kcond);
	}
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
	/* The queue is empty now: the keeper has nothing left to watch. */
	pthread_mutex_lock(&w->mu);
	w->keeper_stop = true;
	pthread_cond_signal(&w->kcond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->keeper, NULL);
	writer_free(w);
}
