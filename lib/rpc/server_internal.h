/* Internal to the server layer (lib/rpc/server.c and call.c), not part of
 * its interface (server.h): the completion-queue tag, the server and call
 * structures both parts read, and how an accepted call is started.
 *
 * Every completion-queue tag is a struct tag whose fn is called with the
 * event's success bit. */
#ifndef ATOLL_RPC_SERVER_INTERNAL_H
#define ATOLL_RPC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>

#include "rpc/server.h"

#define MAX_METHODS 64
#define MAX_HOOKS 8

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

struct tag {
	void (*fn)(struct tag *t, bool ok);
};

struct method_entry {
	rpc_method m;
	void *handle; /* from grpc_server_register_method */
};

struct hook {
	void (*fn)(void *ud);
	void *ud;
};

struct rpc_server {
	grpc_server *server;
	grpc_resource_quota *quota;
	grpc_completion_queue *cq;
	pthread_t *threads;
	int nthreads;
	bool started;
	struct rpc_server_opts opts;
	struct method_entry methods[MAX_METHODS];
	size_t nmethods;
	struct hook hooks[MAX_HOOKS];
	size_t nhooks;
	void (*observer)(const char *path, int code);
	atomic_bool shutting_down;
	atomic_int live_calls;
	atomic_int pending_requests;
	/* Shutdown notification. */
	struct tag shutdown_tag;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool shutdown_done;
};

/* An outstanding accept request. method NULL = generic (unknown method). */
struct request {
	struct tag tag;
	rpc_server *srv;
	struct method_entry *me;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	grpc_call_details details; /* generic only */
};

struct rpc_call {
	rpc_server *srv;
	struct method_entry *me;
	grpc_call *call;
	grpc_metadata_array md;
	gpr_timespec deadline;
	char *peer;
	pthread_mutex_t mu;
	int refs;
	void *user;

	struct tag close_tag;
	int close_cancelled;
	bool close_done;

	/* Handler dispatch or receive in flight: on_done waits for it. */
	int busy;
	bool done_fired;

	struct tag recv_tag;
	grpc_byte_buffer *recv_bb;

	struct tag send_tag;
	bool send_busy;
	bool initial_md_sent;
	bool status_queued;
	bool send_failed;
	struct out_item *q_head, *q_tail;
	grpc_byte_buffer *inflight_bb;
	size_t inflight_len;
	/* Bytes queued and in flight: bounded by opts.max_queued_bytes. */
	size_t backlog;
	void (*drain_fn)(rpc_call *c, void *ud);
	void *drain_ud;
	grpc_metadata_array empty_md;
};

/* Turn an accepted request into a call (call.c): watch for its close,
 * decode the request and run on_start, or for bidi open the stream and
 * start receiving. Takes over rq's call, metadata and payload; the caller
 * frees rq itself. */
void rpc_call_start(rpc_server *s, struct request *rq);

#endif
