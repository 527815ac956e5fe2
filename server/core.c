/* Registry, router, job lifecycle, watchers and timers. */
#include "core_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "atoll/mode.h"
#include "crypto/envelope.h"
#include "json/json.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TICK_MS 100
#define MAX_TIMEOUT_MS (7LL * 86400000)

enum {
	ST_PENDING = ATOLL__V1__JOB_STATE__JOB_STATE_PENDING,
	ST_QUEUED = ATOLL__V1__JOB_STATE__JOB_STATE_QUEUED,
	ST_RUNNING = ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING,
	ST_COMPLETED = ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED,
	ST_FAILED = ATOLL__V1__JOB_STATE__JOB_STATE_FAILED,
	ST_CANCELLED = ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED,
};

static void route(struct core *c, struct job *j, struct island *exclude);
static void deadline_error(const struct job *j, char *err, size_t size);
static void finish_job(struct core *c, struct job *j, int state, const char *error);

/* ---- job views ---- */

static void ts_set(Google__Protobuf__Timestamp *ts, int64_t ms)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	ts->nanos = (int32_t)((ms - ts->seconds * 1000) * 1000000);
}

static bool valid_utf8(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = p[i];
		size_t k = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 && b >= 0xc2 ? 2
			 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 && b <= 0xf4 ? 4 : 0;
		if (!k || i + k > n)
			return false;
		for (size_t m = 1; m < k; m++)
			if ((p[i + m] & 0xc0) != 0x80)
				return false;
		if (k == 3) {
			uint32_t cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(p[i + 1] & 0x3f) << 6;
			if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
				return false;
		}
		if (k == 4 && ((b == 0xf0 && p[i + 1] < 0x90) || (b == 0xf4 && p[i + 1] > 0x8f)))
			return false;
		if (memchr(p + i, 0, k))
			return false; /* NUL cannot travel in a C string field */
		i += k;
	}
	return true;
}

void jobview_init(struct jobview *v, const struct job_row *r)
{
	memset(v, 0, sizeof *v);
	atoll__v1__job__init(&v->job);
	Atoll__V1__Job *j = &v->job;
	j->id = (char *)r->id;
	j->workload_id = r->workload_id;
	j->workload = (char *)r->workload;
	j->confidential = r->confidential;
	j->mode = (Atoll__V1__Mode)r->mode;
	j->encryption_key_id = (char *)r->key_id;
	j->state = (Atoll__V1__JobState)r->state;
	j->error = (char *)r->error;
	j->island_id = (char *)r->island_id;
	j->attempts = r->attempts;
	ts_set(&v->created, r->created_ms);
	j->created_at = &v->created;
	if (r->started_ms) {
		ts_set(&v->started, r->started_ms);
		j->started_at = &v->started;
	}
	if (r->completed_ms) {
		ts_set(&v->completed, r->completed_ms);
		j->completed_at = &v->completed;
	}
	ts_set(&v->deadline, r->deadline_ms);
	j->deadline = &v->deadline;
	j->duration_ms = (uint64_t)r->duration_ms;
	j->credits_used = r->credits;
	struct env_input_info info;
	if (r->mode == ATOLL_MODE_TEE && r->input &&
	    env_inspect_input(r->input, r->input_len, &info) == ENV_OK) {
		memcpy(v->envelope_id, info.envelope_id, sizeof v->envelope_id);
		j->input_envelope_id.data = v->envelope_id;
		j->input_envelope_id.len = sizeof v->envelope_id;
	}
	if (r->state == ST_COMPLETED) {
		atoll__v1__job_output__init(&v->output);
		if (r->output_encrypted) {
			v->output.encrypted = true;
			v->output.key_id = (char *)r->key_id;
			v->output.ciphertext.data = r->output;
			v->output.ciphertext.len = r->output_len;
		} else if (r->output && valid_utf8(r->output, r->output_len)) {
			/* The store keeps a NUL after every blob it returns, and
			 * active rows are built the same way (see output_cstr). */
			v->output.text = (char *)r->output;
		} else {
			v->output.data.data = r->output;
			v->output.data.len = r->output_len;
		}
		j->output = &v->output;
	}
}

/* ---- watchers ---- */

static void watchers_send(struct job *j, const Atoll__V1__JobEvent *ev)
{
	for (struct watcher *w = j->watchers; w; w = w->next)
		rpc_call_send(w->call, &ev->base);
}

static void notify_state(struct job *j)
{
	if (!j->watchers)
		return;
	struct jobview v;
	jobview_init(&v, &j->row);
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
	ev.job = &v.job;
	watchers_send(j, &ev);
}

static void notify_chunk(struct job *j, uint64_t seq, const uint8_t *data, size_t len)
{
	if (!j->watchers)
		return;
	Atoll__V1__OutputChunk ch = ATOLL__V1__OUTPUT_CHUNK__INIT;
	ch.seq = seq;
	ch.data.data = (uint8_t *)data;
	ch.data.len = len;
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_CHUNK;
	ev.chunk = &ch;
	watchers_send(j, &ev);
}

/* ---- deadline heap ---- */

static void dl_swap(struct core *c, size_t a, size_t b)
{
	struct job *t = c->deadlines[a];
	c->deadlines[a] = c->deadlines[b];
	c->deadlines[b] = t;
	c->deadlines[a]->deadline_pos = a;
	c->deadlines[b]->deadline_pos = b;
}

static void dl_up(struct core *c, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (c->deadlines[p]->row.deadline_ms <= c->deadlines[i]->row.deadline_ms)
			break;
		dl_swap(c, p, i);
		i = p;
	}
}

static void dl_down(struct core *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < c->n_deadlines &&
		    c->deadlines[l]->row.deadline_ms < c->deadlines[m]->row.deadline_ms)
			m = l;
		if (r < c->n_deadlines &&
		    c->deadlines[r]->row.deadline_ms < c->deadlines[m]->row.deadline_ms)
			m = r;
		if (m == i)
			return;
		dl_swap(c, i, m);
		i = m;
	}
}

static int dl_push(struct core *c, struct job *j)
{
	if (c->n_deadlines == c->cap_deadlines) {
		size_t cap = c->cap_deadlines ? c->cap_deadlines * 2 : 256;
		struct job **d = realloc(c->deadlines, cap * sizeof *d);
		if (!d)
			return -ENOMEM;
		c->deadlines = d;
		c->cap_deadlines = cap;
	}
	j->deadline_pos = c->n_deadlines;
	c->deadlines[c->n_deadlines++] = j;
	dl_up(c, j->deadline_pos);
	return 0;
}

static void dl_remove(struct core *c, struct job *j)
{
	size_t i = j->deadline_pos;
	if (i >= c->n_deadlines || c->deadlines[i] != j)
		return;
	c->n_deadlines--;
	if (i != c->n_deadlines) {
		c->deadlines[i] = c->deadlines[c->n_deadlines];
		c->deadlines[i]->deadline_pos = i;
		dl_down(c, i);
		dl_up(c, i);
	}
	j->deadline_pos = SIZE_MAX;
}

/* ---- pools: FIFO of waiting jobs + heap of islands with a free slot ---- */

static struct pool *pool_for(struct core *c, uint32_t workload_id, int kind)
{
	uintptr_t idx = (uintptr_t)hmap_get(&c->wl_index, &workload_id, sizeof workload_id);
	return idx ? &c->pools[(idx - 1) * 2 + (size_t)kind] : NULL;
}

