/* The job store: SQLite in WAL mode, a connection for writes and one for
 * reads.
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

/* Open or create. err says why not. */
int store_open(const char *path, bool synchronous_full, struct store **ret, char *err,
	       size_t err_size);
void store_close(struct store *s);

/* A batch of writes in one transaction: begin, any number of
 * store_insert_job / store_finish_job, then commit (one fsync under
 * synchronous: full) or rollback. Other writers wait meanwhile; readers
 * do not. 0 or -EIO with err. */
int store_batch_begin(struct store *s, char *err, size_t err_size);
int store_batch_commit(struct store *s, char *err, size_t err_size);
void store_batch_rollback(struct store *s);
/* Called after each batch commits, with the COMMIT's duration in
 * microseconds (metrics); NULL to stop. Set before the store is used. */
void store_on_commit(struct store *s, void (*fn)(int64_t us));

/* Insert a new job. -EEXIST when the tenant already has a job with the
 * same idempotency key (then *existing holds it). */
int store_insert_job(struct store *s, const struct job_row *r, struct job_row *existing);
/* Record a final state with its output and billing. */
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

#endif
