/* The PostgreSQL store's internals, shared by store/pg*.c only.
 *
 *   pg.c         connections, statements, schema migrations, batches,
 *                LISTEN for events
 *   pg_jobs.c    jobs, keys and usage: the calls every store has
 *   pg_shared.c  claims, leases, released jobs, output chunks, cancels
 *                and the fleet's islands: the shared-store calls
 *
 * Connections: each role has its own (the store writer's batches, the
 * claimer's claims and leases, reads from any thread, LISTEN), each with
 * a mutex, so that a read never waits behind a batch. A connection that
 * broke is reset on its next use; a call on a database that cannot be
 * reached answers -EIO. */
#ifndef ATOLL_SERVER_STORE_PG_H
#define ATOLL_SERVER_STORE_PG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"

/* Prepared statements, by index (pg.c has their text). */
enum pg_stmt {
	Q_INSERT_JOB,
	Q_JOB_BY_ID,
	Q_JOB_BY_IDEM,
	Q_FINISH,
	Q_FINISH_CHECK,
	Q_GET_JOB,
	Q_INSERT_KEY,
	Q_GET_KEY,
	Q_CLAIM_PLAIN,
	Q_CLAIM_TEE,
	Q_RENEW,
	Q_RELEASE,
	Q_UNCLAIM,
	Q_SWEEP_LEASES,
	Q_SWEEP_DEADLINES,
	Q_APPEND_OUTPUT,
	Q_READ_OUTPUT,
	Q_DELETE_OUTPUT,
	Q_CANCEL,
	Q_GET_FINAL,
	Q_ALIVE,
	Q_DELETE_ISLANDS,
	Q_INSERT_ISLAND,
	Q_FLEET,
	Q_NOTIFY,
	Q_COUNT
};

struct pgconn {
	pthread_mutex_t mu;
	PGconn *pg;
	uint64_t prepared; /* bit per enum pg_stmt */
	bool fresh;        /* (re)connected since the flag was last cleared */
	int64_t retry_ms;  /* no reconnection attempt before (monotonic) */
};

enum { CONN_BATCH, CONN_CLAIM, CONN_READ, CONN_LISTEN, CONN_COUNT };

struct pg_store {
	struct store base;
	char *dsn;
	char owner[64];
	struct pgconn conn[CONN_COUNT];
	bool listening; /* LISTEN issued on the current listen connection */
	/* Events a batch announces at its commit (NOTIFY inside the
	 * transaction: delivered only if it commits). */
	bool ev_jobs, ev_output, ev_final;
};

/* The database's clock in ms, for SQL text. */
#define PG_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/* Lock c and make sure it is connected (reset when broken): 0, or -EIO
 * unlocked. */
int pg_lock(struct pg_store *s, struct pgconn *c);
void pg_unlock(struct pgconn *c);
/* Run statement q on locked c with n text params (vals[i] NULL for SQL
 * NULL); blobs go as binary when lens[i] is not -1 (lens may be NULL).
 * The result (PQclear it), or NULL after an error that left c broken or
 * the statement failed (ret_err gets the SQLSTATE class when known). */
PGresult *pg_run(struct pg_store *s, struct pgconn *c, enum pg_stmt q, int n,
		 const char *const *vals, const int *lens, char *ret_state);
/* A failed statement's errno from its SQLSTATE: -EINVAL for the data
 * and integrity classes (22, 23: the values themselves are refused, and
 * would be again), -EIO otherwise. */
int pg_errno(const char *sqlstate);
/* Statements take at most this many parameters. */
#define PG_MAX_PARAMS 20
/* The parameters as they go to libpq: text ones (vals[i] not NULL, lens
 * NULL or lens[i] -1) made valid UTF-8, each byte sequence that is not
 * replaced with U+FFFD: free text (errors, reasons) keeps what it can,
 * and an identifier that is not UTF-8 (the API refuses those; server
 * made ids never are) can only meet another that differs in its invalid
 * bytes, in lookups that are all scoped by tenant. out[i] is vals[i] or
 * owned[i]; pg_free_params frees owned. 0 or -ENOMEM. */
