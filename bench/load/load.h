/* An asynchronous, pipelined load generator on the gRPC core C API: a
 * fixed number of operations kept in flight over one or a few channels,
 * driven by completion queues (one thread per queue), never one blocking
 * thread per caller. An operation is a small state machine the caller
 * supplies (a unary call, or SubmitJob then a WatchJob stream); the engine
 * starts them, times them from begin to end and starts the next one in the
 * same slot. Depends on gRPC and libc only, so that the floor benchmark
 * (bench/floor) carries no Atoll code. */
#ifndef ATOLL_BENCH_LOAD_H
#define ATOLL_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#define LOAD_MAX_METHODS 4

/* What a kind's begin/step return. */
enum { LOAD_FAIL = -1, LOAD_MORE = 0, LOAD_DONE = 1 };

/* One call of a slot and what its batches receive. */
struct load_call {
	grpc_call *call;
	grpc_metadata_array initial_md, trailing_md;
	grpc_status_code status;
	grpc_slice details;
	grpc_byte_buffer *send, *recv;
	bool have_status;
};

/* One operation in flight. The engine owns the slot; `user` is the kind's. */
struct load_slot {
	int index;
	grpc_channel *channel;
	void **methods; /* registered on this slot's channel, by kind method index */
	grpc_completion_queue *cq;
	int deadline_ms;
	struct load_call c;
	int64_t t_begin; /* ns, set by the engine before begin() */
	/* Set by a kind when the operation reached its figure before the
	 * call was cleaned up (e.g. the final event seen, status pending);
	 * 0 means "when step() returned LOAD_DONE". */
	int64_t t_end;
	void *user;
};

/* An operation. begin() starts the first batch of a new operation with
 * the slot as tag; step() gets each completion and either starts the next
 * batch (LOAD_MORE) or ends the operation (LOAD_DONE, LOAD_FAIL) with no
 * batch of the slot outstanding. Both run on the slot's queue thread. */
struct load_kind {
	const char *methods[LOAD_MAX_METHODS]; /* full paths, NULL-terminated */
	int (*slot_init)(struct load_slot *s, void *ud);
	void (*slot_fini)(struct load_slot *s, void *ud);
	int (*begin)(struct load_slot *s, void *ud);
	int (*step)(struct load_slot *s, bool ok, void *ud);
	void *ud;
};

struct load_opts {
	const char *target;  /* host:port */
	int in_flight;       /* operations at once (default 1) */
	int channels;        /* TCP connections (default 1) */
	int threads;         /* completion queues, one thread each (default 1) */
	/* By time: operations ending within [warmup, warmup + seconds] count.
	 * By count (seconds == 0): `total` operations after `warmup_ops`. */
	double seconds, warmup_seconds;
	long total, warmup_ops;
	int deadline_ms; /* per call (default 60 s) */
};

struct load_result {
	long done, failed;
	double seconds; /* the measured window */
	double per_s;
	int64_t *lat_ns; /* sorted ascending */
	size_t n_lat;
};

/* Run a load; 0, or -errno with a message in err. */
int load_run(const struct load_opts *o, const struct load_kind *k, struct load_result *ret,
	     char *err, size_t err_size);
/* Latency percentile p (0..1) in milliseconds; 0 without samples. */
double load_pct_ms(const struct load_result *r, double p);
void load_result_free(struct load_result *r);

int64_t load_now_ns(void);

/* Calls on a slot (one at a time). Messages are serialized bytes; md may
 * be NULL. Each start function starts one batch tagged with the slot.
 *
 * unary: send metadata, the message and half-close; receive metadata, the
 * reply and the status, all in one batch. */
int load_call_unary(struct load_slot *s, int method, const grpc_metadata *md, size_t n_md,
		    grpc_slice msg);
/* A server stream: send metadata, the request and half-close, receive
 * metadata and the first message. */
int load_call_stream(struct load_slot *s, int method, const grpc_metadata *md, size_t n_md,
		     grpc_slice msg);
/* The next message of a stream. */
int load_call_recv(struct load_slot *s);
/* The status of a stream. */
int load_call_status(struct load_slot *s);
/* The message the last batch received as one slice (grpc_slice_unref it);
 * false when the stream had ended. */
bool load_call_take(struct load_slot *s, grpc_slice *ret);
/* Status OK? (after a unary batch or load_call_status). */
bool load_call_ok(const struct load_slot *s);
/* Release the call and what its batches left. */
void load_call_end(struct load_slot *s);

#endif
