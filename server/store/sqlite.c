/* The job store on SQLite: one coordinator (store/store.h). */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sqlite3.h>


/* Two connections: db writes (the store writer's batches, keys) and rdb
 * reads, so that reads never wait behind a batch's commit (WAL lets them
 * see the last committed state meanwhile). mu is recursive: a batch holds
 * it from begin to commit around the single writes. */
struct sqlite_store {
	struct store base;
	sqlite3 *db, *rdb;
	pthread_mutex_t mu, rmu;
	sqlite3_stmt *insert_job, *finish_job, *get_idem, *insert_key; /* db */
	sqlite3_stmt *get_job, *get_key, *find_idem;                     /* rdb */
};

/* Version 1. Later versions append their migration to MIGRATIONS. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE jobs ("
	"  rowid INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  tenant TEXT NOT NULL,"
	"  workload_id INTEGER NOT NULL,"
	"  workload TEXT NOT NULL,"
	"  confidential INTEGER NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  key_id TEXT NOT NULL DEFAULT '',"
	"  state INTEGER NOT NULL,"
	"  error TEXT NOT NULL DEFAULT '',"
	"  island_id TEXT NOT NULL DEFAULT '',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  started_ms INTEGER NOT NULL DEFAULT 0,"
	"  completed_ms INTEGER NOT NULL DEFAULT 0,"
	"  deadline_ms INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  credits REAL NOT NULL DEFAULT 0,"
	"  input BLOB NOT NULL,"
	"  client_pub BLOB,"
	"  output BLOB,"
	"  output_encrypted INTEGER NOT NULL DEFAULT 0,"
	"  idempotency_key TEXT"
	");"
	"CREATE INDEX jobs_by_tenant ON jobs(tenant, rowid);"
	"CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant, idempotency_key)"
	"  WHERE idempotency_key IS NOT NULL;"
	"CREATE INDEX jobs_active ON jobs(state) WHERE state IN (1, 2, 3);"
	"CREATE TABLE keys ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  algorithm INTEGER NOT NULL,"
	"  public_key BLOB NOT NULL,"
	"  private_key BLOB,"
	"  label TEXT NOT NULL DEFAULT '',"
	"  created_ms INTEGER NOT NULL"
	");",
	/* Version 2: the lengths of a job's output chunks (u32 big-endian
	 * each), so a watcher that joins late gets the same chunks with the
	 * same sequence numbers. */
	"ALTER TABLE jobs ADD COLUMN output_chunks BLOB;",
};

#define JOB_COLUMNS                                                                        \
	"rowid, id, tenant, workload_id, workload, confidential, mode, key_id, state, error, " \
	"island_id, attempts, created_ms, started_ms, completed_ms, deadline_ms, duration_ms, " \
	"credits, input, client_pub, output, output_encrypted, idempotency_key, output_chunks"

