/* Start-up recovery: every job the store holds as not final comes back
 * into memory and is queued again (whatever ran before the restart runs
 * again, as a new attempt). One read of the store, no write per job: only
 * jobs whose workload left the configuration are written (failed), all in
 * one transaction. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "util/log.h"
#include "util/timeutil.h"

struct load_ctx {
	struct core *c;
	size_t loaded;
	struct job_row *failed; /* rows to write as failed */
	size_t n_failed, cap_failed;
	bool nomem;
};

static void fail_row(struct load_ctx *lc, struct job_row *r, const char *why)
{
	r->state = JOB_FAILED;
	snprintf(r->error, sizeof r->error, "%s", why);
	r->completed_ms = time_now_ms();
	if (lc->n_failed == lc->cap_failed) {
		size_t cap = lc->cap_failed ? lc->cap_failed * 2 : 16;
		struct job_row *f = realloc(lc->failed, cap * sizeof *f);
		if (!f) {
			/* Left active: tried again at the next start. */
			lc->nomem = true;
			job_row_clear(r);
			return;
		}
		lc->failed = f;
		lc->cap_failed = cap;
	}
	lc->failed[lc->n_failed++] = *r;
	memset(r, 0, sizeof *r);
}

static void load_one(struct job_row *r, void *ud)
{
	struct load_ctx *lc = ud;
	struct core *c = lc->c;
	const struct workload_cfg *wl = coord_config_workload(c->cfg, r->workload_id);
	if (!wl) {
		char why[64];
		snprintf(why, sizeof why, "workload %u is no longer configured", r->workload_id);
		fail_row(lc, r, why);
		return;
	}
	struct job *j = calloc(1, sizeof *j);
	if (j && !(j->out = outbuf_new())) {
		free(j);
		j = NULL;
	}
	if (!j) {
		lc->nomem = true;
		job_row_clear(r);
		return;
	}
	j->row = *r;
	memset(r, 0, sizeof *r);
	j->wl = wl;
	j->deadline_pos = SIZE_MAX;
	j->stored = true;
	if (j->row.mode == ATOLL_MODE_TEE) {
		struct env_input_info info;
		if (env_inspect_input(j->row.input, j->row.input_len, &info) == ENV_OK &&
		    (j->recipients = malloc(info.n_recipients * CORE_KEY_LEN))) {
			memcpy(j->recipients, info.recipients, info.n_recipients * CORE_KEY_LEN);
			j->n_recipients = info.n_recipients;
		}
	}
	j->row.state = JOB_QUEUED;
	j->row.island_id[0] = 0;
	if (hmap_puts(&c->jobs, j->row.id, j) < 0 || deadline_push(c, j) < 0) {
		hmap_dels(&c->jobs, j->row.id);
		job_free(c, j);
		lc->nomem = true;
		return;
	}
	if (j->row.idempotency_key[0]) {
		char k[300];
		size_t kl = idem_key(j->row.tenant, j->row.idempotency_key, k, sizeof k);
		if (hmap_put(&c->idem, k, kl, j) < 0)
			lc->nomem = true;
	}
	tenant_count(c, j->row.tenant, 1);
	route(c, j, NULL);
	lc->loaded++;
}

int core_recover(struct core *c, char *err, size_t err_size)
{
	struct load_ctx lc = { .c = c };
	int64_t t0 = time_mono_ms();
	core_lock(c);
	int e = store_load_active(c->store, load_one, &lc);
	core_unlock(c);
	if (e < 0) {
		snprintf(err, err_size, "cannot load active jobs from the store");
		goto out;
	}
	if (lc.n_failed) {
		char what[256];
		if ((e = store_batch_begin(c->store, what, sizeof what)) == 0) {
			for (size_t i = 0; i < lc.n_failed && e == 0; i++)
				e = store_finish_job(c->store, &lc.failed[i]);
			if (e == 0)
				e = store_batch_commit(c->store, what, sizeof what);
			else
				store_batch_rollback(c->store);
		}
		if (e < 0) {
			snprintf(err, err_size, "cannot fail the jobs of removed workloads in the store");
			goto out;
		}
	}
	if (lc.nomem) {
		snprintf(err, err_size, "out of memory loading active jobs");
		e = -ENOMEM;
		goto out;
	}
	if (lc.loaded || lc.n_failed)
		log_info("recovered %zu active job(s) from the store in %lld ms%s", lc.loaded,
			 (long long)(time_mono_ms() - t0),
			 lc.n_failed ? " (some failed: workload gone)" : "");
out:
	for (size_t i = 0; i < lc.n_failed; i++)
		job_row_clear(&lc.failed[i]);
	free(lc.failed);
	return e;
}
