/* Server layer on the gRPC core C API: call acceptance, protobuf-c
 * (de)serialisation, per-call send queues, cancellation and shutdown.
 *
 * Every completion-queue tag is a struct tag whose fn is called with the
 * event's success bit. A call's state is guarded by its mutex; every
 * grpc_call_start_batch on a call happens under that mutex, which also
 * serialises sends started from foreign threads with those started on the
 * completion-queue threads. Completions are never delivered inline, so
 * holding the mutex across start_batch cannot deadlock. */
#include "rpc/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <openssl/crypto.h>

#define MAX_METHODS 64
#define MAX_HOOKS 8
/* Outstanding accept requests per method: enough to absorb bursts without
 * holding much memory. */
#define REQUESTS_UNARY 32
#define REQUESTS_STREAM 8
#define REQUESTS_GENERIC 4

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

struct tag {
	void (*fn)(struct tag *t, bool ok);
};

struct method_entry {
	rpc_method m;
	void *handle; /* from grpc_server_register_method */
};

struct hook {
	void (*fn)(void *ud);
	void *ud;
};

struct rpc_server {
	grpc_server *server;
	grpc_resource_quota *quota;
	grpc_completion_queue *cq;
	pthread_t *threads;
	int nthreads;
	bool started;
	struct rpc_server_opts opts;
	struct method_entry methods[MAX_METHODS];
	size_t nmethods;
	struct hook hooks[MAX_HOOKS];
	size_t nhooks;
	void (*observer)(const char *path, int code);
	atomic_bool shutting_down;
	atomic_int live_calls;
	atomic_int pending_requests;
	/* Shutdown notification. */
	struct tag shutdown_tag;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool shutdown_done;
};

/* An outstanding accept request. method NULL = generic (unknown method). */
struct request {
	struct tag tag;
	rpc_server *srv;
	struct method_entry *me;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	grpc_call_details details; /* generic only */
};

struct out_item {
	struct out_item *next;
	grpc_byte_buffer *bb; /* NULL for the status item */
	size_t len;           /* of bb */
	grpc_status_code code;
	char *details;
};

struct rpc_call {
	rpc_server *srv;
	struct method_entry *me;
	grpc_call *call;
	grpc_metadata_array md;
	gpr_timespec deadline;
	char *peer;
	pthread_mutex_t mu;
	int refs;
	void *user;

	struct tag close_tag;
	int close_cancelled;
	bool close_done;

	/* Handler dispatch or receive in flight: on_done waits for it. */
	int busy;
	bool done_fired;

	struct tag recv_tag;
	grpc_byte_buffer *recv_bb;

	struct tag send_tag;
	bool send_busy;
	bool initial_md_sent;
	bool status_queued;
	bool send_failed;
	struct out_item *q_head, *q_tail;
	grpc_byte_buffer *inflight_bb;
	size_t inflight_len;
	/* Bytes queued and in flight: bounded by opts.max_queued_bytes. */
	size_t backlog;
	void (*drain_fn)(rpc_call *c, void *ud);
	void *drain_ud;
	grpc_metadata_array empty_md;
};

/* Generic calls to unknown methods: answered UNIMPLEMENTED in one batch. */
struct generic_call {
	struct tag tag;
	rpc_server *srv;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	int cancelled;
};

static void post_request(rpc_server *s, struct method_entry *me);
static void post_generic(rpc_server *s);
static void pump_locked(rpc_call *c);
static void arm_recv_locked(rpc_call *c);

/* ---- (de)serialisation ---- */

static grpc_byte_buffer *encode(const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(n);
	if (protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice)) != n) {
		grpc_slice_unref(slice);
		return NULL;
	}
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d,
				grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	grpc_slice slice = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	ProtobufCMessage *m = protobuf_c_message_unpack(
		d, NULL, GRPC_SLICE_LENGTH(slice), GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	return m;
}

/* ---- call lifetime ---- */

