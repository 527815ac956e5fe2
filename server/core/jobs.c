/* The job lifecycle after submission: finishing with billing and the
 * final write, requeuing after a lost island, cancelling; and reading a
 * job as it stands (memory first, then the store). */
#include "core/internal.h"
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

void job_free(struct core *c, struct job *j)
{
	outbuf_release(c, j->out);
	free(j->recipients);
	free(j->tq);
	while (j->waiters) {
		struct submit_waiter *w = j->waiters;
		j->waiters = w->next;
		free(w);
	}
	while (j->final_waiters) {
		struct submit_waiter *w = j->final_waiters;
		j->final_waiters = w->next;
		free(w);
	}
	if (j->fin_op) {
		free(j->fin_op->row.output_chunks);
		free(j->fin_op);
	}
	job_row_clear(&j->row);
	free(j);
}

static uint8_t *dup_blob(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len + 1);
	if (d) {
		if (len)
			memcpy(d, p, len);
		d[len] = 0;
	}
	return d;
}

int job_snapshot(const struct job *j, struct job_row *out)
{
	*out = j->row;
	out->input = NULL;
	out->output = NULL;
	out->output_chunks = NULL;
	out->input_len = out->output_len = out->output_chunks_len = 0;
	if (j->row.input && !(out->input = dup_blob(j->row.input, j->row.input_len)))
		return -ENOMEM;
	out->input_len = j->row.input_len;
	const struct job_row *f = j->fin_op ? &j->fin_op->row : NULL;
	if (f && f->output) {
		if (!(out->output = dup_blob(f->output, f->output_len))) {
			job_row_clear(out);
			return -ENOMEM;
		}
		out->output_len = f->output_len;
		out->output_encrypted = f->output_encrypted;
	}
	return 0;
}

void job_deadline_error(const struct job *j, char *err, size_t size)
{
	snprintf(err, size, "deadline exceeded: not finished %lld s after submission",
		 (long long)((j->row.deadline_ms - j->row.created_ms) / 1000));
}

void job_cancel_on_island(struct job *j, const char *reason)
{
	struct session *s = j->island;
	if (s)
		s->ops->cancel(s->peer, j->row.id, j->row.attempts, reason);
}

/* Shared store: the submits waiting here for the end of a job this
 * coordinator ran are answered as soon as its end has landed, without
 * waiting for the store's event and reading the job back. Lock held;
 * *ret_row gets the job to answer them with. */
static struct submit_waiter *local_final_waits(struct core *c, struct job *j,
					       struct job_row *ret_row)
{
	if (!c->shared || !hmap_gets(&c->final_waits, j->row.id) || job_snapshot(j, ret_row) < 0)
		return NULL;
	return hmap_dels(&c->final_waits, j->row.id);
}

/* The final write landed (or the writer stopped): the job leaves memory. */
static void finish_done(struct store_op *op, int err, void *ud)
{
	struct core *c = ud;
	struct submit_waiter *ws = NULL;
	struct job_row snap = { 0 };
	core_lock(c);
	struct job *j = hmap_gets(&c->finishing, op->row.id);
	if (j && j->fin_op == op) {
		if (err == 0)
			ws = local_final_waits(c, j, &snap);
		hmap_dels(&c->finishing, op->row.id);
		idem_forget(c, j);
		if (err == -ESTALE)
			log_warn("job %s attempt %u: its end was not stored, the job is no longer "
				 "this coordinator's (its lease ran out or it was cancelled)",
				 op->row.id, op->row.attempts);
		else if (err < 0)
			log_error("store: the end of job %s was not stored; it runs again at the next "
				  "start",
				  op->row.id);
		job_free(c, j); /* frees op */
	} else {
		free(op->row.output_chunks);
		free(op);
	}
	core_unlock(c);
	while (ws) {
		struct submit_waiter *next = ws->next;
		ws->cb(ws->ud, 0, &snap, "");
		free(ws);
		ws = next;
	}
	job_row_clear(&snap);
}

void job_finish(struct core *c, struct job *j, int state, const char *error)
{
	struct session *s = j->island;
	job_detach(c, j);
	fifo_remove(j);
	tq_unlink(c, j);
	deadline_remove(c, j);
	if (hmap_dels(&c->jobs, j->row.id))
		tenant_count(c, j->row.tenant, -1);

	int64_t now = time_now_ms();
	j->row.state = state;
	snprintf(j->row.error, sizeof j->row.error, "%s", error ? error : "");
	j->row.completed_ms = now;
	j->row.duration_ms = j->row.started_ms ? now - j->row.started_ms : 0;
	/* Billing: run time at the workload's price, whatever the mode. Failed
	 * jobs are not billed; cancelled ones pay for the time they ran. */
	j->row.credits = state == JOB_COMPLETED || (state == JOB_CANCELLED && j->row.duration_ms > 0)
				 ? j->wl->price_per_second * (double)j->row.duration_ms / 1000.0
				 : 0;
	/* The final write. A TEE job keeps its sealed stream whatever its
	 * end: a failed one carries the enclave's sealed error for the
	 * client. The store keeps the chunks' lengths too, for watchers that
	 * come later. The output is the outbuf's, which the job holds until
	 * the write has landed. */
	struct store_op *op = calloc(1, sizeof *op);
	struct outbuf *o = j->out;
	if (op) {
		op->kind = STORE_OP_FINISH_JOB;
		op->row = j->row;
		op->row.input = NULL;
		op->row.input_len = 0;
		op->done = finish_done;
		op->ud = c;
	}
	if (op && o && (state == JOB_COMPLETED || (j->row.mode == ATOLL_MODE_TEE && o->data.len))) {
		uint8_t *lens = malloc(4 * o->n + 1);
		for (size_t i = 0; lens && i < o->n; i++) {
			size_t len = o->ends[i] - (i ? o->ends[i - 1] : 0);
			lens[4 * i] = (uint8_t)(len >> 24);
			lens[4 * i + 1] = (uint8_t)(len >> 16);
			lens[4 * i + 2] = (uint8_t)(len >> 8);
			lens[4 * i + 3] = (uint8_t)len;
		}
		op->row.output = o->data.data ? o->data.data : (uint8_t *)"";
		op->row.output_len = o->data.len;
		op->row.output_chunks = lens;
		op->row.output_chunks_len = lens ? 4 * o->n : 0;
		op->row.output_encrypted = j->row.mode == ATOLL_MODE_TEE;
	}
	if (op && hmap_puts(&c->finishing, j->row.id, j) == 0) {
		j->fin_op = op;
		store_writer_push(c->writer, op);
	} else {
		/* Without memory for the write the job stays active in the
		 * store and runs again at the next start. */
		log_error("out of memory storing the end of %s", j->row.id);
		free(op);
		op = NULL;
	}
	metrics_job_final(j->row.mode, state, now - j->row.created_ms);
	watch_end_all(c, j);
	job_answer_final(c, j);
	if (!op)
		job_free(c, j);
	if (s)
		session_fill(c, s);
}