/* Lower is less loaded: the share of slots in use, then fewer jobs. */
static uint64_t load_of(const struct island *is)
{
	return ((uint64_t)is->running << 32) / is->slots;
}

static void heap_set(struct pool *p, size_t i, struct heap_entry e)
{
	p->heap[i] = e;
	e.is->offers[e.offer].heap_pos[p->kind] = i;
}

static void heap_up(struct pool *p, size_t i)
{
	struct heap_entry e = p->heap[i];
	while (i > 0) {
		size_t par = (i - 1) / 2;
		if (load_of(p->heap[par].is) <= load_of(e.is))
			break;
		heap_set(p, i, p->heap[par]);
		i = par;
	}
	heap_set(p, i, e);
}

static void heap_down(struct pool *p, size_t i)
{
	struct heap_entry e = p->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= p->heap_n)
			break;
		if (r < p->heap_n && load_of(p->heap[r].is) < load_of(p->heap[l].is))
			m = r;
		if (load_of(p->heap[m].is) >= load_of(e.is))
			break;
		heap_set(p, i, p->heap[m]);
		i = m;
	}
	heap_set(p, i, e);
}

static void heap_remove(struct pool *p, struct island *is, size_t offer)
{
	size_t i = is->offers[offer].heap_pos[p->kind];
	if (i == SIZE_MAX)
		return;
	is->offers[offer].heap_pos[p->kind] = SIZE_MAX;
	p->heap_n--;
	if (i != p->heap_n) {
		heap_set(p, i, p->heap[p->heap_n]);
		heap_down(p, i);
		heap_up(p, i);
	}
}

static int heap_insert_or_fix(struct pool *p, struct island *is, size_t offer)
{
	size_t i = is->offers[offer].heap_pos[p->kind];
	if (i != SIZE_MAX) {
		heap_down(p, i);
		heap_up(p, is->offers[offer].heap_pos[p->kind]);
		return 0;
	}
	if (p->heap_n == p->heap_cap) {
		size_t cap = p->heap_cap ? p->heap_cap * 2 : 16;
		struct heap_entry *h = realloc(p->heap, cap * sizeof *h);
		if (!h)
			return -ENOMEM;
		p->heap = h;
		p->heap_cap = cap;
	}
	heap_set(p, p->heap_n, (struct heap_entry){ is, offer });
	p->heap_n++;
	heap_up(p, p->heap_n - 1);
	return 0;
}

static bool can_take(const struct island *is, int64_t now)
{
	return is->registered && is->hello && is->running < is->slots && now >= is->pause_until_ms;
}

/* Put the island in (or out of) the heaps of the pools it serves, at its
 * current load. */
void island_refresh(struct core *c, struct island *is)
{
	bool eligible = can_take(is, time_now_ms());
	for (size_t k = 0; k < is->n_offers; k++) {
		struct offer *o = &is->offers[k];
		static const uint32_t mode_of[2] = { ATOLL_MODE_PLAIN, ATOLL_MODE_HOMOMORPHIC };
		for (int kind = 0; kind < 2; kind++) {
			struct pool *p = pool_for(c, o->workload_id, kind);
			if (!p)
				continue;
			if (eligible && (o->modes & ATOLL_MODE_BIT(mode_of[kind])))
				heap_insert_or_fix(p, is, k);
			else
				heap_remove(p, is, k);
		}
	}
}

static void fifo_push(struct pool *p, struct job *j)
{
	j->pool = p;
	j->qnext = NULL;
	j->qprev = p->qtail;
	if (p->qtail)
		p->qtail->qnext = j;
	else
		p->qhead = j;
	p->qtail = j;
	p->qlen++;
}

static void fifo_remove(struct job *j)
{
	struct pool *p = j->pool;
	if (!p)
		return;
	if (j->qprev)
		j->qprev->qnext = j->qnext;
	else
		p->qhead = j->qnext;
	if (j->qnext)
		j->qnext->qprev = j->qprev;
	else
		p->qtail = j->qprev;
	p->qlen--;
	j->pool = NULL;
	j->qnext = j->qprev = NULL;
}

/* ---- TEE queues: waiting jobs by recipient enclave key ---- */

static void tq_unlink(struct core *c, struct job *j)
{
	if (!j->tq_linked)
		return;
	for (size_t i = 0; i < j->n_recipients; i++) {
		struct tq_entry *e = &j->tq[i];
		struct tee_queue *q = e->q;
		if (!q)
			continue;
		if (e->prev)
			e->prev->next = e->next;
		else
			q->head = e->next;
		if (e->next)
			e->next->prev = e->prev;
		else
			q->tail = e->prev;
		e->q = NULL;
		if (!q->head) {
			hmap_del(&c->tee_queues, q->key, ENCLAVE_KEY_LEN);
			free(q);
		}
	}
	j->tq_linked = false;
}

static int tq_link(struct core *c, struct job *j)
{
	if (!j->tq) {
		j->tq = calloc(j->n_recipients + 1, sizeof *j->tq);
		if (!j->tq)
			return -ENOMEM;
	}
	for (size_t i = 0; i < j->n_recipients; i++) {
		struct tee_queue *q = hmap_get(&c->tee_queues, j->recipients[i], ENCLAVE_KEY_LEN);
		if (!q) {
			q = calloc(1, sizeof *q);
			if (!q)
				return -ENOMEM;
			memcpy(q->key, j->recipients[i], ENCLAVE_KEY_LEN);
			if (hmap_put(&c->tee_queues, q->key, ENCLAVE_KEY_LEN, q) < 0) {
				free(q);
				return -ENOMEM;
			}
		}
		struct tq_entry *e = &j->tq[i];
		e->job = j;
		e->q = q;
		e->next = NULL;
		e->prev = q->tail;
		if (q->tail)
			q->tail->next = e;
		else
			q->head = e;
		q->tail = e;
	}
	j->tq_linked = true;
	return 0;
}

/* ---- islands ---- */

void island_send(struct island *is, Atoll__V1__CoordinatorMessage *m)
{
	if (is->call)
		rpc_call_send(is->call, &m->base);
}

static const struct offer *offer_of(const struct island *is, uint32_t workload_id)
{
	for (size_t k = 0; k < is->n_offers; k++)
		if (is->offers[k].workload_id == workload_id)
			return &is->offers[k];
	return NULL;
}

static void unlink_from_island(struct core *c, struct job *j)
{
	struct island *is = j->island;
	if (!is)
		return;
	if (j->iprev)
		j->iprev->inext = j->inext;
	else
		is->jobs = j->inext;
	if (j->inext)
		j->inext->iprev = j->iprev;
	j->inext = j->iprev = NULL;
	j->island = NULL;
	is->running--;
	island_refresh(c, is);
}

static void assign(struct core *c, struct job *j, struct island *is)
{
	int64_t now = time_now_ms();
	fifo_remove(j);
	tq_unlink(c, j);
	j->row.attempts++;
	j->row.state = ST_RUNNING;
	j->row.started_ms = now;
	j->row.error[0] = 0;
	snprintf(j->row.island_id, sizeof j->row.island_id, "%s", is->id);
	j->island = is;
	j->iprev = NULL;
	j->inext = is->jobs;
	if (is->jobs)
		is->jobs->iprev = j;
	is->jobs = j;
	is->running++;
	island_refresh(c, is);
	buf_free(&j->output);
	j->next_seq = 0;
	if (store_update_job(c->store, &j->row) < 0)
		log_error("store: cannot record the assignment of %s", j->row.id);

	Atoll__V1__Assignment a = ATOLL__V1__ASSIGNMENT__INIT;
	Google__Protobuf__Timestamp dl;
	ts_set(&dl, j->row.deadline_ms);
	a.job_id = j->row.id;
	a.attempt = j->row.attempts;
	a.workload_id = j->row.workload_id;
	a.mode = (Atoll__V1__Mode)j->row.mode;
	a.input.data = j->row.input;
	a.input.len = j->row.input_len;
	if (j->row.has_client_pub) {
		a.client_public_key.data = j->row.client_pub;
		a.client_public_key.len = 32;
		a.client_key_id = j->row.key_id;
	}
	a.deadline = &dl;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ASSIGNMENT;
	m.assignment = &a;
	island_send(is, &m);
	notify_state(j);
}