rpc_call *rpc_call_ref(rpc_call *c)
{
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
	return c;
}

static void call_free(rpc_call *c)
{
	struct out_item *it = c->q_head;
	while (it) {
		struct out_item *next = it->next;
		if (it->bb)
			grpc_byte_buffer_destroy(it->bb);
		free(it->details);
		free(it);
		it = next;
	}
	if (c->inflight_bb)
		grpc_byte_buffer_destroy(c->inflight_bb);
	if (c->recv_bb)
		grpc_byte_buffer_destroy(c->recv_bb);
	grpc_metadata_array_destroy(&c->md);
	grpc_metadata_array_destroy(&c->empty_md);
	if (c->peer)
		gpr_free(c->peer);
	grpc_call_unref(c->call);
	pthread_mutex_destroy(&c->mu);
	atomic_fetch_sub(&c->srv->live_calls, 1);
	free(c);
}

void rpc_call_unref(rpc_call *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	int refs = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (refs == 0)
		call_free(c);
}

/* Fire on_done once the call is closed and no handler or receive is in
 * flight, then drop `drop` references (the finished batch's) plus the one
 * the framework held until on_done. Called with the mutex held; unlocks,
 * and frees the call at zero. */
static void release_locked(rpc_call *c, int drop)
{
	if (c->close_done && c->busy == 0 && !c->done_fired) {
		c->done_fired = true;
		bool cancelled = c->close_cancelled != 0 || c->send_failed;
		pthread_mutex_unlock(&c->mu);
		if (c->me->m.on_done)
			c->me->m.on_done(c, cancelled, c->me->m.ud);
		pthread_mutex_lock(&c->mu);
		drop++;
	}
	int refs = (c->refs -= drop);
	pthread_mutex_unlock(&c->mu);
	if (refs == 0)
		call_free(c);
}

static void on_close(struct tag *t, bool ok)
{
	rpc_call *c = container_of(t, rpc_call, close_tag);
	pthread_mutex_lock(&c->mu);
	c->close_done = true;
	if (!ok)
		c->close_cancelled = 1;
	release_locked(c, 1);
}

/* ---- sending ---- */

static void on_send(struct tag *t, bool ok)
{
	rpc_call *c = container_of(t, rpc_call, send_tag);
	pthread_mutex_lock(&c->mu);
	c->send_busy = false;
	if (c->inflight_bb) {
		grpc_byte_buffer_destroy(c->inflight_bb);
		c->inflight_bb = NULL;
		c->backlog -= c->inflight_len;
		c->inflight_len = 0;
	}
	if (!ok)
		c->send_failed = true; /* the close batch reports the rest */
	else
		pump_locked(c);
	/* The writer wants to know when the reader has caught up. */
	void (*drain)(rpc_call *, void *) = NULL;
	void *ud = NULL;
	if (ok && c->drain_fn && !c->status_queued && !c->close_done && !c->done_fired &&
	    c->backlog <= c->srv->opts.max_queued_bytes / 4) {
		drain = c->drain_fn;
		ud = c->drain_ud;
		c->refs++; /* the call stays valid while the hook runs */
	}
	release_locked(c, 1);
	if (drain) {
		drain(c, ud);
		rpc_call_unref(c);
	}
}

/* Start the next send batch if none is in flight. A message followed by
 * the status go out in one batch (the common unary case). */
