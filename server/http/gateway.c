/* The HTTP/JSON gateway: routes, bearer authentication, request bodies
 * read as the gRPC request messages (lib/pbjson), the operations of
 * svc/ops.h, errors through the one status table (rpc/status.h), job
 * events as SSE, and /metrics.
 *
 * SSE event ids are positions, "<attempt>.<state>.<offset>": the job's
 * attempt, its state, and how many bytes of that attempt's output were
 * sent through this event. A client reconnecting with Last-Event-ID gets
 * only what comes after that position: the core replays the attempt's
 * chunks from the first, output bytes before the offset are skipped
 * (whatever the chunking), and a job event equal to the last one seen is
 * not repeated. The core paces chunks by the stream's backlog and resumes
 * when the client has read it (watch_ops.backlog, core_watch_drain). */
#include "http/gateway.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "auth.h"
#include "coordinator.h"
#include "util/fsutil.h"
#include "httpd/httpd.h"
#include "metrics.h"
#include "pbjson/pbjson.h"
#include "rpc/status.h"
#include "svc/ops.h"
#include "svc/pbconv.h"

#define JSON_OUT (PBJSON_ORIGINAL_NAMES | PBJSON_EMIT_DEFAULTS)

struct gateway {
	struct coordinator *co;
	struct httpd *httpd;
	atomic_bool draining;
};

/* ---- answers ---- */

static void fail(struct httpd_resp *resp, int err, const char *msg)
{
	grpc_status_code code = rpc_status_from_errno(err);
	httpd_resp_error(resp, rpc_http_status(code), rpc_status_name(code), "%s", msg);
}

struct json_ctx {
	struct httpd_resp *resp;
	int err;
};

static void send_json(void *ctx, const ProtobufCMessage *m)
{
	struct json_ctx *j = ctx;
	buf_reset(&j->resp->body);
	j->err = pbjson_write(m, JSON_OUT, &j->resp->body);
	if (j->err == 0)
		j->err = buf_putc(&j->resp->body, '\n');
	j->resp->status = 200;
}

/* ---- requests ---- */

/* The tenant of the Authorization header, or NULL after answering 401. */
static const struct tenant_cfg *tenant_or_fail(struct gateway *g, const struct httpd_req *req,
					       struct httpd_resp *resp)
{
	const char *a = httpd_header(req, "Authorization");
	const struct tenant_cfg *t;
	char err[256];
	if (!a) {
		httpd_resp_error(resp, 401, "UNAUTHENTICATED",
				 "missing \"Authorization: Bearer <api key>\" header");
		return NULL;
	}
	if (auth_tenant_bearer(g->co->cfg, a, &t, err, sizeof err) < 0) {
		fail(resp, -ENOKEY, err);
		return NULL;
	}
	return t;
}

/* Parse the body as message d; an empty body is {}. */
static ProtobufCMessage *read_body(const struct httpd_req *req, const ProtobufCMessageDescriptor *d,
				   struct httpd_resp *resp)
{
	char err[512];
	ProtobufCMessage *m = NULL;
	const char *text = req->body_len ? (const char *)req->body : "{}";
	size_t len = req->body_len ? req->body_len : 2;
	int e = pbjson_read(d, text, len, 0, &m, err, sizeof err);
	if (e < 0) {
		if (e == -ENOMEM)
			fail(resp, -ENOMEM, "out of memory");
		else
			httpd_resp_error(resp, 400, "INVALID_ARGUMENT", "request body: %s", err);
		return NULL;
	}
	return m;
}

static void run_op(struct gateway *g, const char *tenant, svc_op op, const ProtobufCMessage *m,
		   struct httpd_resp *resp)
{
	struct json_ctx j = { resp, 0 };
	struct svc_reply out = { send_json, &j };
	char err[1024];
	int e = op(g->co, tenant, m, &out, err, sizeof err);
	if (e < 0)
		fail(resp, e, err);
	else if (j.err < 0)
		fail(resp, j.err, "cannot write the answer as JSON");
}

