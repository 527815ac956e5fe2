/* Blocking client calls on the gRPC core C API. Each call owns a pluck
 * completion queue; every batch is waited for by its own tag, so a reader
 * and a writer can block on one stream from two threads. */
#include "rpc/client.h"

#include <errno.h>
#include <pthread.h>
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

/* Completion queues for unary calls are kept for reuse: making and
 * destroying one per call costs more than the call on loopback. */
#define CQ_CACHE 16

struct rpc_client {
	grpc_channel *ch;
	pthread_mutex_t mu;
	grpc_completion_queue *idle[CQ_CACHE];
	size_t n_idle;
};

static grpc_completion_queue *cq_get(rpc_client *c)
{
	grpc_completion_queue *cq = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->n_idle)
		cq = c->idle[--c->n_idle];
	pthread_mutex_unlock(&c->mu);
	return cq ? cq : grpc_completion_queue_create_for_pluck(NULL);
}

static void cq_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	grpc_completion_queue_destroy(cq);
}

/* Only a queue with nothing pending comes back: every batch of a finished
 * unary call has been plucked. */
static void cq_put(rpc_client *c, grpc_completion_queue *cq)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_idle < CQ_CACHE) {
		c->idle[c->n_idle++] = cq;
		cq = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (cq)
		cq_destroy(cq);
}

struct rpc_stream {
	grpc_call *call;
	grpc_completion_queue *cq;
	grpc_metadata_array init_md, trailing_md;
	grpc_metadata *send_md;
	size_t n_send_md;
	grpc_status_code status;
	grpc_slice details;
	bool got_init_md;
	atomic_bool ended;
	bool half_closed;
	int tag_status, tag_start, tag_send, tag_recv, tag_close;
};

static gpr_timespec deadline_after(int64_t ms)
{
	if (ms <= 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int rpc_client_new(const char *target, const struct rpc_client_opts *opts,
		   rpc_client **ret)
{
	static const struct rpc_client_opts defaults = { 0 };
	if (!opts)
		opts = &defaults;
	rpc_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	grpc_arg args[10];
	size_t n = 0;
	args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
				.key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
				.value.integer = opts->max_message_bytes > 0 ? opts->max_message_bytes
									     : 64 << 20 };
	if (opts->keepalive_time_ms > 0) {
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIME_MS,
					.value.integer = opts->keepalive_time_ms };
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
					.value.integer = opts->keepalive_timeout_ms > 0
								 ? opts->keepalive_timeout_ms : 20000 };
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA,
					.value.integer = 0 };
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
					.value.integer = 1 };
	}
	if (opts->initial_reconnect_ms > 0) {
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
					.value.integer = opts->initial_reconnect_ms };
	}
	if (opts->connect_timeout_ms > 0)
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
					.value.integer = opts->connect_timeout_ms };
	if (opts->max_reconnect_ms > 0)
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
					.value.integer = opts->max_reconnect_ms };
	if (opts->own_connection)
		args[n++] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
					.key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
					.value.integer = 1 };
	if (opts->tls_server_name)
		args[n++] = (grpc_arg){ .type = GRPC_ARG_STRING,
					.key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
					.value.string = (char *)opts->tls_server_name };
	grpc_channel_args ca = { n, args };
	grpc_channel_credentials *creds;
	if (opts->tls_ca_pem) {
		grpc_ssl_pem_key_cert_pair kp = { opts->tls_key_pem, opts->tls_cert_pem };
		creds = grpc_ssl_credentials_create(opts->tls_ca_pem,
						    opts->tls_cert_pem ? &kp : NULL, NULL, NULL);
	} else {
		creds = grpc_insecure_credentials_create();
	}
	c->ch = grpc_channel_create(target, creds, &ca);
	grpc_channel_credentials_release(creds);
	if (!c->ch) {
		free(c);
		return -EINVAL;
	}
	pthread_mutex_init(&c->mu, NULL);
	*ret = c;
	return 0;
}

int rpc_client_connect(rpc_client *c, int timeout_ms)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					     gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	bool tried = false;
	int e = -ETIMEDOUT;
	for (;;) {
		grpc_connectivity_state st = grpc_channel_check_connectivity_state(c->ch, 1);
		if (st == GRPC_CHANNEL_READY) {
			e = 0;
			break;
		}
		/* A failure after this call's own attempt began is its answer. */
		if (st == GRPC_CHANNEL_TRANSIENT_FAILURE && tried) {
			e = -ECONNREFUSED;
			break;
		}
		if (st == GRPC_CHANNEL_CONNECTING)
			tried = true;
		if (st == GRPC_CHANNEL_SHUTDOWN) {
			e = -ECONNREFUSED;
			break;
		}
		static int tag;
		grpc_channel_watch_connectivity_state(c->ch, st, deadline, cq, &tag);
		grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME),
							    NULL);
		if (!ev.success) /* the deadline came first */
			break;
		if (st == GRPC_CHANNEL_IDLE)
			tried = true;
	}
	cq_destroy(cq);
	return e;
}