static void pump_locked(rpc_call *c)
{
	if (c->send_busy || c->send_failed || c->close_done || !c->q_head)
		return;
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof ops);
	if (!c->initial_md_sent) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[n].data.send_initial_metadata.count = 0;
		n++;
		c->initial_md_sent = true;
	}
	struct out_item *it = c->q_head;
	struct out_item *status = NULL;
	if (it->bb) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = it->bb;
		n++;
		c->inflight_bb = it->bb;
		c->inflight_len = it->len;
		it->bb = NULL;
		c->q_head = it->next;
		free(it);
		if (c->q_head && !c->q_head->bb)
			status = c->q_head;
	} else {
		status = it;
	}
	grpc_slice details = grpc_empty_slice();
	if (status) {
		c->q_head = status->next;
		details = grpc_slice_from_copied_string(status->details ? status->details : "");
		if (c->srv->observer)
			c->srv->observer(c->me->m.path, status->code);
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = status->code;
		ops[n].data.send_status_from_server.status_details = &details;
		ops[n].data.send_status_from_server.trailing_metadata_count = 0;
		n++;
		free(status->details);
		free(status);
	}
	if (!c->q_head)
		c->q_tail = NULL;
	c->send_busy = true;
	c->refs++;
	grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->send_tag, NULL);
	grpc_slice_unref(details);
	if (e != GRPC_CALL_OK) {
		c->send_busy = false;
		c->send_failed = true;
		c->refs--;
		if (c->inflight_bb) {
			grpc_byte_buffer_destroy(c->inflight_bb);
			c->inflight_bb = NULL;
			c->backlog -= c->inflight_len;
			c->inflight_len = 0;
		}
		grpc_call_cancel(c->call, NULL);
	}
}

/* Drop what is queued (not what is in flight) and queue the status
 * instead: the reader is too slow for the backlog the server allows. */
static void overflow_locked(rpc_call *c)
{
	struct out_item *it = c->q_head;
	while (it) {
		struct out_item *next = it->next;
		if (it->bb) {
			c->backlog -= it->len;
			grpc_byte_buffer_destroy(it->bb);
		}
		free(it->details);
		free(it);
		it = next;
	}
	c->q_head = c->q_tail = NULL;
	struct out_item *st = calloc(1, sizeof *st);
	if (st) {
		st->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
		char msg[160];
		snprintf(msg, sizeof msg,
			 "the client reads too slowly: over %zu bytes waited to be sent",
			 c->srv->opts.max_queued_bytes);
		st->details = strdup(msg);
		c->q_head = c->q_tail = st;
		c->status_queued = true;
	}
	pump_locked(c);
}

static int enqueue_locked(rpc_call *c, struct out_item *it)
{
	if (c->status_queued || c->close_done || c->send_failed)
		return -EPIPE;
	if (it->bb && c->backlog + it->len > c->srv->opts.max_queued_bytes) {
		overflow_locked(c);
		return -ENOBUFS;
	}
	c->backlog += it->len;
	if (c->q_tail)
		c->q_tail->next = it;
	else
		c->q_head = it;
	c->q_tail = it;
	if (!it->bb)
		c->status_queued = true;
	pump_locked(c);
	return 0;
}

int rpc_call_send(rpc_call *c, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb = encode(msg);
	if (!bb)
		return -EINVAL;
	struct out_item *it = calloc(1, sizeof *it);
	if (!it) {
		grpc_byte_buffer_destroy(bb);
		return -ENOMEM;
	}
	it->bb = bb;
	it->len = grpc_byte_buffer_length(bb);
	pthread_mutex_lock(&c->mu);
	int r = enqueue_locked(c, it);
	pthread_mutex_unlock(&c->mu);
	if (r < 0) {
		grpc_byte_buffer_destroy(bb);
		free(it);
	}
	if (r == -ENOBUFS && c->srv->opts.on_limit)
		c->srv->opts.on_limit("send_backlog", c->me->m.path, c->srv->opts.limit_ud);
	return r;
}

size_t rpc_call_backlog(rpc_call *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->backlog;
	pthread_mutex_unlock(&c->mu);
	return n;
}

size_t rpc_call_backlog_limit(const rpc_call *c)
{
	return c->srv->opts.max_queued_bytes;
}

void rpc_call_on_drain(rpc_call *c, void (*fn)(rpc_call *c, void *ud), void *ud)
{
	pthread_mutex_lock(&c->mu);
	c->drain_fn = fn;
	c->drain_ud = ud;
	pthread_mutex_unlock(&c->mu);
}

