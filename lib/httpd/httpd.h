/* An HTTP/1.1 server for JSON APIs and Server-Sent Events, on
 * libmicrohttpd (docs/architecture.md says why that library). The
 * coordinator's gateway and atoll-proxy both serve through it: they get a
 * whole request (method, path, query, headers, body up to a limit) and
 * answer with a status and a body, or with a stream they write to from any
 * thread.
 *
 * Threads: one thread per connection (bounded by max_connections), so a
 * handler may block, and a stream's reader waits for data without busy
 * polling. Handlers run concurrently. */
#ifndef ATOLL_HTTPD_H
#define ATOLL_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct httpd;
struct httpd_stream;
struct httpd_resp;

struct httpd_req {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* without the query string */
	const uint8_t *body;
	size_t body_len;
	char peer[64];      /* client address, for logs */
	bool peer_loopback; /* 127.0.0.0/8 or ::1 */
	void *conn;         /* the library's connection, for the readers below */
};

/* Is sa a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x)? Writes
 * its text form to text (may be NULL). */
struct sockaddr;
bool httpd_addr_loopback(const struct sockaddr *sa, char *text, size_t size);

/* A header's value (case-insensitive name) or a query argument's, or NULL. */
const char *httpd_header(const struct httpd_req *r, const char *name);
const char *httpd_query(const struct httpd_req *r, const char *key);
/* An unsigned query argument: 0 (*out untouched when absent), or -EINVAL
 * after answering 400. */
int httpd_query_u32(const struct httpd_req *r, const char *key, uint32_t *out,
		    struct httpd_resp *resp);
/* Is the method one of allow ("GET" or "GET, POST")? Else answers 405
 * with an Allow header. */
bool httpd_method_in(const struct httpd_req *r, const char *allow, struct httpd_resp *resp);

struct httpd_resp {
	unsigned status;
	const char *content_type; /* default application/json */
	struct buf body;
	/* Set with httpd_resp_stream: the body is the stream's bytes. */
	struct httpd_stream *stream;
	const char *allow; /* Allow header for 405 */
};

/* Answer {"error": {"code": code, "message": msg}} with status. */
void httpd_resp_error(struct httpd_resp *resp, unsigned status, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Called once per request, on the connection's thread. */
typedef void (*httpd_handler)(void *ud, const struct httpd_req *req, struct httpd_resp *resp);

struct httpd_opts {
	const char *address;      /* "host:port"; port 0 picks one */
	size_t max_body_bytes;    /* larger bodies: 413 */
	unsigned max_connections; /* open connections at once */
	unsigned idle_timeout_s;  /* close idle keep-alive connections */
	int64_t keepalive_ms;     /* SSE comment when a stream is quiet this long */
	const char *tls_cert_pem; /* both or neither: HTTPS */
	const char *tls_key_pem;
};

/* Listen and serve. 0 with *ret (and the bound port), or -errno with err. */
int httpd_start(const struct httpd_opts *o, httpd_handler h, void *ud, struct httpd **ret,
		int *ret_port, char *err, size_t err_size);
/* Stop accepting, end open streams, wait for handlers, free. Accepts NULL. */
void httpd_stop(struct httpd *d);

/* ---- streams (text/event-stream) ---- */

/* Called once when the stream's connection is over (the client went away,
 * the stream was closed and drained, or the server stops), on the
 * connection's thread. After it returns no reader touches the stream; the
 * writer's reference stays valid until httpd_stream_unref. */
typedef void (*httpd_stream_gone)(void *ud);

/* A new stream with two references: the response's, and the caller's
 * (for writing; drop it with httpd_stream_unref). */
struct httpd_stream *httpd_stream_new(httpd_stream_gone gone, void *ud);
/* Make the response a 200 text/event-stream of s (takes the response's
 * reference). */
void httpd_resp_stream(struct httpd_resp *resp, struct httpd_stream *s);
/* Queue bytes; never blocks. -EPIPE once the client is gone, -E2BIG when
 * more than the stream's backlog limit waits unsent (the reader is
 * stuck: the stream is then closed), -ENOMEM. */
int httpd_stream_write(struct httpd_stream *s, const void *data, size_t len);
/* One SSE event: "id:", "event:" and the data lines. id may be NULL. */
int httpd_stream_event(struct httpd_stream *s, const char *id, const char *event,
		       const char *data, size_t len);
/* An "error" event carrying the JSON body httpd_resp_error() wrote into
 * r (its final newline dropped). */
int httpd_stream_error_event(struct httpd_stream *s, const struct httpd_resp *r);
/* No more writes: the response ends once what is queued is sent. */
void httpd_stream_close(struct httpd_stream *s);
/* Has the client gone (or the server stopped)? */
bool httpd_stream_gone_p(struct httpd_stream *s);
/* Bytes queued and not yet handed to the connection. */
size_t httpd_stream_backlog(struct httpd_stream *s);
/* Call fn(ud) on the connection's thread, with no lock held, each time
 * the reader empties the queue: a writer that paused on a high backlog
 * resumes then. Set before the response goes out. */
void httpd_stream_on_drain(struct httpd_stream *s, void (*fn)(void *ud), void *ud);
/* Wait until the backlog is below `below`, the client is gone or the
 * stream closed, or timeout_ms passed: 0, or -EPIPE when gone. For a
 * writer that should slow down with its reader. */
int httpd_stream_wait(struct httpd_stream *s, size_t below, int64_t timeout_ms);
void httpd_stream_unref(struct httpd_stream *s);

#endif
