/* The HTTP server on libmicrohttpd: request bodies gathered up to a limit,
 * responses from a buffer or from a stream that other threads fill, SSE
 * keep-alive comments, and an orderly stop that wakes every stream. */
#include "httpd/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "json/json.h"

/* A stream whose reader is this far behind is stuck: it is cut off rather
 * than let a slow client grow the process. */
#define STREAM_BACKLOG (8u << 20)

struct httpd {
	struct MHD_Daemon *mhd;
	httpd_handler handler;
	void *ud;
	size_t max_body;
	int64_t keepalive_ms;
	pthread_mutex_t mu; /* guards streams and stopping */
	struct httpd_stream *streams;
	bool stopping;
};

struct httpd_stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct buf q;   /* bytes not yet handed to the library */
	size_t q_off;   /* of q, already handed over */
	bool closed;    /* no more writes */
	bool gone;      /* the reader is done for good */
	bool gone_called;
	int refs;
	httpd_stream_gone gone_cb;
	void *gone_ud;
	void (*drain_cb)(void *ud);
	void *drain_ud;
	struct httpd *d; /* set when attached to a response */
	int64_t keepalive_ms;
	struct httpd_stream *next, *prev; /* in d->streams */
};

/* Per request: the body so far. */
struct reqstate {
	struct buf body;
	bool too_large;
	bool answered;
	uint64_t dropped; /* bytes of an oversize body read and thrown away */
};

/* ---- requests ---- */

const char *httpd_header(const struct httpd_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_query(const struct httpd_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

int httpd_query_u32(const struct httpd_req *r, const char *key, uint32_t *out,
		    struct httpd_resp *resp)
{
	const char *v = httpd_query(r, key);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (!*v || *end || errno || n > UINT32_MAX || v[0] == '-') {
		httpd_resp_error(resp, 400, "INVALID_ARGUMENT",
				 "query parameter %s: expected an unsigned integer, found '%s'", key,
				 v);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

bool httpd_method_in(const struct httpd_req *r, const char *allow, struct httpd_resp *resp)
{
	size_t n = strlen(r->method);
	for (const char *a = allow; *a;) {
		size_t k = strcspn(a, ",");
		if (k == n && strncmp(a, r->method, n) == 0)
			return true;
		a += k;
		a += strspn(a, ", ");
	}
	httpd_resp_error(resp, 405, "METHOD_NOT_ALLOWED", "%s %s: allowed: %s", r->method, r->path,
			 allow);
	resp->allow = allow;
	return false;
}

void httpd_resp_error(struct httpd_resp *resp, unsigned status, const char *code,
		      const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_reset(&resp->body);
	struct json_writer w;
	jw_init(&w, &resp->body);
	jw_object_begin(&w);
	jw_key(&w, "error");
	jw_object_begin(&w);
	jw_key(&w, "code");
	jw_string(&w, code);
	jw_key(&w, "message");
	jw_string(&w, msg);
	jw_object_end(&w);
	jw_object_end(&w);
	buf_putc(&resp->body, '\n');
	resp->status = status;
	resp->content_type = "application/json";
}

bool httpd_addr_loopback(const struct sockaddr *sa, char *text, size_t size)
{
	if (text && size)
		snprintf(text, size, "?");
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		if (text)
			inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)size);
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (text)
			inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)size);
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		const uint8_t *a = in6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
	}
	return false;
}

static void peer_of(struct MHD_Connection *c, struct httpd_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->peer_loopback = httpd_addr_loopback(ci ? ci->client_addr : NULL, r->peer, sizeof r->peer);
}

