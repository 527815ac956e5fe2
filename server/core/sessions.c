/* Island sessions: the life of one Islands/Connect stream. Hello
 * registers the island with its workloads, heartbeats keep it, job
 * messages move its jobs, and losing the stream puts its jobs back in the
 * queue. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

int core_session_open(struct core *c, const struct session_ops *ops, void *peer,
		      const struct island_token_cfg *tok, struct session **ret, char *err,
		      size_t err_size)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->peer = peer;
	s->token = tok;
	enc_random_id("s_", s->session_id, sizeof s->session_id);
	s->connected_ms = s->last_seen_ms = time_now_ms();
	s->state = ISLAND_UNATTESTED;
	core_lock(c);
	/* Every stream counts, said hello or not: silent ones too. */
	if (c->n_sessions >= c->cfg->limits.max_islands) {
		core_unlock(c);
		free(s);
		snprintf(err, err_size, "the coordinator holds its maximum of %u island streams",
			 c->cfg->limits.max_islands);
		return -EDQUOT;
	}
	s->snext = c->sessions;
	if (c->sessions)
		c->sessions->sprev = s;
	c->sessions = s;
	c->n_sessions++;
	core_unlock(c);
	*ret = s;
	return 0;
}

/* Put s in the registry under its id. */
static int register_session(struct core *c, struct session *s)
{
	if (hmap_puts(&c->islands, s->id, s) < 0)
		return -ENOMEM;
	s->registered = true;
	return 0;
}

void session_drop(struct core *c, struct session *s, const char *why)
{
	if (s->pending && hmap_gets(&c->pending, s->id) == s)
		hmap_dels(&c->pending, s->id);
	s->pending = false;
	session_unattested(c, s);
	if (!s->registered)
		return;
	s->registered = false;
	if (hmap_gets(&c->islands, s->id) == s)
		hmap_dels(&c->islands, s->id);
	session_refresh(c, s);
	char reason[700];
	snprintf(reason, sizeof reason, "island %s: %s", s->id, why);
	while (s->jobs)
		job_requeue(c, s->jobs, s, reason);
	log_info("island %s left: %s", s->id, why);
	/* A stream that was waiting to replace this one takes its place. */
	struct session *next = hmap_dels(&c->pending, s->id);
	if (next) {
		next->pending = false;
		if (register_session(c, next) == 0) {
			session_refresh(c, next);
			session_fill(c, next);
		}
	}
}

int session_attested(struct core *c, struct session *s, char *why, size_t why_size)
{
	struct session *owner = hmap_get(&c->by_key, s->enclave_pub, CORE_KEY_LEN);
	struct session *old = s->pending ? hmap_gets(&c->islands, s->id) : NULL;
	if (owner && owner != s && owner != old) {
		snprintf(why, why_size, "enclave key already attested by island %s", owner->id);
		return -EEXIST;
	}
	if (s->pending) {
		hmap_dels(&c->pending, s->id);
		s->pending = false;
		if (old) {
			session_drop(c, old, "replaced by a newly attested stream");
			old->ops->close(old->peer, -ECONNABORTED, "replaced by a newly attested stream");
		}
		if (register_session(c, s) < 0) {
			snprintf(why, why_size, "out of memory");
			return -ENOMEM;
		}
	}
	if (owner != s && hmap_put(&c->by_key, s->enclave_pub, CORE_KEY_LEN, s) < 0) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void session_unattested(struct core *c, struct session *s)
{
	if (s->has_pub && hmap_get(&c->by_key, s->enclave_pub, CORE_KEY_LEN) == s)
		hmap_del(&c->by_key, s->enclave_pub, CORE_KEY_LEN);
}

static void refuse(struct session *s, int err, const char *msg)
{
	log_warn("island stream %s refused: %s", s->session_id, msg);
	s->closing = true;
	s->ops->close(s->peer, err, msg);
}

/* Workloads: accept those the coordinator knows, in the modes both sides
 * allow; verdicts[i] says why not. */
static int accept_offers(struct core *c, struct session *s, const struct core_hello *h,
			 struct core_workload_verdict *verdicts, char (*reasons)[160])
{
	s->offers = calloc(h->n_offers + 1, sizeof *s->offers);
	if (!s->offers)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_offers; i++) {
		const struct core_offer *o = &h->offers[i];
		verdicts[i] = (struct core_workload_verdict){ o->workload_id, false, reasons[i] };
		const struct workload_cfg *wl = coord_config_workload(c->cfg, o->workload_id);
		uint32_t modes = o->modes & (ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) |
					     ATOLL_MODE_BIT(ATOLL_MODE_TEE) |
					     ATOLL_MODE_BIT(ATOLL_MODE_HOMOMORPHIC));
		if (!wl) {
			snprintf(reasons[i], sizeof reasons[i], "unknown workload %u", o->workload_id);
			continue;
		}
		if (session_offer(s, o->workload_id)) {
			snprintf(reasons[i], sizeof reasons[i], "workload %u offered twice",
				 o->workload_id);
			continue;
		}
		if (!(modes & wl->modes)) {
			snprintf(reasons[i], sizeof reasons[i],
				 "workload %u runs in none of the offered modes here", o->workload_id);
			continue;
		}
		if ((modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE)) && !s->tee_type[0])
			modes &= ~ATOLL_MODE_BIT(ATOLL_MODE_TEE);
		struct offer *of = &s->offers[s->n_offers++];
		of->workload_id = o->workload_id;
		of->modes = modes & wl->modes;
		of->wl = wl;
		of->heap_pos[0] = of->heap_pos[1] = SIZE_MAX;
		verdicts[i].accepted = true;
	}
	return 0;
}