static int exec(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_size, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err, size_t err_size)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "prepare: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static int open_db(const char *path, bool synchronous_full, sqlite3 **ret, char *what,
		   size_t what_size)
{
	if (sqlite3_open_v2(path, ret,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(what, what_size, "%s", *ret ? sqlite3_errmsg(*ret) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(*ret, 5000);
	int e;
	if ((e = exec(*ret, "PRAGMA journal_mode = WAL", what, what_size)) < 0 ||
	    (e = exec(*ret, synchronous_full ? "PRAGMA synchronous = FULL"
					     : "PRAGMA synchronous = NORMAL",
		      what, what_size)) < 0 ||
	    (e = exec(*ret, "PRAGMA foreign_keys = ON", what, what_size)) < 0)
		return e;
	return 0;
}

static int migrate(struct sqlite_store *s, char *err, size_t err_size)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "%s", sqlite3_errmsg(s->db));
		return -EIO;
	}
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	int latest = (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
	if (version < 0) {
		snprintf(err, err_size, "cannot read the schema version");
		return -EIO;
	}
	if (version > latest) {
		snprintf(err, err_size,
			 "the store has schema version %d, newer than this coordinator's %d", version,
			 latest);
		return -EPROTO;
	}
	for (int v = version; v < latest; v++) {
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		int e;
		if ((e = exec(s->db, "BEGIN IMMEDIATE", err, err_size)) < 0)
			return e;
		if ((e = exec(s->db, MIGRATIONS[v], err, err_size)) < 0 ||
		    (e = exec(s->db, sql, err, err_size)) < 0 ||
		    (e = exec(s->db, "COMMIT", err, err_size)) < 0) {
			char ignored[64];
			exec(s->db, "ROLLBACK", ignored, sizeof ignored);
			return e;
		}
	}
	return 0;
}

static const struct store_ops SQLITE_OPS;
static void sq_close(struct store *base);

int store_sqlite_open(const struct store_options *o, struct store **ret, char *err,
		      size_t err_size)
{
	const char *path = o->path;
	bool synchronous_full = o->synchronous_full;
	struct sqlite_store *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->base.ops = &SQLITE_OPS;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&s->rmu, NULL);
	int e;
	char what[512];
	if ((e = open_db(path, synchronous_full, &s->db, what, sizeof what)) < 0 ||
	    (e = migrate(s, what, sizeof what)) < 0 ||
	    (e = open_db(path, synchronous_full, &s->rdb, what, sizeof what)) < 0) {
		snprintf(err, err_size, "store %s: %s", path, what);
		goto fail;
	}
	if ((e = prepare(s->db,
			 "INSERT INTO jobs (id, tenant, workload_id, workload, confidential, mode,"
			 " key_id, state, created_ms, deadline_ms, input, client_pub,"
			 " idempotency_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
			 &s->insert_job, what, sizeof what)) < 0 ||
	    (e = prepare(s->db,
			 "UPDATE jobs SET state = ?, attempts = ?, island_id = ?, started_ms = ?,"
			 " error = ?, completed_ms = ?, duration_ms = ?, credits = ?, output = ?,"
			 " output_encrypted = ?, output_chunks = ? WHERE id = ?",
			 &s->finish_job, what, sizeof what)) < 0 ||
	    (e = prepare(s->rdb, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ? AND tenant = ?",
			 &s->get_job, what, sizeof what)) < 0 ||
	    (e = prepare(s->db,
			 "SELECT " JOB_COLUMNS " FROM jobs WHERE tenant = ? AND idempotency_key = ?",
			 &s->get_idem, what, sizeof what)) < 0 ||
	    (e = prepare(s->db,
			 "INSERT INTO keys (id, tenant, algorithm, public_key, private_key, label,"
			 " created_ms) VALUES (?,?,?,?,?,?,?)",
			 &s->insert_key, what, sizeof what)) < 0 ||
	    (e = prepare(s->rdb,
			 "SELECT " JOB_COLUMNS " FROM jobs WHERE tenant = ? AND idempotency_key = ?",
			 &s->find_idem, what, sizeof what)) < 0 ||
	    (e = prepare(s->rdb,
			 "SELECT id, tenant, algorithm, public_key, private_key, label, created_ms"
			 " FROM keys WHERE id = ? AND tenant = ?",
			 &s->get_key, what, sizeof what)) < 0) {
		snprintf(err, err_size, "store %s: %s", path, what);
		goto fail;
	}
	*ret = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return e;
}

static void sq_close(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	if (!s)
		return;
	sqlite3_finalize(s->insert_job);
	sqlite3_finalize(s->finish_job);
	sqlite3_finalize(s->get_job);
	sqlite3_finalize(s->get_idem);
	sqlite3_finalize(s->insert_key);
	sqlite3_finalize(s->get_key);
	sqlite3_finalize(s->find_idem);
	sqlite3_close(s->rdb);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->rmu);
	free(s);
}

static int sq_batch_begin(struct store *base, char *err, size_t err_size)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->mu);
	int e = exec(s->db, "BEGIN IMMEDIATE", err, err_size);
	if (e < 0) {
		pthread_mutex_unlock(&s->mu);
		return e;
	}
	return 0;
}

