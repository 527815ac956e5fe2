/* lib/httpd over real sockets on 127.0.0.1: bodies (within the limit, a
 * declared oversize refused before it is sent, an oversize chunked body),
 * query arguments, 405 with Allow, SSE events written from another thread
 * (multi-line data split into data: lines), keep-alive comments on a
 * quiet stream, the gone callback when the client leaves, a stop that
 * ends an open stream, and HTTPS with a certificate made for the test
 * (checked with curl when it is installed). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "httpd/httpd.h"

static int port;
static atomic_int gone_calls;

static void gone(void *ud)
{
	atomic_fetch_add(&gone_calls, 1);
}

static void *ticker(void *arg)
{
	struct httpd_stream *s = arg;
	for (int i = 0; i < 3; i++) {
		char id[8], data[32];
		snprintf(id, sizeof id, "%d", i + 1);
		int n = snprintf(data, sizeof data, "{\"n\":%d}", i);
		httpd_stream_event(s, id, "tick", data, (size_t)n);
		usleep(20000);
	}
	httpd_stream_event(s, NULL, "lines", "a\nb", 3);
	httpd_stream_close(s);
	httpd_stream_unref(s);
	return NULL;
}

static void handler(void *ud, const struct httpd_req *req, struct httpd_resp *resp)
{
	if (strcmp(req->path, "/echo") == 0) {
		if (!httpd_method_in(req, "GET, POST", resp))
			return;
		uint32_t n = 0;
		if (httpd_query_u32(req, "n", &n, resp) < 0)
			return;
		buf_printf(&resp->body, "{\"method\":\"%s\",\"len\":%zu,\"n\":%u}\n", req->method,
			   req->body_len, n);
		return;
	}
	if (strcmp(req->path, "/stream") == 0) {
		struct httpd_stream *s = httpd_stream_new(gone, NULL);
		pthread_t t;
		pthread_create(&t, NULL, ticker, s);
		pthread_detach(t);
		httpd_resp_stream(resp, s);
		return;
	}
	if (strcmp(req->path, "/hold") == 0) {
		struct httpd_stream *s = httpd_stream_new(gone, NULL);
		httpd_resp_stream(resp, s);
		httpd_stream_unref(s); /* nobody writes: only keep-alives */
		return;
	}
	httpd_resp_error(resp, 404, "NOT_FOUND", "no such path: %s", req->path);
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send raw, read until the server closes (or until stop is seen). */
static void exchange(const char *raw, size_t len, char *out, size_t size, const char *stop)
{
	int fd = dial();
	out[0] = 0;
	if (fd < 0)
		return;
	if (write(fd, raw, len) != (ssize_t)len) {
		close(fd);
		return;
	}
	size_t got = 0;
	while (got + 1 < size) {
		ssize_t n = read(fd, out + got, size - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		out[got] = 0;
		if (stop && strstr(out, stop))
			break;
	}
	out[got] = 0;
	close(fd);
}

static void req(const char *raw, char *out, size_t size)
{
	exchange(raw, strlen(raw), out, size, NULL);
}

static bool wait_gone(int want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (atomic_load(&gone_calls) >= want)
			return true;
		usleep(10000);
	}
	return false;
}

/* Which peers count as this machine (atoll-proxy serves only those). */
static void test_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6 };
	char text[64];
	const char *v4[] = { "127.0.0.1", "127.8.9.10", "10.0.0.1", "192.168.1.1", "128.0.0.1" };
	const bool want4[] = { true, true, false, false, false };
	for (int i = 0; i < 5; i++) {
		inet_pton(AF_INET, v4[i], &a.sin_addr);
		CHECK(httpd_addr_loopback((struct sockaddr *)&a, text, sizeof text) == want4[i]);
		CHECK_STR(text, v4[i]);
	}
	const char *v6[] = { "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fe80::1", "::2" };
	const bool want6[] = { true, true, false, false, false };
	for (int i = 0; i < 5; i++) {
		inet_pton(AF_INET6, v6[i], &b.sin6_addr);
		CHECK(httpd_addr_loopback((struct sockaddr *)&b, NULL, 0) == want6[i]);
	}
	CHECK(!httpd_addr_loopback(NULL, text, sizeof text));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *s = calloc(1, 1 << 16);
	if (s)
		fread(s, 1, (1 << 16) - 1, f);
	fclose(f);
	return s;
}

