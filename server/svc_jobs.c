/* atoll.v1.Jobs: submit, read, list, watch and cancel jobs; usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/jobs.pb-c.h"
#include "auth.h"
#include "coordinator.h"

#define DEFAULT_PAGE 50
#define MAX_PAGE 1000

static void reply_row(rpc_call *call, const struct job_row *r)
{
	struct jobview v;
	jobview_init(&v, r);
	rpc_call_reply(call, &v.job.base);
}

static bool need_id(rpc_call *call, const char *id)
{
	if (id[0])
		return true;
	rpc_call_fail(call, -EINVAL, "job_id is required");
	return false;
}

static void submit(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	struct job_row r;
	char err[1024];
	int e = core_submit(co->core, t->name, (const Atoll__V1__SubmitJobRequest *)req, &r, err,
			    sizeof err);
	if (e < 0) {
		rpc_call_fail(call, e, err);
		return;
	}
	reply_row(call, &r);
	job_row_clear(&r);
}

static void get(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__GetJobRequest *g = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t || !need_id(call, g->job_id))
		return;
	struct job_row r;
	if (store_get_job(co->store, t->name, g->job_id, &r) < 0) {
		/* Another tenant's job looks exactly like a missing one. */
		rpc_call_finishf(call, GRPC_STATUS_NOT_FOUND, "no job %s", g->job_id);
		return;
	}
	reply_row(call, &r);
	job_row_clear(&r);
}

struct page {
	struct job_row *rows;
	size_t n;
};

static void collect_row(struct job_row *r, void *ud)
{
	struct page *p = ud;
	p->rows[p->n++] = *r;
}

static void list(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__ListJobsRequest *l = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	uint32_t size = l->page_size ? l->page_size : DEFAULT_PAGE;
	if (size > MAX_PAGE)
		size = MAX_PAGE;
	int64_t before = 0;
	if (l->page_token[0]) {
		char *end;
		before = l->page_token[0] == 'p' ? strtoll(l->page_token + 1, &end, 10) : 0;
		if (before <= 0 || *end) {
			rpc_call_fail(call, -EINVAL, "page_token is not one this server gave out");
			return;
		}
	}
	struct page p = { calloc(size + 1, sizeof *p.rows), 0 };
	if (!p.rows) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		return;
	}
	bool more = false;
	if (store_list_jobs(co->store, t->name, (int)l->state, l->workload_id, before, size,
			    collect_row, &p, &more) < 0) {
		rpc_call_fail(call, -EIO, "cannot read the job store");
	} else {
		Atoll__V1__ListJobsResponse resp = ATOLL__V1__LIST_JOBS_RESPONSE__INIT;
		struct jobview *views = calloc(p.n + 1, sizeof *views);
		Atoll__V1__Job **jobs = calloc(p.n + 1, sizeof *jobs);
		char token[32] = "";
		if (!views || !jobs) {
			rpc_call_fail(call, -ENOMEM, "out of memory");
		} else {
			for (size_t i = 0; i < p.n; i++) {
				jobview_init(&views[i], &p.rows[i]);
				jobs[i] = &views[i].job;
			}
			resp.n_jobs = p.n;
			resp.jobs = jobs;
			if (more && p.n)
				snprintf(token, sizeof token, "p%lld", (long long)p.rows[p.n - 1].rowid);
			resp.next_page_token = token;
			rpc_call_reply(call, &resp.base);
		}
		free(views);
		free(jobs);
	}
	for (size_t i = 0; i < p.n; i++)
		job_row_clear(&p.rows[i]);
	free(p.rows);
}

static void watch(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__WatchJobRequest *w = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t || !need_id(call, w->job_id))
		return;
	char err[256];
	int e = core_watch(co->core, t->name, w->job_id, call, err, sizeof err);
	if (e < 0)
		rpc_call_fail(call, e, err);
}

static void watch_done(rpc_call *call, bool cancelled, void *ud)
{
	struct coordinator *co = ud;
	core_unwatch(co->core, call);
}

static void cancel(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__CancelJobRequest *cr = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t || !need_id(call, cr->job_id))
		return;
	struct job_row r;
	char err[256];
	int e = core_cancel(co->core, t->name, cr->job_id, cr->reason, &r, err, sizeof err);
	if (e < 0) {
		rpc_call_fail(call, e, err);
		return;
	}
	reply_row(call, &r);
	job_row_clear(&r);
}

struct usage_acc {
	Atoll__V1__Usage *u;
	Atoll__V1__WorkloadUsage *rows;
	size_t cap;
	char (*names)[128];
};

static void add_usage(const struct usage_row *row, void *ud)
{
	struct usage_acc *a = ud;
	if (a->u->n_workloads == a->cap)
		return;
	size_t i = a->u->n_workloads++;
	Atoll__V1__WorkloadUsage *w = &a->rows[i];
	atoll__v1__workload_usage__init(w);
	w->workload_id = row->workload_id;
	snprintf(a->names[i], sizeof a->names[i], "%s", row->workload);
	w->workload = a->names[i];
	w->jobs = row->jobs;
	w->confidential_jobs = row->confidential_jobs;
	w->credits_used = row->credits;
	a->u->workloads[i] = w;
	a->u->jobs += row->jobs;
	a->u->credits_used += row->credits;
}

static void usage(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__GetUsageRequest *g = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	int64_t since = g->since ? g->since->seconds * 1000 + g->since->nanos / 1000000 : 0;
	Atoll__V1__Usage u = ATOLL__V1__USAGE__INIT;
	u.tenant = (char *)t->name;
	/* Usage rows are per workload; workloads that left the config still
	 * have their history, so size by both. */
	size_t cap = co->cfg->n_workloads + 256;
	struct usage_acc a = { &u, calloc(cap, sizeof *a.rows), cap, calloc(cap, 128) };
	u.workloads = calloc(cap, sizeof *u.workloads);
	if (!a.rows || !a.names || !u.workloads) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
	} else if (store_usage(co->store, t->name, since, add_usage, &a) < 0) {
		rpc_call_fail(call, -EIO, "cannot read the job store");
	} else {
		rpc_call_reply(call, &u.base);
	}
	free(a.rows);
	free(a.names);
	free(u.workloads);
}

int svc_jobs_register(struct coordinator *co)
{
	const rpc_method methods[] = {
		{ "/atoll.v1.Jobs/SubmitJob", RPC_UNARY, &atoll__v1__submit_job_request__descriptor,
		  submit, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/GetJob", RPC_UNARY, &atoll__v1__get_job_request__descriptor, get,
		  NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/ListJobs", RPC_UNARY, &atoll__v1__list_jobs_request__descriptor,
		  list, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/WatchJob", RPC_SERVER_STREAM,
		  &atoll__v1__watch_job_request__descriptor, watch, NULL, NULL, watch_done, co },
		{ "/atoll.v1.Jobs/CancelJob", RPC_UNARY, &atoll__v1__cancel_job_request__descriptor,
		  cancel, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/GetUsage", RPC_UNARY, &atoll__v1__get_usage_request__descriptor,
		  usage, NULL, NULL, NULL, co },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		int e = rpc_server_add_method(co->srv, &methods[i]);
		if (e < 0)
			return e;
	}
	return 0;
}
