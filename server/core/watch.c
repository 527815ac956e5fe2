/* Watchers of a job and the output they are sent. Each watcher gets the
 * job when it starts watching, then every output chunk of the current
 * attempt with its sequence number (a late watcher from the first chunk),
 * every state change, and the final job once its last chunk is out.
 *
 * Memory stays bounded whatever the readers do: a job's output is kept
 * once (struct outbuf, shared by reference), and each watcher has at most
 * WATCH_BACKLOG bytes waiting in its call; the rest is sent when the
 * reader catches up (core_watch_drain). A final job's stored output is
 * loaded once for all the watchers that join it late. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Bytes a watcher may have waiting to be sent before the next chunk waits
 * for its reader. */
#define WATCH_BACKLOG (128u << 10)

struct outbuf *outbuf_new(void)
{
	struct outbuf *o = calloc(1, sizeof *o);
	if (o)
		o->refs = 1;
	return o;
}

struct outbuf *outbuf_ref(struct outbuf *o)
{
	if (o)
		o->refs++;
	return o;
}

void outbuf_release(struct core *c, struct outbuf *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->cached && hmap_gets(&c->final_outs, o->job_id) == o)
		hmap_dels(&c->final_outs, o->job_id);
	buf_free(&o->data);
	free(o->ends);
	free(o);
}

int outbuf_append(struct outbuf *o, const uint8_t *data, size_t len)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		size_t *e = realloc(o->ends, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		o->ends = e;
		o->cap = cap;
	}
	if (buf_append(&o->data, data, len) < 0)
		return -ENOMEM;
	o->ends[o->n++] = o->data.len;
	return 0;
}

/* Send what the watcher's reader has room for; end it after the last
 * chunk of a final job. */
void watch_pump(struct core *c, struct watcher *w)
{
	while (!w->ended && w->out && w->cursor < w->out->n &&
	       w->ops->backlog(w->peer) < WATCH_BACKLOG) {
		size_t i = w->cursor++;
		size_t start = i ? w->out->ends[i - 1] : 0;
		w->ops->chunk(w->peer, i, w->out->data.data + start, w->out->ends[i] - start);
	}
	if (w->ended || !w->final || (w->out && w->cursor < w->out->n))
		return;
	w->ops->job(w->peer, w->final);
	w->ops->end(w->peer, 0, NULL);
	w->ended = true;
	job_row_clear(w->final);
	free(w->final);
	w->final = NULL;
	outbuf_release(c, w->out);
	w->out = NULL;
}

void watch_notify_state(struct job *j)
{
	for (struct watcher *w = j->watchers; w; w = w->next)
		w->ops->job(w->peer, &j->row);
}

void watch_notify_chunk(struct core *c, struct job *j)
{
	for (struct watcher *w = j->watchers; w; w = w->next)
		if (w->out == j->out)
			watch_pump(c, w);
}

void watch_new_attempt(struct core *c, struct job *j)
{
	for (struct watcher *w = j->watchers; w; w = w->next) {
		outbuf_release(c, w->out);
		w->out = outbuf_ref(j->out);
		w->cursor = 0;
	}
}

/* The final job without its output (the watcher sends that as chunks). */
struct job_row *watch_final_copy(const struct job_row *r)
{
	struct job_row *f = malloc(sizeof *f);
	if (!f)
		return NULL;
	*f = *r;
	f->input = NULL;
	f->input_len = 0;
	f->output = NULL;
	f->output_len = 0;
	f->output_chunks = NULL;
	f->output_chunks_len = 0;
	return f;
}

void watch_end_all(struct core *c, struct job *j)
{
	/* Later watchers of the final job share this output, not a copy. */
	if (j->out && j->watchers && !j->out->cached &&
	    !hmap_gets(&c->final_outs, j->row.id) &&
	    hmap_puts(&c->final_outs, j->row.id, j->out) == 0) {
		j->out->cached = true;
		snprintf(j->out->job_id, sizeof j->out->job_id, "%s", j->row.id);
	}
	while (j->watchers) {
		struct watcher *w = j->watchers;
		j->watchers = w->next;
		w->job = NULL;
		w->final = watch_final_copy(&j->row);
		if (!w->final) {
			w->ops->end(w->peer, -ENOMEM, "out of memory");
			w->ended = true;
			continue;
		}
		watch_pump(c, w);
		/* The entry goes when its call is done (core_unwatch). */
	}
}

/* The output of a final job as stored, shared with other watchers. */
static struct outbuf *stored_output(struct core *c, const struct job_row *r)
{
	struct outbuf *o = hmap_gets(&c->final_outs, r->id);
	if (o)
		return outbuf_ref(o);
	if (!(o = outbuf_new()))
		return NULL;
	size_t off = 0;
	/* The chunks as they arrived; a store without their lengths (written
	 * before they were kept) gives one chunk. */
	for (size_t i = 0; i + 4 <= r->output_chunks_len; i += 4) {
		const uint8_t *p = r->output_chunks + i;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (len > r->output_len - off || outbuf_append(o, r->output + off, len) < 0)
			break;
		off += len;
	}
	if (off < r->output_len && outbuf_append(o, r->output + off, r->output_len - off) < 0) {
		outbuf_release(c, o);
		return NULL;
	}
	if (hmap_puts(&c->final_outs, r->id, o) == 0) {
		o->cached = true;
		snprintf(o->job_id, sizeof o->job_id, "%s", r->id);
	}
	return o;
}