static bool tee_eligible(const struct island *is, uint32_t workload_id, int64_t now)
{
	if (!can_take(is, now) || is->state != ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED)
		return false;
	const struct offer *o = offer_of(is, workload_id);
	return o && (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE));
}

/* Place a queued job on the least loaded eligible island, or queue it. */
static void route(struct core *c, struct job *j, struct island *exclude)
{
	int64_t now = time_now_ms();
	struct island *best = NULL;
	if (j->row.mode == ATOLL_MODE_TEE) {
		/* Only islands whose enclave key the client sealed to. */
		for (size_t i = 0; i < j->n_recipients; i++) {
			struct island *is = hmap_get(&c->by_key, j->recipients[i], ENCLAVE_KEY_LEN);
			if (is && is != exclude && tee_eligible(is, j->row.workload_id, now) &&
			    (!best || load_of(is) < load_of(best)))
				best = is;
		}
		if (best) {
			assign(c, j, best);
			return;
		}
		if (!j->tq_linked && tq_link(c, j) < 0)
			log_error("out of memory queueing %s", j->row.id);
		return;
	}
	struct pool *p = pool_for(c, j->row.workload_id,
				  j->row.mode == ATOLL_MODE_HOMOMORPHIC ? POOL_HE : POOL_PLAIN);
	if (!p)
		return;
	if (p->heap_n) {
		best = p->heap[0].is;
		if (best == exclude) {
			/* The next best: one of the top's children. */
			best = NULL;
			for (size_t i = 1; i <= 2 && i < p->heap_n; i++)
				if (!best || load_of(p->heap[i].is) < load_of(best))
					best = p->heap[i].is;
		}
	}
	if (best) {
		assign(c, j, best);
		return;
	}
	if (!j->pool)
		fifo_push(p, j);
}

/* Give an island with free slots the jobs waiting for it, taking turns
 * between its pools. */
void island_fill(struct core *c, struct island *is)
{
	int64_t now = time_now_ms();
	bool progress = true;
	while (progress && can_take(is, now)) {
		progress = false;
		for (size_t k = 0; k < is->n_offers && can_take(is, now); k++) {
			const struct offer *o = &is->offers[k];
			if (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_PLAIN)) {
				struct pool *p = pool_for(c, o->workload_id, POOL_PLAIN);
				if (p && p->qhead) {
					assign(c, p->qhead, is);
					progress = true;
				}
			}
			if (can_take(is, now) && (o->modes & ATOLL_MODE_BIT(ATOLL_MODE_HOMOMORPHIC))) {
				struct pool *p = pool_for(c, o->workload_id, POOL_HE);
				if (p && p->qhead) {
					assign(c, p->qhead, is);
					progress = true;
				}
			}
		}
		if (!can_take(is, now) || !is->has_pub ||
		    is->state != ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED)
			continue;
		struct tee_queue *q = hmap_get(&c->tee_queues, is->enclave_pub, ENCLAVE_KEY_LEN);
		for (struct tq_entry *e = q ? q->head : NULL; e; e = e->next) {
			if (tee_eligible(is, e->job->row.workload_id, now)) {
				assign(c, e->job, is); /* unlinks e, may free q */
				progress = true;
				break;
			}
		}
	}
}

const struct loaded_driver *core_driver(const struct core *c, const char *name)
{
	for (size_t i = 0; i < c->n_drivers; i++)
		if (strcmp(c->drivers[i].name, name) == 0)
			return &c->drivers[i];
	return NULL;
}

/* ---- job lifecycle ---- */

static void job_free(struct job *j)
{
	buf_free(&j->output);
	free(j->recipients);
	free(j->tq);
	job_row_clear(&j->row);
	free(j);
}

static void finish_job(struct core *c, struct job *j, int state, const char *error)
{
	struct island *is = j->island;
	unlink_from_island(c, j);
	fifo_remove(j);
	tq_unlink(c, j);
	dl_remove(c, j);
	hmap_dels(&c->jobs, j->row.id);

	int64_t now = time_now_ms();
	j->row.state = state;
	snprintf(j->row.error, sizeof j->row.error, "%s", error ? error : "");
	j->row.completed_ms = now;
	j->row.duration_ms = j->row.started_ms ? now - j->row.started_ms : 0;
	/* Billing: run time at the workload's price, whatever the mode. Failed
	 * jobs are not billed; cancelled ones pay for the time they ran. */
	j->row.credits = state == ST_COMPLETED || (state == ST_CANCELLED && j->row.duration_ms > 0)
				 ? j->wl->price_per_second * (double)j->row.duration_ms / 1000.0
				 : 0;
	if (state == ST_COMPLETED) {
		/* Keep a NUL after the output so that text views can use it. */
		if (buf_reserve(&j->output, 1) == 0)
			j->output.data[j->output.len] = 0;
		j->row.output = j->output.data;
		j->row.output_len = j->output.len;
		j->row.output_encrypted = j->row.mode == ATOLL_MODE_TEE;
		j->output.data = NULL;
		j->output.len = j->output.cap = 0;
	}
	if (store_finish_job(c->store, &j->row) < 0)
		log_error("store: cannot record the end of %s", j->row.id);
	notify_state(j);
	while (j->watchers) {
		struct watcher *w = j->watchers;
		j->watchers = w->next;
		rpc_call_finish(w->call, GRPC_STATUS_OK, NULL);
		/* The watcher entry goes when its call is done (core_unwatch). */
		w->job = NULL;
	}
	job_free(j);
	if (is)
		island_fill(c, is);
}

/* Back to the queue after the island lost it or gave it back. */
static void requeue(struct core *c, struct job *j, struct island *from, const char *why)
{
	unlink_from_island(c, j);
	if (j->row.attempts >= j->wl->max_attempts) {
		char err[1024];
		snprintf(err, sizeof err, "%s; gave up after %u attempt%s", why, j->row.attempts,
			 j->row.attempts == 1 ? "" : "s");
		finish_job(c, j, ST_FAILED, err);
		return;
	}
	j->row.state = ST_QUEUED;
	snprintf(j->row.error, sizeof j->row.error, "%s", why);
	buf_free(&j->output);
	if (store_update_job(c->store, &j->row) < 0)
		log_error("store: cannot record the requeue of %s", j->row.id);
	notify_state(j);
	route(c, j, from);
}

/* The job an island message is about, if that island still holds that
 * attempt; NULL for late or foreign messages (ignored). */
static struct job *held_job(struct core *c, struct island *is, const char *id, uint32_t attempt)
{
	struct job *j = hmap_gets(&c->jobs, id);
	if (!j || j->island != is || j->row.attempts != attempt || j->row.state != ST_RUNNING)
		return NULL;
	return j;
}

