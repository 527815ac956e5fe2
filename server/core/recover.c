/* Start-up recovery: every job the store holds as not final comes back
 * into memory and is queued again (whatever ran before the restart runs
 * again, as a new attempt). */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "util/log.h"
#include "util/timeutil.h"

struct load_ctx {
	struct core *c;
	size_t loaded, failed;
};

static void load_one(struct job_row *r, void *ud)
{
	struct load_ctx *lc = ud;
	struct core *c = lc->c;
	const struct workload_cfg *wl = coord_config_workload(c->cfg, r->workload_id);
	struct job *j = wl ? calloc(1, sizeof *j) : NULL;
	if (j && !(j->out = outbuf_new())) {
		free(j);
		j = NULL;
	}
	if (!j) {
		/* The workload left the config: fail the job, keep the record. */
		r->state = JOB_FAILED;
		if (wl)
			snprintf(r->error, sizeof r->error, "out of memory");
		else
			snprintf(r->error, sizeof r->error, "workload %u is no longer configured",
				 r->workload_id);
		r->completed_ms = time_now_ms();
		store_finish_job(c->store, r);
		job_row_clear(r);
		lc->failed++;
		return;
	}
	j->row = *r;
	memset(r, 0, sizeof *r);
	j->wl = wl;
	j->deadline_pos = SIZE_MAX;
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
		lc->failed++;
		return;
	}
	tenant_count(c, j->row.tenant, 1);
	store_update_job(c->store, &j->row);
	route(c, j, NULL);
	lc->loaded++;
}

int core_recover(struct core *c, char *err, size_t err_size)
{
	struct load_ctx lc = { c, 0, 0 };
	pthread_mutex_lock(&c->mu);
	int e = store_load_active(c->store, load_one, &lc);
	pthread_mutex_unlock(&c->mu);
	if (e < 0) {
		snprintf(err, err_size, "cannot load active jobs from the store");
		return e;
	}
	if (lc.loaded || lc.failed)
		log_info("recovered %zu active job(s) from the store%s", lc.loaded,
			 lc.failed ? " (some failed: workload gone)" : "");
	return 0;
}