int rpc_call_finish(rpc_call *c, grpc_status_code code, const char *message)
{
	struct out_item *it = calloc(1, sizeof *it);
	if (!it)
		return -ENOMEM;
	it->code = code;
	it->details = message ? strdup(message) : NULL;
	pthread_mutex_lock(&c->mu);
	int r = enqueue_locked(c, it);
	pthread_mutex_unlock(&c->mu);
	if (r < 0) {
		free(it->details);
		free(it);
	}
	return r;
}

int rpc_call_finishf(rpc_call *c, grpc_status_code code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rpc_call_finish(c, code, msg);
}

int rpc_call_reply(rpc_call *c, const ProtobufCMessage *msg)
{
	int r = rpc_call_send(c, msg);
	if (r < 0)
		return r;
	return rpc_call_finish(c, GRPC_STATUS_OK, NULL);
}

int rpc_call_fail(rpc_call *c, int err, const char *message)
{
	return rpc_call_finish(c, rpc_status_from_errno(err), message);
}

/* ---- receiving (bidi) ---- */

static void on_recv(struct tag *t, bool ok)
{
	rpc_call *c = container_of(t, rpc_call, recv_tag);
	const rpc_method *m = &c->me->m;
	grpc_byte_buffer *bb = c->recv_bb;
	c->recv_bb = NULL;
	if (ok && bb) {
		ProtobufCMessage *msg = decode(m->request, bb);
		grpc_byte_buffer_destroy(bb);
		if (!msg) {
			rpc_call_finishf(c, GRPC_STATUS_INVALID_ARGUMENT,
					 "malformed %s on %s: cannot parse the message",
					 m->request->name, m->path);
		} else {
			m->on_message(c, msg, m->ud);
			protobuf_c_message_free_unpacked(msg, NULL);
			pthread_mutex_lock(&c->mu);
			if (!c->status_queued && !c->close_done && !c->send_failed) {
				arm_recv_locked(c); /* keeps the busy count */
				release_locked(c, 1);
				return;
			}
			pthread_mutex_unlock(&c->mu);
		}
	} else if (ok) {
		if (m->on_half_close)
			m->on_half_close(c, m->ud);
		else
			rpc_call_finish(c, GRPC_STATUS_OK, NULL);
	} else if (bb) {
		grpc_byte_buffer_destroy(bb);
	}
	pthread_mutex_lock(&c->mu);
	c->busy--;
	release_locked(c, 1);
}

/* Start one RECV_MESSAGE. The caller accounts for c->busy. */
static void arm_recv_locked(rpc_call *c)
{
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv_bb;
	c->refs++;
	if (grpc_call_start_batch(c->call, &op, 1, &c->recv_tag, NULL) != GRPC_CALL_OK) {
		c->refs--;
		c->busy--;
		grpc_call_cancel(c->call, NULL);
	}
}

/* ---- accepting ---- */

