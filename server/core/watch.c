/* Watchers of a job: each gets the job when it starts watching, the output
 * of the current attempt so far, then every state change and chunk, and
 * the end when the job is final. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void watch_notify_state(struct job *j)
{
	for (struct watcher *w = j->watchers; w; w = w->next)
		w->ops->job(w->peer, &j->row);
}

void watch_notify_chunk(struct job *j, uint64_t seq, const uint8_t *data, size_t len)
{
	for (struct watcher *w = j->watchers; w; w = w->next)
		w->ops->chunk(w->peer, seq, data, len);
}

void watch_end_all(struct job *j)
{
	while (j->watchers) {
		struct watcher *w = j->watchers;
		j->watchers = w->next;
		w->ops->end(w->peer, 0, NULL);
		/* The entry goes when its call is done (core_unwatch). */
		w->job = NULL;
	}
}

int core_watch(struct core *c, const char *tenant, const char *job_id,
	       const struct watch_ops *ops, void *peer, char *err, size_t err_size)
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
		ops->job(peer, &r);
		ops->end(peer, 0, NULL);
		job_row_clear(&r);
		return 0;
	}
	struct watcher *w = calloc(1, sizeof *w);
	if (!w || hmap_put(&c->watchers, &peer, sizeof peer, w) < 0) {
		free(w);
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	w->ops = ops;
	w->peer = peer;
	w->job = j;
	w->next = j->watchers;
	j->watchers = w;
	/* The job as it stands, and the output of the current attempt so far. */
	ops->job(peer, &j->row);
	if (j->output.len)
		ops->chunk(peer, 0, j->output.data, j->output.len);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void core_unwatch(struct core *c, void *peer)
{
	pthread_mutex_lock(&c->mu);
	struct watcher *w = hmap_del(&c->watchers, &peer, sizeof peer);
	if (w && w->job) {
		for (struct watcher **pp = &w->job->watchers; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
	}
	pthread_mutex_unlock(&c->mu);
	free(w);
}
