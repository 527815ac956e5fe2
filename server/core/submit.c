/* Submitting a job: the checks that need the store (keys, envelopes) or
 * the core (limits, idempotency), routing it at once, and answering the
 * SubmitJob call once its insert is durable. A job whose insert cannot be
 * stored is forgotten: it is cancelled where it runs and its caller gets
 * UNAVAILABLE (never an answer for a job the store does not have). */
#include "core/internal.h"
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/envelope.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_TIMEOUT_MS (7LL * 86400000)
/* How long an insert may keep failing before its caller is told. */
#define INSERT_PATIENCE_MS 5000

/* The numbers of atoll.v1.KeyAlgorithm. */
enum { KEY_X25519_HPKE = 1, KEY_PAILLIER = 2 };

size_t idem_key(const char *tenant, const char *key, char *out, size_t out_size)
{
	int n = snprintf(out, out_size, "%s%c%s", tenant, 0, key);
	return n < 0 ? 0 : (size_t)n < out_size ? (size_t)n : out_size - 1;
}

/* A TEE job's envelope against the tenant's registered key; keeps its
 * recipients for routing. */
static int check_envelope(struct core *c, const char *tenant, const struct core_submit *req,
			  struct job *j, char *err, size_t err_size)
{
	const char *key_id = req->key_id;
	struct key_row k;
	if (store_get_key(c->store, tenant, key_id, &k) < 0) {
		snprintf(err, err_size, "unknown key %s", key_id);
		return -ENOENT;
	}
	int e = 0;
	struct env_input_info info;
	int r = env_inspect_input(req->input, req->input_len, &info);
	if (k.algorithm != KEY_X25519_HPKE || k.public_key_len != CORE_KEY_LEN) {
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
	} else if (CRYPTO_memcmp(info.client_pub, k.public_key, CORE_KEY_LEN) != 0) {
		snprintf(err, err_size, "the envelope seals output to another key than %s", key_id);
		e = -EINVAL;
	} else {
		j->recipients = malloc(info.n_recipients * CORE_KEY_LEN);
		if (!j->recipients) {
			e = -ENOMEM;
		} else {
			memcpy(j->recipients, info.recipients, info.n_recipients * CORE_KEY_LEN);
			j->n_recipients = info.n_recipients;
			memcpy(j->row.client_pub, k.public_key, CORE_KEY_LEN);
			j->row.has_client_pub = true;
			snprintf(j->row.key_id, sizeof j->row.key_id, "%s", key_id);
		}
	}
	key_row_clear(&k);
	return e;
}

static int check_homomorphic(struct core *c, const char *tenant, const struct core_submit *req,
			     char *err, size_t err_size)
{
	if (!req->key_id[0])
		return 0;
	struct key_row k;
	if (store_get_key(c->store, tenant, req->key_id, &k) < 0) {
		snprintf(err, err_size, "unknown key %s", req->key_id);
		return -ENOENT;
	}
	int e = 0;
	if (k.algorithm != KEY_PAILLIER) {
		snprintf(err, err_size, "key %s is not a Paillier key", req->key_id);
		e = -EINVAL;
	} else if (req->he_public_key_len &&
		   (req->he_public_key_len != k.public_key_len ||
		    memcmp(req->he_public_key, k.public_key, k.public_key_len) != 0)) {
		snprintf(err, err_size, "input.homomorphic.public_key is not key %s", req->key_id);
		e = -EINVAL;
	}
	key_row_clear(&k);
	return e;
}

static int add_waiter(struct submit_waiter **list, core_submit_cb cb, void *ud, bool want_final)
{
	struct submit_waiter *w = malloc(sizeof *w);
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->ud = ud;
	w->want_final = want_final;
	w->next = *list;
	*list = w;
	return 0;
}

void job_answer_final(struct core *c, struct job *j)
{
	(void)c;
	struct submit_waiter *ws = j->final_waiters;
	j->final_waiters = NULL;
	if (!ws)
		return;
	struct job_row snap;
	int e = job_snapshot(j, &snap);
	while (ws) {
		struct submit_waiter *next = ws->next;
		ws->cb(ws->ud, e, e == 0 ? &snap : NULL, e == 0 ? "" : "out of memory");
		free(ws);
		ws = next;
	}
	if (e == 0)
		job_row_clear(&snap);
}

void job_answer_shutdown(struct job *j)
{
	while (j->final_waiters) {
		struct submit_waiter *w = j->final_waiters;
		j->final_waiters = w->next;
		w->cb(w->ud, -ESHUTDOWN, NULL,
		      "the coordinator is shutting down; the job was accepted and carries on");
		free(w);
	}
}