/* ---- submitting ---- */

static int input_doc(const Atoll__V1__JobInput *in, bool homomorphic, struct buf *out, char *err,
		     size_t err_size)
{
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	if (homomorphic) {
		const Atoll__V1__HomomorphicInput *h = in->homomorphic;
		jw_key(&w, "homomorphic");
		jw_object_begin(&w);
		jw_key(&w, "key_id");
		jw_string(&w, h->key_id);
		jw_key(&w, "public_key");
		jw_base64(&w, h->public_key.data, h->public_key.len);
		jw_key(&w, "ciphertexts");
		jw_array_begin(&w);
		for (size_t i = 0; i < h->n_ciphertexts; i++)
			jw_base64(&w, h->ciphertexts[i].data, h->ciphertexts[i].len);
		jw_array_end(&w);
		jw_key(&w, "scale_bits");
		jw_uint(&w, h->scale_bits);
		jw_key(&w, "records");
		jw_uint(&w, h->records ? h->records : 1);
		jw_object_end(&w);
	} else {
		int forms = (in->prompt[0] != 0) + (in->n_features > 0) + (in->n_record > 0) +
			    (in->data.len > 0);
		if (forms == 1 && in->content_type[0] && !in->data.len) {
			snprintf(err, err_size, "input: content_type goes only with data");
			return -EINVAL;
		}
		if (forms != 1) {
			snprintf(err, err_size, forms ? "input: give only one of prompt, features, "
							"record and data"
						      : "input: one of prompt, features, record or data "
							"is needed");
			return -EINVAL;
		}
		if (in->prompt[0]) {
			jw_key(&w, "prompt");
			jw_string(&w, in->prompt);
		} else if (in->n_features) {
			jw_key(&w, "features");
			jw_array_begin(&w);
			for (size_t i = 0; i < in->n_features; i++)
				jw_double(&w, in->features[i]);
			jw_array_end(&w);
		} else if (in->n_record) {
			jw_key(&w, "record");
			jw_object_begin(&w);
			for (size_t i = 0; i < in->n_record; i++) {
				jw_key(&w, in->record[i]->key);
				jw_double(&w, in->record[i]->value);
			}
			jw_object_end(&w);
		} else {
			jw_key(&w, "data");
			jw_base64(&w, in->data.data, in->data.len);
			if (in->content_type[0]) {
				jw_key(&w, "content_type");
				jw_string(&w, in->content_type);
			}
		}
	}
	jw_object_end(&w);
	if (w.error) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static uint32_t resolve_mode(const Atoll__V1__SubmitJobRequest *req, char *err, size_t err_size)
{
	bool he_input = req->input && req->input->homomorphic;
	switch (req->mode) {
	case ATOLL__V1__MODE__MODE_UNSPECIFIED:
		return he_input ? ATOLL_MODE_HOMOMORPHIC : req->confidential ? ATOLL_MODE_TEE
									     : ATOLL_MODE_PLAIN;
	case ATOLL__V1__MODE__MODE_PLAIN:
		if (req->confidential) {
			snprintf(err, err_size, "mode MODE_PLAIN cannot carry a confidential job");
			return 0;
		}
		return ATOLL_MODE_PLAIN;
	case ATOLL__V1__MODE__MODE_TEE:
		if (!req->confidential) {
			snprintf(err, err_size, "mode MODE_TEE needs confidential: true");
			return 0;
		}
		return ATOLL_MODE_TEE;
	case ATOLL__V1__MODE__MODE_HOMOMORPHIC:
		return ATOLL_MODE_HOMOMORPHIC;
	default:
		snprintf(err, err_size, "unknown mode %d", (int)req->mode);
		return 0;
	}
}

/* Check a TEE job's envelope against the tenant's registered key and keep
 * its recipients for routing. */
static int check_envelope(struct core *c, const char *tenant, const Atoll__V1__SubmitJobRequest *req,
			  struct job *j, char *err, size_t err_size)
{
	const Atoll__V1__JobInput *in = req->input;
	if (!in || !in->encrypted || !in->ciphertext.len) {
		snprintf(err, err_size, "a confidential job needs input {\"encrypted\": true, "
					"\"key_id\": ..., \"ciphertext\": ...}");
		return -EINVAL;
	}
	const char *key_id = req->encryption_key_id[0] ? req->encryption_key_id : in->key_id;
	if (!key_id[0]) {
		snprintf(err, err_size, "a confidential job needs encryption_key_id (the key its "
					"output is sealed to)");
		return -EINVAL;
	}
	if (req->encryption_key_id[0] && in->key_id[0] && strcmp(req->encryption_key_id, in->key_id)) {
		snprintf(err, err_size, "encryption_key_id %s differs from input.key_id %s",
			 req->encryption_key_id, in->key_id);
		return -EINVAL;
	}
	struct key_row k;
	if (store_get_key(c->store, tenant, key_id, &k) < 0) {
		snprintf(err, err_size, "unknown key %s", key_id);
		return -ENOENT;
	}
	int e = 0;
	struct env_input_info info;
	int r = env_inspect_input(in->ciphertext.data, in->ciphertext.len, &info);
	if (k.algorithm != ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE ||
	    k.public_key_len != ENCLAVE_KEY_LEN) {
		snprintf(err, err_size, "key %s is not an X25519 key", key_id);
		e = -EINVAL;
	} else if (r != ENV_OK) {
		snprintf(err, err_size, "input.ciphertext is not an Atoll input envelope: %s",
			 env_strerror(r));
		e = -EINVAL;
	} else if (info.workload_id != req->workload_id) {
		snprintf(err, err_size, "the envelope was sealed for workload %u, not %u",
			 info.workload_id, req->workload_id);
		e = -EINVAL;
	} else if (CRYPTO_memcmp(info.client_pub, k.public_key, ENCLAVE_KEY_LEN) != 0) {
		snprintf(err, err_size, "the envelope seals output to another key than %s", key_id);
		e = -EINVAL;
	} else {
		j->recipients = malloc(info.n_recipients * ENCLAVE_KEY_LEN);
		if (!j->recipients) {
			e = -ENOMEM;
		} else {
			memcpy(j->recipients, info.recipients, info.n_recipients * ENCLAVE_KEY_LEN);
			j->n_recipients = info.n_recipients;
			memcpy(j->row.client_pub, k.public_key, ENCLAVE_KEY_LEN);
			j->row.has_client_pub = true;
			snprintf(j->row.key_id, sizeof j->row.key_id, "%s", key_id);
		}
	}
	key_row_clear(&k);
	return e;
}

static int check_homomorphic(struct core *c, const char *tenant,
			     const Atoll__V1__SubmitJobRequest *req, char *err, size_t err_size)
{
	const Atoll__V1__HomomorphicInput *h = req->input ? req->input->homomorphic : NULL;
	if (!h || !h->n_ciphertexts) {
		snprintf(err, err_size, "a homomorphic job needs input.homomorphic with ciphertexts");
		return -EINVAL;
	}
	if (!h->key_id[0] && !h->public_key.len) {
		snprintf(err, err_size, "input.homomorphic needs key_id or public_key");
		return -EINVAL;
	}
	if (h->key_id[0]) {
		struct key_row k;
		if (store_get_key(c->store, tenant, h->key_id, &k) < 0) {
			snprintf(err, err_size, "unknown key %s", h->key_id);
			return -ENOENT;
		}
		int e = 0;
		if (k.algorithm != ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER) {
			snprintf(err, err_size, "key %s is not a Paillier key", h->key_id);
			e = -EINVAL;
		} else if (h->public_key.len &&
			   (h->public_key.len != k.public_key_len ||
			    memcmp(h->public_key.data, k.public_key, k.public_key_len) != 0)) {
			snprintf(err, err_size, "input.homomorphic.public_key is not key %s", h->key_id);
			e = -EINVAL;
		}
		key_row_clear(&k);
		return e;
	}
	return 0;
}

static struct job *job_from_row(struct core *c, struct job_row *r, char *err, size_t err_size)
{
	const struct workload_cfg *wl = coord_config_workload(c->cfg, r->workload_id);
	if (!wl) {
		snprintf(err, err_size, "workload %u is no longer configured", r->workload_id);
		return NULL;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	j->row = *r;
	memset(r, 0, sizeof *r);
	j->wl = wl;
	j->deadline_pos = SIZE_MAX;
	return j;
}

int core_submit(struct core *c, const char *tenant, const Atoll__V1__SubmitJobRequest *req,
		struct job_row *ret_row, char *err, size_t err_size)
{
	const struct workload_cfg *wl = coord_config_workload(c->cfg, req->workload_id);
	if (!wl) {
		snprintf(err, err_size, "unknown workload %u", req->workload_id);
		return -ENOENT;
	}
	uint32_t mode = resolve_mode(req, err, err_size);
	if (!mode)
		return -EINVAL;
	if (!(wl->modes & ATOLL_MODE_BIT(mode))) {
		snprintf(err, err_size, "workload %u (%s) does not run in %s mode", wl->id, wl->name,
			 atoll_mode_name(mode));
		return -EINVAL;
	}
	if (!req->input) {
		snprintf(err, err_size, "input is missing");
		return -EINVAL;
	}
	if (mode != ATOLL_MODE_TEE && (req->input->encrypted || req->input->ciphertext.len)) {
		snprintf(err, err_size, "encrypted input needs confidential: true");
		return -EINVAL;
	}
	if (strlen(req->idempotency_key) >= sizeof ((struct job_row *)0)->idempotency_key) {
		snprintf(err, err_size, "idempotency_key is longer than 127 bytes");
		return -EINVAL;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->wl = wl;
	j->deadline_pos = SIZE_MAX;
	struct job_row *r = &j->row;
	int e;
	if ((e = enc_random_id("job_", r->id, sizeof r->id)) < 0) {
		snprintf(err, err_size, "no randomness for a job id");
		goto fail;
	}
	snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
	r->workload_id = wl->id;
	snprintf(r->workload, sizeof r->workload, "%s", wl->name);
	r->mode = mode;
	r->confidential = req->confidential || mode != ATOLL_MODE_PLAIN;
	r->state = ST_PENDING;
	r->created_ms = time_now_ms();
	int64_t timeout = req->timeout_seconds ? (int64_t)req->timeout_seconds * 1000 : wl->timeout_ms;
	r->deadline_ms = r->created_ms + (timeout > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : timeout);
	snprintf(r->idempotency_key, sizeof r->idempotency_key, "%s", req->idempotency_key);
	if (mode == ATOLL_MODE_TEE) {
		if ((e = check_envelope(c, tenant, req, j, err, err_size)) < 0)
			goto fail;
		r->input = malloc(req->input->ciphertext.len);
		if (!r->input) {
			e = -ENOMEM;
			goto fail;
		}
		memcpy(r->input, req->input->ciphertext.data, req->input->ciphertext.len);
		r->input_len = req->input->ciphertext.len;
	} else {
		if (mode == ATOLL_MODE_HOMOMORPHIC &&
		    (e = check_homomorphic(c, tenant, req, err, err_size)) < 0)
			goto fail;
		struct buf doc = { 0 };
		if ((e = input_doc(req->input, mode == ATOLL_MODE_HOMOMORPHIC, &doc, err, err_size)) < 0) {
			buf_free(&doc);
			goto fail;
		}
		r->input = buf_steal(&doc, &r->input_len);
		if (mode == ATOLL_MODE_HOMOMORPHIC)
			snprintf(r->key_id, sizeof r->key_id, "%s", req->input->homomorphic->key_id);
	}

	pthread_mutex_lock(&c->mu);
	if (c->shut) {
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "the coordinator is shutting down");
		e = -ESHUTDOWN;
		goto fail;
	}
	if (c->jobs.count >= c->cfg->limits.max_queued_jobs) {
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "the queue is full (%u active jobs)",
			 c->cfg->limits.max_queued_jobs);
		e = -EAGAIN;
		goto fail;
	}
	struct job_row existing;
	e = store_insert_job(c->store, r, &existing);
	if (e == -EEXIST) {
		pthread_mutex_unlock(&c->mu);
		*ret_row = existing; /* the job the key created before */
		job_free(j);
		return 0;
	}
	if (e < 0) {
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "cannot store the job");
		goto fail;
	}
	if (hmap_puts(&c->jobs, r->id, j) < 0 || dl_push(c, j) < 0) {
		/* Stored: the job is recovered at the next start. */
		log_error("out of memory tracking %s", r->id);
	}
	r->state = ST_QUEUED;
	route(c, j, NULL);
	if (j->row.state == ST_QUEUED && store_update_job(c->store, r) < 0)
		log_error("store: cannot record the state of %s", r->id);
	/* Answer with the row as it stands now. */
	*ret_row = j->row;
	ret_row->output = NULL;
	ret_row->output_len = 0;
	ret_row->input = malloc(j->row.input_len + 1);
	if (ret_row->input)
		memcpy(ret_row->input, j->row.input, j->row.input_len);
	else
		ret_row->input_len = 0;
	pthread_mutex_unlock(&c->mu);
	return 0;
fail:
	job_free(j);
	return e;
}

