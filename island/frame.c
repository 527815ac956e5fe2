/* Length-prefixed protobuf frames. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1 filled, 0 clean EOF before any byte, -EBADMSG EOF midway, -errno. */
static int read_all(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return got == 0 ? 0 : -EBADMSG;
		got += (size_t)r;
	}
	return 1;
}

int frame_write(int fd, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *buf = malloc(len + 4);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	protobuf_c_message_pack(m, buf + 4);
	int r = write_all(fd, buf, len + 4);
	/* Frames from the enclave may carry plaintext of plain jobs. */
	OPENSSL_cleanse(buf, len + 4);
	free(buf);
	return r;
}

int frame_read(int fd, const ProtobufCMessageDescriptor *desc, size_t max,
	       ProtobufCMessage **ret)
{
	uint8_t hdr[4];
	int r = read_all(fd, hdr, 4);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return r;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len > max)
		return -EMSGSIZE;
	uint8_t *buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	r = len ? read_all(fd, buf, len) : 1;
	if (r <= 0) {
		free(buf);
		return r == 0 ? -EBADMSG : r;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!m)
		return -EBADMSG;
	*ret = m;
	return 0;
}