void idem_forget(struct core *c, struct job *j)
{
	if (!j->row.idempotency_key[0])
		return;
	char k[300];
	size_t kl = idem_key(j->row.tenant, j->row.idempotency_key, k, sizeof k);
	if (hmap_get(&c->idem, k, kl) == j)
		hmap_del(&c->idem, k, kl);
}

/* A shared store's insert is done (landed or not): the job leaves
 * c->inserting. A job of the same id in c->jobs is another struct: the
 * copy this coordinator claimed from the store meanwhile. */
static void drop_inserting(struct core *c, struct job *j)
{
	hmap_dels(&c->inserting, j->row.id);
	idem_forget(c, j);
	job_free(c, j);
}

/* A shared store took the job: it waits there for a claimer, and the
 * submits that want its end wait for that in the store. */
static void inserted_shared(struct core *c, struct job *j)
{
	if (j->final_waiters && events_wait_final(c, j->row.id, j->final_waiters) == 0)
		j->final_waiters = NULL;
	job_answer_final(c, j); /* out of memory: answered as it stands */
	drop_inserting(c, j);
}

/* An active job the store never took: stop it and drop it (one
 * coordinator: a shared store's jobs run only once stored). */
static void forget(struct core *c, struct job *j, const char *why)
{
	struct session *s = j->island;
	job_cancel_on_island(j, why);
	job_detach(c, j);
	fifo_remove(j);
	tq_unlink(c, j);
	deadline_remove(c, j);
	if (hmap_dels(&c->jobs, j->row.id))
		tenant_count(c, j->row.tenant, -1);
	idem_forget(c, j);
	for (struct watcher *w = j->watchers; w; w = w->next) {
		w->ops->end(w->peer, -EIO, why);
		w->ended = true;
		w->job = NULL;
	}
	j->watchers = NULL;
	job_free(c, j);
	if (s)
		session_fill(c, s);
}

/* Waiters that want the end of an active job move on to wait for it; the
 * others are answered now. Lock held. */
static struct submit_waiter *split_final(struct job *j, struct submit_waiter *ws)
{
	struct submit_waiter *now = NULL;
	while (ws) {
		struct submit_waiter *next = ws->next;
		if (ws->want_final && !j->fin_op) {
			ws->next = j->final_waiters;
			j->final_waiters = ws;
		} else {
			ws->next = now;
			now = ws;
		}
		ws = next;
	}
	return now;
}

/* The insert landed (or not): answer everyone waiting on it. */
static void insert_done(struct store_op *op, int err, void *ud)
{
	struct core *c = ud;
	struct job_row snap = { 0 };
	char msg[256] = "";
	core_lock(c);
	struct job *j;
	if (c->shared) {
		j = hmap_gets(&c->inserting, op->row.id);
	} else if (!(j = hmap_gets(&c->jobs, op->row.id))) {
		j = hmap_gets(&c->finishing, op->row.id);
	}
	struct submit_waiter *ws = j ? j->waiters : NULL;
	if (j)
		j->waiters = NULL;
	int e = err;
	if (j && err == 0) {
		j->stored = true;
		ws = split_final(j, ws);
		e = ws ? job_snapshot(j, &snap) : 0;
		if (c->shared)
			inserted_shared(c, j);
	} else if (err == -EEXIST) {
		/* Another submit with the key got there first (the checks
		 * above make this rare): answer with its job. */
		snap = op->existing;
		memset(&op->existing, 0, sizeof op->existing);
		e = 0;
	}
	if (j && err < 0) {
		if (c->shared)
			drop_inserting(c, j);
		else if (!j->fin_op)
			forget(c, j, "the coordinator could not store the job");
	}
	core_unlock(c);
	if (err == -ETIMEDOUT) {
		/* Sent, and the writer stopped before the store said whether
		 * it landed (only a shared store can leave this open). */
		log_error("store: job %s may or may not have been stored; its caller is told",
			  op->row.id);
		snprintf(msg, sizeof msg, "the coordinator stopped before the job store confirmed "
					  "the job; submit again with the same idempotency_key to "
					  "find out");
	} else if (err < 0 && err != -EEXIST) {
		log_error("store: job %s was not stored; its caller is told", op->row.id);
		snprintf(msg, sizeof msg, "the job store is not writable; nothing was submitted, "
					  "try again");
		e = err == -ESHUTDOWN ? -ESHUTDOWN : -EAGAIN;
	} else if (e < 0) {
		snprintf(msg, sizeof msg, "out of memory");
	}
	while (ws) {
		struct submit_waiter *next = ws->next;
		ws->cb(ws->ud, e, e == 0 ? &snap : NULL, msg);
		free(ws);
		ws = next;
	}
	job_row_clear(&snap);
	free(op);
}