int core_cancel(struct core *c, const char *tenant, const char *job_id, const char *reason,
		struct job_row *ret_row, char *err, size_t err_size)
{
	pthread_mutex_lock(&c->mu);
	struct job *j = hmap_gets(&c->jobs, job_id);
	if (!j || strcmp(j->row.tenant, tenant) != 0) {
		pthread_mutex_unlock(&c->mu);
		int e = store_get_job(c->store, tenant, job_id, ret_row);
		if (e < 0) {
			snprintf(err, err_size, "no job %s", job_id);
			return -ENOENT;
		}
		snprintf(err, err_size, "job %s is already final", job_id);
		job_row_clear(ret_row);
		return -EALREADY;
	}
	if (j->island) {
		Atoll__V1__Cancel cm = ATOLL__V1__CANCEL__INIT;
		cm.job_id = j->row.id;
		cm.attempt = j->row.attempts;
		cm.reason = "cancelled by the tenant";
		Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
		m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL;
		m.cancel = &cm;
		island_send(j->island, &m);
	}
	char why[600];
	snprintf(why, sizeof why, "cancelled%s%s", reason && *reason ? ": " : "",
		 reason ? reason : "");
	char id[JOB_ID_LEN + 1];
	snprintf(id, sizeof id, "%s", j->row.id);
	finish_job(c, j, ST_CANCELLED, why);
	pthread_mutex_unlock(&c->mu);
	return store_get_job(c->store, tenant, id, ret_row);
}