void rpc_client_free(rpc_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_idle; i++)
		cq_destroy(c->idle[i]);
	grpc_channel_destroy(c->ch);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static grpc_metadata *make_md(const struct rpc_md *md, size_t n)
{
	grpc_metadata *m = calloc(n + 1, sizeof *m);
	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		m[i].key = grpc_slice_from_copied_string(md[i].key);
		m[i].value = grpc_slice_from_copied_string(md[i].value);
	}
	return m;
}

static void free_md(grpc_metadata *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		grpc_slice_unref(m[i].key);
		grpc_slice_unref(m[i].value);
	}
	free(m);
}

static void pluck(grpc_completion_queue *cq, void *tag, bool *ok)
{
	grpc_event ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME),
						    NULL);
	*ok = ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void copy_status(struct rpc_status *st, grpc_status_code code, grpc_slice details)
{
	if (!st)
		return;
	st->code = code;
	size_t n = GRPC_SLICE_LENGTH(details);
	if (n >= sizeof st->message)
		n = sizeof st->message - 1;
	memcpy(st->message, GRPC_SLICE_START_PTR(details), n);
	st->message[n] = 0;
}

static grpc_byte_buffer *bb_from(const uint8_t *data, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static uint8_t *bb_to(grpc_byte_buffer *bb, size_t *ret_len)
{
	grpc_byte_buffer_reader r;
	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	grpc_slice s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	size_t n = GRPC_SLICE_LENGTH(s);
	uint8_t *p = malloc(n + 1);
	if (p) {
		memcpy(p, GRPC_SLICE_START_PTR(s), n);
		*ret_len = n;
	}
	grpc_slice_unref(s);
	return p;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n + 1);
	if (p)
		*ret_len = protobuf_c_message_pack(m, p);
	return p;
}

int rpc_unary_raw(rpc_client *c, const char *method, const uint8_t *req, size_t len,
		  const struct rpc_md *md, size_t n_md, int64_t timeout_ms,
		  uint8_t **ret_resp, size_t *ret_len, struct rpc_status *st)
{
	grpc_completion_queue *cq = cq_get(c);
	grpc_slice path = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path,
						   NULL, deadline_after(timeout_ms), NULL);
	grpc_slice_unref(path);
	grpc_metadata *m = make_md(md, n_md);
	grpc_byte_buffer *send = bb_from(req, len), *recv = NULL;
	grpc_metadata_array init_md, trailing;
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trailing);
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = n_md;
	ops[0].data.send_initial_metadata.metadata = m;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	int r = 0;
	int tag;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		r = -EIO;
	} else {
		bool ok;
		pluck(cq, &tag, &ok);
		copy_status(st, code, details);
		if (code == GRPC_STATUS_OK && ret_resp) {
			*ret_resp = recv ? bb_to(recv, ret_len) : NULL;
			if (!*ret_resp) {
				/* OK without a message: a protocol violation. */
				if (st) {
					st->code = GRPC_STATUS_INTERNAL;
					snprintf(st->message, sizeof st->message,
						 "server sent OK without a response");
				}
			}
		}
	}
	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_byte_buffer_destroy(send);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trailing);
	free_md(m, n_md);
	grpc_call_unref(call);
	if (r == 0)
		cq_put(c, cq);
	else
		cq_destroy(cq);
	return r;
}

int rpc_unary(rpc_client *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, const struct rpc_md *md,
	      size_t n_md, int64_t timeout_ms, ProtobufCMessage **ret_resp,
	      struct rpc_status *st)
{
	size_t len, rlen = 0;
	uint8_t *data = pack(req, &len), *resp = NULL;
	if (!data)
		return -ENOMEM;
	int r = rpc_unary_raw(c, method, data, len, md, n_md, timeout_ms, &resp, &rlen, st);
	free(data);
	if (r < 0)
		return r;
	if (st->code == GRPC_STATUS_OK && resp) {
		*ret_resp = protobuf_c_message_unpack(resp_desc, NULL, rlen, resp);
		if (!*ret_resp) {
			st->code = GRPC_STATUS_INTERNAL;
			snprintf(st->message, sizeof st->message, "cannot parse the %s response",
				 resp_desc->name);
		}
	} else if (st->code == GRPC_STATUS_OK) {
		st->code = GRPC_STATUS_INTERNAL;
	}
	free(resp);
	return 0;
}

