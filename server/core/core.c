/* Building, shutting down and freeing the core. */
#include "core/internal.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int core_new(const struct coord_config *cfg, struct store *st,
	     const struct attest_verifier *verifier, struct core **ret, char *err,
	     size_t err_size)
{
	struct core *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->started_ns = time_mono_ns();
	c->policy = &cfg->attest.policy;
	c->store = st;
	c->verifier = verifier;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->lmu, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_mutex_init(&c->kmu, NULL);
	pthread_cond_init(&c->kcond, NULL);
	c->shared = store_shared(st);
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
	int e = store_writer_start(st, &c->writer);
	if (e < 0) {
		snprintf(err, err_size, "cannot start the store writer");
		core_free(c);
		return e;
	}
	/* A shared store's jobs are claimed, not recovered: those a
	 * coordinator held come back when their leases run out. */
	e = c->shared ? 0 : core_recover(c, err, err_size);
	if (e < 0) {
		core_free(c);
		return e;
	}
	*ret = c;
	return 0;
}

void core_shutdown(void *arg)
{
	struct core *c = arg;
	core_lock(c);
	c->shut = true;
	for (struct session *s = c->sessions; s; s = s->snext)
		s->ops->close(s->peer, -ESHUTDOWN, "the coordinator is shutting down");
	size_t pos = 0;
	struct watcher *w;
	while ((w = hmap_next(&c->watchers, &pos, NULL, NULL)))
		w->ops->end(w->peer, -ESHUTDOWN, "the coordinator is shutting down");
	pos = 0;
	struct job *j;
	while ((j = hmap_next(&c->jobs, &pos, NULL, NULL)))
		job_answer_shutdown(j);
	events_shutdown(c);
	core_unlock(c);
}

void core_lock_stats(struct core *c, struct core_lock_stats *out)
{
	core_lock(c);
	*out = (struct core_lock_stats){
		.acquisitions = c->lock_n,
		.contended = c->lock_contended,
		.wait_ns = c->lock_wait_ns,
		.hold_ns = c->lock_hold_ns,
		.uptime_ns = time_mono_ns() - c->started_ns,
	};
	core_unlock(c);
}

void core_stop(struct core *c, int64_t patience_ms)
{
	if (!c)
		return;
	if (c->writer) {
		struct core_lock_stats ls;
		core_lock_stats(c, &ls);
		double up = ls.uptime_ns > 0 ? (double)ls.uptime_ns : 1;
		log_info("core lock: %llu acquisitions, %.1f%% contended, waited %.1f%% and held "
			 "%.1f%% of %.1f s",
			 (unsigned long long)ls.acquisitions,
			 ls.acquisitions ? 100.0 * (double)ls.contended / (double)ls.acquisitions : 0.0,
			 100.0 * (double)ls.wait_ns / up, 100.0 * (double)ls.hold_ns / up, up / 1e9);
	}
	if (c->shared_started) {
		claim_stop(c);
		events_stop(c);
		c->shared_started = false;
	}
	if (c->timer_started) {
		core_lock(c);
		c->stopping = true;
		pthread_cond_broadcast(&c->cond);
		core_unlock(c);
		pthread_join(c->timer, NULL);
		c->timer_started = false;
	}
	/* The writer's callbacks take the lock: not held here. */
	store_writer_stop(c->writer, patience_ms);
	c->writer = NULL;
}

void core_free(struct core *c)
{
	if (!c)
		return;
	core_stop(c, 0);
	/* Active jobs stay in the store; free their memory. */
	size_t pos = 0;
	struct job *j;
	while ((j = hmap_next(&c->jobs, &pos, NULL, NULL))) {
		tq_unlink(c, j);
		job_free(c, j);
	}
	hmap_free(&c->jobs);
	pos = 0;
	while ((j = hmap_next(&c->finishing, &pos, NULL, NULL)))
		job_free(c, j);
	hmap_free(&c->finishing);
	pos = 0;
	while ((j = hmap_next(&c->inserting, &pos, NULL, NULL)))
		job_free(c, j);
	hmap_free(&c->inserting);
	events_shutdown(c);
	fleet_free(c);
	hmap_free(&c->idem);
	hmap_free(&c->islands);
	hmap_free(&c->pending);
	hmap_free(&c->by_key);
	pos = 0;
	struct tee_queue *q;
	while ((q = hmap_next(&c->tee_queues, &pos, NULL, NULL)))
		free(q);
	hmap_free(&c->tee_queues);
	hmap_free(&c->watchers);
	hmap_free(&c->final_outs);
	hmap_free(&c->tenant_jobs);
	hmap_free(&c->wl_index);
	for (size_t i = 0; c->pools && i < c->cfg->n_workloads * 2; i++)
		free(c->pools[i].heap);
	free(c->pools);
	free(c->deadlines);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->lmu);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->kmu);
	pthread_cond_destroy(&c->kcond);
	free(c);
}
