/* The claimer (shared store): one thread that takes jobs from the store
 * for this coordinator's islands with free slots, keeps the leases of the
 * jobs it holds, sweeps expired leases and deadlines, and publishes the
 * islands for the fleet's views.
 *
 * A claim is one attempt: the store counts it (attempts + 1) and the job
 * goes at once to a local island; a job that finds no island after all
 * (the island left meanwhile) is unclaimed, without counting. A job
 * whose island is lost or hands it back is released to the store's queue
 * for any coordinator to claim. Jobs this coordinator holds but the store
 * no longer gives it (cancelled elsewhere, or its lease ran out while the
 * database was away and another coordinator took it) are dropped: their
 * island is told to stop and nothing about them is written. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "util/log.h"
#include "util/timeutil.h"

/* How often the claimer looks for work without being woken (missed
 * events, deadlines of queued jobs). */
#define IDLE_POLL_MS 500
#define PUBLISH_MS 1000
#define MAX_WANTS 256

void claim_kick(struct core *c)
{
	pthread_mutex_lock(&c->kmu);
	c->kicked = true;
	pthread_cond_signal(&c->kcond);
	pthread_mutex_unlock(&c->kmu);
}

static void op_freed(struct store_op *op, int err, void *ud)
{
	(void)ud;
	if (err < 0 && err != -ESHUTDOWN)
		log_error("store: job %s could not be written (%d)", op->row.id, err);
	free(op->row.output);
	free(op);
}

/* Out of memory without a write: the store keeps the job as this
 * coordinator's until the lease runs out. */
static void forget_local(struct core *c, struct job *j)
{
	fifo_remove(j);
	tq_unlink(c, j);
	deadline_remove(c, j);
	if (hmap_dels(&c->jobs, j->row.id))
		tenant_count(c, j->row.tenant, -1);
	job_free(c, j);
}

void claim_drop(struct core *c, struct job *j, const char *why)
{
	struct session *s = j->island;
	job_cancel_on_island(j, why);
	job_detach(c, j);
	forget_local(c, j);
	if (s)
		session_fill(c, s);
}

void claim_release(struct core *c, struct job *j, bool unclaim)
{
	struct store_op *op = calloc(1, sizeof *op);
	if (op) {
		op->kind = STORE_OP_RELEASE_JOB;
		snprintf(op->row.id, sizeof op->row.id, "%s", j->row.id);
		op->row.attempts = j->row.attempts;
		op->unclaim = unclaim;
		op->done = op_freed;
		store_writer_push(c->writer, op);
	} else {
		log_error("out of memory releasing %s; it returns when its lease ends", j->row.id);
	}
	forget_local(c, j);
}

void claim_output(struct core *c, struct job *j)
{
	struct outbuf *o = j->out;
	if (!o || !o->n)
		return;
	size_t start = o->n > 1 ? o->ends[o->n - 2] : 0, len = o->ends[o->n - 1] - start;
	struct store_op *op = calloc(1, sizeof *op);
	uint8_t *copy = op ? malloc(len + 1) : NULL;
	if (!copy) {
		free(op);
		log_error("out of memory publishing output of %s", j->row.id);
		return;
	}
	memcpy(copy, o->data.data + start, len);
	op->kind = STORE_OP_OUTPUT;
	snprintf(op->row.id, sizeof op->row.id, "%s", j->row.id);
	op->row.attempts = j->row.attempts;
	op->seq = (uint32_t)(o->n - 1);
	op->row.output = copy;
	op->row.output_len = len;
	op->done = op_freed;
	store_writer_push(c->writer, op);
}

/* ---- claiming ---- */

struct want {
	uint32_t workload_id, mode;
};

/* What this coordinator's islands could take now: (workload, mode)
 * pairs with a free slot somewhere. Lock held. */
