/* The unary operations of atoll.v1.Jobs and atoll.v1.Confidential, apart
 * from any wire: each takes the request message (protobuf-c, as gRPC
 * decodes it or as lib/pbjson reads it from an HTTP body) and the
 * authenticated tenant, and hands its answer to a reply callback, or
 * returns -errno with a message for the client (rpc/status.h maps it).
 * The gRPC services (svc/) and the HTTP gateway (http/) both serve these,
 * so the two APIs cannot drift apart. */
#ifndef ATOLL_SERVER_SVC_OPS_H
#define ATOLL_SERVER_SVC_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "atoll/v1/jobs.pb-c.h"
#include "rpc/server.h"
#include "util/buf.h"

struct coordinator;

/* Where an operation's answer goes; the message lives only for the call. */
struct svc_reply {
	void (*send)(void *ctx, const ProtobufCMessage *m);
	void *ctx;
};

typedef int (*svc_op)(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		      const struct svc_reply *out, char *err, size_t err_size);

/* atoll.v1.Jobs */
int svc_op_submit(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		  const struct svc_reply *out, char *err, size_t err_size);
int svc_op_get(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
	       const struct svc_reply *out, char *err, size_t err_size);
int svc_op_list(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		const struct svc_reply *out, char *err, size_t err_size);
int svc_op_cancel(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		  const struct svc_reply *out, char *err, size_t err_size);
int svc_op_usage(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		 const struct svc_reply *out, char *err, size_t err_size);
/* atoll.v1.Confidential */
int svc_op_create_key(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		      const struct svc_reply *out, char *err, size_t err_size);
int svc_op_encrypt(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		   const struct svc_reply *out, char *err, size_t err_size);
int svc_op_decrypt(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		   const struct svc_reply *out, char *err, size_t err_size);
int svc_op_stats(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		 const struct svc_reply *out, char *err, size_t err_size);
int svc_op_list_islands(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
			const struct svc_reply *out, char *err, size_t err_size);

/* The input document a plain or homomorphic job's island receives (and
 * what a TEE job's envelope seals), from a JobInput. */
int svc_input_doc(const Atoll__V1__JobInput *in, bool homomorphic, struct buf *out, char *err,
		  size_t err_size);

/* A unary gRPC method served by an operation: svc_unary is its handler
 * and a binding its user data (authenticates, runs op, replies or fails). */
struct svc_binding {
	struct coordinator *co;
	svc_op op;
};
void svc_unary(rpc_call *call, const ProtobufCMessage *req, void *ud);
/* Register path -> op as a unary method with request type d. */
int svc_bind(struct coordinator *co, const char *path, const ProtobufCMessageDescriptor *d,
	     svc_op op);

#endif
