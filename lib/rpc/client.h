/* Blocking gRPC client calls on the core C API: unary, server-streaming
 * and bidirectional, each call on its own pluck completion queue.
 *
 * A bidirectional stream may be read on one thread while another thread
 * writes to it (one read and one write in flight at a time). */
#ifndef ATOLL_RPC_CLIENT_H
#define ATOLL_RPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

typedef struct rpc_client rpc_client;
typedef struct rpc_stream rpc_stream;

struct rpc_client_opts {
	/* PEM roots to verify the server; NULL = plaintext (h2c). */
	const char *tls_ca_pem;
	/* Client certificate for mTLS (both or neither). */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	/* Name the server certificate must carry, when it differs from the
	 * target host. */
	const char *tls_server_name;
	/* Largest message accepted (default 64 MiB). */
	int max_message_bytes;
	/* Client keepalive ping interval, 0 = off. */
	int keepalive_time_ms;
	int keepalive_timeout_ms;
	/* Reconnect backoff (defaults from gRPC when 0). */
	int initial_reconnect_ms;
	int max_reconnect_ms;
	/* How long one connection attempt may take (gRPC's default 20 s when
	 * 0). gRPC takes it from GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, so it is
	 * set apart from the backoff: a short backoff must not cut the
	 * handshakes of a loaded server short. */
	int connect_timeout_ms;
	/* Its own TCP connection rather than one shared with other channels
	 * to the same target (benchmarks with many clients). */
	bool own_connection;
};

/* Metadata entry sent with a call. */
struct rpc_md {
	const char *key;
	const char *value;
};

struct rpc_status {
	grpc_status_code code;
	char message[1024];
};

/* target: "host:port", "dns:///host:port" or "unix:/path". */
int rpc_client_new(const char *target, const struct rpc_client_opts *opts,
		   rpc_client **ret);
void rpc_client_free(rpc_client *c);
/* Connect now and wait until the channel is ready: 0; -ECONNREFUSED when
 * the attempt failed (nobody listening, handshake refused); -ETIMEDOUT
 * after timeout_ms. The wait polls, so the connection completes as soon
 * as it can (a channel nobody polls is moved on only by gRPC's backup
 * poller, every 5 s). */
int rpc_client_connect(rpc_client *c, int timeout_ms);

/* One request, one response. timeout_ms <= 0: no deadline. Returns 0 when
 * the call completed (st says how; *ret_resp is set only for OK), or a
 * negative errno for local failures. */
int rpc_unary(rpc_client *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, const struct rpc_md *md,
	      size_t n_md, int64_t timeout_ms, ProtobufCMessage **ret_resp,
	      struct rpc_status *st);
/* Same with raw bytes both ways (for tests of malformed input).
 * *ret_resp is malloc'd. */
int rpc_unary_raw(rpc_client *c, const char *method, const uint8_t *req, size_t len,
		  const struct rpc_md *md, size_t n_md, int64_t timeout_ms,
		  uint8_t **ret_resp, size_t *ret_len, struct rpc_status *st);

/* Open a stream. For a server-streaming method pass the request (sent and
 * half-closed at once); for a bidi method pass NULL. */
int rpc_stream_open(rpc_client *c, const char *method, const ProtobufCMessage *req,
		    const struct rpc_md *md, size_t n_md, int64_t timeout_ms,
		    bool wait_for_ready, rpc_stream **ret);
/* Send one message (bidi). 0, or -EPIPE when the stream is broken. */
int rpc_stream_send(rpc_stream *s, const ProtobufCMessage *msg);
int rpc_stream_send_raw(rpc_stream *s, const uint8_t *data, size_t len);
/* Half-close (bidi): no more sends. */
int rpc_stream_close_send(rpc_stream *s);
/* Next message: 1 with *ret_msg set, 0 at the end of the stream (then
 * rpc_stream_finish gives the status), -EBADMSG when a message does not
 * parse. */
int rpc_stream_recv(rpc_stream *s, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret_msg);
/* Cancel from any thread; pending and later receives end. */
void rpc_stream_cancel(rpc_stream *s);
/* Wait for the final status and free the stream. Accepts NULL. */
void rpc_stream_finish(rpc_stream *s, struct rpc_status *st);

#endif
