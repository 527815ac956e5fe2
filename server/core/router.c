/* Routing: which island runs a job. Plain and homomorphic jobs go to the
 * least loaded island of their workload's pool; TEE jobs only to an
 * attested island whose enclave key the client sealed to. */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

const struct offer *session_offer(const struct session *s, uint32_t workload_id)
{
	for (size_t k = 0; k < s->n_offers; k++)
		if (s->offers[k].workload_id == workload_id)
			return &s->offers[k];
	return NULL;
}

void job_detach(struct core *c, struct job *j)
{
	struct session *s = j->island;
	if (!s)
		return;
	if (j->iprev)
		j->iprev->inext = j->inext;
	else
		s->jobs = j->inext;
	if (j->inext)
		j->inext->iprev = j->iprev;
	j->inext = j->iprev = NULL;
	j->island = NULL;
	s->running--;
	session_refresh(c, s);
}

static void assign(struct core *c, struct job *j, struct session *s)
{
	int64_t now = time_now_ms();
	fifo_remove(j);
	tq_unlink(c, j);
	/* A shared store counted the attempt when the job was claimed. */
	if (!c->shared)
		j->row.attempts++;
	j->row.state = JOB_RUNNING;
	j->row.started_ms = now;
	j->row.error[0] = 0;
	snprintf(j->row.island_id, sizeof j->row.island_id, "%s", s->id);
	j->island = s;
	j->iprev = NULL;
	j->inext = s->jobs;
	if (s->jobs)
		s->jobs->iprev = j;
	s->jobs = j;
	s->running++;
	session_refresh(c, s);
	/* A new attempt, a new output: watchers follow it from seq 0. */
	struct outbuf *o = outbuf_new();
	if (o) {
		outbuf_release(c, j->out);
		j->out = o;
		watch_new_attempt(c, j);
	}

	struct core_assignment a = {
		.job_id = j->row.id,
		.attempt = j->row.attempts,
		.workload_id = j->row.workload_id,
		.mode = j->row.mode,
		.input = j->row.input,
		.input_len = j->row.input_len,
		.client_pub = j->row.has_client_pub ? j->row.client_pub : NULL,
		.client_key_id = j->row.has_client_pub ? j->row.key_id : NULL,
		.deadline_ms = j->row.deadline_ms,
	};
	s->ops->assign(s->peer, &a);
	watch_notify_state(j);
}

static bool tee_eligible(const struct session *s, uint32_t workload_id, int64_t now)
{
	if (!session_can_take(s, now) || s->state != ISLAND_ATTESTED)
		return false;
	const struct offer *o = session_offer(s, workload_id);
	return o && (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE));
}

void route(struct core *c, struct job *j, struct session *exclude)
{
	int64_t now = time_now_ms();
	struct session *best = NULL;
	if (j->row.mode == ATOLL_MODE_TEE) {
		/* Only islands whose enclave key the client sealed to. */
		for (size_t i = 0; i < j->n_recipients; i++) {
			struct session *s = hmap_get(&c->by_key, j->recipients[i], CORE_KEY_LEN);
			if (s && s != exclude && tee_eligible(s, j->row.workload_id, now) &&
			    (!best || session_load(s) < session_load(best)))
				best = s;
		}
		if (best) {
			assign(c, j, best);
			return;
		}
		if (c->shared) {
			claim_release(c, j, true);
			return;
		}
		if (!j->tq_linked && tq_link(c, j) < 0)
			log_error("out of memory queueing %s", j->row.id);
		return;
	}
	struct pool *p = pool_for(c, j->row.workload_id,
				  j->row.mode == ATOLL_MODE_HOMOMORPHIC ? POOL_HE : POOL_PLAIN);
	if (!p) {
		if (c->shared)
			claim_release(c, j, true);
		return;
	}
	if (p->heap_n) {
		best = p->heap[0].s;
		if (best == exclude) {
			/* The next best: one of the top's children. */
			best = NULL;
			for (size_t i = 1; i <= 2 && i < p->heap_n; i++)
				if (!best || session_load(p->heap[i].s) < session_load(best))
					best = p->heap[i].s;
		}
	}
	if (best) {
		assign(c, j, best);
		return;
	}
	if (c->shared)
		claim_release(c, j, true); /* claimed for an island that has gone */
	else if (!j->pool)
		fifo_push(p, j);
}

/* Taking turns between the island's pools, then its TEE queue. With a
 * shared store the waiting jobs are in the store: the claimer fetches
 * them. */
void session_fill(struct core *c, struct session *s)
{
	int64_t now = time_now_ms();
	if (c->shared) {
		if (session_can_take(s, now))
			claim_kick(c);
		return;
	}
	bool progress = true;
	while (progress && session_can_take(s, now)) {
		progress = false;
		for (size_t k = 0; k < s->n_offers && session_can_take(s, now); k++) {
			const struct offer *o = &s->offers[k];
			if (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_PLAIN)) {
				struct pool *p = pool_for(c, o->workload_id, POOL_PLAIN);
				if (p && p->qhead) {
					assign(c, p->qhead, s);
					progress = true;
				}
			}
			if (session_can_take(s, now) &&
			    (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_HOMOMORPHIC))) {
				struct pool *p = pool_for(c, o->workload_id, POOL_HE);
				if (p && p->qhead) {
					assign(c, p->qhead, s);
					progress = true;
				}
			}
		}
		if (!session_can_take(s, now) || !s->has_pub || s->state != ISLAND_ATTESTED)
			continue;
		struct tee_queue *q = hmap_get(&c->tee_queues, s->enclave_pub, CORE_KEY_LEN);
		for (struct tq_entry *e = q ? q->head : NULL; e; e = e->next) {
			if (tee_eligible(s, e->job->row.workload_id, now)) {
				assign(c, e->job, s); /* unlinks e, may free q */
				progress = true;
				break;
			}
		}
	}
}