int core_submit_async(struct core *c, const char *tenant, const struct core_submit *req,
		      core_submit_cb cb, void *ud, char *err, size_t err_size)
{
	const struct workload_cfg *wl = coord_config_workload(c->cfg, req->workload_id);
	if (!wl) {
		snprintf(err, err_size, "unknown workload %u", req->workload_id);
		return -ENOENT;
	}
	if (!(wl->modes & ATOLL_MODE_BIT(req->mode))) {
		snprintf(err, err_size, "workload %u (%s) does not run in %s mode", wl->id, wl->name,
			 atoll_mode_name(req->mode));
		return -EINVAL;
	}
	const char *idem = req->idempotency_key ? req->idempotency_key : "";
	if (strlen(idem) >= sizeof ((struct job_row *)0)->idempotency_key) {
		snprintf(err, err_size, "idempotency_key is longer than 127 bytes");
		return -EINVAL;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j || !(j->out = outbuf_new())) {
		free(j);
		return -ENOMEM;
	}
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
	r->mode = req->mode;
	r->confidential = req->confidential || req->mode != ATOLL_MODE_PLAIN;
	r->state = JOB_PENDING;
	r->created_ms = time_now_ms();
	int64_t timeout = req->timeout_seconds ? (int64_t)req->timeout_seconds * 1000 : wl->timeout_ms;
	r->deadline_ms = r->created_ms + (timeout > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : timeout);
	snprintf(r->idempotency_key, sizeof r->idempotency_key, "%s", idem);
	if (req->mode == ATOLL_MODE_TEE) {
		if ((e = check_envelope(c, tenant, req, j, err, err_size)) < 0)
			goto fail;
	} else if (req->mode == ATOLL_MODE_HOMOMORPHIC) {
		if ((e = check_homomorphic(c, tenant, req, err, err_size)) < 0)
			goto fail;
		snprintf(r->key_id, sizeof r->key_id, "%s", req->key_id);
	}
	r->input = malloc(req->input_len + 1);
	if (!r->input) {
		e = -ENOMEM;
		goto fail;
	}
	memcpy(r->input, req->input, req->input_len);
	r->input_len = req->input_len;

	core_lock(c);
	if (c->shut) {
		core_unlock(c);
		snprintf(err, err_size, "the coordinator is shutting down");
		e = -ESHUTDOWN;
		goto fail;
	}
	if (c->jobs.count >= c->cfg->limits.max_queued_jobs) {
		core_unlock(c);
		core_limit_hit(c, "queued_jobs", tenant);
		snprintf(err, err_size, "the queue is full (%u active jobs)",
			 c->cfg->limits.max_queued_jobs);
		e = -EAGAIN;
		goto fail;
	}
	if (tenant_active(c, tenant) >= c->cfg->limits.max_active_jobs_per_tenant) {
		core_unlock(c);
		core_limit_hit(c, "active_jobs_per_tenant", tenant);
		snprintf(err, err_size,
			 "tenant %s has %u jobs not yet final (limits.max_active_jobs_per_tenant)",
			 tenant, c->cfg->limits.max_active_jobs_per_tenant);
		e = -EDQUOT;
		goto fail;
	}
	/* Idempotency: a job with the key is in memory until its end is
	 * stored, and in the store from its insert on; both are looked at
	 * under the lock, so two submits with one key make one job. */
	char ik[300];
	size_t ikl = idem[0] ? idem_key(tenant, idem, ik, sizeof ik) : 0;
	if (ikl) {
		struct job *prev = hmap_get(&c->idem, ik, ikl);
		struct job_row existing;
		if (prev && (!prev->stored || (req->wait_final && !prev->fin_op))) {
			e = add_waiter(prev->stored ? &prev->final_waiters : &prev->waiters, cb, ud,
				       req->wait_final);
			core_unlock(c);
			job_free(c, j); /* never shared: no lock needed */
			if (e < 0)
				snprintf(err, err_size, "out of memory");
			return e;
		}
		e = prev ? job_snapshot(prev, &existing)
			 : store_find_idempotent(c->store, tenant, idem, &existing);
		if (e == 0 && c->shared && req->wait_final && existing.state < JOB_COMPLETED) {
			/* The job is in the store, not final: wait for its end. */
			struct submit_waiter *w = NULL;
			if ((e = add_waiter(&w, cb, ud, true)) == 0 &&
			    (e = events_wait_final(c, existing.id, w)) < 0)
				free(w);
			core_unlock(c);
			job_free(c, j); /* never shared: no lock needed */
			job_row_clear(&existing);
			if (e < 0)
				snprintf(err, err_size, "out of memory");
			return e;
		}
		if (e != -ENOENT) {
			core_unlock(c);
			job_free(c, j); /* never shared: no lock needed */
			if (e < 0) {
				snprintf(err, err_size, "cannot read the job store");
				return e == -ENOMEM ? e : -EAGAIN;
			}
			cb(ud, 0, &existing, "");
			job_row_clear(&existing);
			return 0;
		}
	}
	struct store_op *op = calloc(1, sizeof *op);
	if (!op || add_waiter(&j->waiters, cb, ud, req->wait_final) < 0 ||
	    hmap_puts(c->shared ? &c->inserting : &c->jobs, r->id, j) < 0) {
		core_unlock(c);
		free(op);
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
		goto fail;
	}
	if (c->shared) {
		/* Into the store's queue: a coordinator with a free island
		 * claims it from there (this one too). */
		if (ikl && hmap_put(&c->idem, ik, ikl, j) < 0)
			log_error("out of memory tracking %s", r->id);
		r->state = JOB_QUEUED;
		op->kind = STORE_OP_INSERT_JOB;
		op->row = *r;
		op->row.recipients = (uint8_t *)j->recipients;
		op->row.n_recipients = j->n_recipients;
		op->patience_ms = INSERT_PATIENCE_MS;
		op->done = insert_done;
		op->ud = c;
		store_writer_push(c->writer, op);
		core_unlock(c);
		return 0;
	}
	if (deadline_push(c, j) < 0 || (ikl && hmap_put(&c->idem, ik, ikl, j) < 0))
		log_error("out of memory tracking %s", r->id); /* it still runs */
	tenant_count(c, tenant, 1);
	metrics_job_submitted(r->mode);
	r->state = JOB_QUEUED;
	op->kind = STORE_OP_INSERT_JOB;
	op->row = *r; /* the input stays the job's until the insert is done */
	op->patience_ms = INSERT_PATIENCE_MS;
	op->done = insert_done;
	op->ud = c;
	store_writer_push(c->writer, op);
	/* It may run while its insert is on the way: a job lost in a crash
	 * before the insert landed was never answered. */
	route(c, j, NULL);
	core_unlock(c);
	return 0;
fail:
	if (j->waiters) {
		free(j->waiters);
		j->waiters = NULL;
	}
	job_free(c, j); /* never shared: no lock needed */
	return e;
}

