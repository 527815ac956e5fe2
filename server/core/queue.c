/* The core's waiting structures: the deadline min-heap of active jobs, a
 * pool per workload and kind (FIFO of waiting jobs and a min-heap of
 * islands with a free slot, least loaded on top) and, for TEE jobs, one
 * FIFO per recipient enclave key. Every operation is O(log n) or O(1). */
#include "core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

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

int deadline_push(struct core *c, struct job *j)
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

void deadline_remove(struct core *c, struct job *j)
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

/* ---- pools ---- */

struct pool *pool_for(struct core *c, uint32_t workload_id, int kind)
{
	uintptr_t idx = (uintptr_t)hmap_get(&c->wl_index, &workload_id, sizeof workload_id);
	return idx ? &c->pools[(idx - 1) * 2 + (size_t)kind] : NULL;
}

/* Lower is less loaded: the share of slots in use, then fewer jobs. */
uint64_t session_load(const struct session *s)
{
	return ((uint64_t)s->running << 32) / s->slots;
}

bool session_can_take(const struct session *s, int64_t now)
{
	return s->registered && s->hello && s->running < s->slots && now >= s->pause_until_ms;
}

static void heap_set(struct pool *p, size_t i, struct heap_entry e)
{
	p->heap[i] = e;
	e.s->offers[e.offer].heap_pos[p->kind] = i;
}

static void heap_up(struct pool *p, size_t i)
{
	struct heap_entry e = p->heap[i];
	while (i > 0) {
		size_t par = (i - 1) / 2;
		if (session_load(p->heap[par].s) <= session_load(e.s))
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
		if (r < p->heap_n && session_load(p->heap[r].s) < session_load(p->heap[l].s))
			m = r;
		if (session_load(p->heap[m].s) >= session_load(e.s))
			break;
		heap_set(p, i, p->heap[m]);
		i = m;
	}
	heap_set(p, i, e);
}

static void heap_remove(struct pool *p, struct session *s, size_t offer)
{
	size_t i = s->offers[offer].heap_pos[p->kind];
	if (i == SIZE_MAX)
		return;
	s->offers[offer].heap_pos[p->kind] = SIZE_MAX;
	p->heap_n--;
	if (i != p->heap_n) {
		heap_set(p, i, p->heap[p->heap_n]);
		heap_down(p, i);
		heap_up(p, i);
	}
}

static int heap_insert_or_fix(struct pool *p, struct session *s, size_t offer)
{
	size_t i = s->offers[offer].heap_pos[p->kind];
	if (i != SIZE_MAX) {
		heap_down(p, i);
		heap_up(p, s->offers[offer].heap_pos[p->kind]);
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
	heap_set(p, p->heap_n, (struct heap_entry){ s, offer });
	p->heap_n++;
	heap_up(p, p->heap_n - 1);
	return 0;
}

void session_refresh(struct core *c, struct session *s)
{
	bool eligible = session_can_take(s, time_now_ms());
	for (size_t k = 0; k < s->n_offers; k++) {
		struct offer *o = &s->offers[k];
		static const uint32_t mode_of[2] = { ATOLL_MODE_PLAIN, ATOLL_MODE_HOMOMORPHIC };
		for (int kind = 0; kind < 2; kind++) {
			struct pool *p = pool_for(c, o->workload_id, kind);
			if (!p)
				continue;
			if (eligible && (o->modes & ATOLL_MODE_BIT(mode_of[kind])))
				heap_insert_or_fix(p, s, k);
			else
				heap_remove(p, s, k);
		}
	}
}

void fifo_push(struct pool *p, struct job *j)
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

void fifo_remove(struct job *j)
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

void tq_unlink(struct core *c, struct job *j)
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
			hmap_del(&c->tee_queues, q->key, CORE_KEY_LEN);
			free(q);
		}
	}
	j->tq_linked = false;
}

int tq_link(struct core *c, struct job *j)
{
	if (!j->tq) {
		j->tq = calloc(j->n_recipients + 1, sizeof *j->tq);
		if (!j->tq)
			return -ENOMEM;
	}
	for (size_t i = 0; i < j->n_recipients; i++) {
		struct tee_queue *q = hmap_get(&c->tee_queues, j->recipients[i], CORE_KEY_LEN);
		if (!q) {
			q = calloc(1, sizeof *q);
			if (!q)
				return -ENOMEM;
			memcpy(q->key, j->recipients[i], CORE_KEY_LEN);
			if (hmap_put(&c->tee_queues, q->key, CORE_KEY_LEN, q) < 0) {
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
