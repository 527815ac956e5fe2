/* The listener (shared store): one thread that waits for the store's
 * events and acts on them. New work wakes the claimer; a tenant's cancel
 * stops the job here if this coordinator runs it; output and final
 * states move the followers: watchers, which follow a job in the store
 * wherever it runs, and SubmitJob calls waiting for a job's end.
 *
 * Followers read the store when an event says something changed (and
 * every second besides, in case an event was missed): the job row, then
 * the chunks of its current attempt past those already seen. Chunks are
 * numbered per attempt and land in order (the owner writes them through
 * its store writer), so a follower appends only the next one it expects;
 * a new attempt starts its output again from chunk 0, as on a single
 * coordinator. The final row carries the whole output with its chunk
 * lengths: a follower that missed chunks takes the rest from there. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

#define POLL_EVERY_MS 1000
#define CHUNKS_PER_READ 256

static void set_due(struct core *c)
{
	core_lock(c);
	c->remote_due = true;
	core_unlock(c);
}

/* A cancel notification is a hint (any client of the database can send
 * one): the job is stopped here only once the store says it is final,
 * or no longer this attempt of it (not ours). When the store cannot be
 * read, the next renewal settles it. */
static void cancelled_elsewhere(struct core *c, const char *id)
{
	core_lock(c);
	struct job *j = hmap_gets(&c->jobs, id);
	char tenant[sizeof j->row.tenant] = "";
	uint32_t attempt = 0;
	if (j) {
		snprintf(tenant, sizeof tenant, "%s", j->row.tenant);
		attempt = j->row.attempts;
	}
	c->remote_due = true;
	core_unlock(c);
	if (!tenant[0])
		return;
	struct job_row r;
	int e = store_get_job(c->store, tenant, id, &r);
	bool gone = e == -ENOENT ||
		    (e == 0 && (r.state != JOB_RUNNING || r.attempts != attempt));
	if (e == 0)
		job_row_clear(&r);
	if (!gone)
		return;
	core_lock(c);
	j = hmap_gets(&c->jobs, id);
	if (j && j->row.attempts == attempt)
		claim_drop(c, j, "cancelled by the tenant");
	core_unlock(c);
}

static void on_event(enum store_event ev, const char *payload, void *ud)
{
	struct core *c = ud;
	switch (ev) {
	case STORE_EV_JOBS:
		claim_kick(c);
		break;
	case STORE_EV_OUTPUT:
	case STORE_EV_FINAL:
		set_due(c);
		break;
	case STORE_EV_CANCEL:
		cancelled_elsewhere(c, payload);
		break;
	case STORE_EV_LOST:
		claim_kick(c);
		set_due(c);
		break;
	}
}

/* ---- followers ---- */

struct chunk {
	uint32_t seq;
	uint8_t *data;
	size_t len;
};

struct chunks {
	struct chunk *v;
	size_t n, cap;
};

static void add_chunk(uint32_t seq, const uint8_t *data, size_t len, void *ud)
{
	struct chunks *cs = ud;
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct chunk *v = realloc(cs->v, cap * sizeof *v);
		if (!v)
			return;
		cs->v = v;
		cs->cap = cap;
	}
	uint8_t *d = malloc(len + 1);
	if (!d)
		return;
	memcpy(d, data, len);
	cs->v[cs->n++] = (struct chunk){ seq, d, len };
}

/* What a watcher had when the lock was let go. */
struct follow {
	struct watcher *w;
	void *peer;
	uint64_t gen;
	char tenant[128];
	char id[JOB_ID_LEN + 1];
	uint32_t attempt;
	size_t have;
};

/* The chunks of a final row past the first `from`. */
static int append_final(struct outbuf *o, const struct job_row *r)
{
	size_t off = 0, i = 0;
	for (size_t k = 0; k + 4 <= r->output_chunks_len; k += 4, i++) {
		const uint8_t *p = r->output_chunks + k;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (len > r->output_len - off)
			break;
		if (i >= o->n && outbuf_append(o, r->output + off, len) < 0)
			return -ENOMEM;
		off += len;
	}
	if (off < r->output_len && i >= o->n &&
	    outbuf_append(o, r->output + off, r->output_len - off) < 0)
		return -ENOMEM;
	return 0;
}

