/* Per-call state of the server layer (server.h): a call's lifetime and
 * references, its send queue (one batch in flight, the rest pipelined,
 * bounded by the backlog limit), receiving on bidi streams, starting a call
 * that the server accepted, protobuf-c (de)serialisation, and the call
 * accessors.
 *
 * A call's state is guarded by its mutex; every grpc_call_start_batch on a
 * call happens under that mutex, which also serialises sends started from
 * foreign threads with those started on the completion-queue threads.
 * Completions are never delivered inline, so holding the mutex across
 * start_batch cannot deadlock. */
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
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "rpc/server_internal.h"

struct out_item {
	struct out_item *next;
	grpc_byte_buffer *bb; /* NULL for the status item */
	size_t len;           /* of bb */
	grpc_status_code code;
	char *details;
};

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

/* ---- starting an accepted call ---- */

void rpc_call_start(rpc_server *s, struct request *rq)
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