static void list_jobs(struct gateway *g, const char *tenant, const struct httpd_req *req,
		      struct httpd_resp *resp)
{
	Atoll__V1__ListJobsRequest l = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
	if (httpd_query_u32(req, "page_size", &l.page_size, resp) < 0 ||
	    httpd_query_u32(req, "workload_id", &l.workload_id, resp) < 0)
		return;
	const char *tok = httpd_query(req, "page_token");
	if (tok)
		l.page_token = (char *)tok;
	const char *st = httpd_query(req, "state");
	if (st) {
		int v;
		if (pbjson_enum_value(&atoll__v1__job_state__descriptor, st, &v) < 0) {
			httpd_resp_error(resp, 400, "INVALID_ARGUMENT",
					 "query parameter state: unknown job state '%s'", st);
			return;
		}
		l.state = (Atoll__V1__JobState)v;
	}
	run_op(g, tenant, svc_op_list, &l.base, resp);
}

static void list_islands(struct gateway *g, const char *tenant, const struct httpd_req *req,
			 struct httpd_resp *resp)
{
	Atoll__V1__ListAttestedIslandsRequest r = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	if (httpd_query_u32(req, "workload_id", &r.workload_id, resp) < 0)
		return;
	const char *all = httpd_query(req, "include_unattested");
	r.include_unattested = all && (strcmp(all, "true") == 0 || strcmp(all, "1") == 0);
	run_op(g, tenant, svc_op_list_islands, &r.base, resp);
}

/* ---- SSE ---- */

struct sse {
	struct gateway *g;
	struct httpd_stream *s;
	/* Where the stream stands. */
	uint32_t attempt;
	int state;
	uint64_t offset;
	uint64_t next_seq;
	bool sent_job;
	/* Where the client stood (Last-Event-ID), if it came back. */
	bool resume;
	uint32_t r_attempt;
	int r_state;
	uint64_t r_offset;
};

static void event_id(const struct sse *w, char *out, size_t size)
{
	snprintf(out, size, "%" PRIu32 ".%d.%" PRIu64, w->attempt, w->state, w->offset);
}

static void sse_send(struct sse *w, const char *event, const ProtobufCMessage *m)
{
	struct buf b = { 0 };
	char id[64];
	event_id(w, id, sizeof id);
	if (pbjson_write(m, JSON_OUT, &b) == 0)
		httpd_stream_event(w->s, id, event, (const char *)b.data, b.len);
	buf_free(&b);
}

/* Output bytes [at, at + len) of the current attempt: the part the client
 * has not seen goes out as one chunk event. */
static void sse_output(struct sse *w, uint64_t seq, const uint8_t *data, size_t len)
{
	uint64_t at = w->offset;
	uint64_t skip = 0;
	if (w->resume && w->attempt == w->r_attempt && w->r_offset > at)
		skip = w->r_offset - at < len ? w->r_offset - at : len;
	w->offset += len;
	w->next_seq = seq + 1;
	if (skip == len)
		return;
	Atoll__V1__OutputChunk ch = ATOLL__V1__OUTPUT_CHUNK__INIT;
	ch.seq = seq;
	ch.data.data = (uint8_t *)data + skip;
	ch.data.len = len - skip;
	sse_send(w, "chunk", &ch.base);
}

static void sse_job(void *peer, const struct job_row *r)
{
	struct sse *w = peer;
	if (r->attempts != w->attempt) {
		w->attempt = r->attempts;
		w->offset = 0;
		w->next_seq = 0;
	}
	bool same = w->sent_job && w->state == r->state;
	bool seen = w->resume && w->attempt == w->r_attempt && r->state == w->r_state;
	w->state = r->state;
	if (same || (seen && !w->sent_job)) {
		w->sent_job = true;
		return;
	}
	w->sent_job = true;
	struct jobview v;
	jobview_init(&v, r);
	sse_send(w, "job", &v.job.base);
}