static size_t wants(struct core *c, struct want *out, size_t max)
{
	size_t n = 0, pos = 0;
	int64_t now = time_now_ms();
	struct session *s;
	while ((s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if (!session_can_take(s, now))
			continue;
		for (size_t k = 0; k < s->n_offers; k++) {
			static const uint32_t modes[] = { ATOLL_MODE_PLAIN, ATOLL_MODE_HOMOMORPHIC,
							  ATOLL_MODE_TEE };
			for (size_t m = 0; m < 3; m++) {
				if (!(s->offers[k].modes & ATOLL_MODE_BIT(modes[m])))
					continue;
				if (modes[m] == ATOLL_MODE_TEE &&
				    (s->state != ISLAND_ATTESTED || !s->has_pub))
					continue;
				size_t i = 0;
				while (i < n && !(out[i].workload_id == s->offers[k].workload_id &&
						  out[i].mode == modes[m]))
					i++;
				if (i == n && n < max)
					out[n++] = (struct want){ s->offers[k].workload_id, modes[m] };
			}
		}
	}
	return n;
}

/* Free slots for w now, and for TEE the enclave keys that have them.
 * Lock held. */
static uint32_t room(struct core *c, const struct want *w, uint8_t (**ret_keys)[32],
		     size_t *ret_n)
{
	uint32_t free_slots = 0;
	size_t pos = 0, nk = 0;
	int64_t now = time_now_ms();
	uint8_t(*keys)[32] = NULL;
	if (w->mode == ATOLL_MODE_TEE)
		keys = calloc(c->islands.count + 1, 32);
	struct session *s;
	while ((s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		const struct offer *o = session_offer(s, w->workload_id);
		if (!session_can_take(s, now) || !o || !(o->modes & ATOLL_MODE_BIT(w->mode)))
			continue;
		if (w->mode == ATOLL_MODE_TEE) {
			if (s->state != ISLAND_ATTESTED || !s->has_pub || !keys)
				continue;
			memcpy(keys[nk++], s->enclave_pub, 32);
		}
		free_slots += s->slots - s->running;
	}
	*ret_keys = keys;
	*ret_n = nk;
	return free_slots;
}

struct claimed {
	struct job_row *rows;
	size_t n, cap;
};

static void take_row(struct job_row *r, void *ud)
{
	struct claimed *cl = ud;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;
		struct job_row *nr = realloc(cl->rows, cap * sizeof *nr);
		if (!nr) {
			/* Stays claimed in the store: it returns after the lease. */
			log_error("out of memory taking claimed job %s", r->id);
			job_row_clear(r);
			return;
		}
		cl->rows = nr;
		cl->cap = cap;
	}
	cl->rows[cl->n++] = *r;
}

/* A claimed row becomes a job of this coordinator, sent to an island at
 * once. Lock held. */
static void adopt(struct core *c, struct job_row *r)
{
	const struct workload_cfg *wl = coord_config_workload(c->cfg, r->workload_id);
	struct job *j = calloc(1, sizeof *j);
	if (j && !(j->out = outbuf_new())) {
		free(j);
		j = NULL;
	}
	if (!j || !wl) {
		log_error("cannot take claimed job %s (%s)", r->id, j ? "unknown workload" : "no memory");
		free(j);
		job_row_clear(r);
		return;
	}
	j->row = *r;
	memset(r, 0, sizeof *r);
	j->wl = wl;
	j->deadline_pos = SIZE_MAX;
	j->stored = true;
	if (j->row.mode == ATOLL_MODE_TEE) {
		struct env_input_info info;
		if (env_inspect_input(j->row.input, j->row.input_len, &info) == ENV_OK &&
		    (j->recipients = malloc(info.n_recipients * CORE_KEY_LEN))) {
			memcpy(j->recipients, info.recipients, info.n_recipients * CORE_KEY_LEN);
			j->n_recipients = info.n_recipients;
		}
	}
	j->row.state = JOB_QUEUED;
	if (hmap_puts(&c->jobs, j->row.id, j) < 0) {
		job_free(c, j);
		return;
	}
	tenant_count(c, j->row.tenant, 1);
	if (deadline_push(c, j) < 0)
		log_error("out of memory tracking %s", j->row.id);
	if (j->row.attempts > wl->max_attempts) {
		char err[200];
		snprintf(err, sizeof err,
			 "its coordinator stopped holding it (lease expired); gave up after %u "
			 "attempts",
			 wl->max_attempts);
		job_finish(c, j, JOB_FAILED, err);
		return;
	}
	route(c, j, NULL); /* unclaims it when no island can take it after all */
}

/* One pass over what the islands could take. Returns whether a claim was
 * filled to its limit (there may be more). */
static bool claim_round(struct core *c)
{
	struct want ws[MAX_WANTS];
	core_lock(c);
	size_t n = c->shut ? 0 : wants(c, ws, MAX_WANTS);
	core_unlock(c);
	bool more = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t(*keys)[32] = NULL;
		size_t nk = 0;
		core_lock(c);
		uint32_t free_slots = room(c, &ws[i], &keys, &nk);
		core_unlock(c);
		if (!free_slots || (ws[i].mode == ATOLL_MODE_TEE && !nk)) {
			free(keys);
			continue;
		}
		struct store_claim q = { ws[i].workload_id, ws[i].mode, (const uint8_t(*)[32])keys,
					 nk, free_slots };
		struct claimed cl = { 0 };
		int got = store_claim_jobs(c->store, &q, c->cfg->store.lease_ms, take_row, &cl);
		free(keys);
		if (got < 0)
			break; /* the database is away: try again later */
		if ((uint32_t)got >= free_slots)
			more = true;
		core_lock(c);
		for (size_t k = 0; k < cl.n; k++)
			adopt(c, &cl.rows[k]);
		core_unlock(c);
		free(cl.rows);
	}
	return more;
}