int pg_mend_params(int n, const char *const *vals, const int *lens, const char **out,
		   char **owned);
void pg_free_params(int n, char **owned);
/* SQL with n text params (mended as above) on locked c: the rows, or NULL. */
PGresult *pg_query(struct pgconn *c, const char *sql, int n, const char *const *vals);
/* Plain SQL without parameters on locked c: 0 or -EIO. */
int pg_exec(struct pgconn *c, const char *sql, char *err, size_t err_size);

/* Results: text columns copied; bytea decoded into malloc'd memory (NUL
 * terminated, *ret_len its length), NULL for SQL NULL. */
void pg_text(const PGresult *r, int row, int col, char *dst, size_t size);
int64_t pg_int(const PGresult *r, int row, int col);
uint8_t *pg_bytea(const PGresult *r, int row, int col, size_t *ret_len);
/* A jobs row from the columns of PG_JOB_COLUMNS. */
void pg_read_job(const PGresult *r, int row, struct job_row *out);

#define PG_JOB_COLUMNS                                                                     \
	"rowid, id, tenant, workload_id, workload, confidential::int, mode, key_id, state, "   \
	"error, island_id, attempts, created_ms, started_ms, completed_ms, deadline_ms, "      \
	"duration_ms, credits, input, client_pub, output, output_encrypted::int, "            \
	"coalesce(idempotency_key, ''), output_chunks"

/* Decimal text of v in buf (for parameters). */
const char *pg_i64(char *buf, size_t size, int64_t v);

/* pg_jobs.c: the calls every store has. */
int pg_insert_job(struct store *base, const struct job_row *r, struct job_row *existing);
int pg_finish_job(struct store *base, const struct job_row *r);
int pg_get_job(struct store *base, const char *tenant, const char *id, struct job_row *out);
int pg_find_idempotent(struct store *base, const char *tenant, const char *key,
		       struct job_row *out);
int pg_list_jobs(struct store *base, const char *tenant, int state, uint32_t workload_id,
		 int64_t before, uint32_t limit, void (*cb)(struct job_row *r, void *ud), void *ud,
		 bool *ret_more);
int pg_load_active(struct store *base, void (*cb)(struct job_row *r, void *ud), void *ud);
int pg_usage(struct store *base, const char *tenant, int64_t since_ms,
	     void (*cb)(const struct usage_row *u, void *ud), void *ud);
int pg_insert_key(struct store *base, const struct key_row *k);
int pg_get_key(struct store *base, const char *tenant, const char *id, struct key_row *out);

/* pg_shared.c: the shared-store calls (store/store.h). */
int pg_claim_jobs(struct store *base, const struct store_claim *q, int64_t lease_ms,
		  void (*cb)(struct job_row *r, void *ud), void *ud);
int pg_renew_leases(struct store *base, int64_t lease_ms, const char *const *ids, size_t n,
		    void (*cb)(const char *id, uint32_t attempt, void *ud), void *ud);
int pg_sweep(struct store *base, size_t *ret_released, size_t *ret_failed);
int pg_release_job(struct store *base, const char *id, uint32_t attempt, bool unclaim);
int pg_append_output(struct store *base, const char *id, uint32_t attempt, uint32_t seq,
		     const uint8_t *data, size_t len);
int pg_read_output(struct store *base, const char *id, uint32_t attempt, uint32_t from,
		   uint32_t max, void (*cb)(uint32_t seq, const uint8_t *data, size_t len, void *ud),
		   void *ud);
int pg_cancel_job(struct store *base, const char *tenant, const char *id, const char *error,
		  struct job_row *ret_row);
int pg_get_final(struct store *base, const char *const *ids, size_t n,
		 void (*cb)(struct job_row *r, void *ud), void *ud);
int pg_publish_islands(struct store *base, const struct island_row *rows, size_t n);
int pg_fleet_islands(struct store *base, int64_t max_age_ms,
		     void (*cb)(struct island_row *r, void *ud), void *ud);
/* Keys as a PostgreSQL text[] literal of hex strings, malloc'd. */
char *pg_hex_array(const uint8_t (*keys)[32], size_t n);

#endif