static void test_tls(void)
{
	if (system("curl --version > /dev/null 2>&1 && openssl version > /dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: HTTPS (no curl or openssl)\n");
		return;
	}
	char dir[256], cmd[2048], cert[300], key[300];
	snprintf(dir, sizeof dir, "%s/atoll-httpd-XXXXXX", check_env("TMPDIR", "/tmp"));
	if (!mkdtemp(dir))
		return;
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s "
		 "> /dev/null 2>&1",
		 key, cert);
	CHECK_INT(system(cmd), 0);
	char *cert_pem = slurp(cert), *key_pem = slurp(key);
	CHECK(cert_pem && key_pem);
	struct httpd *d;
	char err[256];
	int p;
	struct httpd_opts o = { .address = "127.0.0.1:0", .max_body_bytes = 1024,
				.tls_cert_pem = cert_pem, .tls_key_pem = key_pem };
	CHECK_INT(httpd_start(&o, handler, NULL, &d, &p, err, sizeof err), 0);
	snprintf(cmd, sizeof cmd, "curl -s --cacert %s https://127.0.0.1:%d/echo?n=5", cert, p);
	FILE *f = popen(cmd, "r");
	char out[512] = "";
	if (f) {
		size_t n = fread(out, 1, sizeof out - 1, f);
		out[n] = 0;
		pclose(f);
	}
	CHECK(strstr(out, "\"n\":5") != NULL);
	/* Plain HTTP to the HTTPS port gets no answer. */
	snprintf(cmd, sizeof cmd, "curl -s -m 5 http://127.0.0.1:%d/echo > /dev/null 2>&1", p);
	CHECK(system(cmd) != 0);
	httpd_stop(d);
	free(cert_pem);
	free(key_pem);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct httpd *d;
	char err[256];
	struct httpd_opts o = { .address = "127.0.0.1:0", .max_body_bytes = 1024,
				.max_connections = 16, .keepalive_ms = 100 };
	CHECK_INT(httpd_start(&o, handler, NULL, &d, &port, err, sizeof err), 0);
	CHECK(port > 0);
	static char out[1 << 16];

	req("GET /echo?n=7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
	CHECK(strstr(out, "HTTP/1.1 200") == out);
	CHECK(strstr(out, "Content-Type: application/json") != NULL);
	CHECK(strstr(out, "{\"method\":\"GET\",\"len\":0,\"n\":7}") != NULL);
	req("GET /echo?n=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
	CHECK(strstr(out, "HTTP/1.1 400") == out);
	CHECK(strstr(out, "{\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"query parameter n: "
			  "expected an unsigned integer, found 'x'\"}}") != NULL);
	req("PUT /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", out,
	    sizeof out);
	CHECK(strstr(out, "HTTP/1.1 405") == out);
	CHECK(strstr(out, "Allow: GET, POST") != NULL);
	req("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
	    out, sizeof out);
	CHECK(strstr(out, "\"len\":5") != NULL);
	req("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
	CHECK(strstr(out, "HTTP/1.1 404") == out);

	/* A declared oversize body is refused before any of it is sent. */
	req("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5000\r\n"
	    "Expect: 100-continue\r\n\r\n",
	    out, sizeof out);
	CHECK(strstr(out, "HTTP/1.1 413") == out);
	CHECK(strstr(out, "\"code\":\"RESOURCE_EXHAUSTED\"") != NULL);
	CHECK(strstr(out, "100 Continue") == NULL);
	/* A chunked one is cut off once it passes the limit. */
	static char big[4096];
	int n = snprintf(big, sizeof big,
			 "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
			 2000);
	memset(big + n, 'x', 2000);
	n += 2000;
	n += snprintf(big + n, sizeof big - (size_t)n, "\r\n0\r\n\r\n");
	exchange(big, (size_t)n, out, sizeof out, NULL);
	if (strstr(out, "HTTP/1.1 413") != out)
		fprintf(stderr, "chunked answer: [%s]\n", out);
	CHECK(strstr(out, "HTTP/1.1 413") == out);

	/* Events from another thread, then the end of the response. */
	req("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
	CHECK(strstr(out, "HTTP/1.1 200") == out);
	CHECK(strstr(out, "Content-Type: text/event-stream") != NULL);
	CHECK(strstr(out, "id: 1\nevent: tick\ndata: {\"n\":0}\n\n") != NULL);
	CHECK(strstr(out, "id: 3\nevent: tick\ndata: {\"n\":2}\n\n") != NULL);
	CHECK(strstr(out, "event: lines\ndata: a\ndata: b\n\n") != NULL);
	CHECK(wait_gone(1, 3000));

	/* A quiet stream gets comments; a client that leaves is noticed. */
	exchange("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 32, out, sizeof out, ": keep-alive\n\n");
	CHECK(strstr(out, ": keep-alive\n\n") != NULL);
	CHECK(wait_gone(2, 3000));

	/* Stopping ends a stream still open. */
	int fd = dial();
	const char *h = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(fd >= 0 && write(fd, h, strlen(h)) == (ssize_t)strlen(h));
	usleep(100000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	httpd_stop(d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 5);
	CHECK(wait_gone(3, 1000));
	close(fd);

	/* A port in use is refused with a message. */
	struct httpd *d1, *d2;
	int p1;
	CHECK_INT(httpd_start(&o, handler, NULL, &d1, &p1, err, sizeof err), 0);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", p1);
	struct httpd_opts o2 = o;
	o2.address = addr;
	CHECK(httpd_start(&o2, handler, NULL, &d2, NULL, err, sizeof err) < 0);
	CHECK(strstr(err, "cannot listen on") != NULL);
	o2.address = "nohost";
	CHECK_INT(httpd_start(&o2, handler, NULL, &d2, NULL, err, sizeof err), -EINVAL);
	httpd_stop(d1);
	test_tls();
	test_loopback();
	CHECK_DONE();
}