static int sq_batch_commit(struct store *base, char *err, size_t err_size)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int e = exec(s->db, "COMMIT", err, err_size);
	if (e < 0) {
		char ignored[64];
		exec(s->db, "ROLLBACK", ignored, sizeof ignored);
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

static void sq_batch_rollback(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	char ignored[64];
	exec(s->db, "ROLLBACK", ignored, sizeof ignored);
	pthread_mutex_unlock(&s->mu);
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static uint8_t *copy_blob(sqlite3_stmt *st, int col, size_t *ret_len)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	*ret_len = 0;
	if (!b)
		return NULL;
	uint8_t *p = malloc((size_t)n + 1);
	if (p) {
		memcpy(p, b, (size_t)n);
		p[n] = 0; /* text views of outputs rely on it */
		*ret_len = (size_t)n;
	}
	return p;
}

static void read_job(sqlite3_stmt *st, struct job_row *r)
{
	memset(r, 0, sizeof *r);
	r->rowid = sqlite3_column_int64(st, 0);
	copy_text(r->id, sizeof r->id, st, 1);
	copy_text(r->tenant, sizeof r->tenant, st, 2);
	r->workload_id = (uint32_t)sqlite3_column_int64(st, 3);
	copy_text(r->workload, sizeof r->workload, st, 4);
	r->confidential = sqlite3_column_int(st, 5) != 0;
	r->mode = (uint32_t)sqlite3_column_int(st, 6);
	copy_text(r->key_id, sizeof r->key_id, st, 7);
	r->state = sqlite3_column_int(st, 8);
	copy_text(r->error, sizeof r->error, st, 9);
	copy_text(r->island_id, sizeof r->island_id, st, 10);
	r->attempts = (uint32_t)sqlite3_column_int(st, 11);
	r->created_ms = sqlite3_column_int64(st, 12);
	r->started_ms = sqlite3_column_int64(st, 13);
	r->completed_ms = sqlite3_column_int64(st, 14);
	r->deadline_ms = sqlite3_column_int64(st, 15);
	r->duration_ms = sqlite3_column_int64(st, 16);
	r->credits = sqlite3_column_double(st, 17);
	r->input = copy_blob(st, 18, &r->input_len);
	if (sqlite3_column_bytes(st, 19) == 32) {
		memcpy(r->client_pub, sqlite3_column_blob(st, 19), 32);
		r->has_client_pub = true;
	}
	r->output = copy_blob(st, 20, &r->output_len);
	r->output_encrypted = sqlite3_column_int(st, 21) != 0;
	copy_text(r->idempotency_key, sizeof r->idempotency_key, st, 22);
	r->output_chunks = copy_blob(st, 23, &r->output_chunks_len);
}

/* Run a prepared statement to completion. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return -EIO;
}

static int sq_insert_job(struct store *base, const struct job_row *r, struct job_row *existing)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->mu);
	int e = 0;
	if (r->idempotency_key[0]) {
		sqlite3_stmt *q = s->get_idem;
		sqlite3_bind_text(q, 1, r->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, r->idempotency_key, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW) {
			read_job(q, existing);
			e = -EEXIST;
		}
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (e) {
			pthread_mutex_unlock(&s->mu);
			return e;
		}
	}
	sqlite3_stmt *st = s->insert_job;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->workload_id);
	sqlite3_bind_text(st, 4, r->workload, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, r->confidential);
	sqlite3_bind_int(st, 6, (int)r->mode);
	sqlite3_bind_text(st, 7, r->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, r->state);
	sqlite3_bind_int64(st, 9, r->created_ms);
	sqlite3_bind_int64(st, 10, r->deadline_ms);
	sqlite3_bind_blob(st, 11, r->input ? (const void *)r->input : "", (int)r->input_len,
			  SQLITE_STATIC);
	if (r->has_client_pub)
		sqlite3_bind_blob(st, 12, r->client_pub, 32, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 12);
	if (r->idempotency_key[0])
		sqlite3_bind_text(st, 13, r->idempotency_key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 13);
	e = step_done(st);
	pthread_mutex_unlock(&s->mu);
	return e;
}

static int sq_finish_job(struct store *base, const struct job_row *r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->mu);
	sqlite3_stmt *st = s->finish_job;
	sqlite3_bind_int(st, 1, r->state);
	sqlite3_bind_int(st, 2, (int)r->attempts);
	sqlite3_bind_text(st, 3, r->island_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->started_ms);
	sqlite3_bind_text(st, 5, r->error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->completed_ms);
	sqlite3_bind_int64(st, 7, r->duration_ms);
	sqlite3_bind_double(st, 8, r->credits);
	if (r->output)
		sqlite3_bind_blob(st, 9, r->output, (int)r->output_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	sqlite3_bind_int(st, 10, r->output_encrypted);
	if (r->output_chunks)
		sqlite3_bind_blob(st, 11, r->output_chunks, (int)r->output_chunks_len,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	sqlite3_bind_text(st, 12, r->id, -1, SQLITE_STATIC);
	int e = step_done(st);
	pthread_mutex_unlock(&s->mu);
	return e;
}

/* One job row by a prepared statement with two text parameters. */
static int read_one_job(struct sqlite_store *s, sqlite3_stmt *st, const char *a, const char *b,
			struct job_row *out)
{
	pthread_mutex_lock(&s->rmu);
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_job(st, out);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&s->rmu);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int sq_get_job(struct store *base, const char *tenant, const char *id, struct job_row *out)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	return read_one_job(s, s->get_job, id, tenant, out);
}

static int sq_find_idempotent(struct store *base, const char *tenant, const char *idempotency_key,
			  struct job_row *out)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	return read_one_job(s, s->find_idem, tenant, idempotency_key, out);
}

