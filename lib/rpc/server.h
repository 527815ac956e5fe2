/* A small server layer on the gRPC core C API.
 *
 * Services register methods (unary, server-streaming, bidirectional) with
 * protobuf-c descriptors; the layer accepts calls on a fixed pool of
 * completion-queue threads, decodes requests, and gives handlers a call
 * object they can answer at once or later, from any thread.
 *
 * Call lifecycle, from a handler's point of view:
 *   on_start(call, request)   unary / server-streaming: the decoded request;
 *                             bidi: request is NULL, the stream is open.
 *   on_message(call, msg)     bidi only, one at a time, in order.
 *   on_half_close(call)       bidi only: the client will send nothing more.
 *   on_done(call, cancelled)  exactly once, after the status went out or the
 *                             call was cancelled (client gone, deadline,
 *                             shutdown). No other callback for the call
 *                             runs concurrently with or after it.
 * Callbacks run on completion-queue threads and must not block for long.
 *
 * Sending: rpc_call_send() queues a message and rpc_call_finish() queues the
 * final status behind it; both are safe from any thread, at any time, and
 * fail with -EPIPE once the call is over. The layer keeps one send in
 * flight per call and pipelines the rest.
 *
 * Lifetime: a call stays valid from on_start until on_done returns. Code
 * that keeps a call beyond that (e.g. a registry of island streams) takes a
 * reference with rpc_call_ref() and drops it with rpc_call_unref().
 */
#ifndef ATOLL_RPC_SERVER_H
#define ATOLL_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc/status.h"

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;

enum rpc_kind {
	RPC_UNARY,
	RPC_SERVER_STREAM,
	RPC_BIDI,
};

typedef struct rpc_method {
	/* Full path, e.g. "/atoll.v1.Jobs/SubmitJob". */
	const char *path;
	enum rpc_kind kind;
	/* Request message type (for bidi: the type of each client message). */
	const ProtobufCMessageDescriptor *request;
	void (*on_start)(rpc_call *call, const ProtobufCMessage *request, void *ud);
	void (*on_message)(rpc_call *call, const ProtobufCMessage *msg, void *ud);
	void (*on_half_close)(rpc_call *call, void *ud);
	void (*on_done)(rpc_call *call, bool cancelled, void *ud);
	void *ud;
} rpc_method;

struct rpc_server_opts {
	/* Completion-queue threads (default 1; the coordinator's config
	 * defaults to one per CPU, at most 4: docs/architecture.md). */
	int threads;
	/* Largest message accepted, in bytes (default 4 MiB). Larger ones
	 * end the call with RESOURCE_EXHAUSTED. */
	int max_message_bytes;
	/* Server keepalive pings on idle connections and how long to wait for
	 * the answer (defaults 60 s / 20 s). Clients may ping every
	 * min_client_ping_ms (default 10 s) without being told to calm down. */
	int keepalive_time_ms;
	int keepalive_timeout_ms;
	int min_client_ping_ms;
	/* Bytes a call may have waiting to be sent (queued and in flight)
	 * before the server gives up on its reader: the call ends with
	 * RESOURCE_EXHAUSTED and rpc_call_send answers -ENOBUFS (default
	 * 8 MiB). */
	size_t max_queued_bytes;
	/* HTTP/2 streams one connection may open at once (default 1000). */
	int max_streams_per_connection;
	/* gRPC's memory quota for its own buffers, 0 for none. */
	long memory_quota_bytes;
	/* Called (from any thread, without locks held) each time a limit is
	 * hit: what ("send_backlog") and the method path. */
	void (*on_limit)(const char *what, const char *method, void *ud);
	void *limit_ud;
	/* TLS: PEM strings; NULL cert means plaintext (h2c). With client_ca,
	 * clients must present a certificate signed by it. */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *tls_client_ca_pem;
};

/* 0 or -errno; on failure err says why. */
int rpc_server_new(const struct rpc_server_opts *opts, rpc_server **ret,
		   char *err, size_t err_size);
/* Register before rpc_server_start. The method struct is copied. */
int rpc_server_add_method(rpc_server *s, const rpc_method *m);
/* Called at the start of shutdown, before draining, so that services can
 * end their long-lived streams gracefully. */
void rpc_server_on_shutdown(rpc_server *s, void (*fn)(void *ud), void *ud);
/* Called with the method path and status code of every call that sends
 * a status (metrics); set before rpc_server_start. */
void rpc_server_observe(rpc_server *s, void (*fn)(const char *path, int code));
/* Bind addr ("127.0.0.1:0" picks a free port) and start serving.
 * *ret_port is the bound port. */
int rpc_server_start(rpc_server *s, const char *addr, int *ret_port, char *err,
		     size_t err_size);
/* Stop accepting calls, run the shutdown hooks, let in-flight calls finish
 * for up to drain_ms, cancel the rest, and stop the threads. */
void rpc_server_shutdown(rpc_server *s, int64_t drain_ms);
/* After shutdown (or if never started). Accepts NULL. */
void rpc_server_free(rpc_server *s);
/* Paths of registered methods, for reflection and health. */
size_t rpc_server_method_count(const rpc_server *s);
const char *rpc_server_method_path(const rpc_server *s, size_t i);
/* Calls currently alive (accepted and not yet done). */
int rpc_server_live_calls(const rpc_server *s);

/* Queue a message. 0, -EPIPE when the call is over or finishing,
 * -ENOMEM, -EINVAL when the message cannot be encoded, -ENOBUFS when the
 * backlog limit was hit (the call is then ending with
 * RESOURCE_EXHAUSTED). */
int rpc_call_send(rpc_call *c, const ProtobufCMessage *msg);
/* Bytes waiting to be sent on the call, and the most it may hold. */
size_t rpc_call_backlog(rpc_call *c);
size_t rpc_call_backlog_limit(const rpc_call *c);
/* Call fn (on a completion-queue thread, no lock held) whenever a send
 * completes and the backlog is at most a quarter of the limit: a writer
 * that holds more back (e.g. a job's output for a slow watcher) sends the
 * next part then. Never called after on_done. */
void rpc_call_on_drain(rpc_call *c, void (*fn)(rpc_call *c, void *ud), void *ud);
/* Queue the final status. message may be NULL. 0 or -EPIPE. */
int rpc_call_finish(rpc_call *c, grpc_status_code code, const char *message);
int rpc_call_finishf(rpc_call *c, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Unary shorthand: the response and OK. */
int rpc_call_reply(rpc_call *c, const ProtobufCMessage *msg);
/* Map an internal error (negative errno, see rpc/status.h) to a
 * status and finish with the message. */
int rpc_call_fail(rpc_call *c, int err, const char *message);

/* Copy the first value of request metadata `key` (lowercase) into out as
 * a NUL-terminated string. 0, -ENOENT, or -E2BIG when it does not fit. */
int rpc_call_metadata(const rpc_call *c, const char *key, char *out, size_t out_size);
/* Milliseconds since the epoch at which the call expires, or INT64_MAX. */
int64_t rpc_call_deadline_ms(const rpc_call *c);
/* The client's address, e.g. "ipv4:127.0.0.1:53422". */
const char *rpc_call_peer(const rpc_call *c);
const char *rpc_call_path(const rpc_call *c);
/* True once the call is over (on_done fired or about to). */
bool rpc_call_is_done(rpc_call *c);

void rpc_call_set_user(rpc_call *c, void *user);
void *rpc_call_user(const rpc_call *c);
rpc_call *rpc_call_ref(rpc_call *c);
void rpc_call_unref(rpc_call *c);


#endif
