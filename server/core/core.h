/* The coordinator's domain: the island registry and its attestation, the
 * router, the job lifecycle, watchers and timers. It speaks its own
 * structs, never the wire format: the services (server/svc) convert
 * requests into these calls and send what the core hands to the ops
 * tables below.
 *
 * Jobs: an accepted job is routed at once and answered once its insert
 * is durable (the store writer batches inserts and final writes). Active
 * jobs (pending, queued, running) live in memory, which is the truth
 * about their progress; the store has them as accepted, then final. A
 * final job stays in memory until its final write lands. Each job reaches
 * exactly one final state: results for an older attempt, from an island
 * that no longer holds the job, or after the job became final are
 * ignored.
 *
 * Threads: every entry point may be called from any thread; the ops
 * callbacks run with the core's lock held and must only queue work (they
 * must not call back into the core). */
#ifndef ATOLL_SERVER_CORE_H
#define ATOLL_SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/mode.h"
#include "attest/verifier.h"
#include "config.h"
#include "store/store.h"

/* Job states; the numbers equal atoll.v1.JobState. */
enum job_state {
	JOB_PENDING = 1,
	JOB_QUEUED = 2,
	JOB_RUNNING = 3,
	JOB_COMPLETED = 4,
	JOB_FAILED = 5,
	JOB_CANCELLED = 6,
};

/* Island states; the numbers equal atoll.v1.IslandState. */
enum island_state {
	ISLAND_UNATTESTED = 1,
	ISLAND_ATTESTED = 2,
	ISLAND_REVOKED = 3,
};

#define CORE_NONCE_LEN 32
#define CORE_KEY_LEN 32
#define CORE_ISLAND_ID_MAX 127

struct core;
struct session; /* one island's Connect stream */

/* ---- what the core sends ---- */

struct core_workload_verdict {
	uint32_t workload_id;
	bool accepted;
	const char *reason; /* why not, "" when accepted */
};

struct core_welcome {
	const char *session_id;
	int64_t heartbeat_interval_ms;
	const struct core_workload_verdict *workloads;
	size_t n_workloads;
};

struct core_assignment {
	const char *job_id;
	uint32_t attempt;
	uint32_t workload_id;
	uint32_t mode; /* enum atoll_mode */
	const uint8_t *input;
	size_t input_len;
	const uint8_t *client_pub; /* CORE_KEY_LEN bytes, or NULL */
	const char *client_key_id;
	int64_t deadline_ms;
};

/* Messages to one island stream; peer is the service's handle. */
struct session_ops {
	void (*welcome)(void *peer, const struct core_welcome *w);
	void (*challenge)(void *peer, const uint8_t *nonce, size_t len, int64_t expires_ms);
	/* state is an enum island_state; valid_until_ms 0 unless attested. */
	void (*attestation)(void *peer, int state, const char *reason, int64_t valid_until_ms);
	void (*assign)(void *peer, const struct core_assignment *a);
	void (*cancel)(void *peer, const char *job_id, uint32_t attempt, const char *reason);
	/* End the stream: err is a negative errno (see rpc/status.h), or 0. */
	void (*close)(void *peer, int err, const char *msg);
};

/* Events to one watcher of a job; peer is the service's handle. */
struct watch_ops {
	/* The job as it stands now (also its final state). */
	void (*job)(void *peer, const struct job_row *r);
	/* A chunk of the current attempt's output. */
	void (*chunk)(void *peer, uint64_t seq, const uint8_t *data, size_t len);
	/* The watch is over: err 0 when the job is final, else -errno. */
	void (*end)(void *peer, int err, const char *msg);
	/* Bytes waiting to be sent to the peer: output waits while it is
	 * high, and core_watch_drain resumes it. */
	size_t (*backlog)(void *peer);
};

/* ---- life cycle ---- */

/* Build with the configuration, the store and the verifiers (all
 * borrowed; they outlive the core). Loads every active job from the
 * store: running ones go back to the queue. */
int core_new(const struct coord_config *cfg, struct store *st,
	     const struct attest_verifier *verifier, struct core **ret, char *err,
	     size_t err_size);
