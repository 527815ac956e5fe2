/* Socket transports between the island host and its enclave runtime. */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "util/timeutil.h"

int transport_kind_parse(const char *s, enum transport_kind *ret)
{
	if (strcmp(s, "child") == 0)
		*ret = TRANSPORT_CHILD;
	else if (strcmp(s, "vsock") == 0)
		*ret = TRANSPORT_VSOCK;
	else if (strcmp(s, "unix") == 0)
		*ret = TRANSPORT_UNIX;
	else if (strcmp(s, "tcp") == 0)
		*ret = TRANSPORT_TCP;
	else
		return -EINVAL;
	return 0;
}

const char *transport_kind_name(enum transport_kind k)
{
	switch (k) {
	case TRANSPORT_CHILD: return "child";
	case TRANSPORT_VSOCK: return "vsock";
	case TRANSPORT_UNIX: return "unix";
	case TRANSPORT_TCP: return "tcp";
	}
	return "?";
}

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int transport_parse(const char *spec, struct transport_addr *ret, char *err, size_t err_size)
{
	struct transport_addr a = { 0 };
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *p = spec + 5;
		if (p[0] != '/' || strlen(p) >= sizeof a.path) {
			snprintf(err, err_size, "'%s': a Unix socket needs an absolute path of at most %zu bytes",
				 spec, sizeof a.path - 1);
			return -EINVAL;
		}
		a.kind = TRANSPORT_UNIX;
		snprintf(a.path, sizeof a.path, "%s", p);
	} else if (strncmp(spec, "vsock:", 6) == 0) {
		char tmp[64];
		snprintf(tmp, sizeof tmp, "%s", spec + 6);
		char *colon = strchr(tmp, ':');
		a.kind = TRANSPORT_VSOCK;
		a.cid = VMADDR_CID_ANY;
		int e = 0;
		if (colon) {
			*colon = 0;
			e = parse_u32(tmp, &a.cid);
			if (e == 0)
				e = parse_u32(colon + 1, &a.port);
		} else {
			e = parse_u32(tmp, &a.port);
		}
		if (e < 0 || a.port == 0 || a.port == VMADDR_PORT_ANY) {
			snprintf(err, err_size, "'%s': expected vsock:PORT or vsock:CID:PORT", spec);
			return -EINVAL;
		}
	} else if (strncmp(spec, "tcp:", 4) == 0) {
		char tmp[64];
		snprintf(tmp, sizeof tmp, "%s", spec + 4);
		char *colon = strrchr(tmp, ':');
		a.kind = TRANSPORT_TCP;
		if (colon)
			*colon = 0;
		if (!colon || inet_pton(AF_INET, tmp, a.ipv4) != 1 || parse_u32(colon + 1, &a.port) < 0 ||
		    a.port == 0 || a.port > 65535) {
			snprintf(err, err_size, "'%s': expected tcp:IPV4:PORT", spec);
			return -EINVAL;
		}
	} else {
		snprintf(err, err_size,
			 "'%s': expected vsock:PORT, vsock:CID:PORT, unix:PATH or tcp:IPV4:PORT", spec);
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

void transport_describe(const struct transport_addr *a, char *buf, size_t size)
{
	switch (a->kind) {
	case TRANSPORT_VSOCK:
		if (a->cid == VMADDR_CID_ANY)
			snprintf(buf, size, "vsock:%u", a->port);
		else
			snprintf(buf, size, "vsock:%u:%u", a->cid, a->port);
		return;
	case TRANSPORT_UNIX:
		snprintf(buf, size, "unix:%s", a->path);
		return;
	case TRANSPORT_TCP:
		snprintf(buf, size, "tcp:%u.%u.%u.%u:%u", a->ipv4[0], a->ipv4[1], a->ipv4[2],
			 a->ipv4[3], a->port);
		return;
	case TRANSPORT_CHILD:
		snprintf(buf, size, "child");
		return;
	}
}

/* The sockaddr for a; its length in *ret_len. */
static int sockaddr_of(const struct transport_addr *a, bool listen, struct sockaddr_storage *ss,
		       socklen_t *ret_len)
{
	memset(ss, 0, sizeof *ss);
	if (a->kind == TRANSPORT_VSOCK) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = listen ? VMADDR_CID_ANY : a->cid;
		vm->svm_port = a->port;
		*ret_len = sizeof *vm;
		return AF_VSOCK;
	}
	if (a->kind == TRANSPORT_TCP) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)a->port);
		memcpy(&in->sin_addr, a->ipv4, 4);
		*ret_len = sizeof *in;
		return AF_INET;
	}
	if (a->kind == TRANSPORT_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, a->path, strlen(a->path) + 1);
		*ret_len = sizeof *un;
		return AF_UNIX;
	}
	return -EINVAL;
}

int transport_listen(const struct transport_addr *a, int *ret_fd, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char where[160];
	transport_describe(a, where, sizeof where);
	int family = sockaddr_of(a, true, &ss, &sl);
	if (family < 0) {
		snprintf(err, err_size, "%s: not a socket transport", where);
		return -EINVAL;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_size, "%s: socket: %s%s", where, strerror(e),
			 family == AF_VSOCK ? " (no vsock in this kernel: vsock, vmw_vsock_virtio_transport "
					      "or the Nitro enclave kernel)" : "");
		return -e;
	}
	if (family == AF_UNIX) {
		/* A socket file left by a runtime that died; anything else at
		 * the path is not ours to remove. */
		struct stat st;
		if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(a->path);
	}
	if (family == AF_INET) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	}
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&ss, sl);
	umask(old);
	if (r < 0 || listen(fd, 4) < 0) {
		int e = errno;
		snprintf(err, err_size, "%s: %s: %s", where, r < 0 ? "bind" : "listen", strerror(e));
		close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

/* One non-blocking connect, waited for up to wait_ms. */
static int connect_once(int family, const struct sockaddr_storage *ss, socklen_t sl,
			int64_t wait_ms, int *ret_fd)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)ss, sl);
	if (r < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (r < 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, wait_ms > 0 ? (int)wait_ms : 0);
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (n == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
			int e = n < 0 ? errno : soerr ? soerr : errno;
			close(fd);
			return -e;
		}
	}
	if (family == AF_INET) {
		/* Frames are written whole; do not hold small ones back. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

int transport_connect(const struct transport_addr *a, int64_t timeout_ms, int *ret_fd,
		      char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char where[160];
	transport_describe(a, where, sizeof where);
	int family = sockaddr_of(a, false, &ss, &sl);
	if (family < 0) {
		snprintf(err, err_size, "%s: not a socket transport", where);
		return -EINVAL;
	}
	int64_t until = time_mono_ms() + timeout_ms;
	int e;
	for (;;) {
		int64_t left = until - time_mono_ms();
		e = connect_once(family, &ss, sl, left, ret_fd);
		if (e == 0)
			return 0;
		/* Not listening yet, or the socket file not made yet: the
		 * runtime may still be starting. Anything else is final. */
		bool retry = e == -ECONNREFUSED || e == -ENOENT || e == -ECONNRESET ||
			     e == -ENODEV || e == -EHOSTUNREACH || e == -ETIMEDOUT;
		if (!retry || time_mono_ms() >= until)
			break;
		time_sleep_ms(left < 100 ? (left > 0 ? left : 1) : 100);
	}
	snprintf(err, err_size, "cannot connect to the enclave runtime at %s: %s", where,
		 strerror(-e));
	return e == -EINPROGRESS ? -ETIMEDOUT : e;
}
