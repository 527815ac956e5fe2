/* atoll.v1.Jobs: submit, read, list, watch and cancel jobs; usage. The
 * shape of a request (its mode, its input as the document an island
 * receives) is settled here; the core checks what needs its state. The
 * unary calls are operations (svc/ops.h) that the HTTP gateway serves
 * too; WatchJob is the gRPC side of core_watch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/jobs.pb-c.h"
#include "auth.h"
#include "coordinator.h"
#include "json/json.h"
#include "svc/ops.h"
#include "svc/pbconv.h"
#include "util/buf.h"
#include "util/enc.h"

#define DEFAULT_PAGE 50
#define MAX_PAGE 1000

static void reply_row(const struct svc_reply *out, const struct job_row *r)
{
	struct jobview v;
	jobview_init(&v, r);
	out->send(out->ctx, &v.job.base);
}

/* Identifiers are looked up in the store as text: one that is not UTF-8
 * names nothing, and is refused rather than mended into another. */
static bool utf8(const char *s)
{
	return enc_utf8_text((const uint8_t *)s, strlen(s));
}

static int need_id(const char *id, char *err, size_t err_size)
{
	if (!id[0]) {
		snprintf(err, err_size, "job_id is required");
		return -EINVAL;
	}
	if (!utf8(id)) {
		snprintf(err, err_size, "job_id is not valid UTF-8");
		return -EINVAL;
	}
	return 0;
}