struct watcher *watch_add(struct core *c, const struct watch_ops *ops, void *peer,
				   const char *tenant)
{
	struct watcher *w = calloc(1, sizeof *w);
	if (!w || hmap_put(&c->watchers, &peer, sizeof peer, w) < 0) {
		free(w);
		return NULL;
	}
	w->ops = ops;
	w->peer = peer;
	snprintf(w->tenant, sizeof w->tenant, "%s", tenant);
	return w;
}

/* Open watches of a tenant (ended ones linger only until their call is
 * done, and do not count). */
static size_t tenant_watches(struct core *c, const char *tenant)
{
	size_t n = 0, pos = 0;
	struct watcher *w;
	while ((w = hmap_next(&c->watchers, &pos, NULL, NULL)))
		if (!w->ended && !strcmp(w->tenant, tenant))
			n++;
	return n;
}

static int watch_limit_refuse(struct core *c, const char *tenant, char *err, size_t err_size)
{
	core_limit_hit(c, "watches_per_tenant", tenant);
	snprintf(err, err_size, "tenant %s already watches %u jobs (limits.max_watches_per_tenant)",
		 tenant, c->cfg->limits.max_watches_per_tenant);
	return -EDQUOT;
}

int watch_limit(struct core *c, const char *tenant, char *err, size_t err_size)
{
	if (c->cfg->limits.max_watches_per_tenant &&
	    tenant_watches(c, tenant) >= c->cfg->limits.max_watches_per_tenant)
		return watch_limit_refuse(c, tenant, err, err_size);
	return 0;
}

int core_watch(struct core *c, const char *tenant, const char *job_id,
	       const struct watch_ops *ops, void *peer, char *err, size_t err_size)
{
	/* With a shared store a job runs wherever it was claimed: its
	 * watchers follow it in the store. */
	if (c->shared)
		return events_watch(c, tenant, job_id, ops, peer, err, err_size);
	core_lock(c);
	if (c->cfg->limits.max_watches_per_tenant &&
	    tenant_watches(c, tenant) >= c->cfg->limits.max_watches_per_tenant) {
		core_unlock(c);
		return watch_limit_refuse(c, tenant, err, err_size);
	}
	struct job *j = hmap_gets(&c->jobs, job_id);
	if (j && strcmp(j->row.tenant, tenant) == 0) {
		struct watcher *w = watch_add(c, ops, peer, tenant);
		if (!w) {
			core_unlock(c);
			snprintf(err, err_size, "out of memory");
			return -ENOMEM;
		}
		w->job = j;
		w->next = j->watchers;
		j->watchers = w;
		w->out = outbuf_ref(j->out);
		/* The job as it stands, then its output from the first chunk. */
		ops->job(peer, &j->row);
		watch_pump(c, w);
		core_unlock(c);
		return 0;
	}
	/* Final, its end on the way to the store: its output is still here. */
	j = hmap_gets(&c->finishing, job_id);
	if (j && strcmp(j->row.tenant, tenant) == 0) {
		struct watcher *w = watch_add(c, ops, peer, tenant);
		if (w && !(w->final = watch_final_copy(&j->row))) {
			hmap_del(&c->watchers, &peer, sizeof peer);
			free(w);
			w = NULL;
		}
		if (w) {
			/* The output the store keeps, the same later watchers get. */
			if (j->fin_op && j->fin_op->row.output)
				w->out = outbuf_ref(j->out);
			watch_pump(c, w);
		}
		core_unlock(c);
		if (!w) {
			snprintf(err, err_size, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	core_unlock(c);
	/* Final already (or unknown): from the store, outside the lock. */
	struct job_row r;
	if (store_get_job(c->store, tenant, job_id, &r) < 0) {
		snprintf(err, err_size, "no job %s", job_id);
		return -ENOENT;
	}
	core_lock(c);
	/* Checked again: other watches may have opened meanwhile. */
	if (c->cfg->limits.max_watches_per_tenant &&
	    tenant_watches(c, tenant) >= c->cfg->limits.max_watches_per_tenant) {
		core_unlock(c);
		job_row_clear(&r);
		return watch_limit_refuse(c, tenant, err, err_size);
	}
	int e = 0;
	struct watcher *w = watch_add(c, ops, peer, tenant);
	if (w) {
		w->out = r.output_len ? stored_output(c, &r) : NULL;
		w->final = watch_final_copy(&r);
		if (!w->final || (r.output_len && !w->out)) {
			outbuf_release(c, w->out);
			free(w->final);
			hmap_del(&c->watchers, &peer, sizeof peer);
			free(w);
			w = NULL;
		}
	}
	if (w)
		watch_pump(c, w);
	else
		e = -ENOMEM;
	core_unlock(c);
	/* The watcher kept copies: the final row without its blobs, the
	 * output in the shared outbuf. */
	job_row_clear(&r);
	if (e < 0)
		snprintf(err, err_size, "out of memory");
	return e;
}

void core_watch_drain(struct core *c, void *peer)
{
	core_lock(c);
	struct watcher *w = hmap_get(&c->watchers, &peer, sizeof peer);
	if (w)
		watch_pump(c, w);
	core_unlock(c);
}

void core_unwatch(struct core *c, void *peer)
{
	core_lock(c);
	struct watcher *w = hmap_del(&c->watchers, &peer, sizeof peer);
	if (w && w->remote)
		events_unlink(c, w);
	if (w && w->job) {
		for (struct watcher **pp = &w->job->watchers; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
	}
	if (w) {
		outbuf_release(c, w->out);
		if (w->final) {
			job_row_clear(w->final);
			free(w->final);
		}
	}
	core_unlock(c);
	free(w);
}