void job_requeue(struct core *c, struct job *j, struct session *from, const char *why)
{
	job_detach(c, j);
	if (j->row.attempts >= j->wl->max_attempts) {
		char err[1024];
		snprintf(err, sizeof err, "%s; gave up after %u attempt%s", why, j->row.attempts,
			 j->row.attempts == 1 ? "" : "s");
		job_finish(c, j, JOB_FAILED, err);
		return;
	}
	if (c->shared) {
		/* Back to the store's queue, for any coordinator. */
		claim_release(c, j, false);
		return;
	}
	j->row.state = JOB_QUEUED;
	snprintf(j->row.error, sizeof j->row.error, "%s", why);
	watch_notify_state(j);
	route(c, j, from);
}

/* ---- active jobs per tenant ---- */

size_t tenant_active(struct core *c, const char *tenant)
{
	return (uintptr_t)hmap_gets(&c->tenant_jobs, tenant);
}

void tenant_count(struct core *c, const char *tenant, int delta)
{
	uintptr_t n = (uintptr_t)hmap_gets(&c->tenant_jobs, tenant);
	n = delta < 0 && n ? n - 1 : n + (delta > 0);
	if (n)
		hmap_puts(&c->tenant_jobs, tenant, (void *)n);
	else
		hmap_dels(&c->tenant_jobs, tenant);
}

int core_cancel(struct core *c, const char *tenant, const char *job_id, const char *reason,
		struct job_row *ret_row, char *err, size_t err_size)
{
	core_lock(c);
	struct job *j = hmap_gets(&c->jobs, job_id);
	char why[600];
	snprintf(why, sizeof why, "cancelled%s%s", reason && *reason ? ": " : "",
		 reason ? reason : "");
	if (c->shared && (!j || strcmp(j->row.tenant, tenant) != 0)) {
		/* Queued in the store or running elsewhere: cancelled there; its
		 * owner stops it when the store tells it. */
		core_unlock(c);
		int e = store_cancel_job(c->store, tenant, job_id, why, ret_row);
		if (e == -ENOENT)
			snprintf(err, err_size, "no job %s", job_id);
		else if (e == -EALREADY)
			snprintf(err, err_size, "job %s is already final", job_id);
		else if (e < 0)
			snprintf(err, err_size, "the job store cannot be reached; try again");
		return e == -EIO ? -EAGAIN : e;
	}
	if (!j || strcmp(j->row.tenant, tenant) != 0) {
		core_unlock(c);
		int e = core_get_job(c, tenant, job_id, ret_row);
		if (e < 0) {
			snprintf(err, err_size, "no job %s", job_id);
			return -ENOENT;
		}
		snprintf(err, err_size, "job %s is already final", job_id);
		job_row_clear(ret_row);
		return -EALREADY;
	}
	job_cancel_on_island(j, "cancelled by the tenant");
	job_finish(c, j, JOB_CANCELLED, why);
	/* The job as it ended (its end may still be on the way to the store). */
	struct job *f = hmap_gets(&c->finishing, job_id);
	int e = f ? job_snapshot(f, ret_row) : -ENOMEM;
	core_unlock(c);
	if (e < 0)
		snprintf(err, err_size, "out of memory");
	return e;
}

/* An active or finishing job of the tenant, or NULL. */
static struct job *in_memory(struct core *c, const char *tenant, const char *id)
{
	struct job *j = hmap_gets(&c->jobs, id);
	if (!j)
		j = hmap_gets(&c->finishing, id);
	return j && strcmp(j->row.tenant, tenant) == 0 ? j : NULL;
}

int core_get_job(struct core *c, const char *tenant, const char *id, struct job_row *ret_row)
{
	core_lock(c);
	struct job *j = in_memory(c, tenant, id);
	int e = j ? job_snapshot(j, ret_row) : 1;
	core_unlock(c);
	/* Not in memory: final and stored (a job leaves memory only once its
	 * end has landed), or unknown. */
	return e <= 0 ? e : store_get_job(c->store, tenant, id, ret_row);
}

void core_overlay(struct core *c, struct job_row *rows, size_t n)
{
	core_lock(c);
	for (size_t i = 0; i < n; i++) {
		struct job *j = in_memory(c, rows[i].tenant, rows[i].id);
		struct job_row snap;
		if (j && job_snapshot(j, &snap) == 0) {
			snap.rowid = rows[i].rowid;
			job_row_clear(&rows[i]);
			rows[i] = snap;
		}
	}
	core_unlock(c);
}