int svc_input_doc(const Atoll__V1__JobInput *in, bool homomorphic, struct buf *out, char *err,
		     size_t err_size)
{
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	if (homomorphic) {
		const Atoll__V1__HomomorphicInput *h = in->homomorphic;
		jw_key(&w, "homomorphic");
		jw_object_begin(&w);
		jw_key(&w, "key_id");
		jw_string(&w, h->key_id);
		jw_key(&w, "public_key");
		jw_base64(&w, h->public_key.data, h->public_key.len);
		jw_key(&w, "ciphertexts");
		jw_array_begin(&w);
		for (size_t i = 0; i < h->n_ciphertexts; i++)
			jw_base64(&w, h->ciphertexts[i].data, h->ciphertexts[i].len);
		jw_array_end(&w);
		jw_key(&w, "scale_bits");
		jw_uint(&w, h->scale_bits);
		jw_key(&w, "records");
		jw_uint(&w, h->records ? h->records : 1);
		jw_object_end(&w);
	} else {
		int forms = (in->prompt[0] != 0) + (in->n_features > 0) + (in->n_record > 0) +
			    (in->data.len > 0);
		if (forms == 1 && in->content_type[0] && !in->data.len) {
			snprintf(err, err_size, "input: content_type goes only with data");
			return -EINVAL;
		}
		if (forms != 1) {
			snprintf(err, err_size, forms ? "input: give only one of prompt, features, "
							"record and data"
						      : "input: one of prompt, features, record or data "
							"is needed");
			return -EINVAL;
		}
		if (in->prompt[0]) {
			jw_key(&w, "prompt");
			jw_string(&w, in->prompt);
		} else if (in->n_features) {
			jw_key(&w, "features");
			jw_array_begin(&w);
			for (size_t i = 0; i < in->n_features; i++)
				jw_double(&w, in->features[i]);
			jw_array_end(&w);
		} else if (in->n_record) {
			jw_key(&w, "record");
			jw_object_begin(&w);
			for (size_t i = 0; i < in->n_record; i++) {
				jw_key(&w, in->record[i]->key);
				jw_double(&w, in->record[i]->value);
			}
			jw_object_end(&w);
		} else {
			jw_key(&w, "data");
			jw_base64(&w, in->data.data, in->data.len);
			if (in->content_type[0]) {
				jw_key(&w, "content_type");
				jw_string(&w, in->content_type);
			}
		}
	}
	jw_object_end(&w);
	if (w.error) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static uint32_t resolve_mode(const Atoll__V1__SubmitJobRequest *req, char *err, size_t err_size)
{
	bool he_input = req->input && req->input->homomorphic;
	switch (req->mode) {
	case ATOLL__V1__MODE__MODE_UNSPECIFIED:
		return he_input ? ATOLL_MODE_HOMOMORPHIC : req->confidential ? ATOLL_MODE_TEE
									     : ATOLL_MODE_PLAIN;
	case ATOLL__V1__MODE__MODE_PLAIN:
		if (req->confidential) {
			snprintf(err, err_size, "mode MODE_PLAIN cannot carry a confidential job");
			return 0;
		}
		return ATOLL_MODE_PLAIN;
	case ATOLL__V1__MODE__MODE_TEE:
		if (!req->confidential) {
			snprintf(err, err_size, "mode MODE_TEE needs confidential: true");
			return 0;
		}
		return ATOLL_MODE_TEE;
	case ATOLL__V1__MODE__MODE_HOMOMORPHIC:
		return ATOLL_MODE_HOMOMORPHIC;
	default:
		snprintf(err, err_size, "unknown mode %d", (int)req->mode);
		return 0;
	}
}

/* The request as the core takes it: mode, key and input resolved. Checks
 * run in the order a client meets them: workload, mode, input shape. */
static int shape(struct coordinator *co, const Atoll__V1__SubmitJobRequest *req,
		 struct core_submit *out, struct buf *doc, char *err, size_t err_size)
{
	const struct workload_cfg *wl = coord_config_workload(co->cfg, req->workload_id);
	if (!wl) {
		snprintf(err, err_size, "unknown workload %u", req->workload_id);
		return -ENOENT;
	}
	uint32_t mode = resolve_mode(req, err, err_size);
	if (!mode)
		return -EINVAL;
	if (!(wl->modes & ATOLL_MODE_BIT(mode))) {
		snprintf(err, err_size, "workload %u (%s) does not run in %s mode", wl->id, wl->name,
			 atoll_mode_name(mode));
		return -EINVAL;
	}
	const Atoll__V1__JobInput *in = req->input;
	if (!in) {
		snprintf(err, err_size, "input is missing");
		return -EINVAL;
	}
	if (mode != ATOLL_MODE_TEE && (in->encrypted || in->ciphertext.len)) {
		snprintf(err, err_size, "encrypted input needs confidential: true");
		return -EINVAL;
	}
	if (strlen(req->idempotency_key) >= sizeof ((struct job_row *)0)->idempotency_key) {
		snprintf(err, err_size, "idempotency_key is longer than 127 bytes");
		return -EINVAL;
	}
	if (!utf8(req->idempotency_key) || !utf8(req->encryption_key_id) || !utf8(in->key_id) ||
	    (in->homomorphic && !utf8(in->homomorphic->key_id))) {
		snprintf(err, err_size, "idempotency_key and key ids must be valid UTF-8");
		return -EINVAL;
	}
	*out = (struct core_submit){
		.workload_id = req->workload_id,
		.mode = mode,
		.confidential = req->confidential,
		.key_id = "",
		.timeout_seconds = req->timeout_seconds,
		.idempotency_key = req->idempotency_key,
		.wait_final = req->wait,
	};
	if (mode == ATOLL_MODE_TEE) {
		if (!in->encrypted || !in->ciphertext.len) {
			snprintf(err, err_size, "a confidential job needs input {\"encrypted\": true, "
						"\"key_id\": ..., \"ciphertext\": ...}");
			return -EINVAL;
		}
		const char *key_id = req->encryption_key_id[0] ? req->encryption_key_id : in->key_id;
		if (!key_id[0]) {
			snprintf(err, err_size, "a confidential job needs encryption_key_id (the key "
						"its output is sealed to)");
			return -EINVAL;
		}
		if (req->encryption_key_id[0] && in->key_id[0] &&
		    strcmp(req->encryption_key_id, in->key_id)) {
			snprintf(err, err_size, "encryption_key_id %s differs from input.key_id %s",
				 req->encryption_key_id, in->key_id);
			return -EINVAL;
		}
		out->key_id = key_id;
		out->input = in->ciphertext.data;
		out->input_len = in->ciphertext.len;
		return 0;
	}
	if (mode == ATOLL_MODE_HOMOMORPHIC) {
		const Atoll__V1__HomomorphicInput *h = in->homomorphic;
		if (!h || !h->n_ciphertexts) {
			snprintf(err, err_size,
				 "a homomorphic job needs input.homomorphic with ciphertexts");
			return -EINVAL;
		}
		if (!h->key_id[0] && !h->public_key.len) {
			snprintf(err, err_size, "input.homomorphic needs key_id or public_key");
			return -EINVAL;
		}
		out->key_id = h->key_id;
		out->he_public_key = h->public_key.data;
		out->he_public_key_len = h->public_key.len;
	}
	int e = svc_input_doc(in, mode == ATOLL_MODE_HOMOMORPHIC, doc, err, err_size);
	if (e < 0)
		return e;
	out->input = doc->data;
	out->input_len = doc->len;
	return 0;
}

/* HTTP (and any caller that may block): the answer once the job is
 * durable, or final with wait_final. */
int svc_op_submit(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		  const struct svc_reply *out, char *err, size_t err_size)
{
	struct job_row r;
	struct core_submit cs;
	struct buf doc = { 0 };
	int e = shape(co, (const Atoll__V1__SubmitJobRequest *)req, &cs, &doc, err, err_size);
	if (e == 0)
		e = core_submit(co->core, tenant, &cs, &r, err, err_size);
	buf_free(&doc);
	if (e < 0)
		return e;
	reply_row(out, &r);
	job_row_clear(&r);
	return 0;
}

/* gRPC: the answer once the job is durable; the call is held until then,
 * without holding a completion-queue thread. */
static void submitted(void *ud, int err, const struct job_row *row, const char *msg)
{
	rpc_call *call = ud;
	if (err < 0) {
		rpc_call_fail(call, err, msg);
	} else {
		struct jobview v;
		jobview_init(&v, row);
		rpc_call_reply(call, &v.job.base);
	}
	rpc_call_unref(call);
}

static void submit(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	struct core_submit cs;
	struct buf doc = { 0 };
	char err[1024];
	int e = shape(co, (const Atoll__V1__SubmitJobRequest *)req, &cs, &doc, err, sizeof err);
	if (e == 0) {
		rpc_call_ref(call);
		e = core_submit_async(co->core, t->name, &cs, submitted, call, err, sizeof err);
		if (e < 0)
			rpc_call_unref(call);
	}
	buf_free(&doc);
	if (e < 0)
		rpc_call_fail(call, e, err);
}

int svc_op_get(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
	       const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__GetJobRequest *g = (const void *)req;
	int e = need_id(g->job_id, err, err_size);
	if (e < 0)
		return e;
	struct job_row r;
	e = core_get_job(co->core, tenant, g->job_id, &r);
	if (e == -EIO) {
		/* The store cannot be read: not a sign the job is gone. */
		snprintf(err, err_size, "the job store cannot be reached; try again");
		return -EAGAIN;
	}
	if (e < 0) {
		/* Another tenant's job looks exactly like a missing one. */
		snprintf(err, err_size, "no job %s", g->job_id);
		return -ENOENT;
	}
	reply_row(out, &r);
	job_row_clear(&r);
	return 0;
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

int svc_op_list(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__ListJobsRequest *l = (const void *)req;
	uint32_t size = l->page_size ? l->page_size : DEFAULT_PAGE;
	if (size > MAX_PAGE)
		size = MAX_PAGE;
	int64_t before = 0;
	if (l->page_token[0]) {
		char *end;
		before = l->page_token[0] == 'p' ? strtoll(l->page_token + 1, &end, 10) : 0;
		if (before <= 0 || *end) {
			snprintf(err, err_size, "page_token is not one this server gave out");
			return -EINVAL;
		}
	}
	struct page p = { calloc(size + 1, sizeof *p.rows), 0 };
	if (!p.rows) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	bool more = false;
	int e = 0;
	/* Active jobs are stored as accepted: their progress is in memory.
	 * Asked for one active state, the page is the active jobs it covers
	 * that are in that state now (it may be shorter than page_size). */
	int want = (int)l->state;
	bool active = want == JOB_PENDING || want == JOB_QUEUED || want == JOB_RUNNING;
	int64_t last_rowid = 0;
	if (store_list_jobs(co->store, tenant, active ? STORE_STATE_ACTIVE : want, l->workload_id,
			    before, size, collect_row, &p, &more) < 0) {
		snprintf(err, err_size, "cannot read the job store");
		e = -EIO;
	} else {
		if (p.n)
			last_rowid = p.rows[p.n - 1].rowid;
		core_overlay(co->core, p.rows, p.n);
		size_t kept = 0;
		for (size_t i = 0; i < p.n; i++) {
			if (want && p.rows[i].state != want)
				job_row_clear(&p.rows[i]);
			else
				p.rows[kept++] = p.rows[i];
		}
		p.n = kept;
		Atoll__V1__ListJobsResponse resp = ATOLL__V1__LIST_JOBS_RESPONSE__INIT;
		struct jobview *views = calloc(p.n + 1, sizeof *views);
		Atoll__V1__Job **jobs = calloc(p.n + 1, sizeof *jobs);
		char token[32] = "";
		if (!views || !jobs) {
			snprintf(err, err_size, "out of memory");
			e = -ENOMEM;
		} else {
			for (size_t i = 0; i < p.n; i++) {
				jobview_init(&views[i], &p.rows[i]);
				jobs[i] = &views[i].job;
			}
			resp.n_jobs = p.n;
			resp.jobs = jobs;
			if (more && last_rowid)
				snprintf(token, sizeof token, "p%lld", (long long)last_rowid);
			resp.next_page_token = token;
			out->send(out->ctx, &resp.base);
		}
		free(views);
		free(jobs);
	}
	for (size_t i = 0; i < p.n; i++)
		job_row_clear(&p.rows[i]);
	free(p.rows);
	return e;
}

static void watch_job(void *peer, const struct job_row *r)
{
	struct jobview v;
	jobview_init(&v, r);
	/* In a watch the output comes as chunks, never again in the job. */
	v.job.output = NULL;
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
	ev.job = &v.job;
	rpc_call_send(peer, &ev.base);
}

static void watch_chunk(void *peer, uint64_t seq, const uint8_t *data, size_t len)
{
	Atoll__V1__OutputChunk ch = ATOLL__V1__OUTPUT_CHUNK__INIT;
	ch.seq = seq;
	ch.data.data = (uint8_t *)data;
	ch.data.len = len;
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_CHUNK;
	ev.chunk = &ch;
	rpc_call_send(peer, &ev.base);
}

static void watch_end(void *peer, int err, const char *msg)
{
	if (err)
		rpc_call_fail(peer, err, msg);
	else
		rpc_call_finish(peer, GRPC_STATUS_OK, NULL);
}

static size_t watch_backlog(void *peer)
{
	return rpc_call_backlog(peer);
}

static const struct watch_ops WATCH_OPS = {
	.job = watch_job,
	.chunk = watch_chunk,
	.end = watch_end,
	.backlog = watch_backlog,
};

static void watch_drained(rpc_call *call, void *ud)
{
	struct coordinator *co = ud;
	core_watch_drain(co->core, call);
}

static void watch(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__WatchJobRequest *w = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	char err[256];
	int e = need_id(w->job_id, err, sizeof err);
	if (e == 0) {
		rpc_call_on_drain(call, watch_drained, co);
		e = core_watch(co->core, t->name, w->job_id, &WATCH_OPS, call, err, sizeof err);
	}
	if (e < 0)
		rpc_call_fail(call, e, err);
}

static void watch_done(rpc_call *call, bool cancelled, void *ud)
{
	struct coordinator *co = ud;
	core_unwatch(co->core, call);
}

int svc_op_cancel(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		  const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__CancelJobRequest *cr = (const void *)req;
	int e = need_id(cr->job_id, err, err_size);
	if (e < 0)
		return e;
	struct job_row r = { 0 };
	if ((e = core_cancel(co->core, tenant, cr->job_id, cr->reason, &r, err, err_size)) < 0)
		return e;
	reply_row(out, &r);
	job_row_clear(&r);
	return 0;
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

int svc_op_usage(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		 const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__GetUsageRequest *g = (const void *)req;
	int64_t since = pb_ts_ms(g->since);
	Atoll__V1__Usage u = ATOLL__V1__USAGE__INIT;
	u.tenant = (char *)tenant;
	/* Usage rows are per workload; workloads that left the config still
	 * have their history, so size by both. */
	size_t cap = co->cfg->n_workloads + 256;
	struct usage_acc a = { &u, calloc(cap, sizeof *a.rows), cap, calloc(cap, 128) };
	u.workloads = calloc(cap, sizeof *u.workloads);
	int e = 0;
	if (!a.rows || !a.names || !u.workloads) {
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
	} else if (store_usage(co->store, tenant, since, add_usage, &a) < 0) {
		snprintf(err, err_size, "cannot read the job store");
		e = -EIO;
	} else {
		out->send(out->ctx, &u.base);
	}
	free(a.rows);
	free(a.names);
	free(u.workloads);
	return e;
}

static void grpc_send(void *ctx, const ProtobufCMessage *m)
{
	rpc_call_reply(ctx, m);
}

void svc_unary(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	const struct svc_binding *b = ud;
	const struct tenant_cfg *t = auth_tenant_or_fail(b->co->cfg, call);
	if (!t)
		return;
	struct svc_reply out = { grpc_send, call };
	char err[1024];
	int e = b->op(b->co, t->name, req, &out, err, sizeof err);
	if (e < 0)
		rpc_call_fail(call, e, err);
}

int svc_bind(struct coordinator *co, const char *path, const ProtobufCMessageDescriptor *d,
	     svc_op op)
{
	if (co->n_bindings == sizeof co->bindings / sizeof co->bindings[0])
		return -ENOSPC;
	struct svc_binding *b = &co->bindings[co->n_bindings++];
	b->co = co;
	b->op = op;
	const rpc_method m = { path, RPC_UNARY, d, svc_unary, NULL, NULL, NULL, b };
	return rpc_server_add_method(co->srv, &m);
}

int svc_jobs_register(struct coordinator *co)
{
	const rpc_method watch_m = { "/atoll.v1.Jobs/WatchJob", RPC_SERVER_STREAM,
				     &atoll__v1__watch_job_request__descriptor, watch, NULL, NULL,
				     watch_done, co };
	int e;
	const rpc_method submit_m = { "/atoll.v1.Jobs/SubmitJob", RPC_UNARY,
				      &atoll__v1__submit_job_request__descriptor, submit, NULL, NULL,
				      NULL, co };
	if ((e = rpc_server_add_method(co->srv, &submit_m)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Jobs/GetJob", &atoll__v1__get_job_request__descriptor,
			  svc_op_get)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Jobs/ListJobs", &atoll__v1__list_jobs_request__descriptor,
			  svc_op_list)) < 0 ||
	    (e = rpc_server_add_method(co->srv, &watch_m)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Jobs/CancelJob", &atoll__v1__cancel_job_request__descriptor,
			  svc_op_cancel)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Jobs/GetUsage", &atoll__v1__get_usage_request__descriptor,
			  svc_op_usage)) < 0)
		return e;
	return 0;
}