static enum MHD_Result queue_json(struct MHD_Connection *c, struct httpd_resp *resp)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(resp->body.len, resp->body.data,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (resp->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
	enum MHD_Result ret = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result too_large(struct httpd *d, struct MHD_Connection *c)
{
	struct httpd_resp resp = { 0 };
	httpd_resp_error(&resp, MHD_HTTP_CONTENT_TOO_LARGE, "RESOURCE_EXHAUSTED",
			 "the request body is larger than %zu bytes", d->max_body);
	enum MHD_Result r = queue_json(c, &resp);
	buf_free(&resp.body);
	return r;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max);
static void stream_release(void *cls);

static enum MHD_Result queue_stream(struct httpd *d, struct MHD_Connection *c,
				    struct httpd_stream *s)
{
	pthread_mutex_lock(&d->mu);
	s->d = d;
	s->keepalive_ms = d->keepalive_ms;
	s->next = d->streams;
	if (d->streams)
		d->streams->prev = s;
	d->streams = s;
	pthread_mutex_unlock(&d->mu);
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s,
						  stream_release);
	if (!r) {
		stream_release(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* Proxies in front must pass events on as they come. */
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct httpd *d = cls;
	struct reqstate *rs = *state;
	if (!rs) {
		rs = calloc(1, sizeof *rs);
		if (!rs)
			return MHD_NO;
		*state = rs;
		/* Refuse a declared oversize body before reading any of it. */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > d->max_body) {
			rs->too_large = rs->answered = true;
			return too_large(d, c);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rs->too_large && rs->body.len + *upload_size > d->max_body) {
			/* Undeclared (chunked) oversize: the library answers only
			 * once the body is read, so read and drop it, up to a
			 * bound past which the connection is simply closed. */
			rs->too_large = true;
			buf_free(&rs->body);
		}
		if (rs->too_large) {
			rs->dropped += *upload_size;
			if (rs->dropped > 4 * (uint64_t)d->max_body + (1u << 20))
				return MHD_NO;
		} else if (buf_append(&rs->body, upload, *upload_size) < 0) {
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rs->too_large)
		return rs->answered ? MHD_YES : (rs->answered = true, too_large(d, c));
	struct httpd_req req = {
		.method = method,
		.path = url,
		.body = rs->body.data,
		.body_len = rs->body.len,
		.conn = c,
	};
	if (!req.body)
		req.body = (const uint8_t *)"";
	peer_of(c, &req);
	struct httpd_resp resp = { .status = 200 };
	d->handler(d->ud, &req, &resp);
	enum MHD_Result r;
	if (resp.stream)
		r = queue_stream(d, c, resp.stream);
	else
		r = queue_json(c, &resp);
	buf_free(&resp.body);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct reqstate *rs = *state;
	if (!rs)
		return;
	buf_free(&rs->body);
	free(rs);
	*state = NULL;
}

/* "host:port", "[v6]:port". */
static int parse_address(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t err_size)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host) {
		snprintf(err, err_size, "expected host:port, found '%s'", addr);
		return -EINVAL;
	}
	const char *h = addr;
	size_t hl = (size_t)(colon - addr);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r != 0 || !ai) {
		snprintf(err, err_size, "cannot resolve '%s': %s", addr, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int httpd_start(const struct httpd_opts *o, httpd_handler h, void *ud, struct httpd **ret,
		int *ret_port, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int e = parse_address(o->address, &ss, &sl, err, err_size);
	if (e < 0)
		return e;
	bool tls = o->tls_cert_pem && o->tls_key_pem;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, err_size, "this libmicrohttpd has no TLS support");
		return -ENOTSUP;
	}
	struct httpd *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->handler = h;
	d->ud = ud;
	d->max_body = o->max_body_bytes ? o->max_body_bytes : 1u << 20;
	d->keepalive_ms = o->keepalive_ms > 0 ? o->keepalive_ms : 15000;
	pthread_mutex_init(&d->mu, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, &ss },
		{ MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 256,
		  NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s ? o->idle_timeout_s : 60, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)o->tls_cert_pem },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)o->tls_key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d, MHD_OPTION_ARRAY, opts,
				  MHD_OPTION_END);
	if (!d->mhd) {
		snprintf(err, err_size, "cannot listen on %s (address in use, or bad TLS files)",
			 o->address);
		pthread_mutex_destroy(&d->mu);
		free(d);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (ret_port)
		*ret_port = di ? di->port : 0;
	*ret = d;
	return 0;
}