static void sse_chunk(void *peer, uint64_t seq, const uint8_t *data, size_t len)
{
	sse_output(peer, seq, data, len);
}

/* The core paces output by what waits unsent (watch_ops.backlog) ... */
static size_t sse_backlog(void *peer)
{
	struct sse *w = peer;
	return httpd_stream_backlog(w->s);
}

/* ... and resumes when the client has taken it. */
static void sse_drained(void *ud)
{
	struct sse *w = ud;
	core_watch_drain(w->g->co->core, w);
}

/* The end carries no id: the position is the last event's. */
static void sse_end(void *peer, int err, const char *msg)
{
	struct sse *w = peer;
	if (err) {
		struct httpd_resp r = { 0 };
		grpc_status_code code = rpc_status_from_errno(err);
		httpd_resp_error(&r, rpc_http_status(code), rpc_status_name(code), "%s",
				 msg ? msg : "the watch ended");
		httpd_stream_error_event(w->s, &r);
		buf_free(&r.body);
	} else {
		httpd_stream_event(w->s, NULL, "end", "{}", 2);
	}
	httpd_stream_close(w->s);
}

static const struct watch_ops SSE_OPS = {
	.job = sse_job,
	.chunk = sse_chunk,
	.end = sse_end,
	.backlog = sse_backlog,
};

/* The client's connection is over: no callback may follow. */
static void sse_gone(void *ud)
{
	struct sse *w = ud;
	core_unwatch(w->g->co->core, w);
	httpd_stream_unref(w->s);
	free(w);
}

static bool parse_last_id(const char *v, struct sse *w)
{
	uint32_t a;
	int s;
	uint64_t o;
	int n = 0;
	if (sscanf(v, "%" SCNu32 ".%d.%" SCNu64 "%n", &a, &s, &o, &n) != 3 || v[n] || s < 1 ||
	    s > 6)
		return false;
	w->resume = true;
	w->r_attempt = a;
	w->r_state = s;
	w->r_offset = o;
	return true;
}

static void job_events(struct gateway *g, const char *tenant, const char *job_id,
		       const struct httpd_req *req, struct httpd_resp *resp)
{
	struct sse *w = calloc(1, sizeof *w);
	if (!w) {
		fail(resp, -ENOMEM, "out of memory");
		return;
	}
	w->g = g;
	const char *last = httpd_header(req, "Last-Event-ID");
	if (last && !parse_last_id(last, w)) {
		free(w);
		httpd_resp_error(resp, 400, "INVALID_ARGUMENT",
				 "Last-Event-ID '%s' is not an id this gateway sent", last);
		return;
	}
	w->s = httpd_stream_new(sse_gone, w);
	if (!w->s) {
		free(w);
		fail(resp, -ENOMEM, "out of memory");
		return;
	}
	httpd_stream_on_drain(w->s, sse_drained, w);
	/* A finished job's stored chunks come before its job event: they are
	 * its last attempt's. */
	struct job_row row;
	if (core_get_job(g->co->core, tenant, job_id, &row) == 0) {
		w->attempt = row.attempts;
		job_row_clear(&row);
	}
	char err[256];
	int e = core_watch(g->co->core, tenant, job_id, &SSE_OPS, w, err, sizeof err);
	if (e < 0) {
		/* Never attached: both references are ours. */
		httpd_stream_unref(w->s);
		httpd_stream_unref(w->s);
		free(w);
		fail(resp, e, err);
		return;
	}
	httpd_resp_stream(resp, w->s);
}

/* ---- routing ---- */

static bool method_is(const struct httpd_req *req, const char *allow, struct httpd_resp *resp)
{
	return httpd_method_in(req, allow, resp);
}

