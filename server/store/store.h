/* The job store: one interface, two implementations (struct store_ops):
 *
 *   store/sqlite.c    SQLite in WAL mode, a connection for writes and one
 *                     for reads: the embedded default, one coordinator.
 *   store/pg*.c       PostgreSQL (libpq): several coordinators share it;
 *                     jobs are claimed with leases (the shared-store calls
 *                     at the end of this header).
 *
 * What is durable: every accepted job (from SubmitJob's reply on), final
 * results and billing, and registered client keys. A job's progress
 * between the two (queued, running where, which attempt) is soft state,
 * kept in the coordinator's memory: after a restart every job the store
 * holds as not final is queued again. Islands are not stored either: they
 * are rebuilt from their streams. Job writes go through the store writer
 * (store/writer.h), which batches them.
 *
 * The schema is versioned with PRAGMA user_version; opening a store written
 * by a newer version fails, an older one is migrated in a transaction. */
#ifndef ATOLL_SERVER_STORE_H
#define ATOLL_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2
#define JOB_ID_LEN 30   /* "job_" + 26 */
#define KEY_ID_LEN 29   /* "ck_" + 26 */

struct store;

/* A jobs row. Strings are NUL-terminated copies; blobs are malloc'd and
 * owned by the row (job_row_clear frees them). */
struct job_row {
	int64_t rowid;
	char id[JOB_ID_LEN + 1];
	char tenant[128];
	uint32_t workload_id;
	char workload[128];
	bool confidential;
	uint32_t mode;
	char key_id[64];
	int state; /* atoll.v1.JobState */
	char error[1024];
	char island_id[128];
	uint32_t attempts;
	int64_t created_ms, started_ms, completed_ms, deadline_ms; /* 0: unset */
	int64_t duration_ms;
	double credits;
	uint8_t *input;
	size_t input_len;
	uint8_t client_pub[32];
	bool has_client_pub;
	uint8_t *output;
	size_t output_len;
	bool output_encrypted;
	/* The output's chunk lengths, u32 big-endian each, in order. */
	uint8_t *output_chunks;
	size_t output_chunks_len;
	char idempotency_key[128];
	/* TEE jobs: the envelope's recipient enclave keys (32 bytes each),
	 * written with the insert so that a shared store can hand the job
	 * only to a coordinator holding one of them. Borrowed in writes. */
	uint8_t *recipients;
	size_t n_recipients;
};

struct key_row {
	char id[KEY_ID_LEN + 1];
	char tenant[128];
	int algorithm; /* atoll.v1.KeyAlgorithm */
	uint8_t *public_key;
	size_t public_key_len;
	uint8_t *private_key; /* custodial keys only; wiped on clear */
	size_t private_key_len;
	char label[256];
	int64_t created_ms;
};

struct usage_row {
	uint32_t workload_id;
	char workload[128];
	uint64_t jobs;
	uint64_t confidential_jobs;
	double credits;
};

void job_row_clear(struct job_row *r);
void key_row_clear(struct key_row *r);

enum store_driver {
	STORE_SQLITE = 0,
	STORE_POSTGRES = 1,
};

struct store_options {
	enum store_driver driver;
	const char *path;      /* SQLite: the database file */
	bool synchronous_full; /* SQLite: fsync on every commit */
	const char *dsn;       /* PostgreSQL: a libpq connection string */
	/* PostgreSQL: this coordinator's name in the store (the owner of the
	 * jobs it claims), unique per process. */
	const char *owner;
};

/* Open or create (migrating an older schema). err says why not. */
int store_open(const struct store_options *o, struct store **ret, char *err, size_t err_size);
/* Accepts NULL. */
void store_close(struct store *s);
/* "sqlite" or "postgres". */
const char *store_driver_name(const struct store *s);

/* A batch of writes in one transaction: begin, any number of
 * store_insert_job / store_finish_job, then commit (one fsync under
 * synchronous: full) or rollback. Other writers wait meanwhile; readers
 * do not. 0 or -EIO with err (nothing landed); commit also answers
 * -ECONNRESET when the connection broke with COMMIT on its way: the
 * batch may or may not have landed, and only trying the same writes
 * again tells (each write is idempotent). A write in a batch answers
 * -EINVAL when the store refuses its values (they would be refused
 * again): the batch must be rolled back, and may be tried without it. */
int store_batch_begin(struct store *s, char *err, size_t err_size);
int store_batch_commit(struct store *s, char *err, size_t err_size);
void store_batch_rollback(struct store *s);
/* Called after each batch commits, with the COMMIT's duration in
 * microseconds (metrics); NULL to stop. Set before the store is used. */
void store_on_commit(struct store *s, void (*fn)(int64_t us));

/* Insert a new job. -EEXIST when the tenant already has a job with the
 * same idempotency key (then *existing holds it). */
int store_insert_job(struct store *s, const struct job_row *r, struct job_row *existing);
/* Record a final state with its output and billing. In a shared store
 * the write is fenced: it lands only while this coordinator owns the job
 * in that attempt (r->attempts) and the job is not final; otherwise
 * -ESTALE and nothing changes. */