static void on_hello(struct core *c, struct session *s, const struct core_hello *h)
{
	char msg[512];
	size_t id_len = strlen(h->island_id);
	if (!id_len || id_len > CORE_ISLAND_ID_MAX) {
		refuse(s, -EINVAL, "hello: island_id must be 1 to 127 characters");
		return;
	}
	if (h->slots < 1 || h->slots > 1024) {
		refuse(s, -EINVAL, "hello: slots must be between 1 and 1024");
		return;
	}
	if (strlen(h->tee_type) >= sizeof s->tee_type) {
		refuse(s, -EINVAL, "hello: tee_type too long");
		return;
	}
	if (h->tee_type[0] && h->enclave_pub_len != CORE_KEY_LEN) {
		refuse(s, -EINVAL, "hello: an island with a TEE must send its 32-byte enclave key");
		return;
	}
	if (!island_token_allows(s->token, h->island_id)) {
		snprintf(msg, sizeof msg,
			 "hello: island token '%s' may not connect as island '%.127s' "
			 "(islands.tokens[].island_ids)",
			 s->token->name, h->island_id);
		refuse(s, -EACCES, msg);
		return;
	}
	snprintf(s->id, sizeof s->id, "%s", h->island_id);
	s->slots = h->slots;
	snprintf(s->tee_type, sizeof s->tee_type, "%s", h->tee_type);
	if (h->enclave_pub_len == CORE_KEY_LEN) {
		memcpy(s->enclave_pub, h->enclave_pub, CORE_KEY_LEN);
		s->has_pub = true;
	}
	/* An attested island is not displaced by a stream that merely says
	 * its id: the newcomer must attest first. */
	struct session *old = hmap_gets(&c->islands, s->id);
	bool wait = old && old != s && old->state == ISLAND_ATTESTED;
	if (wait && !s->tee_type[0]) {
		snprintf(msg, sizeof msg, "island %s is attested on another stream; only a stream "
			 "that attests can replace it", s->id);
		refuse(s, -EEXIST, msg);
		return;
	}
	struct core_workload_verdict *verdicts = calloc(h->n_offers + 1, sizeof *verdicts);
	char (*reasons)[160] = calloc(h->n_offers + 1, sizeof *reasons);
	if (!verdicts || !reasons || accept_offers(c, s, h, verdicts, reasons) < 0) {
		refuse(s, -ENOMEM, "out of memory");
		goto out;
	}
	if (wait) {
		struct session *earlier = hmap_dels(&c->pending, s->id);
		if (earlier) {
			earlier->pending = false;
			earlier->ops->close(earlier->peer, -ECONNABORTED,
					    "replaced by a newer stream for the same island");
		}
		if (hmap_puts(&c->pending, s->id, s) < 0) {
			refuse(s, -ENOMEM, "out of memory");
			goto out;
		}
		s->pending = true;
	} else {
		if (old && old != s) {
			session_drop(c, old, "replaced by a new session");
			old->ops->close(old->peer, -ECONNABORTED, "replaced by a new session");
		}
		if (register_session(c, s) < 0) {
			refuse(s, -ENOMEM, "out of memory");
			goto out;
		}
	}
	s->hello = true;
	struct core_welcome w = {
		.session_id = s->session_id,
		.heartbeat_interval_ms = c->cfg->islands.heartbeat_interval_ms,
		.workloads = verdicts,
		.n_workloads = h->n_offers,
	};
	s->ops->welcome(s->peer, &w);
	log_info("island %s joined (%u slots, %zu workload(s), tee %s, session %s%s)", s->id,
		 s->slots, s->n_offers, s->tee_type[0] ? s->tee_type : "none", s->session_id,
		 s->pending ? ", replaces the attested stream once it attests" : "");
	if (s->tee_type[0])
		attest_start(c, s);
	session_refresh(c, s);
	session_fill(c, s);
out:
	free(verdicts);
	free(reasons);
}

/* Lock the core for a message on s; false (unlocked) when the message is
 * to be ignored or refused. */
