/* The server side of the layer (server.h): creating, configuring and
 * starting the gRPC server, the completion-queue threads, accepting calls
 * (outstanding requests per method, each accepted call handed to call.c),
 * answering unknown methods UNIMPLEMENTED, shutdown with its drain, and the
 * server's accessors. */
#include "rpc/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <openssl/crypto.h>

#include "rpc/server_internal.h"

/* Outstanding accept requests per method: enough to absorb bursts without
 * holding much memory. */
#define REQUESTS_UNARY 32
#define REQUESTS_STREAM 8
#define REQUESTS_GENERIC 4

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

/* ---- accepting ---- */

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
	rpc_call_start(s, rq);
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
