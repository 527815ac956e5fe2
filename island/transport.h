/* The byte pipe between the island host and its enclave runtime: socket
 * addresses ("vsock:CID:PORT", "vsock:PORT", "unix:PATH"), listening and
 * accepting on the enclave side, connecting with a deadline on the host
 * side. The socketpair of a child enclave needs none of this; every
 * transport carries the same frames (frame.h) under the same limit. */
#ifndef ATOLL_ISLAND_TRANSPORT_H
#define ATOLL_ISLAND_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

enum transport_kind {
	TRANSPORT_CHILD = 0, /* a child process on a socketpair */
	TRANSPORT_VSOCK = 1, /* AF_VSOCK: the host connects to CID:port */
	TRANSPORT_UNIX = 2,  /* AF_UNIX stream socket: containers */
	TRANSPORT_TCP = 3,   /* TCP on a local address: SGX under Gramine,
			      * whose Unix sockets reach no host process */
};

#define TRANSPORT_PATH_MAX 108 /* sizeof sun_path */

struct transport_addr {
	enum transport_kind kind;
	uint32_t cid;  /* vsock: the peer to connect to (listeners bind any) */
	uint32_t port; /* vsock, tcp */
	char path[TRANSPORT_PATH_MAX]; /* unix */
	uint8_t ipv4[4]; /* tcp */
};

/* "child", "vsock", "unix", "tcp" -> kind; -EINVAL for anything else. */
int transport_kind_parse(const char *s, enum transport_kind *ret);
const char *transport_kind_name(enum transport_kind k);

/* Parse a --listen spec: "vsock:PORT", "vsock:CID:PORT", "unix:PATH" or
 * "tcp:IPV4:PORT". 0 or -EINVAL with the reason in err. */
int transport_parse(const char *spec, struct transport_addr *ret, char *err, size_t err_size);

/* "vsock:16:5005" or "unix:/run/atoll/enclave.sock", for messages. */
void transport_describe(const struct transport_addr *a, char *buf, size_t size);

/* Listen on a (vsock: any local CID). A Unix socket replaces a stale
 * socket file at the path and is made with mode 0660, so that the host
 * needs the owner's uid or group. 0 with the socket, or -errno with
 * err filled. */
int transport_listen(const struct transport_addr *a, int *ret_fd, char *err, size_t err_size);

/* Connect to a listening enclave runtime, retrying refused and absent
 * endpoints (the runtime may still be starting) until timeout_ms has
 * passed. 0 with the socket, or -errno with err filled (-ETIMEDOUT when
 * the deadline passed). */
int transport_connect(const struct transport_addr *a, int64_t timeout_ms, int *ret_fd,
		      char *err, size_t err_size);

#endif