/* Bring the watcher up to the row read from the store. Lock held. */
static void apply(struct core *c, const struct follow *f, const struct job_row *r,
		  const struct chunks *cs)
{
	struct watcher *w = hmap_get(&c->watchers, &f->peer, sizeof f->peer);
	if (w != f->w || w->gen != f->gen || w->ended || w->final)
		return;
	if (r->attempts != w->attempt) {
		/* A new attempt: its output starts again from chunk 0. */
		struct outbuf *o = outbuf_new();
		if (!o)
			return;
		outbuf_release(c, w->out);
		w->out = o;
		w->cursor = 0;
		w->attempt = r->attempts;
	}
	bool final = r->state >= JOB_COMPLETED;
	if (!final && (r->state != w->last_state || strcmp(r->island_id, w->last_island) != 0)) {
		struct job_row *v = watch_final_copy(r);
		if (v) {
			w->ops->job(w->peer, v);
			free(v);
		}
		w->last_state = r->state;
		snprintf(w->last_island, sizeof w->last_island, "%s", r->island_id);
	}
	if (!final) {
		for (size_t i = 0; i < cs->n; i++)
			if (cs->v[i].seq == w->out->n &&
			    outbuf_append(w->out, cs->v[i].data, cs->v[i].len) < 0)
				break;
	} else if (append_final(w->out, r) < 0 || !(w->final = watch_final_copy(r))) {
		w->ops->end(w->peer, -ENOMEM, "out of memory");
		w->ended = true;
		return;
	}
	watch_pump(c, w);
}

static void answer_final(struct job_row *r, void *ud)
{
	struct core *c = ud;
	core_lock(c);
	struct submit_waiter *ws = hmap_dels(&c->final_waits, r->id);
	core_unlock(c);
	while (ws) {
		struct submit_waiter *next = ws->next;
		ws->cb(ws->ud, 0, r, "");
		free(ws);
		ws = next;
	}
	job_row_clear(r);
}

static void poll_followers(struct core *c)
{
	core_lock(c);
	c->remote_due = false;
	size_t n = 0, nw = c->final_waits.count;
	for (struct watcher *w = c->remote; w; w = w->rnext)
		n++;
	struct follow *fs = calloc(n + 1, sizeof *fs);
	const char **ids = calloc(nw + 1, sizeof *ids);
	char (*idbuf)[JOB_ID_LEN + 1] = calloc(nw + 1, sizeof *idbuf);
	size_t k = 0;
	for (struct watcher *w = c->remote; fs && w; w = w->rnext) {
		if (w->ended || w->final)
			continue;
		fs[k] = (struct follow){ .w = w, .peer = w->peer, .gen = w->gen,
					 .attempt = w->attempt, .have = w->out ? w->out->n : 0 };
		snprintf(fs[k].tenant, sizeof fs[k].tenant, "%s", w->tenant);
		snprintf(fs[k].id, sizeof fs[k].id, "%s", w->job_id);
		k++;
	}
	size_t pos = 0, ni = 0;
	const void *key;
	size_t klen;
	while (ids && idbuf && hmap_next(&c->final_waits, &pos, &key, &klen)) {
		snprintf(idbuf[ni], sizeof idbuf[ni], "%.*s", (int)klen, (const char *)key);
		ids[ni] = idbuf[ni];
		ni++;
	}
	core_unlock(c);
	for (size_t i = 0; i < k; i++) {
		struct job_row r;
		if (store_get_job(c->store, fs[i].tenant, fs[i].id, &r) < 0)
			continue;
		struct chunks cs = { 0 };
		if (r.state < JOB_COMPLETED)
			store_read_output(c->store, r.id, r.attempts,
					  r.attempts == fs[i].attempt ? (uint32_t)fs[i].have : 0,
					  CHUNKS_PER_READ, add_chunk, &cs);
		core_lock(c);
		apply(c, &fs[i], &r, &cs);
		if (cs.n == CHUNKS_PER_READ)
			c->remote_due = true; /* more to read */
		core_unlock(c);
		for (size_t x = 0; x < cs.n; x++)
			free(cs.v[x].data);
		free(cs.v);
		job_row_clear(&r);
	}
	if (ni)
		store_get_final(c->store, ids, ni, answer_final, c);
	free(fs);
	free(ids);
	free(idbuf);
}