int store_finish_job(struct store *s, const struct job_row *r);
/* The job if it belongs to tenant; -ENOENT otherwise. As committed: a
 * job's state in the coordinator's memory may be ahead. */
int store_get_job(struct store *s, const char *tenant, const char *id, struct job_row *out);
/* The tenant's job made with idempotency_key, as committed; -ENOENT. */
int store_find_idempotent(struct store *s, const char *tenant, const char *idempotency_key,
			  struct job_row *out);
/* state for store_list_jobs: any of pending, queued, running. */
#define STORE_STATE_ACTIVE (-1)
/* Newest first, rowid below before (0: from the newest), at most limit.
 * state (a job state, STORE_STATE_ACTIVE, or 0 for any) and workload (0
 * for any) filter. The callback takes the row over (must clear it).
 * *ret_more says whether older rows exist past the page. */
int store_list_jobs(struct store *s, const char *tenant, int state, uint32_t workload_id,
		    int64_t before, uint32_t limit,
		    void (*cb)(struct job_row *r, void *ud), void *ud, bool *ret_more);
/* Every job not yet final, oldest first (start-up recovery). */
int store_load_active(struct store *s, void (*cb)(struct job_row *r, void *ud), void *ud);
/* Billed usage of a tenant since since_ms, per workload. */
int store_usage(struct store *s, const char *tenant, int64_t since_ms,
		void (*cb)(const struct usage_row *u, void *ud), void *ud);

int store_insert_key(struct store *s, const struct key_row *k);
int store_get_key(struct store *s, const char *tenant, const char *id, struct key_row *out);

/* ---- shared stores: several coordinators on one database ----
 *
 * A shared store owns the jobs: a submitted job waits in it (QUEUED, no
 * owner) until a coordinator with an idle eligible island claims it for
 * one attempt (RUNNING, owner, lease). The owner renews its leases; a
 * job whose lease ran out goes back to the queue (its next claim is a
 * new attempt) and the old owner's writes about it are refused. Times
 * are the database's clock, so coordinators need no synchronised clocks.
 * Events (new work, output, final states, cancels) reach every
 * coordinator through store_listen. The SQLite store is not shared:
 * these calls answer -ENOTSUP there. */
bool store_shared(const struct store *s);

/* What a claim asks for: queued jobs of workload_id in mode (plain or
 * homomorphic), or TEE jobs of workload_id sealed to one of keys. */
struct store_claim {
	uint32_t workload_id;
	uint32_t mode;
	const uint8_t (*keys)[32];
	size_t n_keys;
	uint32_t max;
};
/* Claim up to q->max jobs, oldest first, skipping rows other claimers
 * hold: each becomes RUNNING with attempts + 1, owned until lease_ms
 * from now. cb takes each row over. */
int store_claim_jobs(struct store *s, const struct store_claim *q, int64_t lease_ms,
		     void (*cb)(struct job_row *r, void *ud), void *ud);
/* Extend the leases of the jobs ids (those this coordinator holds) that
 * it still owns; cb names each (a job missing from the calls was
 * cancelled or taken over meanwhile). A job the store gives this
 * coordinator but that it does not hold is not renewed: its lease runs
 * out and it goes back to the queue. */
int store_renew_leases(struct store *s, int64_t lease_ms, const char *const *ids, size_t n,
		       void (*cb)(const char *id, uint32_t attempt, void *ud), void *ud);
/* Jobs whose lease expired go back to the queue; unclaimed jobs past
 * their deadline fail. Counts in *ret_released and *ret_failed. */
int store_sweep(struct store *s, size_t *ret_released, size_t *ret_failed);
/* Give an owned job back to the queue (fenced on attempt). unclaim: the
 * attempt never reached an island, so it does not count. */
int store_release_job(struct store *s, const char *id, uint32_t attempt, bool unclaim);
/* One output chunk of an attempt, for watchers on other coordinators;
 * fenced like a final write (nothing lands once the attempt is no longer
 * this coordinator's). Chunks of a job are deleted when it becomes final
 * (its final write, a cancel, its deadline). */
int store_append_output(struct store *s, const char *id, uint32_t attempt, uint32_t seq,
			const uint8_t *data, size_t len);
/* The stored chunks of an attempt from seq from on, in order, at most
 * max of them. */
int store_read_output(struct store *s, const char *id, uint32_t attempt, uint32_t from,
		      uint32_t max,
		      void (*cb)(uint32_t seq, const uint8_t *data, size_t len, void *ud), void *ud);
/* Cancel a tenant's job that is not final, whoever owns it: 0 with the
 * job as it ended in *ret_row, -EALREADY when already final, -ENOENT. */
int store_cancel_job(struct store *s, const char *tenant, const char *id, const char *error,
		     struct job_row *ret_row);
/* Final states of the given jobs: cb for each id that is final now. */
int store_get_final(struct store *s, const char *const *ids, size_t n,
		    void (*cb)(struct job_row *r, void *ud), void *ud);