static void start_call(rpc_server *s, struct request *rq)
{
	rpc_call *c = calloc(1, sizeof *c);
	if (!c) {
		grpc_call_cancel_with_status(rq->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
					     "out of memory", NULL);
		grpc_call_unref(rq->call);
		grpc_metadata_array_destroy(&rq->md);
		if (rq->payload)
			grpc_byte_buffer_destroy(rq->payload);
		return;
	}
	atomic_fetch_add(&s->live_calls, 1);
	c->srv = s;
	c->me = rq->me;
	c->call = rq->call;
	c->md = rq->md; /* moved */
	c->deadline = rq->deadline;
	c->peer = grpc_call_get_peer(c->call);
	pthread_mutex_init(&c->mu, NULL);
	grpc_metadata_array_init(&c->empty_md);
	c->close_tag.fn = on_close;
	c->recv_tag.fn = on_recv;
	c->send_tag.fn = on_send;
	/* One reference until on_done, one for the close batch. */
	c->refs = 2;
	c->busy = 1; /* the dispatch below */

	const rpc_method *m = &c->me->m;
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	pthread_mutex_lock(&c->mu);
	if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
		/* Cannot watch the call: refuse it. */
		pthread_mutex_unlock(&c->mu);
		grpc_call_cancel(c->call, NULL);
		if (rq->payload)
			grpc_byte_buffer_destroy(rq->payload);
		c->refs = 1;
		c->done_fired = true;
		rpc_call_unref(c);
		return;
	}
	if (m->kind == RPC_BIDI) {
		/* Let the client (and proxies) see the stream is up at once. */
		grpc_op md;
		memset(&md, 0, sizeof md);
		md.op = GRPC_OP_SEND_INITIAL_METADATA;
		c->initial_md_sent = true;
		c->send_busy = true;
		c->refs++;
		if (grpc_call_start_batch(c->call, &md, 1, &c->send_tag, NULL) != GRPC_CALL_OK) {
			c->send_busy = false;
			c->refs--;
		}
	}
	pthread_mutex_unlock(&c->mu);

	if (m->kind == RPC_BIDI) {
		m->on_start(c, NULL, m->ud);
		pthread_mutex_lock(&c->mu);
		if (!c->status_queued && !c->close_done && !c->send_failed) {
			arm_recv_locked(c); /* the dispatch's busy count passes on */
			pthread_mutex_unlock(&c->mu);
			return;
		}
	} else if (!rq->payload) {
		rpc_call_finishf(c, GRPC_STATUS_INVALID_ARGUMENT,
				 "%s: the request message is missing", m->path);
		pthread_mutex_lock(&c->mu);
	} else {
		ProtobufCMessage *req = decode(m->request, rq->payload);
		grpc_byte_buffer_destroy(rq->payload);
		if (!req) {
			rpc_call_finishf(c, GRPC_STATUS_INVALID_ARGUMENT,
					 "malformed %s on %s: cannot parse the request",
					 m->request->name, m->path);
		} else {
			m->on_start(c, req, m->ud);
			protobuf_c_message_free_unpacked(req, NULL);
		}
		pthread_mutex_lock(&c->mu);
	}
	c->busy--;
	release_locked(c, 0);
}

static void on_request(struct tag *t, bool ok)
{
	struct request *rq = container_of(t, struct request, tag);
	rpc_server *s = rq->srv;
	atomic_fetch_sub(&s->pending_requests, 1);
	if (!ok) {
		/* Server shutting down: the request never matched a call. */
		grpc_metadata_array_destroy(&rq->md);
		free(rq);
		return;
	}
	if (!atomic_load(&s->shutting_down))
		post_request(s, rq->me);
	start_call(s, rq);
	free(rq);
}

static void post_request(rpc_server *s, struct method_entry *me)
{
	struct request *rq = calloc(1, sizeof *rq);
	if (!rq)
		return;
	rq->tag.fn = on_request;
	rq->srv = s;
	rq->me = me;
	grpc_metadata_array_init(&rq->md);
	bool with_payload = me->m.kind != RPC_BIDI;
	atomic_fetch_add(&s->pending_requests, 1);
	grpc_call_error e = grpc_server_request_registered_call(
		s->server, me->handle, &rq->call, &rq->deadline, &rq->md,
		with_payload ? &rq->payload : NULL, s->cq, s->cq, &rq->tag);
	if (e != GRPC_CALL_OK) {
		atomic_fetch_sub(&s->pending_requests, 1);
		grpc_metadata_array_destroy(&rq->md);
		free(rq);
	}
}

static void on_generic_done(struct tag *t, bool ok)
{
	struct generic_call *g = container_of(t, struct generic_call, tag);
	grpc_call_unref(g->call);
	grpc_call_details_destroy(&g->details);
	grpc_metadata_array_destroy(&g->md);
	free(g);
}

