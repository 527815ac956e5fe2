/* The store writer: one thread that applies job writes in batches, one
 * transaction (and under synchronous: full one fsync) for every write
 * queued while the previous batch was committing. Nothing waits for a
 * write while holding the core's lock: the core queues a write and goes
 * on; the writer calls back once the write is durable.
 *
 * Order: writes land in the order they were queued, and their callbacks
 * run in that order, on the writer thread, without the writer's lock.
 *
 * Failure: a batch that cannot commit (disk full, I/O error, the database
 * locked by another process) is rolled back and tried again with backoff
 * (50 ms doubling to 2 s); the first failure of a streak is logged, and
 * its end. A write queued with patience_ms gives up once it has waited
 * that long (its callback gets -EIO); one queued without (patience 0)
 * is tried until it lands or the writer stops. */
#ifndef ATOLL_SERVER_STORE_WRITER_H
#define ATOLL_SERVER_STORE_WRITER_H

#include <stdint.h>

#include "store/store.h"

struct store_writer;

enum store_op_kind {
	STORE_OP_INSERT_JOB,
	STORE_OP_FINISH_JOB,
};

/* One write. The caller owns the struct (it may be embedded) and keeps it
 * and the blobs row points at alive until done has been called. */
struct store_op {
	struct store_op *next;
	enum store_op_kind kind;
	struct job_row row;  /* a copy; blobs borrowed */
	int64_t patience_ms; /* 0: until it lands */
	int64_t queued_ms;
	/* Called once: 0 when durable; -EEXIST for an insert whose tenant
	 * already has a job with its idempotency key (existing holds that
	 * job; done must take it over or clear it); -EIO when it gave up;
	 * -ESHUTDOWN when the writer stopped first. */
	void (*done)(struct store_op *op, int err, void *ud);
	void *ud;
	struct job_row existing;
};

/* Counters, for metrics and benchmarks. */
struct store_writer_stats {
	uint64_t batches, writes, failures;
	uint64_t queued; /* waiting now */
};

int store_writer_start(struct store *s, struct store_writer **ret);
/* Queue op (op->queued_ms is set here). Never blocks on the store. */
void store_writer_push(struct store_writer *w, struct store_op *op);
/* Wait until everything queued before this call has landed or given up. */
void store_writer_sync(struct store_writer *w);
void store_writer_stats(struct store_writer *w, struct store_writer_stats *out);
/* Land what is queued (giving up after patience_ms of failures: those
 * writes get -ESHUTDOWN), stop the thread and free. Accepts NULL. */
void store_writer_stop(struct store_writer *w, int64_t patience_ms);

#endif