/* Start the timer thread. */
int core_start(struct core *c);
/* Stop the timer thread, then land the writes still queued (for up to
 * patience_ms while the store fails). After the server stopped, before
 * core_free; idempotent. */
void core_stop(struct core *c, int64_t patience_ms);
/* End island streams and watchers (server shutdown hook). */
void core_shutdown(void *c);
/* Stop the timer thread and free. Accepts NULL. */
void core_free(struct core *c);
/* SIGHUP: a reloaded policy (which must outlive the core) replaces the
 * current one; islands no longer acceptable are revoked over their
 * streams, islands it newly covers are challenged. */
void core_reload_policy(struct core *c, const struct attest_policy *policy);

/* ---- jobs (tenant: the authenticated tenant's name) ---- */

/* A job to submit, already shaped by the service: the mode resolved, the
 * input turned into what the island receives. */
struct core_submit {
	uint32_t workload_id;
	uint32_t mode; /* enum atoll_mode */
	bool confidential;
	/* TEE: the client key the output is sealed to; homomorphic: the
	 * registered Paillier key, or "" with he_public_key. */
	const char *key_id;
	/* TEE: the input envelope; otherwise the input document. */
	const uint8_t *input;
	size_t input_len;
	/* Homomorphic: the public key the input names inline (may be empty). */
	const uint8_t *he_public_key;
	size_t he_public_key_len;
	uint32_t timeout_seconds; /* 0: the workload's */
	const char *idempotency_key;
	/* Answer with the final job (and its output) instead of the accepted
	 * one. Such answers may come with the core's lock held: the callback
	 * must only queue work. */
	bool wait_final;
};

/* The answer to a submit: 0 with the job as it stands (or the job the
 * idempotency key created before), valid during the call only; or -errno
 * with msg. Runs on the store writer's thread, without the core's lock. */
typedef void (*core_submit_cb)(void *ud, int err, const struct job_row *row, const char *msg);
/* Checks the request and queues the job: -errno with err when refused at
 * once (cb is not called), 0 when cb will answer (it may run before this
 * returns). */
int core_submit_async(struct core *c, const char *tenant, const struct core_submit *req,
		      core_submit_cb cb, void *ud, char *err, size_t err_size);
/* The same, waiting for the answer: 0 with *ret_row (free with
 * job_row_clear), or -errno with err. */
int core_submit(struct core *c, const char *tenant, const struct core_submit *req,
		struct job_row *ret_row, char *err, size_t err_size);
/* The tenant's job as it stands (with its output once final), from
 * memory while the job is active or its end not yet stored, else from
 * the store. 0 or -ENOENT (also for another tenant's job). */
int core_get_job(struct core *c, const char *tenant, const char *id, struct job_row *ret_row);
/* Rows read from the store whose jobs are in memory become the jobs as
 * they stand (their rowid kept). */
void core_overlay(struct core *c, struct job_row *rows, size_t n);
int core_cancel(struct core *c, const char *tenant, const char *job_id, const char *reason,
		struct job_row *ret_row, char *err, size_t err_size);
/* Register peer as a watcher: it gets the job now, then every output
 * chunk of the current attempt from the first (seq 0, 1, ...; a new
 * attempt starts again at 0) as fast as its reader takes them, every
 * state change, and once the job is final and its chunks are out, the
 * final job (without output: that came as chunks) and end(). A final
 * job's stored chunks, final state and end come the same way. At most
 * limits.max_watches_per_tenant open watches per tenant (-EDQUOT). */
int core_watch(struct core *c, const char *tenant, const char *job_id,
	       const struct watch_ops *ops, void *peer, char *err, size_t err_size);
/* The peer's reader has room again (its call drained): send more. */
void core_watch_drain(struct core *c, void *peer);
/* The peer's watch is over (its call ended); no callback follows. */
void core_unwatch(struct core *c, void *peer);

/* ---- island sessions ---- */

struct core_offer {
	uint32_t workload_id;
	uint32_t modes; /* ATOLL_MODE_BIT()s */
};

struct core_hello {
	const char *island_id;
	uint32_t slots;
	const char *tee_type; /* "" without a TEE */
	const uint8_t *enclave_pub;
	size_t enclave_pub_len;
	const struct core_offer *offers;
	size_t n_offers;
};