static bool stopping(struct core *c)
{
	pthread_mutex_lock(&c->kmu);
	bool stop = c->kstop;
	pthread_mutex_unlock(&c->kmu);
	return stop;
}

static void *listener(void *arg)
{
	struct core *c = arg;
	int64_t last_poll = 0;
	bool failing = false;
	while (!stopping(c)) {
		core_lock(c);
		bool followers = c->remote || c->final_waits.count;
		core_unlock(c);
		int e = store_listen(c->store, followers ? 100 : 500, on_event, c);
		if (e < 0 && !failing)
			log_error("store: lost the connection for events; reconnecting");
		else if (e == 0 && failing)
			log_info("store: events flow again");
		failing = e < 0;
		int64_t now = time_mono_ms();
		core_lock(c);
		bool due = c->remote_due || (followers && now - last_poll >= POLL_EVERY_MS);
		core_unlock(c);
		if (due) {
			poll_followers(c);
			last_poll = now;
		}
	}
	return NULL;
}

int events_start(struct core *c)
{
	return pthread_create(&c->listener, NULL, listener, c) == 0 ? 0 : -EAGAIN;
}

void events_stop(struct core *c)
{
	pthread_join(c->listener, NULL);
}

int events_watch(struct core *c, const char *tenant, const char *job_id,
		 const struct watch_ops *ops, void *peer, char *err, size_t err_size)
{
	struct job_row r;
	int got = store_get_job(c->store, tenant, job_id, &r);
	if (got == -EIO) {
		snprintf(err, err_size, "the job store cannot be reached; try again");
		return -EAGAIN;
	}
	if (got < 0) {
		snprintf(err, err_size, "no job %s", job_id);
		return -ENOENT;
	}
	core_lock(c);
	int e = watch_limit(c, tenant, err, err_size);
	struct watcher *w = e == 0 ? watch_add(c, ops, peer, tenant) : NULL;
	if (e == 0 && (!w || !(w->out = outbuf_new()))) {
		if (w) {
			hmap_del(&c->watchers, &peer, sizeof peer);
			free(w);
		}
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
	}
	if (e == 0) {
		w->remote = true;
		w->gen = ++c->watch_gen;
		snprintf(w->job_id, sizeof w->job_id, "%s", r.id);
		w->attempt = r.attempts;
		w->rnext = c->remote;
		c->remote = w;
		c->remote_due = true;
		if (r.state < JOB_COMPLETED) {
			/* The job now; its output and end come from the store. */
			struct job_row *v = watch_final_copy(&r);
			if (v) {
				ops->job(peer, v);
				free(v);
			}
			w->last_state = r.state;
			snprintf(w->last_island, sizeof w->last_island, "%s", r.island_id);
		} else {
			struct follow f = { .w = w, .peer = peer, .gen = w->gen };
			struct chunks none = { 0 };
			apply(c, &f, &r, &none);
		}
	}
	core_unlock(c);
	job_row_clear(&r);
	return e;
}

void events_unlink(struct core *c, struct watcher *w)
{
	for (struct watcher **pp = &c->remote; *pp; pp = &(*pp)->rnext)
		if (*pp == w) {
			*pp = w->rnext;
			break;
		}
}

int events_wait_final(struct core *c, const char *id, struct submit_waiter *ws)
{
	struct submit_waiter *prev = hmap_gets(&c->final_waits, id);
	struct submit_waiter *last = ws;
	while (last->next)
		last = last->next;
	last->next = prev;
	if (hmap_puts(&c->final_waits, id, ws) < 0) {
		last->next = NULL;
		return -ENOMEM;
	}
	c->remote_due = true;
	return 0;
}

void events_shutdown(struct core *c)
{
	size_t pos = 0;
	struct submit_waiter *ws;
	while ((ws = hmap_next(&c->final_waits, &pos, NULL, NULL))) {
		while (ws) {
			struct submit_waiter *next = ws->next;
			ws->cb(ws->ud, -ESHUTDOWN, NULL,
			       "the coordinator is shutting down; the job was accepted and carries on");
			free(ws);
			ws = next;
		}
	}
	hmap_free(&c->final_waits);
}