/* ---- waiting for the answer ---- */

struct sync_answer {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
	int err;
	struct job_row row;
	char msg[256];
};

static void sync_cb(void *ud, int err, const struct job_row *row, const char *msg)
{
	struct sync_answer *a = ud;
	pthread_mutex_lock(&a->mu);
	a->err = err;
	if (err == 0) {
		a->row = *row;
		a->row.input = NULL;
		a->row.output = NULL;
		a->row.output_chunks = NULL;
		a->row.input_len = a->row.output_len = a->row.output_chunks_len = 0;
		if (row->input_len && (a->row.input = malloc(row->input_len)))
			memcpy(a->row.input, row->input, a->row.input_len = row->input_len);
		if (row->output_len && (a->row.output = malloc(row->output_len + 1))) {
			memcpy(a->row.output, row->output, a->row.output_len = row->output_len);
			a->row.output[row->output_len] = 0;
		}
	}
	snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
	a->done = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

int core_submit(struct core *c, const char *tenant, const struct core_submit *req,
		struct job_row *ret_row, char *err, size_t err_size)
{
	struct sync_answer a = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	int e = core_submit_async(c, tenant, req, sync_cb, &a, err, err_size);
	if (e < 0)
		return e;
	pthread_mutex_lock(&a.mu);
	while (!a.done)
		pthread_cond_wait(&a.cond, &a.mu);
	pthread_mutex_unlock(&a.mu);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cond);
	if (a.err < 0) {
		snprintf(err, err_size, "%s", a.msg);
		return a.err;
	}
	*ret_row = a.row;
	return 0;
}