static void on_generic(struct tag *t, bool ok)
{
	struct generic_call *g = container_of(t, struct generic_call, tag);
	rpc_server *s = g->srv;
	atomic_fetch_sub(&s->pending_requests, 1);
	if (!ok) {
		grpc_call_details_destroy(&g->details);
		grpc_metadata_array_destroy(&g->md);
		free(g);
		return;
	}
	if (!atomic_load(&s->shutting_down))
		post_generic(s);
	char *method = grpc_slice_to_c_string(g->details.method);
	char msg[512];
	snprintf(msg, sizeof msg, "unknown method %s", method);
	gpr_free(method);
	grpc_slice details = grpc_slice_from_copied_string(msg);
	grpc_op ops[3];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
	ops[1].data.send_status_from_server.status_details = &details;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &g->cancelled;
	g->tag.fn = on_generic_done;
	if (grpc_call_start_batch(g->call, ops, 3, &g->tag, NULL) != GRPC_CALL_OK)
		on_generic_done(&g->tag, false);
	grpc_slice_unref(details);
}

static void post_generic(rpc_server *s)
{
	struct generic_call *g = calloc(1, sizeof *g);
	if (!g)
		return;
	g->tag.fn = on_generic;
	g->srv = s;
	grpc_call_details_init(&g->details);
	grpc_metadata_array_init(&g->md);
	atomic_fetch_add(&s->pending_requests, 1);
	if (grpc_server_request_call(s->server, &g->call, &g->details, &g->md,
				     s->cq, s->cq, &g->tag) != GRPC_CALL_OK) {
		atomic_fetch_sub(&s->pending_requests, 1);
		grpc_call_details_destroy(&g->details);
		grpc_metadata_array_destroy(&g->md);
		free(g);
	}
}

/* ---- server ---- */

static void *cq_thread(void *arg)
{
	rpc_server *s = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		struct tag *t = ev.tag;
		t->fn(t, ev.success != 0);
	}
	return NULL;
}

static void on_shutdown_tag(struct tag *t, bool ok)
{
	rpc_server *s = container_of(t, rpc_server, shutdown_tag);
	pthread_mutex_lock(&s->mu);
	s->shutdown_done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

int rpc_server_new(const struct rpc_server_opts *opts, rpc_server **ret,
		   char *err, size_t err_size)
{
	rpc_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	s->opts = *opts;
	/* The PEM strings are used at start: keep copies. */
	s->opts.tls_cert_pem = opts->tls_cert_pem ? strdup(opts->tls_cert_pem) : NULL;
	s->opts.tls_key_pem = opts->tls_key_pem ? strdup(opts->tls_key_pem) : NULL;
	s->opts.tls_client_ca_pem = opts->tls_client_ca_pem ? strdup(opts->tls_client_ca_pem) : NULL;
	if (s->opts.threads <= 0)
		s->opts.threads = 1;
	if (s->opts.max_message_bytes <= 0)
		s->opts.max_message_bytes = 4 << 20;
	if (s->opts.keepalive_time_ms <= 0)
		s->opts.keepalive_time_ms = 60000;
	if (s->opts.keepalive_timeout_ms <= 0)
		s->opts.keepalive_timeout_ms = 20000;
	if (s->opts.min_client_ping_ms <= 0)
		s->opts.min_client_ping_ms = 10000;
	if (s->opts.max_queued_bytes == 0)
		s->opts.max_queued_bytes = 8u << 20;
	if (s->opts.max_streams_per_connection <= 0)
		s->opts.max_streams_per_connection = 1000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->shutdown_tag.fn = on_shutdown_tag;

	/* Keepalive for thousands of idle island streams: the server pings
	 * idle connections itself and tolerates islands that ping it; neither
	 * side stops pinging on a stream without data. */
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = s->opts.max_message_bytes },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		  .value.integer = -1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIME_MS,
		  .value.integer = s->opts.keepalive_time_ms },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
		  .value.integer = s->opts.keepalive_timeout_ms },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
		  .value.integer = 1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA,
		  .value.integer = 0 },
		{ .type = GRPC_ARG_INTEGER,
		  .key = GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
		  .value.integer = s->opts.min_client_ping_ms },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ALLOW_REUSEPORT,
		  .value.integer = 0 },
		/* One connection may not hold the server with endless streams. */
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_CONCURRENT_STREAMS,
		  .value.integer = s->opts.max_streams_per_connection },
		/* gRPC's own buffers (connections, frames, HPACK tables) draw on
		 * one quota, so a flood of connections meets a ceiling. */
		{ .type = GRPC_ARG_POINTER, .key = GRPC_ARG_RESOURCE_QUOTA },
	};
	size_t n_args = sizeof args / sizeof args[0];
	if (s->opts.memory_quota_bytes > 0) {
		s->quota = grpc_resource_quota_create("atoll");
		grpc_resource_quota_resize(s->quota, (size_t)s->opts.memory_quota_bytes);
		args[n_args - 1].value.pointer.p = s->quota;
		args[n_args - 1].value.pointer.vtable = grpc_resource_quota_arg_vtable();
	} else {
		n_args--;
	}
	grpc_channel_args ca = { n_args, args };
	s->server = grpc_server_create(&ca, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	*ret = s;
	return 0;
}

