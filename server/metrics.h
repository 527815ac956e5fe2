/* The coordinator's Prometheus metrics: counters and fixed-bucket
 * histograms that the core, the store and both front ends bump with
 * relaxed atomics (no lock on any hot path), and the text exposition
 * format for /metrics. Every label takes values from a closed set, so the
 * number of series is bounded whatever clients or islands send.
 *
 * Process-wide: one coordinator per process in production; tests that run
 * several in one process share the counters, which only ever grow. */
#ifndef ATOLL_SERVER_METRICS_H
#define ATOLL_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* mode: enum atoll_mode (1 plain, 2 tee, 3 homomorphic). */
void metrics_job_submitted(unsigned mode);
/* state: 4 completed, 5 failed, 6 cancelled; ms from submission. */
void metrics_job_final(unsigned mode, int state, int64_t submit_to_done_ms);
/* An attestation verdict: accepted, or refused with a reason class
 * (attest_verdict_class(), or "challenge" / "mismatch" for evidence the
 * core refused before judging it). Unknown classes count as "other". */
void metrics_attestation(bool accepted, const char *reason_class);
/* One store transaction's commit, in microseconds. */
void metrics_store_commit(int64_t us);
/* A gRPC call ended with status code (method: the full path). */
void metrics_rpc(const char *method, int code);
/* An HTTP request was answered (route: a fixed route name). */
void metrics_http(const char *route, unsigned status);

/* Gauges, read from the core when /metrics is scraped. */
struct metrics_gauges {
	/* Active jobs: [mode 1..3][state 1..3] (pending, queued, running). */
	uint32_t jobs[4][4];
	uint32_t queue_depth;
	/* Connected islands by state (1..3) and TEE type. */
	struct {
		char tee[32];
		uint32_t by_state[4];
	} islands[32];
	size_t n_islands;
	uint32_t watchers;
	/* How often each limit of coordinator.yaml refused something (the
	 * core's counts; names are the core's fixed strings). */
	struct {
		const char *what;
		uint64_t n;
	} limits[32];
	size_t n_limits;
};

/* Append the exposition text (version 0.0.4) for g and the counters. */
int metrics_render(const struct metrics_gauges *g, struct buf *out);

#endif