void httpd_stop(struct httpd *d)
{
	if (!d)
		return;
	MHD_quiesce_daemon(d->mhd);
	/* Wake every stream's reader so that its connection thread ends. */
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	for (struct httpd_stream *s = d->streams; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		s->closed = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&d->mu);
	MHD_stop_daemon(d->mhd);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* ---- streams ---- */

struct httpd_stream *httpd_stream_new(httpd_stream_gone gone, void *ud)
{
	struct httpd_stream *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->refs = 2;
	s->gone_cb = gone;
	s->gone_ud = ud;
	s->keepalive_ms = 15000;
	return s;
}

void httpd_resp_stream(struct httpd_resp *resp, struct httpd_stream *s)
{
	resp->status = 200;
	resp->stream = s;
}

void httpd_stream_unref(struct httpd_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	buf_free(&s->q);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int httpd_stream_write(struct httpd_stream *s, const void *data, size_t len)
{
	int e = 0;
	pthread_mutex_lock(&s->mu);
	if (s->gone || s->closed) {
		e = -EPIPE;
	} else if (s->q.len - s->q_off + len > STREAM_BACKLOG) {
		s->closed = true;
		s->gone = true;
		e = -E2BIG;
	} else {
		if (s->q_off && s->q_off == s->q.len) {
			buf_reset(&s->q);
			s->q_off = 0;
		}
		e = buf_append(&s->q, data, len);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int httpd_stream_event(struct httpd_stream *s, const char *id, const char *event,
		       const char *data, size_t len)
{
	struct buf b = { 0 };
	if (id)
		buf_printf(&b, "id: %s\n", id);
	if (event)
		buf_printf(&b, "event: %s\n", event);
	/* Each line of data is its own data: field. */
	size_t i = 0;
	do {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		buf_puts(&b, "data: ");
		buf_append(&b, data + i, n);
		buf_putc(&b, '\n');
		i += n + (nl != NULL);
	} while (i < len);
	int e = buf_putc(&b, '\n');
	if (e == 0)
		e = httpd_stream_write(s, b.data, b.len);
	buf_free(&b);
	return e;
}

int httpd_stream_error_event(struct httpd_stream *s, const struct httpd_resp *r)
{
	size_t n = r->body.len;
	if (n && r->body.data[n - 1] == '\n')
		n--;
	return httpd_stream_event(s, NULL, "error", (const char *)r->body.data, n);
}

void httpd_stream_close(struct httpd_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

size_t httpd_stream_backlog(struct httpd_stream *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->q.len - s->q_off;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void httpd_stream_on_drain(struct httpd_stream *s, void (*fn)(void *ud), void *ud)
{
	pthread_mutex_lock(&s->mu);
	s->drain_cb = fn;
	s->drain_ud = ud;
	pthread_mutex_unlock(&s->mu);
}

static void deadline_in(struct timespec *t, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

int httpd_stream_wait(struct httpd_stream *s, size_t below, int64_t timeout_ms)
{
	struct timespec until;
	deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&s->mu);
	while (!s->gone && !s->closed && s->q.len - s->q_off >= below &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
		;
	int e = s->gone ? -EPIPE : 0;
	pthread_mutex_unlock(&s->mu);
	return e;
}

bool httpd_stream_gone_p(struct httpd_stream *s)
{
	pthread_mutex_lock(&s->mu);
	bool g = s->gone;
	pthread_mutex_unlock(&s->mu);
	return g;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct httpd_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	struct timespec until;
	deadline_in(&until, s->keepalive_ms);
	ssize_t n = 0;
	while (s->q.len == s->q_off && !s->closed && !s->gone) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			/* A comment line: keeps intermediaries from timing the
			 * stream out, and finds a client that went away. */
			static const char ka[] = ": keep-alive\n\n";
			n = (ssize_t)(sizeof ka - 1 < max ? sizeof ka - 1 : max);
			memcpy(out, ka, (size_t)n);
			pthread_mutex_unlock(&s->mu);
			return n;
		}
	}
	void (*drain)(void *) = NULL;
	void *drain_ud = NULL;
	if (s->q.len > s->q_off && !s->gone) {
		size_t avail = s->q.len - s->q_off;
		n = (ssize_t)(avail < max ? avail : max);
		memcpy(out, s->q.data + s->q_off, (size_t)n);
		s->q_off += (size_t)n;
		if (s->q_off == s->q.len && !s->closed) {
			drain = s->drain_cb;
			drain_ud = s->drain_ud;
		}
		/* Writers waiting for room (httpd_stream_wait). */
		pthread_cond_broadcast(&s->cv);
	} else {
		n = s->gone ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	}
	pthread_mutex_unlock(&s->mu);
	/* Outside the lock: the writer's drain may write to this stream. */
	if (drain)
		drain(drain_ud);
	return n;
}

/* The library is done with the response: the connection is over. */
static void stream_release(void *cls)
{
	struct httpd_stream *s = cls;
	struct httpd *d = s->d;
	if (d) {
		pthread_mutex_lock(&d->mu);
		if (s->prev)
			s->prev->next = s->next;
		else if (d->streams == s)
			d->streams = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->next = s->prev = NULL;
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_lock(&s->mu);
	s->gone = true;
	bool call = !s->gone_called;
	s->gone_called = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (call && s->gone_cb)
		s->gone_cb(s->gone_ud);
	httpd_stream_unref(s);
}