/* A new stream authenticated with island token tok (which names the
 * island ids it may use). Every open stream counts toward
 * limits.max_islands: -EDQUOT past it. A stream must say hello within
 * islands.hello_timeout. */
int core_session_open(struct core *c, const struct session_ops *ops, void *peer,
		      const struct island_token_cfg *tok, struct session **ret, char *err,
		      size_t err_size);
void core_session_hello(struct core *c, struct session *s, const struct core_hello *h);
void core_session_heartbeat(struct core *c, struct session *s);
/* Evidence answering the session's challenge; ev->at_ms is ignored (the
 * core judges it as of now). */
void core_session_evidence(struct core *c, struct session *s, const struct attest_input *ev);
/* The job started (at started_ms, 0 for now). */
void core_session_started(struct core *c, struct session *s, const char *job_id,
			  uint32_t attempt, int64_t started_ms);
void core_session_output(struct core *c, struct session *s, const char *job_id,
			 uint32_t attempt, const uint8_t *data, size_t len);
void core_session_result(struct core *c, struct session *s, const char *job_id,
			 uint32_t attempt, bool ok, const char *error);
void core_session_hand_back(struct core *c, struct session *s, const char *job_id,
			    uint32_t attempt, const char *reason);
/* A message the service could not turn into one of the above. */
void core_session_invalid(struct core *c, struct session *s, const char *why);
/* The stream ended. Frees the session; no callback follows. */
void core_session_close(struct core *c, struct session *s);

/* ---- limits ---- */

/* How often each limit refused something, since start. */
struct core_limit {
	const char *what;
	uint64_t n;
};
size_t core_limit_counts(struct core *c, struct core_limit *out, size_t max);
/* Report a limit hit outside the core (the gRPC layer's send backlog). */
void core_limit_report(struct core *c, const char *what, const char *detail);

/* How the core's one lock is used, since start: for benchmarks and
 * metrics (the coordinator logs it when it stops). */
struct core_lock_stats {
	uint64_t acquisitions, contended;
	int64_t wait_ns, hold_ns, uptime_ns;
};
void core_lock_stats(struct core *c, struct core_lock_stats *out);

/* ---- views ---- */

struct core_count {
	char name[32];
	uint32_t n;
};

struct core_stats {
	uint32_t connected, attested, unattested, revoked;
	uint32_t slots, busy_slots;
	/* Attested and connected islands by TEE type. */
	struct core_count *attested_by_tee, *connected_by_tee;
	size_t n_attested_by_tee, n_connected_by_tee;
};
int core_stats(struct core *c, struct core_stats *out);
void core_stats_clear(struct core_stats *s);

/* An island as ListAttestedIslands shows it: all copies, owned. */
struct island_view {
	char id[CORE_ISLAND_ID_MAX + 1];
	int state; /* enum island_state */
	char reason[512];
	char tee_type[32];
	uint8_t enclave_pub[CORE_KEY_LEN];
	bool has_pub;
	uint8_t *evidence;
	size_t evidence_len;
	atoll_blob *collateral; /* each data malloc'd */
	size_t n_collateral;
	uint8_t nonce[CORE_NONCE_LEN];
	int64_t attested_ms, valid_until_ms; /* 0 when never attested */
	struct attest_kv *claims;
	size_t n_claims;
	uint32_t *workload_ids;
	size_t n_workload_ids;
	uint8_t *manifest;
	size_t manifest_len;
};
/* Islands serving workload_id (0: any), attested only unless
 * include_unattested. */
int core_list_islands(struct core *c, uint32_t workload_id, bool include_unattested,
		      struct island_view **ret, size_t *ret_n);
void island_views_free(struct island_view *v, size_t n);

/* Enclave keys of attested islands serving workload (TEE mode) into
 * keys[max][32]; returns the count. */
size_t core_attested_keys(struct core *c, uint32_t workload_id, uint8_t (*keys)[32],
			  char (*ids)[128], size_t max);

/* The gauges /metrics shows: active jobs by mode and state, queue depth,
 * islands by state and TEE type, open watches. */
struct metrics_gauges;
void core_metrics(struct core *c, struct metrics_gauges *g);

#endif