int core_watch(struct core *c, const char *tenant, const char *job_id, rpc_call *call,
	       char *err, size_t err_size)
{
	pthread_mutex_lock(&c->mu);
	struct job *j = hmap_gets(&c->jobs, job_id);
	if (!j || strcmp(j->row.tenant, tenant) != 0) {
		pthread_mutex_unlock(&c->mu);
		struct job_row r;
		if (store_get_job(c->store, tenant, job_id, &r) < 0) {
			snprintf(err, err_size, "no job %s", job_id);
			return -ENOENT;
		}
		/* Final already: the job, then the end. */
		struct jobview v;
		jobview_init(&v, &r);
		Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
		ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
		ev.job = &v.job;
		rpc_call_send(call, &ev.base);
		rpc_call_finish(call, GRPC_STATUS_OK, NULL);
		job_row_clear(&r);
		return 0;
	}
	struct watcher *w = calloc(1, sizeof *w);
	if (!w || hmap_put(&c->watchers, &call, sizeof call, w) < 0) {
		free(w);
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	w->call = rpc_call_ref(call);
	w->job = j;
	w->next = j->watchers;
	j->watchers = w;
	/* The job as it stands, and the output of the current attempt so far. */
	struct jobview v;
	jobview_init(&v, &j->row);
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
	ev.job = &v.job;
	rpc_call_send(call, &ev.base);
	if (j->output.len) {
		Atoll__V1__OutputChunk ch = ATOLL__V1__OUTPUT_CHUNK__INIT;
		ch.seq = 0;
		ch.data.data = j->output.data;
		ch.data.len = j->output.len;
		ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_CHUNK;
		ev.chunk = &ch;
		rpc_call_send(call, &ev.base);
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void core_unwatch(struct core *c, rpc_call *call)
{
	pthread_mutex_lock(&c->mu);
	struct watcher *w = hmap_del(&c->watchers, &call, sizeof call);
	if (w && w->job) {
		for (struct watcher **pp = &w->job->watchers; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
	}
	pthread_mutex_unlock(&c->mu);
	if (w) {
		rpc_call_unref(w->call);
		free(w);
	}
}

/* ---- island streams ---- */

struct island *core_island_open(struct core *c, rpc_call *call, const char *token_name)
{
	struct island *is = calloc(1, sizeof *is);
	if (!is)
		return NULL;
	is->call = rpc_call_ref(call);
	snprintf(is->token_name, sizeof is->token_name, "%s", token_name);
	enc_random_id("s_", is->session, sizeof is->session);
	is->connected_ms = is->last_seen_ms = time_now_ms();
	is->state = ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED;
	return is;
}

/* Remove from the registry: its jobs go back to the queue. */
static void island_drop(struct core *c, struct island *is, const char *why)
{
	if (!is->registered)
		return;
	is->registered = false;
	if (hmap_gets(&c->islands, is->id) == is)
		hmap_dels(&c->islands, is->id);
	if (is->has_pub && hmap_get(&c->by_key, is->enclave_pub, ENCLAVE_KEY_LEN) == is)
		hmap_del(&c->by_key, is->enclave_pub, ENCLAVE_KEY_LEN);
	island_refresh(c, is);
	char reason[700];
	snprintf(reason, sizeof reason, "island %s: %s", is->id, why);
	while (is->jobs)
		requeue(c, is->jobs, is, reason);
	log_info("island %s left: %s", is->id, why);
}

static void refuse(struct island *is, int err, const char *msg)
{
	rpc_call_fail(is->call, err, msg);
}

static void on_hello(struct core *c, struct island *is, const Atoll__V1__Hello *h)
{
	char msg[512];
	if (!h->island_id[0] || strlen(h->island_id) >= sizeof is->id) {
		refuse(is, -EINVAL, "hello: island_id must be 1 to 127 characters");
		return;
	}
	if (h->slots < 1 || h->slots > 1024) {
		refuse(is, -EINVAL, "hello: slots must be between 1 and 1024");
		return;
	}
	if (strlen(h->tee_type) >= sizeof is->tee_type) {
		refuse(is, -EINVAL, "hello: tee_type too long");
		return;
	}
	if (h->tee_type[0] && h->enclave_public_key.len != ENCLAVE_KEY_LEN) {
		refuse(is, -EINVAL, "hello: an island with a TEE must send its 32-byte enclave key");
		return;
	}
	if (c->islands.count >= c->cfg->limits.max_islands && !hmap_gets(&c->islands, h->island_id)) {
		refuse(is, -EAGAIN, "the coordinator holds its maximum number of islands");
		return;
	}
	snprintf(is->id, sizeof is->id, "%s", h->island_id);
	is->slots = h->slots;
	snprintf(is->tee_type, sizeof is->tee_type, "%s", h->tee_type);
	if (h->enclave_public_key.len == ENCLAVE_KEY_LEN) {
		memcpy(is->enclave_pub, h->enclave_public_key.data, ENCLAVE_KEY_LEN);
		is->has_pub = true;
	}

	/* Workloads: accept those the coordinator knows, in the modes both
	 * sides allow. */
	Atoll__V1__WorkloadVerdict *verdicts = calloc(h->n_workloads + 1, sizeof *verdicts);
	Atoll__V1__WorkloadVerdict **vp = calloc(h->n_workloads + 1, sizeof *vp);
	char (*reasons)[160] = calloc(h->n_workloads + 1, sizeof *reasons);
	is->offers = calloc(h->n_workloads + 1, sizeof *is->offers);
	if (!verdicts || !vp || !reasons || !is->offers) {
		free(verdicts);
		free(vp);
		free(reasons);
		refuse(is, -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < h->n_workloads; i++) {
		const Atoll__V1__WorkloadOffer *o = h->workloads[i];
		atoll__v1__workload_verdict__init(&verdicts[i]);
		verdicts[i].workload_id = o->workload_id;
		verdicts[i].reason = reasons[i];
		vp[i] = &verdicts[i];
		const struct workload_cfg *wl = coord_config_workload(c->cfg, o->workload_id);
		uint32_t modes = 0;
		for (size_t m = 0; m < o->n_modes; m++)
			if ((int)o->modes[m] >= ATOLL_MODE_PLAIN && (int)o->modes[m] <= ATOLL_MODE_HOMOMORPHIC)
				modes |= ATOLL_MODE_BIT((uint32_t)o->modes[m]);
		if (!wl) {
			snprintf(reasons[i], sizeof reasons[i], "unknown workload %u", o->workload_id);
			continue;
		}
		if (offer_of(is, o->workload_id)) {
			snprintf(reasons[i], sizeof reasons[i], "workload %u offered twice",
				 o->workload_id);
			continue;
		}
		if (!(modes & wl->modes)) {
			snprintf(reasons[i], sizeof reasons[i],
				 "workload %u runs in none of the offered modes here", o->workload_id);
			continue;
		}
		if ((modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE)) && !is->tee_type[0])
			modes &= ~ATOLL_MODE_BIT(ATOLL_MODE_TEE);
		struct offer *of = &is->offers[is->n_offers++];
		of->workload_id = o->workload_id;
		of->modes = modes & wl->modes;
		of->wl = wl;
		of->heap_pos[0] = of->heap_pos[1] = SIZE_MAX;
		verdicts[i].accepted = true;
	}
	/* A second stream for the same island replaces the first. */
	struct island *old = hmap_gets(&c->islands, is->id);
	if (old && old != is) {
		island_drop(c, old, "replaced by a new session");
		rpc_call_finish(old->call, GRPC_STATUS_ABORTED, "replaced by a new session");
	}
	struct island *key_owner = is->has_pub ? hmap_get(&c->by_key, is->enclave_pub, ENCLAVE_KEY_LEN)
					       : NULL;
	if (key_owner && key_owner != is) {
		free(verdicts);
		free(vp);
		free(reasons);
		snprintf(msg, sizeof msg, "enclave key already in use by island %s", key_owner->id);
		refuse(is, -EEXIST, msg);
		return;
	}
	if (hmap_puts(&c->islands, is->id, is) < 0 ||
	    (is->has_pub && hmap_put(&c->by_key, is->enclave_pub, ENCLAVE_KEY_LEN, is) < 0)) {
		free(verdicts);
		free(vp);
		free(reasons);
		hmap_dels(&c->islands, is->id);
		refuse(is, -ENOMEM, "out of memory");
		return;
	}
	is->registered = true;
	is->hello = true;

	Atoll__V1__Welcome w = ATOLL__V1__WELCOME__INIT;
	w.session_id = is->session;
	w.heartbeat_interval_ms = (uint32_t)c->cfg->islands.heartbeat_interval_ms;
	w.n_workloads = h->n_workloads;
	w.workloads = vp;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	island_send(is, &m);
	free(verdicts);
	free(vp);
	free(reasons);
	log_info("island %s joined (%u slots, %zu workload(s), tee %s, session %s)", is->id,
		 is->slots, is->n_offers, is->tee_type[0] ? is->tee_type : "none", is->session);
	if (is->tee_type[0])
		attest_start(c, is);
	island_refresh(c, is);
	island_fill(c, is);
}

void core_island_message(struct core *c, struct island *is, const Atoll__V1__IslandMessage *m)
{
	pthread_mutex_lock(&c->mu);
	is->last_seen_ms = time_now_ms();
	if (!is->hello && m->msg_case != ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO) {
		refuse(is, -EINVAL, "the first message on Islands/Connect must be hello");
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (!is->registered && is->hello) {
		pthread_mutex_unlock(&c->mu); /* dropped: ignore until the stream ends */
		return;
	}
	struct job *j;
	switch (m->msg_case) {
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO:
		if (is->hello)
			refuse(is, -EINVAL, "hello was already received on this stream");
		else
			on_hello(c, is, m->hello);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT:
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_EVIDENCE:
		attest_evidence(c, is, m->evidence);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_STARTED:
		if ((j = held_job(c, is, m->started->job_id, m->started->attempt))) {
			j->row.started_ms = time_now_ms();
			notify_state(j);
		}
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_OUTPUT: {
		const Atoll__V1__IslandOutput *o = m->output;
		if (!(j = held_job(c, is, o->job_id, o->attempt)))
			break;
		if (j->output.len + o->data.len > MAX_OUTPUT) {
			char err[128];
			snprintf(err, sizeof err, "output larger than %u bytes", MAX_OUTPUT);
			Atoll__V1__Cancel cm = ATOLL__V1__CANCEL__INIT;
			cm.job_id = j->row.id;
			cm.attempt = j->row.attempts;
			cm.reason = err;
			Atoll__V1__CoordinatorMessage cmsg = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
			cmsg.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL;
			cmsg.cancel = &cm;
			island_send(is, &cmsg);
			finish_job(c, j, ST_FAILED, err);
			break;
		}
		if (buf_append(&j->output, o->data.data, o->data.len) < 0) {
			finish_job(c, j, ST_FAILED, "out of memory collecting output");
			break;
		}
		notify_chunk(j, j->next_seq++, o->data.data, o->data.len);
		break;
	}
	case ATOLL__V1__ISLAND_MESSAGE__MSG_RESULT: {
		const Atoll__V1__JobResult *r = m->result;
		if (!(j = held_job(c, is, r->job_id, r->attempt)))
			break; /* late or duplicate: the job has one final result already */
		char err[1200];
		if (r->ok)
			finish_job(c, j, ST_COMPLETED, NULL);
		else if (time_now_ms() >= j->row.deadline_ms) {
			/* The island stopped it for the deadline just before we did. */
			deadline_error(j, err, sizeof err);
			finish_job(c, j, ST_FAILED, err);
		} else {
			snprintf(err, sizeof err, "island %s: %s", is->id,
				 r->error[0] ? r->error : "the job failed");
			finish_job(c, j, ST_FAILED, err);
		}
		break;
	}
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HAND_BACK: {
		const Atoll__V1__HandBack *hb = m->hand_back;
		if (!(j = held_job(c, is, hb->job_id, hb->attempt)))
			break;
		char why[700];
		snprintf(why, sizeof why, "island %s handed the job back: %s", is->id,
			 hb->reason[0] ? hb->reason : "no reason");
		/* Give the island a moment before offering it more work. */
		is->pause_until_ms = time_now_ms() + 1000;
		requeue(c, j, is, why);
		island_refresh(c, is);
		break;
	}
	default:
		refuse(is, -EINVAL, "empty island message");
		break;
	}
	pthread_mutex_unlock(&c->mu);
}

void core_island_close(struct core *c, struct island *is)
{
	pthread_mutex_lock(&c->mu);
	island_drop(c, is, "stream closed");
	pthread_mutex_unlock(&c->mu);
	rpc_call_unref(is->call);
	attest_clear(is);
	free(is->offers);
	free(is);
}

/* ---- views ---- */

void core_stats(struct core *c, Atoll__V1__Stats *out)
{
	atoll__v1__stats__init(out);
	pthread_mutex_lock(&c->mu);
	size_t n = c->islands.count;
	/* At most one map entry per island in each map. */
	Atoll__V1__Stats__TeeTypesEntry *att = calloc(n + 1, sizeof *att);
	Atoll__V1__Stats__TeeTypesEntry **attp = calloc(n + 1, sizeof *attp);
	Atoll__V1__Stats__ConnectedTeeTypesEntry *con = calloc(n + 1, sizeof *con);
	Atoll__V1__Stats__ConnectedTeeTypesEntry **conp = calloc(n + 1, sizeof *conp);
	if (!att || !attp || !con || !conp) {
		pthread_mutex_unlock(&c->mu);
		free(att);
		free(attp);
		free(con);
		free(conp);
		return;
	}
	size_t pos = 0;
	struct island *is;
	while ((is = hmap_next(&c->islands, &pos, NULL, NULL))) {
		out->connected_hosts++;
		out->slots += is->slots;
		out->busy_slots += is->running;
		if (is->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED)
			out->attested_hosts++;
		else if (is->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_REVOKED)
			out->revoked_hosts++;
		else
			out->unattested_hosts++;
		if (is->tee_type[0]) {
			size_t k = 0;
			while (k < out->n_connected_tee_types && strcmp(con[k].key, is->tee_type))
				k++;
			if (k == out->n_connected_tee_types) {
				atoll__v1__stats__connected_tee_types_entry__init(&con[k]);
				con[k].key = strdup(is->tee_type);
				conp[k] = &con[k];
				out->n_connected_tee_types++;
			}
			con[k].value++;
		}
		if (is->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED) {
			size_t k = 0;
			while (k < out->n_tee_types && strcmp(att[k].key, is->tee_type))
				k++;
			if (k == out->n_tee_types) {
				atoll__v1__stats__tee_types_entry__init(&att[k]);
				att[k].key = strdup(is->tee_type);
				attp[k] = &att[k];
				out->n_tee_types++;
			}
			att[k].value++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	out->tee_types = attp;
	out->connected_tee_types = conp;
	/* The entry arrays are reachable from the first pointer of each. */
	if (!out->n_tee_types)
		free(att);
	if (!out->n_connected_tee_types)
		free(con);
}

void core_stats_clear(Atoll__V1__Stats *s)
{
	for (size_t i = 0; i < s->n_tee_types; i++)
		free(s->tee_types[i]->key);
	for (size_t i = 0; i < s->n_connected_tee_types; i++)
		free(s->connected_tee_types[i]->key);
	if (s->n_tee_types)
		free(s->tee_types[0]);
	if (s->n_connected_tee_types)
		free(s->connected_tee_types[0]);
	free(s->tee_types);
	free(s->connected_tee_types);
	atoll__v1__stats__init(s);
}

/* ---- timers ---- */

static void deadline_error(const struct job *j, char *err, size_t size)
{
	snprintf(err, size, "deadline exceeded: not finished %lld s after submission",
		 (long long)((j->row.deadline_ms - j->row.created_ms) / 1000));
}

static void tick(struct core *c, int64_t now)
{
	/* Job deadlines. */
	while (c->n_deadlines && c->deadlines[0]->row.deadline_ms <= now) {
		struct job *j = c->deadlines[0];
		char err[200];
		deadline_error(j, err, sizeof err);
		if (j->island) {
			Atoll__V1__Cancel cm = ATOLL__V1__CANCEL__INIT;
			cm.job_id = j->row.id;
			cm.attempt = j->row.attempts;
			cm.reason = err;
			Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
			m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL;
			m.cancel = &cm;
			island_send(j->island, &m);
		}
		finish_job(c, j, ST_FAILED, err);
	}
	/* Islands: heartbeats, hand-back pauses, attestation. */
	if (now - c->last_island_scan_ms < 200)
		return;
	c->last_island_scan_ms = now;
	size_t pos = 0;
	struct island *is;
	struct island *stale[64];
	size_t n_stale = 0;
	while ((is = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if (now - is->last_seen_ms > c->cfg->islands.heartbeat_timeout_ms) {
			if (n_stale < 64)
				stale[n_stale++] = is;
			continue;
		}
		if (is->pause_until_ms && now >= is->pause_until_ms) {
			is->pause_until_ms = 0;
			island_refresh(c, is);
			island_fill(c, is);
		}
		attest_tick(c, is, now);
	}
	for (size_t i = 0; i < n_stale; i++) {
		char why[128];
		snprintf(why, sizeof why, "no heartbeat for %lld ms",
			 (long long)(now - stale[i]->last_seen_ms));
		island_drop(c, stale[i], why);
		rpc_call_finish(stale[i]->call, GRPC_STATUS_UNAVAILABLE, why);
	}
}

static void *timer_thread(void *arg)
{
	struct core *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		tick(c, time_now_ms());
		time_cond_wait_ms(&c->cond, &c->mu, TICK_MS);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- life cycle ---- */

struct load_ctx {
	struct core *c;
	size_t loaded, failed;
};

static void load_one(struct job_row *r, void *ud)
{
	struct load_ctx *lc = ud;
	struct core *c = lc->c;
	char err[256];
	struct job *j = job_from_row(c, r, err, sizeof err);
	if (!j) {
		/* The workload left the config: fail the job, keep the record. */
		r->state = ST_FAILED;
		snprintf(r->error, sizeof r->error, "%s", err);
		r->completed_ms = time_now_ms();
		store_finish_job(c->store, r);
		job_row_clear(r);
		lc->failed++;
		return;
	}
	if (j->row.mode == ATOLL_MODE_TEE) {
		struct env_input_info info;
		if (env_inspect_input(j->row.input, j->row.input_len, &info) == ENV_OK &&
		    (j->recipients = malloc(info.n_recipients * ENCLAVE_KEY_LEN))) {
			memcpy(j->recipients, info.recipients, info.n_recipients * ENCLAVE_KEY_LEN);
			j->n_recipients = info.n_recipients;
		}
	}
	/* Whatever ran before the restart runs again: a new attempt. */
	j->row.state = ST_QUEUED;
	j->row.island_id[0] = 0;
	if (hmap_puts(&c->jobs, j->row.id, j) < 0 || dl_push(c, j) < 0) {
		job_free(j);
		lc->failed++;
		return;
	}
	store_update_job(c->store, &j->row);
	route(c, j, NULL);
	lc->loaded++;
}

int core_new(const struct coord_config *cfg, struct store *st,
	     const struct loaded_driver *drivers, size_t n_drivers, struct core **ret,
	     char *err, size_t err_size)
{
	struct core *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->pcfg = cfg;
	c->store = st;
	c->drivers = drivers;
	c->n_drivers = n_drivers;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->pools = calloc(cfg->n_workloads * 2 + 1, sizeof *c->pools);
	if (!c->pools) {
		core_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_workloads; i++) {
		uint32_t id = cfg->workloads[i].id;
		if (hmap_put(&c->wl_index, &id, sizeof id, (void *)(uintptr_t)(i + 1)) < 0) {
			core_free(c);
			return -ENOMEM;
		}
		for (int k = 0; k < 2; k++) {
			c->pools[i * 2 + (size_t)k].workload_id = id;
			c->pools[i * 2 + (size_t)k].kind = k;
		}
	}
	struct load_ctx lc = { c, 0, 0 };
	pthread_mutex_lock(&c->mu);
	int e = store_load_active(st, load_one, &lc);
	pthread_mutex_unlock(&c->mu);
	if (e < 0) {
		snprintf(err, err_size, "cannot load active jobs from the store");
		core_free(c);
		return e;
	}
	if (lc.loaded || lc.failed)
		log_info("recovered %zu active job(s) from the store%s", lc.loaded,
			 lc.failed ? " (some failed: workload gone)" : "");
	*ret = c;
	return 0;
}

int core_start(struct core *c)
{
	if (pthread_create(&c->timer, NULL, timer_thread, c) != 0)
		return -EAGAIN;
	c->timer_started = true;
	return 0;
}

void core_shutdown(void *arg)
{
	struct core *c = arg;
	pthread_mutex_lock(&c->mu);
	c->shut = true;
	size_t pos = 0;
	struct island *is;
	while ((is = hmap_next(&c->islands, &pos, NULL, NULL)))
		rpc_call_finish(is->call, GRPC_STATUS_UNAVAILABLE,
				"the coordinator is shutting down");
	pos = 0;
	struct watcher *w;
	while ((w = hmap_next(&c->watchers, &pos, NULL, NULL)))
		rpc_call_finish(w->call, GRPC_STATUS_UNAVAILABLE, "the coordinator is shutting down");
	pthread_mutex_unlock(&c->mu);
}

void core_free(struct core *c)
{
	if (!c)
		return;
	if (c->timer_started) {
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->timer, NULL);
	}
	/* Active jobs stay in the store; free their memory. */
	size_t pos = 0;
	struct job *j;
	while ((j = hmap_next(&c->jobs, &pos, NULL, NULL))) {
		tq_unlink(c, j);
		job_free(j);
	}
	hmap_free(&c->jobs);
	hmap_free(&c->islands);
	hmap_free(&c->by_key);
	pos = 0;
	struct tee_queue *q;
	while ((q = hmap_next(&c->tee_queues, &pos, NULL, NULL)))
		free(q);
	hmap_free(&c->tee_queues);
	hmap_free(&c->watchers);
	hmap_free(&c->wl_index);
	for (size_t i = 0; c->pools && i < c->cfg->n_workloads * 2; i++)
		free(c->pools[i].heap);
	free(c->pools);
	free(c->deadlines);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	free(c);
}