static void metrics_page(struct gateway *g, struct httpd_resp *resp)
{
	struct metrics_gauges mg;
	core_metrics(g->co->core, &mg);
	if (metrics_render(&mg, &resp->body) < 0) {
		fail(resp, -ENOMEM, "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* A job id in a path: the store's own alphabet, so that nothing odd
 * reaches a message. */
static bool job_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static const char *route(struct gateway *g, const struct httpd_req *req, struct httpd_resp *resp)
{
	const char *p = req->path;
	if (strcmp(p, "/healthz") == 0 || strcmp(p, "/health") == 0) {
		if (method_is(req, "GET", resp))
			buf_puts(&resp->body, "{\"status\":\"SERVING\"}\n");
		return "healthz";
	}
	if (strcmp(p, "/readyz") == 0) {
		if (!method_is(req, "GET", resp))
			return "readyz";
		if (atomic_load(&g->draining))
			httpd_resp_error(resp, 503, "UNAVAILABLE", "the coordinator is draining");
		else
			buf_puts(&resp->body, "{\"status\":\"READY\"}\n");
		return "readyz";
	}
	if (strcmp(p, "/metrics") == 0) {
		if (method_is(req, "GET", resp))
			metrics_page(g, resp);
		return "metrics";
	}
	static const char API[] = "/api/v1/";
	if (strncmp(p, API, sizeof API - 1) != 0) {
		httpd_resp_error(resp, 404, "NOT_FOUND", "no such path: %s", p);
		return "unknown";
	}
	p += sizeof API - 1;

	/* Fixed paths first: the request message and the operation. */
	static const struct {
		const char *path, *method, *route;
		const ProtobufCMessageDescriptor *desc;
		svc_op op;
	} fixed[] = {
		{ "confidential/keys", "POST", "keys", &atoll__v1__create_key_request__descriptor,
		  svc_op_create_key },
		{ "confidential/encrypt", "POST", "encrypt", &atoll__v1__encrypt_request__descriptor,
		  svc_op_encrypt },
		{ "confidential/decrypt", "POST", "decrypt", &atoll__v1__decrypt_request__descriptor,
		  svc_op_decrypt },
		{ "confidential/stats", "GET", "stats", &atoll__v1__get_stats_request__descriptor,
		  svc_op_stats },
		{ "usage", "GET", "usage", &atoll__v1__get_usage_request__descriptor, svc_op_usage },
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (strcmp(p, fixed[i].path) != 0)
			continue;
		if (!method_is(req, fixed[i].method, resp))
			return fixed[i].route;
		const struct tenant_cfg *t = tenant_or_fail(g, req, resp);
		if (!t)
			return fixed[i].route;
		ProtobufCMessage *m = read_body(req, fixed[i].desc, resp);
		if (m) {
			run_op(g, t->name, fixed[i].op, m, resp);
			protobuf_c_message_free_unpacked(m, NULL);
		}
		return fixed[i].route;
	}
	if (strcmp(p, "confidential/islands") == 0) {
		const struct tenant_cfg *t;
		if (method_is(req, "GET", resp) && (t = tenant_or_fail(g, req, resp)))
			list_islands(g, t->name, req, resp);
		return "islands";
	}
	if (strcmp(p, "jobs") == 0) {
		if (!method_is(req, "GET, POST", resp))
			return "jobs";
		const struct tenant_cfg *t = tenant_or_fail(g, req, resp);
		if (!t)
			return "jobs";
		if (strcmp(req->method, "GET") == 0) {
			list_jobs(g, t->name, req, resp);
			return "jobs";
		}
		ProtobufCMessage *m = read_body(req, &atoll__v1__submit_job_request__descriptor, resp);
		if (m) {
			run_op(g, t->name, svc_op_submit, m, resp);
			protobuf_c_message_free_unpacked(m, NULL);
		}
		return "jobs";
	}
	if (strncmp(p, "jobs/", 5) == 0) {
		const char *id = p + 5, *slash = strchr(id, '/');
		size_t n = slash ? (size_t)(slash - id) : strlen(id);
		const char *rest = slash ? slash : "";
		const char *rt = !rest[0]			  ? "job"
				 : strcmp(rest, "/events") == 0 ? "job_events"
				 : strcmp(rest, "/cancel") == 0 ? "job_cancel"
								  : NULL;
		if (!rt || !job_id_ok(id, n)) {
			httpd_resp_error(resp, 404, "NOT_FOUND", "no such path: %s", req->path);
			return "unknown";
		}
		char job_id[65];
		memcpy(job_id, id, n);
		job_id[n] = 0;
		const char *allow = !rest[0] ? "GET, DELETE" : rest[1] == 'e' ? "GET" : "POST";
		if (!method_is(req, allow, resp))
			return rt;
		const struct tenant_cfg *t = tenant_or_fail(g, req, resp);
		if (!t)
			return rt;
		if (rest[0] == '/' && rest[1] == 'e') {
			job_events(g, t->name, job_id, req, resp);
		} else if (!rest[0] && strcmp(req->method, "GET") == 0) {
			Atoll__V1__GetJobRequest r = ATOLL__V1__GET_JOB_REQUEST__INIT;
			r.job_id = job_id;
			run_op(g, t->name, svc_op_get, &r.base, resp);
		} else {
			Atoll__V1__CancelJobRequest *r = (Atoll__V1__CancelJobRequest *)read_body(
				req, &atoll__v1__cancel_job_request__descriptor, resp);
			if (!r)
				return rt;
			if (r->job_id[0] && strcmp(r->job_id, job_id) != 0) {
				httpd_resp_error(resp, 400, "INVALID_ARGUMENT",
						 "job_id %s in the body differs from the path's %s",
						 r->job_id, job_id);
			} else {
				Atoll__V1__CancelJobRequest c = *r;
				c.job_id = job_id;
				run_op(g, t->name, svc_op_cancel, &c.base, resp);
			}
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
		return rt;
	}
	httpd_resp_error(resp, 404, "NOT_FOUND", "no such path: %s", req->path);
	return "unknown";
}

static void handle(void *ud, const struct httpd_req *req, struct httpd_resp *resp)
{
	struct gateway *g = ud;
	const char *rt = route(g, req, resp);
	metrics_http(rt, resp->status);
}

int gw_start(struct coordinator *co, const char *address_override, struct gateway **ret,
	     int *ret_port, char *err, size_t err_size)
{
	const struct coord_config *cfg = co->cfg;
	struct gateway *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->co = co;
	char *pem[2] = { NULL, NULL };
	const char *paths[2] = { cfg->http.tls_cert, cfg->http.tls_key };
	for (int i = 0; i < 2; i++) {
		size_t len;
		if (paths[i] && fs_read_file(paths[i], 1 << 20, (uint8_t **)&pem[i], &len) < 0) {
			snprintf(err, err_size, "cannot read %s (http.tls)", paths[i]);
			free(pem[0]);
			free(g);
			return -EIO;
		}
	}
	struct httpd_opts o = {
		.address = address_override ? address_override : cfg->http.address,
		.max_body_bytes = cfg->http.max_body_bytes,
		.max_connections = cfg->http.max_connections,
		.idle_timeout_s = (unsigned)(cfg->http.idle_timeout_ms / 1000),
		.keepalive_ms = cfg->http.sse_keepalive_ms,
		.tls_cert_pem = pem[0],
		.tls_key_pem = pem[1],
	};
	int e = httpd_start(&o, handle, g, &g->httpd, ret_port, err, err_size);
	if (pem[1])
		OPENSSL_cleanse(pem[1], strlen(pem[1]));
	free(pem[0]);
	free(pem[1]);
	if (e < 0) {
		free(g);
		return e;
	}
	*ret = g;
	return 0;
}

void gw_draining(struct gateway *g)
{
	if (g)
		atomic_store(&g->draining, true);
}

void gw_stop(struct gateway *g)
{
	if (!g)
		return;
	httpd_stop(g->httpd);
	free(g);
}
