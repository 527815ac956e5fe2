/* The job lifecycle: submit (checks that need the store: keys and
 * envelopes), finish with billing, requeue after a lost island, cancel. */
#include "core/internal.h"
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/envelope.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_TIMEOUT_MS (7LL * 86400000)

/* The numbers of atoll.v1.KeyAlgorithm. */
enum { KEY_X25519_HPKE = 1, KEY_PAILLIER = 2 };

void job_free(struct core *c, struct job *j)
{
	outbuf_release(c, j->out);
	free(j->recipients);
	free(j->tq);
	job_row_clear(&j->row);
	free(j);
}

void job_deadline_error(const struct job *j, char *err, size_t size)
{
	snprintf(err, size, "deadline exceeded: not finished %lld s after submission",
		 (long long)((j->row.deadline_ms - j->row.created_ms) / 1000));
}

void job_cancel_on_island(struct job *j, const char *reason)
{
	struct session *s = j->island;
	if (s)
		s->ops->cancel(s->peer, j->row.id, j->row.attempts, reason);
}

void job_finish(struct core *c, struct job *j, int state, const char *error)
{
	struct session *s = j->island;
	job_detach(c, j);
	fifo_remove(j);
	tq_unlink(c, j);
	deadline_remove(c, j);
	if (hmap_dels(&c->jobs, j->row.id))
		tenant_count(c, j->row.tenant, -1);

	int64_t now = time_now_ms();
	j->row.state = state;
	snprintf(j->row.error, sizeof j->row.error, "%s", error ? error : "");
	j->row.completed_ms = now;
	j->row.duration_ms = j->row.started_ms ? now - j->row.started_ms : 0;
	/* Billing: run time at the workload's price, whatever the mode. Failed
	 * jobs are not billed; cancelled ones pay for the time they ran. */
	j->row.credits = state == JOB_COMPLETED || (state == JOB_CANCELLED && j->row.duration_ms > 0)
				 ? j->wl->price_per_second * (double)j->row.duration_ms / 1000.0
				 : 0;
	/* A TEE job keeps its sealed stream whatever its end: a failed one
	 * carries the enclave's sealed error for the client. The store keeps
	 * the chunks' lengths too, for watchers that come later. */
	struct outbuf *o = j->out;
	uint8_t *lens = NULL;
	if (o && (state == JOB_COMPLETED || (j->row.mode == ATOLL_MODE_TEE && o->data.len))) {
		lens = malloc(4 * o->n + 1);
		for (size_t i = 0; lens && i < o->n; i++) {
			size_t len = o->ends[i] - (i ? o->ends[i - 1] : 0);
			lens[4 * i] = (uint8_t)(len >> 24);
			lens[4 * i + 1] = (uint8_t)(len >> 16);
			lens[4 * i + 2] = (uint8_t)(len >> 8);
			lens[4 * i + 3] = (uint8_t)len;
		}
		j->row.output = o->data.data ? o->data.data : (uint8_t *)"";
		j->row.output_len = o->data.len;
		j->row.output_chunks = lens;
		j->row.output_chunks_len = lens ? 4 * o->n : 0;
		j->row.output_encrypted = j->row.mode == ATOLL_MODE_TEE;
	}
	if (store_finish_job(c->store, &j->row) < 0)
		log_error("store: cannot record the end of %s", j->row.id);
	metrics_job_final(j->row.mode, state, now - j->row.created_ms);
	/* Borrowed from the outbuf for the store. */
	j->row.output = NULL;
	j->row.output_len = 0;
	free(lens);
	j->row.output_chunks = NULL;
	j->row.output_chunks_len = 0;
	watch_end_all(c, j);
	job_free(c, j);
	if (s)
		session_fill(c, s);
}

void job_requeue(struct core *c, struct job *j, struct session *from, const char *why)
{
	job_detach(c, j);
	if (j->row.attempts >= j->wl->max_attempts) {
		char err[1024];
		snprintf(err, sizeof err, "%s; gave up after %u attempt%s", why, j->row.attempts,
			 j->row.attempts == 1 ? "" : "s");
		job_finish(c, j, JOB_FAILED, err);
		return;
	}
	j->row.state = JOB_QUEUED;
	snprintf(j->row.error, sizeof j->row.error, "%s", why);
	if (store_update_job(c->store, &j->row) < 0)
		log_error("store: cannot record the requeue of %s", j->row.id);
	watch_notify_state(j);
	route(c, j, from);
}

/* ---- active jobs per tenant ---- */

size_t tenant_active(struct core *c, const char *tenant)
{
	return (uintptr_t)hmap_gets(&c->tenant_jobs, tenant);
}

void tenant_count(struct core *c, const char *tenant, int delta)
{
	uintptr_t n = (uintptr_t)hmap_gets(&c->tenant_jobs, tenant);
	n = delta < 0 && n ? n - 1 : n + (delta > 0);
	if (n)
		hmap_puts(&c->tenant_jobs, tenant, (void *)n);
	else
		hmap_dels(&c->tenant_jobs, tenant);
}

/* ---- submitting ---- */

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

int core_submit(struct core *c, const char *tenant, const struct core_submit *req,
		struct job_row *ret_row, char *err, size_t err_size)
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

	pthread_mutex_lock(&c->mu);
	if (c->shut) {
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "the coordinator is shutting down");
		e = -ESHUTDOWN;
		goto fail;
	}
	if (c->jobs.count >= c->cfg->limits.max_queued_jobs) {
		pthread_mutex_unlock(&c->mu);
		core_limit_hit(c, "queued_jobs", tenant);
		snprintf(err, err_size, "the queue is full (%u active jobs)",
			 c->cfg->limits.max_queued_jobs);
		e = -EAGAIN;
		goto fail;
	}
	if (tenant_active(c, tenant) >= c->cfg->limits.max_active_jobs_per_tenant) {
		pthread_mutex_unlock(&c->mu);
		core_limit_hit(c, "active_jobs_per_tenant", tenant);
		snprintf(err, err_size,
			 "tenant %s has %u jobs not yet final (limits.max_active_jobs_per_tenant)",
			 tenant, c->cfg->limits.max_active_jobs_per_tenant);
		e = -EDQUOT;
		goto fail;
	}
	struct job_row existing;
	e = store_insert_job(c->store, r, &existing);
	if (e == -EEXIST) {
		pthread_mutex_unlock(&c->mu);
		*ret_row = existing; /* the job the key created before */
		job_free(c, j);
		return 0;
	}
	if (e < 0) {
		pthread_mutex_unlock(&c->mu);
		snprintf(err, err_size, "cannot store the job");
		goto fail;
	}
	if (hmap_puts(&c->jobs, r->id, j) < 0 || deadline_push(c, j) < 0) {
		/* Stored: the job is recovered at the next start. */
		log_error("out of memory tracking %s", r->id);
	}
	tenant_count(c, tenant, 1);
	metrics_job_submitted(r->mode);
	r->state = JOB_QUEUED;
	route(c, j, NULL);
	if (j->row.state == JOB_QUEUED && store_update_job(c->store, r) < 0)
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
	job_free(c, j);
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
	job_cancel_on_island(j, "cancelled by the tenant");
	char why[600];
	snprintf(why, sizeof why, "cancelled%s%s", reason && *reason ? ": " : "",
		 reason ? reason : "");
	char id[JOB_ID_LEN + 1];
	snprintf(id, sizeof id, "%s", j->row.id);
	job_finish(c, j, JOB_CANCELLED, why);
	pthread_mutex_unlock(&c->mu);
	return store_get_job(c->store, tenant, id, ret_row);
}
