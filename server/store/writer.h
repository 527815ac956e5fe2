/* The store writer: one thread that applies job writes in batches, one
 * transaction (and under synchronous: full one fsync) for every write
 * queued while the previous batch was committing. Nothing waits for a
 * write while holding the core's lock: the core queues a write and goes
 * on; the writer calls back once the write is durable.
 *
 * Order: writes land in the order they were queued, and their callbacks
 * run in that order, on the writer thread, without the writer's lock
 * (a write that gives up is answered when it does, on whichever of the
 * writer's threads saw it give up).
 *
 * Failure: a batch that cannot commit (disk full, I/O error, the database
 * locked by another process or out of reach) is rolled back and tried
 * again with backoff (50 ms doubling to 2 s); the first failure of a
 * streak is logged, and its end. A write queued with patience_ms gives
 * up once it has waited that long, but only while it has not been sent:
 * then it certainly did not land (its callback gets -EIO). The writes
 * waiting behind a failing batch are watched by a second thread, so they
 * give up on time whatever the store is doing. A write that was sent in
 * a batch whose commit may have landed (the connection broke while
 * COMMIT was on its way: store_batch_commit's -ECONNRESET) is in doubt:
 * it is tried again, whatever its patience, until the store answers
 * (every write is idempotent: a retry finds it landed, or lands it). One
 * queued without patience (0) is tried until it lands or the writer
 * stops. A write the store refuses for what it holds (store calls
 * answering -EINVAL, e.g. a value the database's types reject) would be
 * refused again: it alone fails at once, and the rest of its batch is
 * tried again without it. */
#ifndef ATOLL_SERVER_STORE_WRITER_H
#define ATOLL_SERVER_STORE_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct store_writer;

enum store_op_kind {
	STORE_OP_INSERT_JOB,
	STORE_OP_FINISH_JOB,
	/* Shared stores: give a claimed job back (row.id, row.attempts;
	 * unclaim when the attempt never ran), and one output chunk
	 * (row.id, row.attempts, seq, row.output). */
	STORE_OP_RELEASE_JOB,
	STORE_OP_OUTPUT,
};

/* One write. The caller owns the struct (it may be embedded) and keeps it
 * and the blobs row points at alive until done has been called. */
struct store_op {
	struct store_op *next;
	enum store_op_kind kind;
	struct job_row row;  /* a copy; blobs borrowed */
	bool unclaim;        /* STORE_OP_RELEASE_JOB */
	uint32_t seq;        /* STORE_OP_OUTPUT */
	int64_t patience_ms; /* 0: until it lands */
	int64_t queued_ms;
	bool in_doubt;       /* the writer's: sent in a batch that may have landed */
	/* Called once: 0 when durable; -EEXIST for an insert whose tenant
	 * already has a job with its idempotency key (existing holds that
	 * job; done must take it over or clear it); -ESTALE for a final
	 * write a shared store fenced off (the job is no longer this
	 * coordinator's); -EIO when it gave up before it was sent (it did
	 * not land); -EINVAL when the store refused it for what it holds
	 * (it did not land; trying again would not help); -ESHUTDOWN when
	 * the writer stopped before it was sent;
	 * -ETIMEDOUT when the writer stopped while it was in doubt (it may
	 * have landed). */
	void (*done)(struct store_op *op, int err, void *ud);
	void *ud;
	struct job_row existing;
};

/* Counters, for metrics and benchmarks. */
struct store_writer_stats {
	uint64_t batches, writes, failures;
	uint64_t queued; /* waiting now */
	uint64_t gave_up; /* writes that ran out of patience */
};

int store_writer_start(struct store *s, struct store_writer **ret);
/* Queue op (op->queued_ms is set here). Never blocks on the store. */
void store_writer_push(struct store_writer *w, struct store_op *op);
/* Wait until everything queued before this call has landed or given up. */
void store_writer_sync(struct store_writer *w);
void store_writer_stats(struct store_writer *w, struct store_writer_stats *out);
/* Land what is queued (giving up after patience_ms of failures: those
 * writes get -ESHUTDOWN, or -ETIMEDOUT when in doubt), stop the threads
 * and free. Accepts NULL. */
void store_writer_stop(struct store_writer *w, int64_t patience_ms);

#endif