int rpc_server_add_method(rpc_server *s, const rpc_method *m)
{
	if (s->started || s->nmethods == MAX_METHODS)
		return -EINVAL;
	struct method_entry *me = &s->methods[s->nmethods];
	me->m = *m;
	me->handle = grpc_server_register_method(
		s->server, m->path, NULL,
		m->kind == RPC_BIDI ? GRPC_SRM_PAYLOAD_NONE
				    : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
		0);
	if (!me->handle)
		return -EEXIST;
	s->nmethods++;
	return 0;
}

void rpc_server_observe(rpc_server *s, void (*fn)(const char *path, int code))
{
	s->observer = fn;
}

void rpc_server_on_shutdown(rpc_server *s, void (*fn)(void *ud), void *ud)
{
	if (s->nhooks < MAX_HOOKS)
		s->hooks[s->nhooks++] = (struct hook){ fn, ud };
}

int rpc_server_start(rpc_server *s, const char *addr, int *ret_port, char *err,
		     size_t err_size)
{
	grpc_server_credentials *creds;
	if (s->opts.tls_cert_pem) {
		grpc_ssl_pem_key_cert_pair kp = { s->opts.tls_key_pem, s->opts.tls_cert_pem };
		creds = grpc_ssl_server_credentials_create_ex(
			s->opts.tls_client_ca_pem, &kp, 1,
			s->opts.tls_client_ca_pem
				? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
				: GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
			NULL);
	} else {
		creds = grpc_insecure_server_credentials_create();
	}
	int port = grpc_server_add_http2_port(s->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		snprintf(err, err_size, "cannot listen on %s (address in use or invalid%s)", addr,
			 s->opts.tls_cert_pem ? ", or the TLS certificate and key refused" : "");
		return -EADDRINUSE;
	}
	grpc_server_start(s->server);
	s->started = true;
	for (size_t i = 0; i < s->nmethods; i++) {
		int n = s->methods[i].m.kind == RPC_UNARY ? REQUESTS_UNARY : REQUESTS_STREAM;
		for (int k = 0; k < n; k++)
			post_request(s, &s->methods[i]);
	}
	for (int k = 0; k < REQUESTS_GENERIC; k++)
		post_generic(s);
	s->threads = calloc((size_t)s->opts.threads, sizeof *s->threads);
	if (!s->threads) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < s->opts.threads; i++) {
		if (pthread_create(&s->threads[i], NULL, cq_thread, s) != 0) {
			snprintf(err, err_size, "cannot start threads");
			return -EAGAIN;
		}
		s->nthreads++;
	}
	*ret_port = port;
	return 0;
}

