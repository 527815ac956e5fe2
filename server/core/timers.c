/* The core's clock: one thread that fails jobs past their deadline, drops
 * islands whose heartbeats stopped, ends hand-back pauses and drives the
 * attestation timers, every TICK_MS. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>

#include "util/timeutil.h"

#define TICK_MS 100
#define ISLAND_SCAN_MS 200
#define MAX_STALE_PER_TICK 64

static void tick(struct core *c, int64_t now)
{
	while (c->n_deadlines && c->deadlines[0]->row.deadline_ms <= now) {
		struct job *j = c->deadlines[0];
		char err[200];
		job_deadline_error(j, err, sizeof err);
		job_cancel_on_island(j, err);
		job_finish(c, j, JOB_FAILED, err);
	}
	if (now - c->last_island_scan_ms < ISLAND_SCAN_MS)
		return;
	c->last_island_scan_ms = now;
	struct session *stale[MAX_STALE_PER_TICK];
	bool silent[MAX_STALE_PER_TICK];
	size_t n_stale = 0;
	/* Every stream: a silent one must say hello in time, and every one
	 * must keep up its heartbeats. */
	for (struct session *s = c->sessions; s; s = s->snext) {
		if (s->closing)
			continue;
		bool no_hello = !s->hello && now - s->connected_ms > c->cfg->islands.hello_timeout_ms;
		bool quiet = s->hello && now - s->last_seen_ms > c->cfg->islands.heartbeat_timeout_ms;
		if ((no_hello || quiet) && n_stale < MAX_STALE_PER_TICK) {
			silent[n_stale] = no_hello;
			stale[n_stale++] = s;
			continue;
		}
		if (!s->registered && !s->pending)
			continue;
		if (s->pause_until_ms && now >= s->pause_until_ms) {
			s->pause_until_ms = 0;
			session_refresh(c, s);
			session_fill(c, s);
		}
		attest_tick(c, s, now);
	}
	for (size_t i = 0; i < n_stale; i++) {
		char msg[128];
		if (silent[i])
			snprintf(msg, sizeof msg, "no hello within %lld ms",
				 (long long)c->cfg->islands.hello_timeout_ms);
		else
			snprintf(msg, sizeof msg, "no heartbeat for %lld ms",
				 (long long)(now - stale[i]->last_seen_ms));
		session_drop(c, stale[i], msg);
		stale[i]->closing = true;
		stale[i]->ops->close(stale[i]->peer, silent[i] ? -ETIMEDOUT : -ENOTCONN, msg);
	}
}

static void *timer_thread(void *arg)
{
	struct core *c = arg;
	core_lock(c);
	while (!c->stopping) {
		tick(c, time_now_ms());
		/* The wait releases the lock: not held meanwhile. */
		c->lock_hold_ns += time_mono_ns() - c->lock_since_ns;
		time_cond_wait_ms(&c->cond, &c->mu, TICK_MS);
		c->lock_since_ns = time_mono_ns();
	}
	core_unlock(c);
	return NULL;
}

int core_start(struct core *c)
{
	if (pthread_create(&c->timer, NULL, timer_thread, c) != 0)
		return -EAGAIN;
	c->timer_started = true;
	if (c->shared) {
		if (claim_start(c) < 0)
			return -EAGAIN;
		if (events_start(c) < 0) {
			claim_stop(c);
			return -EAGAIN;
		}
		c->shared_started = true;
	}
	return 0;
}
