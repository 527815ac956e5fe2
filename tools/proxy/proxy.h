/* atoll-proxy: the verifying proxy on the client's own machine. Any HTTP
 * client speaks the seed's API to it on localhost; it makes and keeps the
 * keys, judges the islands' evidence with the client's own policy, seals
 * inputs, opens outputs, and talks to the coordinator over gRPC.
 * Plaintext and private keys never leave this machine. */
#ifndef ATOLL_TOOLS_PROXY_H
#define ATOLL_TOOLS_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <protobuf-c/protobuf-c.h>

#include "atoll/v1/jobs.pb-c.h"
#include "client/keystore.h"
#include "client/seal.h"
#include "httpd/httpd.h"
#include "rpc/client.h"

struct proxy_config {
	char *file;
	struct {
		char *address;
		bool allow_remote;
		char *tls_cert, *tls_key;
	} listen;
	struct {
		char *address;
		char *api_key; /* used when a request brings no Authorization */
		char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
		int64_t timeout_ms;
	} coordinator;
	char *keystore; /* NULL: ~/.atoll/keys */
	char *policy;   /* the client's trust policy (lib/attest) */
	struct {
		uint32_t max_body_bytes;
		uint32_t max_connections;
		int64_t sse_keepalive_ms;
		uint32_t paillier_bits;
	} limits;
};

int proxy_config_load(const char *path, struct proxy_config **ret, char *err, size_t err_size);
void proxy_config_free(struct proxy_config *c);

struct proxy {
	struct proxy_config *cfg;
	struct cl_keystore ks;
	struct cl_trust *trust; /* NULL without a policy: sealing is refused */
	rpc_client *rpc;
	struct httpd *httpd;
	uint8_t pending_key[32]; /* for inputs encrypted before a workload is known */
	/* Event streams' threads still running (waited for at exit). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int watches;
};

/* Everything one request needs: the proxy and the bearer to forward. */
struct preq {
	struct proxy *p;
	const struct httpd_req *req;
	struct httpd_resp *resp;
	char auth[1100]; /* "Bearer ...", or "" */
};

/* proxy.c */
void proxy_handle(void *ud, const struct httpd_req *req, struct httpd_resp *resp);
/* A unary call to the coordinator with the request's bearer. 0 with
 * *ret, or -1 after answering the HTTP request with the coordinator's
 * status (mapped by rpc/status.h). */
int proxy_call(struct preq *q, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret);
/* Answer -errno with a message (rpc/status.h decides the HTTP status). */
void proxy_fail(struct preq *q, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answer 200 with m as JSON (proto field names, defaults included). */
void proxy_reply(struct preq *q, const ProtobufCMessage *m);
/* A job's output opened here, to show in place of the coordinator's. */
struct opened {
	Atoll__V1__JobOutput out; /* the plaintext, as text or data */
	struct buf pt;
	char error[4400]; /* a sealed error, "code: message" */
	bool opened, failed;
	/* proxy_swap_opened's state. */
	bool swapped, output_swapped;
	Atoll__V1__JobOutput *saved_output;
	char *saved_error;
};
/* Open a final job's output: a TEE job sealed with this keystore (error
 * from a sealed error), a homomorphic job under a Paillier key of this
 * keystore. 1 opened, 0 not ours, -1 after answering an error. */
int proxy_open_job(struct preq *q, const Atoll__V1__Job *j, struct opened *o);
/* Put o's output and error into j, or back (call twice). */
void proxy_swap_opened(Atoll__V1__Job *j, struct opened *o);
void opened_free(struct opened *o);
/* Plaintext as a JobOutput (text when UTF-8, else data), borrowing pt. */
void proxy_plain_output(Atoll__V1__JobOutput *out, struct buf *pt);
/* The local record of a job (bound on first use): 0, -ENOENT when its
 * input was not sealed here, -EEXIST when its envelope was submitted as
 * another job. */
int proxy_record_of(struct proxy *p, const Atoll__V1__Job *j, struct cl_sealed *rec);

/* events.c: GET /api/v1/jobs/{id}/events */
void proxy_events(struct preq *q, const char *job_id);

/* pending.c: inputs encrypted with no workload yet (docs/proxy.md). */
int pending_key_load(struct proxy *p, char *err, size_t err_size);
/* Seal doc under the proxy's pending key, bound to key_id. */
int pending_seal(const struct proxy *p, const char *key_id, const uint8_t *doc, size_t len,
		 struct buf *out);
/* 1 when ct is a pending input (then opened into doc), 0 when not one,
 * -EBADMSG when it is one that does not open (or for another key). */
int pending_open(const struct proxy *p, const char *key_id, const uint8_t *ct, size_t len,
		 struct buf *doc);

#endif
