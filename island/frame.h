/* Length-prefixed protobuf frames on a stream socket (the host <->
 * enclave pipe): 4-byte big-endian length, then the message. */
#ifndef ATOLL_ISLAND_FRAME_H
#define ATOLL_ISLAND_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Write one frame (all of it, retrying short writes). Callers serialize
 * writers. 0 or -errno (-EPIPE when the peer is gone). */
int frame_write(int fd, const ProtobufCMessage *m);
/* Read one frame. 0 with the message, -EPIPE at a clean end of stream,
 * -EMSGSIZE for a length over max, -EBADMSG for a truncated frame or one
 * that does not parse as desc; -errno otherwise. */
int frame_read(int fd, const ProtobufCMessageDescriptor *desc, size_t max,
	       ProtobufCMessage **ret);

#endif