void rpc_server_shutdown(rpc_server *s, int64_t drain_ms)
{
	if (!s->started || atomic_exchange(&s->shutting_down, true))
		return;
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
	for (size_t i = 0; i < s->nhooks; i++)
		s->hooks[i].fn(s->hooks[i].ud);
	gpr_timespec until = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
					  gpr_time_from_millis(drain_ms, GPR_TIMESPAN));
	struct timespec ts = { until.tv_sec, until.tv_nsec };
	pthread_mutex_lock(&s->mu);
	while (!s->shutdown_done) {
		if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT)
			break;
	}
	bool drained = s->shutdown_done;
	pthread_mutex_unlock(&s->mu);
	if (!drained) {
		grpc_server_cancel_all_calls(s->server);
		pthread_mutex_lock(&s->mu);
		while (!s->shutdown_done)
			pthread_cond_wait(&s->cond, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	/* Calls that a service still references may have batches in flight;
	 * they complete (cancelled) before the queue drains below. */
	grpc_completion_queue_shutdown(s->cq);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
}

void rpc_server_free(rpc_server *s)
{
	if (!s)
		return;
	if (s->started && !atomic_load(&s->shutting_down))
		rpc_server_shutdown(s, 0);
	if (!s->started) {
		/* Never started: shut down the queue here. */
		grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
		grpc_completion_queue_shutdown(s->cq);
		for (;;) {
			grpc_event ev = grpc_completion_queue_next(
				s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
			if (ev.type == GRPC_QUEUE_SHUTDOWN)
				break;
		}
	}
	grpc_server_destroy(s->server);
	grpc_completion_queue_destroy(s->cq);
	if (s->quota)
		grpc_resource_quota_unref(s->quota);
	free(s->threads);
	free((char *)s->opts.tls_cert_pem);
	if (s->opts.tls_key_pem) {
		OPENSSL_cleanse((char *)s->opts.tls_key_pem, strlen(s->opts.tls_key_pem));
		free((char *)s->opts.tls_key_pem);
	}
	free((char *)s->opts.tls_client_ca_pem);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}

size_t rpc_server_method_count(const rpc_server *s)
{
	return s->nmethods;
}

const char *rpc_server_method_path(const rpc_server *s, size_t i)
{
	return i < s->nmethods ? s->methods[i].m.path : NULL;
}

int rpc_server_live_calls(const rpc_server *s)
{
	return atomic_load(&s->live_calls);
}

/* ---- call accessors ---- */

int rpc_call_metadata(const rpc_call *c, const char *key, char *out, size_t out_size)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < c->md.count; i++) {
		const grpc_metadata *md = &c->md.metadata[i];
		if (GRPC_SLICE_LENGTH(md->key) != klen ||
		    memcmp(GRPC_SLICE_START_PTR(md->key), key, klen) != 0)
			continue;
		size_t vlen = GRPC_SLICE_LENGTH(md->value);
		if (vlen + 1 > out_size)
			return -E2BIG;
		memcpy(out, GRPC_SLICE_START_PTR(md->value), vlen);
		out[vlen] = 0;
		return 0;
	}
	return -ENOENT;
}

int64_t rpc_call_deadline_ms(const rpc_call *c)
{
	gpr_timespec d = gpr_convert_clock_type(c->deadline, GPR_CLOCK_REALTIME);
	if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_REALTIME)) == 0 ||
	    d.tv_sec > INT64_MAX / 2000)
		return INT64_MAX;
	return d.tv_sec * 1000 + d.tv_nsec / 1000000;
}

const char *rpc_call_peer(const rpc_call *c)
{
	return c->peer ? c->peer : "?";
}

const char *rpc_call_path(const rpc_call *c)
{
	return c->me->m.path;
}

bool rpc_call_is_done(rpc_call *c)
{
	pthread_mutex_lock(&c->mu);
	bool done = c->close_done || c->status_queued || c->send_failed;
	pthread_mutex_unlock(&c->mu);
	return done;
}

void rpc_call_set_user(rpc_call *c, void *user)
{
	c->user = user;
}

void *rpc_call_user(const rpc_call *c)
{
	return c->user;
}