static bool enter(struct core *c, struct session *s)
{
	core_lock(c);
	s->last_seen_ms = time_now_ms();
	if (!s->hello) {
		refuse(s, -EINVAL, "the first message on Islands/Connect must be hello");
		core_unlock(c);
		return false;
	}
	if (!s->registered && !s->pending) {
		core_unlock(c); /* dropped: ignore until the stream ends */
		return false;
	}
	return true;
}

void core_session_hello(struct core *c, struct session *s, const struct core_hello *h)
{
	core_lock(c);
	s->last_seen_ms = time_now_ms();
	if (s->hello) {
		if (s->registered || s->pending)
			refuse(s, -EINVAL, "hello was already received on this stream");
	} else {
		on_hello(c, s, h);
	}
	core_unlock(c);
}

void core_session_heartbeat(struct core *c, struct session *s)
{
	if (enter(c, s))
		core_unlock(c);
}

void core_session_evidence(struct core *c, struct session *s, const struct attest_input *ev)
{
	if (!enter(c, s))
		return;
	attest_evidence(c, s, ev);
	core_unlock(c);
}

void core_session_invalid(struct core *c, struct session *s, const char *why)
{
	if (!enter(c, s))
		return;
	refuse(s, -EINVAL, why);
	core_unlock(c);
}

/* The job a message is about, if this island still holds that attempt;
 * NULL for late or foreign messages (ignored). */
static struct job *held_job(struct core *c, struct session *s, const char *id, uint32_t attempt)
{
	struct job *j = hmap_gets(&c->jobs, id);
	if (!j || j->island != s || j->row.attempts != attempt || j->row.state != JOB_RUNNING)
		return NULL;
	return j;
}

void core_session_started(struct core *c, struct session *s, const char *job_id,
			  uint32_t attempt, int64_t started_ms)
{
	if (!enter(c, s))
		return;
	struct job *j = held_job(c, s, job_id, attempt);
	if (j) {
		j->row.started_ms = started_ms ? started_ms : time_now_ms();
		watch_notify_state(j);
	}
	core_unlock(c);
}

void core_session_output(struct core *c, struct session *s, const char *job_id,
			 uint32_t attempt, const uint8_t *data, size_t len)
{
	if (!enter(c, s))
		return;
	struct job *j = held_job(c, s, job_id, attempt);
	if (!j)
		goto out;
	if (j->out->data.len + len > c->cfg->limits.max_output_bytes) {
		char err[128];
		snprintf(err, sizeof err, "output larger than %zu bytes (limits.max_output_bytes)",
			 (size_t)c->cfg->limits.max_output_bytes);
		core_limit_hit(c, "output_bytes", j->row.id);
		job_cancel_on_island(j, err);
		job_finish(c, j, JOB_FAILED, err);
		goto out;
	}
	if (outbuf_append(j->out, data, len) < 0) {
		job_finish(c, j, JOB_FAILED, "out of memory collecting output");
		goto out;
	}
	if (c->shared)
		claim_output(c, j);
	watch_notify_chunk(c, j);
out:
	core_unlock(c);
}

void core_session_result(struct core *c, struct session *s, const char *job_id,
			 uint32_t attempt, bool ok, const char *error)
{
	if (!enter(c, s))
		return;
	struct job *j = held_job(c, s, job_id, attempt);
	/* A late or duplicate result: the job has one final result already. */
	if (j) {
		char err[1200];
		if (ok) {
			job_finish(c, j, JOB_COMPLETED, NULL);
		} else if (time_now_ms() >= j->row.deadline_ms) {
			/* The island stopped it for the deadline just before we did. */
			job_deadline_error(j, err, sizeof err);
			job_finish(c, j, JOB_FAILED, err);
		} else {
			snprintf(err, sizeof err, "island %s: %s", s->id,
				 error && error[0] ? error : "the job failed");
			job_finish(c, j, JOB_FAILED, err);
		}
	}
	core_unlock(c);
}

void core_session_hand_back(struct core *c, struct session *s, const char *job_id,
			    uint32_t attempt, const char *reason)
{
	if (!enter(c, s))
		return;
	struct job *j = held_job(c, s, job_id, attempt);
	if (j) {
		char why[700];
		snprintf(why, sizeof why, "island %s handed the job back: %s", s->id,
			 reason && reason[0] ? reason : "no reason");
		/* Give the island a moment before offering it more work. */
		s->pause_until_ms = time_now_ms() + 1000;
		job_requeue(c, j, s, why);
		session_refresh(c, s);
	}
	core_unlock(c);
}

void core_session_close(struct core *c, struct session *s)
{
	core_lock(c);
	session_drop(c, s, "stream closed");
	if (s->sprev)
		s->sprev->snext = s->snext;
	else
		c->sessions = s->snext;
	if (s->snext)
		s->snext->sprev = s->sprev;
	c->n_sessions--;
	core_unlock(c);
	attest_forget(s);
	free(s->offers);
	free(s);
}