/* ---- leases ---- */

struct held {
	struct hmap ids; /* id -> attempt + 1 */
};

static void still_held(const char *id, uint32_t attempt, void *ud)
{
	struct held *h = ud;
	hmap_puts(&h->ids, id, (void *)(uintptr_t)(attempt + 1));
}

/* Renew the jobs held here, active or with their end on its way to the
 * store (and only those: a job the store gives this coordinator but
 * that left its memory goes back to the queue when its lease runs out);
 * drop the jobs the store no longer gives this coordinator. */
static void renew(struct core *c)
{
	struct held h = { 0 };
	core_lock(c);
	size_t n_ids = 0, cap = c->jobs.count + c->finishing.count;
	char (*idbuf)[JOB_ID_LEN + 1] = calloc(cap + 1, sizeof *idbuf);
	const char **ids = calloc(cap + 1, sizeof *ids);
	struct hmap *maps[] = { &c->jobs, &c->finishing };
	for (size_t m = 0; idbuf && ids && m < 2; m++) {
		size_t pos = 0;
		struct job *j;
		while (n_ids < cap && (j = hmap_next(maps[m], &pos, NULL, NULL))) {
			snprintf(idbuf[n_ids], sizeof idbuf[n_ids], "%s", j->row.id);
			ids[n_ids] = idbuf[n_ids];
			n_ids++;
		}
	}
	core_unlock(c);
	int e = idbuf && ids ? store_renew_leases(c->store, c->cfg->store.lease_ms, ids, n_ids,
						   still_held, &h)
			     : -ENOMEM;
	free(ids);
	free(idbuf);
	if (e < 0) {
		hmap_free(&h.ids);
		return;
	}
	core_lock(c);
	size_t pos = 0;
	struct job *j, *lost[64];
	size_t n = 0;
	while (n < 64 && (j = hmap_next(&c->jobs, &pos, NULL, NULL))) {
		/* Claims happen on this thread too: none raced the renewal. */
		uintptr_t a = (uintptr_t)hmap_gets(&h.ids, j->row.id);
		if (a != (uintptr_t)j->row.attempts + 1)
			lost[n++] = j;
	}
	for (size_t i = 0; i < n; i++) {
		log_warn("job %s attempt %u is no longer this coordinator's (cancelled or taken "
			 "over); stopping it",
			 lost[i]->row.id, lost[i]->row.attempts);
		claim_drop(c, lost[i], "the job is no longer this coordinator's");
	}
	core_unlock(c);
	hmap_free(&h.ids);
}

static void *claimer(void *arg)
{
	struct core *c = arg;
	int64_t next_renew = 0, next_sweep = 0, next_publish = 0;
	int64_t lease = c->cfg->store.lease_ms;
	bool more = true;
	for (;;) {
		/* Idle until kicked, but never past a renewal, sweep or
		 * publication that is due: a late renewal costs a lease. */
		int64_t now = time_mono_ms(), pause = IDLE_POLL_MS;
		const int64_t due[] = { next_renew, next_sweep, next_publish };
		for (size_t i = 0; i < sizeof due / sizeof due[0]; i++)
			if (due[i] - now < pause)
				pause = due[i] > now ? due[i] - now : 0;
		pthread_mutex_lock(&c->kmu);
		if (!c->kicked && !c->kstop && !more && pause > 0)
			time_cond_wait_ms(&c->kcond, &c->kmu, pause);
		bool stop = c->kstop;
		c->kicked = false;
		pthread_mutex_unlock(&c->kmu);
		if (stop)
			break;
		now = time_mono_ms();
		if (now >= next_renew) {
			renew(c);
			next_renew = now + lease / 3;
		}
		if (now >= next_sweep) {
			size_t released = 0, failed = 0;
			if (store_sweep(c->store, &released, &failed) == 0 && (released || failed))
				log_info("store: %zu job(s) back in the queue after their lease ran "
					 "out, %zu failed past their deadline",
					 released, failed);
			next_sweep = now + lease / 2;
		}
		if (now >= next_publish) {
			fleet_sync(c);
			next_publish = now + PUBLISH_MS;
		}
		more = claim_round(c);
	}
	return NULL;
}

int claim_start(struct core *c)
{
	if (pthread_create(&c->claimer, NULL, claimer, c) != 0)
		return -EAGAIN;
	return 0;
}

void claim_stop(struct core *c)
{
	pthread_mutex_lock(&c->kmu);
	c->kstop = true;
	pthread_cond_broadcast(&c->kcond);
	pthread_mutex_unlock(&c->kmu);
	pthread_join(c->claimer, NULL);
}