static int sq_list_jobs(struct store *base, const char *tenant, int state, uint32_t workload_id,
		    int64_t before, uint32_t limit,
		    void (*cb)(struct job_row *r, void *ud), void *ud, bool *ret_more)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	char sql[512];
	snprintf(sql, sizeof sql,
		 "SELECT " JOB_COLUMNS " FROM jobs WHERE tenant = ?1 %s %s %s"
		 " ORDER BY rowid DESC LIMIT ?5",
		 state == STORE_STATE_ACTIVE ? "AND state IN (1, 2, 3)"
		 : state		     ? "AND state = ?2"
					     : "", workload_id ? "AND workload_id = ?3" : "",
		 before ? "AND rowid < ?4" : "");
	pthread_mutex_lock(&s->rmu);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&s->rmu);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	if (state > 0)
		sqlite3_bind_int(st, 2, state);
	if (workload_id)
		sqlite3_bind_int64(st, 3, workload_id);
	if (before)
		sqlite3_bind_int64(st, 4, before);
	sqlite3_bind_int64(st, 5, (int64_t)limit + 1);
	uint32_t n = 0;
	int rc;
	*ret_more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*ret_more = true;
			break;
		}
		struct job_row r;
		read_job(st, &r);
		cb(&r, ud);
		n++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rmu);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_load_active(struct store *base, void (*cb)(struct job_row *r, void *ud), void *ud)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	/* Rows are read first and handed over after the lock is released, so
	 * that the callback may write to the store. */
	struct job_row *rows = NULL;
	size_t n = 0, cap = 0;
	pthread_mutex_lock(&s->rmu);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->rdb,
			       "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN (1, 2, 3)"
			       " ORDER BY rowid",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&s->rmu);
		return -EIO;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct job_row *nr = realloc(rows, ncap * sizeof *nr);
			if (!nr) {
				rc = SQLITE_NOMEM;
				break;
			}
			rows = nr;
			cap = ncap;
		}
		read_job(st, &rows[n++]);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rmu);
	for (size_t i = 0; i < n; i++) {
		if (rc == SQLITE_DONE)
			cb(&rows[i], ud);
		else
			job_row_clear(&rows[i]);
	}
	free(rows);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_usage(struct store *base, const char *tenant, int64_t since_ms,
		void (*cb)(const struct usage_row *u, void *ud), void *ud)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->rmu);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->rdb,
			       "SELECT workload_id, max(workload), count(*), sum(confidential),"
			       " sum(credits) FROM jobs WHERE tenant = ? AND completed_ms >= ?"
			       " AND (state = 4 OR (state = 6 AND duration_ms > 0))"
			       " GROUP BY workload_id ORDER BY workload_id",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&s->rmu);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ms);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct usage_row u = { 0 };
		u.workload_id = (uint32_t)sqlite3_column_int64(st, 0);
		copy_text(u.workload, sizeof u.workload, st, 1);
		u.jobs = (uint64_t)sqlite3_column_int64(st, 2);
		u.confidential_jobs = (uint64_t)sqlite3_column_int64(st, 3);
		u.credits = sqlite3_column_double(st, 4);
		cb(&u, ud);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rmu);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_insert_key(struct store *base, const struct key_row *k)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->mu);
	sqlite3_stmt *st = s->insert_key;
	sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, k->algorithm);
	sqlite3_bind_blob(st, 4, k->public_key, (int)k->public_key_len, SQLITE_STATIC);
	if (k->private_key)
		sqlite3_bind_blob(st, 5, k->private_key, (int)k->private_key_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_text(st, 6, k->label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, k->created_ms);
	int e = step_done(st);
	pthread_mutex_unlock(&s->mu);
	return e;
}

static int sq_get_key(struct store *base, const char *tenant, const char *id, struct key_row *out)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	pthread_mutex_lock(&s->rmu);
	sqlite3_stmt *st = s->get_key;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof *out);
		copy_text(out->id, sizeof out->id, st, 0);
		copy_text(out->tenant, sizeof out->tenant, st, 1);
		out->algorithm = sqlite3_column_int(st, 2);
		out->public_key = copy_blob(st, 3, &out->public_key_len);
		out->private_key = copy_blob(st, 4, &out->private_key_len);
		copy_text(out->label, sizeof out->label, st, 5);
		out->created_ms = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&s->rmu);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static const struct store_ops SQLITE_OPS = {
	.name = "sqlite",
	.close = sq_close,
	.batch_begin = sq_batch_begin,
	.batch_commit = sq_batch_commit,
	.batch_rollback = sq_batch_rollback,
	.insert_job = sq_insert_job,
	.finish_job = sq_finish_job,
	.get_job = sq_get_job,
	.find_idempotent = sq_find_idempotent,
	.list_jobs = sq_list_jobs,
	.load_active = sq_load_active,
	.usage = sq_usage,
	.insert_key = sq_insert_key,
	.get_key = sq_get_key,
};