enum store_event {
	STORE_EV_JOBS = 1,   /* jobs were queued */
	STORE_EV_OUTPUT = 2, /* output chunks landed */
	STORE_EV_FINAL = 3,  /* jobs became final */
	STORE_EV_CANCEL = 4, /* payload: the id of a job cancelled by a tenant */
	STORE_EV_LOST = 5,   /* the listening connection was lost and is back:
			      * events may have been missed */
};
/* Wait up to timeout_ms for events and call cb for each (payload may be
 * ""). The writes of store_writer batches announce themselves. 0, or
 * -EIO while the database cannot be reached (the next call retries). */
int store_listen(struct store *s, int64_t timeout_ms,
		 void (*cb)(enum store_event ev, const char *payload, void *ud), void *ud);

/* An island as the coordinator holding its stream publishes it for the
 * fleet's views. Blobs are owned by the row (island_row_clear). */
struct island_row {
	char coordinator[64];
	char id[128];
	int state;
	char reason[512];
	char tee_type[32];
	uint8_t enclave_pub[32];
	bool has_pub;
	uint32_t slots, running;
	int64_t attested_ms, valid_until_ms;
	uint8_t nonce[32];
	uint8_t *evidence, *manifest, *claims, *collateral, *offers;
	size_t evidence_len, manifest_len, claims_len, collateral_len, offers_len;
};
void island_row_clear(struct island_row *r);
/* Replace this coordinator's islands with rows and mark it alive. */
int store_publish_islands(struct store *s, const struct island_row *rows, size_t n);
/* Islands of the other coordinators seen alive within max_age_ms. */
int store_fleet_islands(struct store *s, int64_t max_age_ms,
			void (*cb)(struct island_row *r, void *ud), void *ud);

/* ---- implementations ---- */

/* Every implementation starts its struct with this. */
struct store {
	const struct store_ops *ops;
	void (*on_commit)(int64_t us); /* store_on_commit */
};

struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	int (*batch_begin)(struct store *s, char *err, size_t err_size);
	int (*batch_commit)(struct store *s, char *err, size_t err_size);
	void (*batch_rollback)(struct store *s);
	int (*insert_job)(struct store *s, const struct job_row *r, struct job_row *existing);
	int (*finish_job)(struct store *s, const struct job_row *r);
	int (*get_job)(struct store *s, const char *tenant, const char *id, struct job_row *out);
	int (*find_idempotent)(struct store *s, const char *tenant, const char *key,
			       struct job_row *out);
	int (*list_jobs)(struct store *s, const char *tenant, int state, uint32_t workload_id,
			 int64_t before, uint32_t limit, void (*cb)(struct job_row *r, void *ud),
			 void *ud, bool *ret_more);
	int (*load_active)(struct store *s, void (*cb)(struct job_row *r, void *ud), void *ud);
	int (*usage)(struct store *s, const char *tenant, int64_t since_ms,
		     void (*cb)(const struct usage_row *u, void *ud), void *ud);
	int (*insert_key)(struct store *s, const struct key_row *k);
	int (*get_key)(struct store *s, const char *tenant, const char *id, struct key_row *out);
	/* Shared stores only; NULL elsewhere. */
	int (*claim_jobs)(struct store *s, const struct store_claim *q, int64_t lease_ms,
			  void (*cb)(struct job_row *r, void *ud), void *ud);
	int (*renew_leases)(struct store *s, int64_t lease_ms, const char *const *ids, size_t n,
			    void (*cb)(const char *id, uint32_t attempt, void *ud), void *ud);
	int (*sweep)(struct store *s, size_t *ret_released, size_t *ret_failed);
	int (*release_job)(struct store *s, const char *id, uint32_t attempt, bool unclaim);
	int (*append_output)(struct store *s, const char *id, uint32_t attempt, uint32_t seq,
			     const uint8_t *data, size_t len);
	int (*read_output)(struct store *s, const char *id, uint32_t attempt, uint32_t from,
			   uint32_t max,
			   void (*cb)(uint32_t seq, const uint8_t *data, size_t len, void *ud),
			   void *ud);
	int (*cancel_job)(struct store *s, const char *tenant, const char *id, const char *error,
			  struct job_row *ret_row);
	int (*get_final)(struct store *s, const char *const *ids, size_t n,
			 void (*cb)(struct job_row *r, void *ud), void *ud);
	int (*listen)(struct store *s, int64_t timeout_ms,
		      void (*cb)(enum store_event ev, const char *payload, void *ud), void *ud);
	int (*publish_islands)(struct store *s, const struct island_row *rows, size_t n);
	int (*fleet_islands)(struct store *s, int64_t max_age_ms,
			     void (*cb)(struct island_row *r, void *ud), void *ud);
};

int store_sqlite_open(const struct store_options *o, struct store **ret, char *err,
		      size_t err_size);
int store_pg_open(const struct store_options *o, struct store **ret, char *err,
		  size_t err_size);

#endif