int rpc_stream_open(rpc_client *c, const char *method, const ProtobufCMessage *req,
		    const struct rpc_md *md, size_t n_md, int64_t timeout_ms,
		    bool wait_for_ready, rpc_stream **ret)
{
	rpc_stream *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_slice path = grpc_slice_from_copied_string(method);
	s->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq, path, NULL,
					   deadline_after(timeout_ms), NULL);
	grpc_slice_unref(path);
	grpc_metadata_array_init(&s->init_md);
	grpc_metadata_array_init(&s->trailing_md);
	s->details = grpc_empty_slice();
	s->status = GRPC_STATUS_UNKNOWN;

	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.status = &s->status;
	op.data.recv_status_on_client.status_details = &s->details;
	op.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_status, NULL) != GRPC_CALL_OK) {
		grpc_call_unref(s->call);
		grpc_completion_queue_shutdown(s->cq);
		grpc_completion_queue_destroy(s->cq);
		grpc_metadata_array_destroy(&s->init_md);
		grpc_metadata_array_destroy(&s->trailing_md);
		free(s);
		return -EIO;
	}

	s->send_md = make_md(md, n_md);
	s->n_send_md = n_md;
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof ops);
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].data.send_initial_metadata.count = n_md;
	ops[n].data.send_initial_metadata.metadata = s->send_md;
	if (wait_for_ready)
		ops[n].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
	n++;
	grpc_byte_buffer *bb = NULL;
	if (req) {
		size_t len;
		uint8_t *data = pack(req, &len);
		if (!data)
			goto fail;
		bb = bb_from(data, len);
		free(data);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = bb;
		n++;
		ops[n].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
		n++;
		s->half_closed = true;
	}
	bool ok = false;
	if (grpc_call_start_batch(s->call, ops, n, &s->tag_start, NULL) == GRPC_CALL_OK)
		pluck(s->cq, &s->tag_start, &ok);
	if (bb)
		grpc_byte_buffer_destroy(bb);
	/* A failed start shows up as the stream's status; keep the stream. */
	*ret = s;
	return 0;
fail:
	grpc_call_cancel(s->call, NULL);
	rpc_stream_finish(s, NULL);
	return -ENOMEM;
}

int rpc_stream_send_raw(rpc_stream *s, const uint8_t *data, size_t len)
{
	if (s->half_closed)
		return -EPIPE;
	grpc_byte_buffer *bb = bb_from(data, len);
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = bb;
	bool ok = false;
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_send, NULL) == GRPC_CALL_OK)
		pluck(s->cq, &s->tag_send, &ok);
	grpc_byte_buffer_destroy(bb);
	return ok ? 0 : -EPIPE;
}

int rpc_stream_send(rpc_stream *s, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *data = pack(msg, &len);
	if (!data)
		return -ENOMEM;
	int r = rpc_stream_send_raw(s, data, len);
	free(data);
	return r;
}

int rpc_stream_close_send(rpc_stream *s)
{
	if (s->half_closed)
		return 0;
	s->half_closed = true;
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	bool ok = false;
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_close, NULL) == GRPC_CALL_OK)
		pluck(s->cq, &s->tag_close, &ok);
	return ok ? 0 : -EPIPE;
}

int rpc_stream_recv(rpc_stream *s, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret_msg)
{
	if (atomic_load(&s->ended))
		return 0;
	grpc_byte_buffer *bb = NULL;
	grpc_op ops[2];
	size_t n = 0;
	memset(ops, 0, sizeof ops);
	if (!s->got_init_md) {
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
		n++;
		s->got_init_md = true;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n].data.recv_message.recv_message = &bb;
	n++;
	bool ok = false;
	if (grpc_call_start_batch(s->call, ops, n, &s->tag_recv, NULL) == GRPC_CALL_OK)
		pluck(s->cq, &s->tag_recv, &ok);
	if (!ok || !bb) {
		if (bb)
			grpc_byte_buffer_destroy(bb);
		atomic_store(&s->ended, true);
		return 0;
	}
	size_t len = 0;
	uint8_t *data = bb_to(bb, &len);
	grpc_byte_buffer_destroy(bb);
	if (!data)
		return -ENOMEM;
	*ret_msg = protobuf_c_message_unpack(desc, NULL, len, data);
	free(data);
	return *ret_msg ? 1 : -EBADMSG;
}

void rpc_stream_cancel(rpc_stream *s)
{
	grpc_call_cancel(s->call, NULL);
}

void rpc_stream_finish(rpc_stream *s, struct rpc_status *st)
{
	if (!s)
		return;
	/* Not read to the end: nobody will read the rest. */
	if (!atomic_load(&s->ended))
		grpc_call_cancel(s->call, NULL);
	bool ok;
	pluck(s->cq, &s->tag_status, &ok);
	copy_status(st, s->status, s->details);
	grpc_slice_unref(s->details);
	grpc_metadata_array_destroy(&s->init_md);
	grpc_metadata_array_destroy(&s->trailing_md);
	free_md(s->send_md, s->n_send_md);
	grpc_call_unref(s->call);
	grpc_completion_queue_shutdown(s->cq);
	grpc_completion_queue_destroy(s->cq);
	free(s);
}
