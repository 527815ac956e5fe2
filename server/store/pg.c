/* The job store on PostgreSQL: connections, prepared statements, the
 * schema and its migrations, batches, and LISTEN (store/pg.h). */
#include "store/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/enc.h"
#include "util/timeutil.h"

/* Schema versions, as in the SQLite store: later versions append their
 * migration. They run in one transaction under an advisory lock, so that
 * coordinators starting together migrate once. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE jobs ("
	"  rowid BIGSERIAL PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  tenant TEXT NOT NULL,"
	"  workload_id BIGINT NOT NULL,"
	"  workload TEXT NOT NULL,"
	"  confidential BOOLEAN NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  key_id TEXT NOT NULL DEFAULT '',"
	"  state INTEGER NOT NULL,"
	"  error TEXT NOT NULL DEFAULT '',"
	"  island_id TEXT NOT NULL DEFAULT '',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms BIGINT NOT NULL,"
	"  started_ms BIGINT NOT NULL DEFAULT 0,"
	"  completed_ms BIGINT NOT NULL DEFAULT 0,"
	"  deadline_ms BIGINT NOT NULL,"
	"  duration_ms BIGINT NOT NULL DEFAULT 0,"
	"  credits DOUBLE PRECISION NOT NULL DEFAULT 0,"
	"  input BYTEA NOT NULL,"
	"  client_pub BYTEA,"
	"  output BYTEA,"
	"  output_encrypted BOOLEAN NOT NULL DEFAULT false,"
	"  idempotency_key TEXT,"
	"  output_chunks BYTEA,"
	"  owner TEXT,"
	"  lease_until_ms BIGINT NOT NULL DEFAULT 0,"
	"  recipients TEXT[]"
	");"
	"CREATE INDEX jobs_by_tenant ON jobs (tenant, rowid);"
	"CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)"
	"  WHERE idempotency_key IS NOT NULL;"
	"CREATE INDEX jobs_queue ON jobs (workload_id, mode, rowid)"
	"  WHERE state = 2 AND owner IS NULL;"
	"CREATE INDEX jobs_owner ON jobs (owner) WHERE state = 3;"
	"CREATE INDEX jobs_lease ON jobs (lease_until_ms) WHERE state = 3;"
	"CREATE INDEX jobs_deadline ON jobs (deadline_ms) WHERE state IN (1, 2);"
	"CREATE TABLE job_output ("
	"  job_id TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  data BYTEA NOT NULL,"
	"  PRIMARY KEY (job_id, attempt, seq)"
	");"
	"CREATE TABLE keys ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  algorithm INTEGER NOT NULL,"
	"  public_key BYTEA NOT NULL,"
	"  private_key BYTEA,"
	"  label TEXT NOT NULL DEFAULT '',"
	"  created_ms BIGINT NOT NULL"
	");"
	"CREATE TABLE coordinators ("
	"  id TEXT PRIMARY KEY,"
	"  seen_ms BIGINT NOT NULL"
	");"
	"CREATE TABLE islands ("
	"  coordinator TEXT NOT NULL REFERENCES coordinators (id) ON DELETE CASCADE,"
	"  id TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  tee_type TEXT NOT NULL,"
	"  enclave_pub BYTEA,"
	"  slots INTEGER NOT NULL,"
	"  running INTEGER NOT NULL,"
	"  attested_ms BIGINT NOT NULL,"
	"  valid_until_ms BIGINT NOT NULL,"
	"  nonce BYTEA,"
	"  evidence BYTEA,"
	"  manifest BYTEA,"
	"  claims BYTEA,"
	"  collateral BYTEA,"
	"  offers BYTEA,"
	"  PRIMARY KEY (coordinator, id)"
	");",
};

/* Any number: the advisory lock that serialises migrations. */
#define MIGRATION_LOCK 0x61746f6c6cLL

/* The prepared statements, by enum pg_stmt. */
static const char *const SQL[Q_COUNT] = {
	[Q_INSERT_JOB] =
		"INSERT INTO jobs (id, tenant, workload_id, workload, confidential, mode, key_id,"
		" state, created_ms, deadline_ms, input, client_pub, idempotency_key, recipients)"
		" VALUES ($1, $2, $3, $4, $5::boolean, $6, $7, $8, $9, $10, $11, $12, $13,"
		" $14::text[]) ON CONFLICT DO NOTHING RETURNING rowid",
	[Q_JOB_BY_ID] = "SELECT id FROM jobs WHERE id = $1",
	[Q_JOB_BY_IDEM] = "SELECT " PG_JOB_COLUMNS
			  " FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
	[Q_FINISH] = "UPDATE jobs SET state = $1, island_id = $3, started_ms = $4, error = $5,"
		     " completed_ms = $6, duration_ms = $7, credits = $8, output = $9,"
		     " output_encrypted = $10::boolean, output_chunks = $11, lease_until_ms = 0"
		     " WHERE id = $12 AND state IN (1, 2, 3) AND attempts = $2"
		     " AND ($13::text IS NULL OR owner = $13)",
	[Q_FINISH_CHECK] = "SELECT state, coalesce(owner, ''), attempts FROM jobs WHERE id = $1",
	[Q_GET_JOB] = "SELECT " PG_JOB_COLUMNS " FROM jobs WHERE id = $1 AND tenant = $2",
	[Q_INSERT_KEY] = "INSERT INTO keys (id, tenant, algorithm, public_key, private_key, label,"
			 " created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	[Q_GET_KEY] = "SELECT id, tenant, algorithm, public_key, private_key, label, created_ms"
		      " FROM keys WHERE id = $1 AND tenant = $2",
	[Q_CLAIM_PLAIN] =
		"UPDATE jobs SET owner = $1, state = 3, attempts = attempts + 1, started_ms = 0,"
		" island_id = '', lease_until_ms = " PG_NOW_MS " + $2"
		" WHERE rowid IN (SELECT rowid FROM jobs WHERE state = 2 AND owner IS NULL"
		" AND workload_id = $3 AND mode = $4 ORDER BY rowid LIMIT $5"
		" FOR UPDATE SKIP LOCKED) RETURNING " PG_JOB_COLUMNS,
	[Q_CLAIM_TEE] =
		"UPDATE jobs SET owner = $1, state = 3, attempts = attempts + 1, started_ms = 0,"
		" island_id = '', lease_until_ms = " PG_NOW_MS " + $2"
		" WHERE rowid IN (SELECT rowid FROM jobs WHERE state = 2 AND owner IS NULL"
		" AND workload_id = $3 AND mode = 2 AND recipients && $4::text[] ORDER BY rowid"
		" LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING " PG_JOB_COLUMNS,
	[Q_RENEW] = "UPDATE jobs SET lease_until_ms = " PG_NOW_MS " + $2"
		    " WHERE owner = $1 AND state = 3 AND id = ANY($3::text[])"
		    " RETURNING id, attempts",
	[Q_RELEASE] = "UPDATE jobs SET owner = NULL, state = 2, lease_until_ms = 0"
		      " WHERE id = $1 AND owner = $2 AND attempts = $3 AND state = 3",
	[Q_UNCLAIM] = "UPDATE jobs SET owner = NULL, state = 2, lease_until_ms = 0,"
		      " attempts = attempts - 1"
		      " WHERE id = $1 AND owner = $2 AND attempts = $3 AND state = 3",
	[Q_SWEEP_LEASES] =
		"UPDATE jobs SET owner = NULL, state = 2, lease_until_ms = 0"
		" WHERE rowid IN (SELECT rowid FROM jobs WHERE state = 3"
		" AND lease_until_ms < " PG_NOW_MS " FOR UPDATE SKIP LOCKED) RETURNING id",
	/* A queued job may hold chunks of an earlier attempt: they go with it. */
	[Q_SWEEP_DEADLINES] =
		"WITH failed AS (UPDATE jobs SET state = 5, completed_ms = " PG_NOW_MS ","
		" error = 'deadline exceeded: not finished ' || ((deadline_ms - created_ms) / 1000)"
		" || ' s after submission'"
		" WHERE rowid IN (SELECT rowid FROM jobs WHERE state IN (1, 2) AND owner IS NULL"
		" AND deadline_ms < " PG_NOW_MS " FOR UPDATE SKIP LOCKED) RETURNING id),"
		" chunks AS (DELETE FROM job_output WHERE job_id IN (SELECT id FROM failed))"
		" SELECT id FROM failed",
	/* Fenced like the final write: only while this coordinator runs this
	 * attempt, so that no chunk lands after the job's chunks were
	 * deleted (a cancel, another attempt, the end). */
	[Q_APPEND_OUTPUT] = "INSERT INTO job_output (job_id, attempt, seq, data)"
			    " SELECT $1::text, $2::integer, $3::integer, $4::bytea WHERE EXISTS"
			    " (SELECT 1 FROM jobs WHERE id = $1 AND owner = $5 AND attempts = $2"
			    " AND state = 3) ON CONFLICT DO NOTHING",
	[Q_READ_OUTPUT] = "SELECT seq, data FROM job_output WHERE job_id = $1 AND attempt = $2"
			  " AND seq >= $3 ORDER BY seq LIMIT $4",
	[Q_DELETE_OUTPUT] = "DELETE FROM job_output WHERE job_id = $1",
	[Q_CANCEL] = "UPDATE jobs SET state = 6, error = $3, completed_ms = " PG_NOW_MS ","
		     " owner = NULL, lease_until_ms = 0"
		     " WHERE id = $1 AND tenant = $2 AND state IN (1, 2, 3) RETURNING " PG_JOB_COLUMNS,
	[Q_GET_FINAL] = "SELECT " PG_JOB_COLUMNS " FROM jobs WHERE id = ANY($1::text[])"
			" AND state >= 4",
	[Q_ALIVE] = "INSERT INTO coordinators (id, seen_ms) VALUES ($1, " PG_NOW_MS ")"
		    " ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms",
	[Q_DELETE_ISLANDS] = "DELETE FROM islands WHERE coordinator = $1",
	[Q_INSERT_ISLAND] =
		"INSERT INTO islands (coordinator, id, state, reason, tee_type, enclave_pub, slots,"
		" running, attested_ms, valid_until_ms, nonce, evidence, manifest, claims,"
		" collateral, offers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		" $13, $14, $15, $16)",
	[Q_FLEET] = "SELECT i.coordinator, i.id, i.state, i.reason, i.tee_type, i.enclave_pub,"
		    " i.slots, i.running, i.attested_ms, i.valid_until_ms, i.nonce, i.evidence,"
		    " i.manifest, i.claims, i.collateral, i.offers FROM islands i"
		    " JOIN coordinators c ON c.id = i.coordinator"
		    " WHERE c.id <> $1 AND c.seen_ms > " PG_NOW_MS " - $2 ORDER BY i.id",
	[Q_NOTIFY] = "SELECT pg_notify($1, $2)",
};

static const char *const CHANNELS[] = { NULL, "atoll_jobs", "atoll_output", "atoll_final",
					"atoll_cancel" };

/* How long a broken connection waits before it is tried again: callers
 * fail fast meanwhile instead of each paying a connection timeout. */
#define RECONNECT_PAUSE_MS 200

const char *pg_i64(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%lld", (long long)v);
	return buf;
}

/* Notices ("relation ... already exists, skipping") are not errors. */
static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Every connection is bounded in time, so that no thread waits on the
 * database without end: a connection attempt gives up after 2 s (libpq's
 * least); a peer that stops answering is noticed within about 4 s, both
 * while we wait for a reply (keepalives: 2 s idle, then 2 probes 1 s
 * apart) and while what we sent is not acknowledged (tcp_user_timeout);
 * and the server ends a statement running for 30 s or a transaction left
 * idle for 60 s (a coordinator stopped mid-transaction keeps no row
 * locked). These are defaults: the DSN's own settings replace them (its
 * options replace all of ours). */
static PGconn *connect_db(const char *dsn)
{
	const char *const keys[] = { "connect_timeout", "application_name", "keepalives",
				     "keepalives_idle", "keepalives_interval", "keepalives_count",
				     "tcp_user_timeout", "options", "dbname", NULL };
	const char *const vals[] = { "2", "atoll-coordinator", "1", "2", "1", "2", "4000",
				     "-c statement_timeout=30000"
				     " -c idle_in_transaction_session_timeout=60000",
				     dsn, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c)
		PQsetNoticeProcessor(c, no_notices, NULL);
	return c;
}

int pg_lock(struct pg_store *s, struct pgconn *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
		return 0;
	int64_t now = time_mono_ms();
	if (now < c->retry_ms) {
		pthread_mutex_unlock(&c->mu);
		return -EIO;
	}
	if (c->pg)
		PQfinish(c->pg);
	c->pg = connect_db(s->dsn);
	c->prepared = 0;
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		c->retry_ms = now + RECONNECT_PAUSE_MS;
		pthread_mutex_unlock(&c->mu);
		return -EIO;
	}
	c->fresh = true;
	return 0;
}

void pg_unlock(struct pgconn *c)
{
	pthread_mutex_unlock(&c->mu);
}

/* s as the database takes text: valid UTF-8 (it refuses anything else
 * with SQLSTATE 22021, and a refused write would never land). Each byte
 * that starts no valid character becomes U+FFFD, which also mends a
 * character cut short by a truncation. NULL when s is valid as it is,
 * else a malloc'd copy (*ret_nomem when there is no memory for it). */
static char *utf8_mend(const char *s, bool *ret_nomem)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, k;
	while (i < n && (k = enc_utf8_seq(p + i, n - i)))
		i += k;
	if (i == n)
		return NULL;
	char *out = malloc(3 * n + 1);
	if (!out) {
		*ret_nomem = true;
		return NULL;
	}
	memcpy(out, s, i);
	size_t o = i;
	while (i < n) {
		if ((k = enc_utf8_seq(p + i, n - i))) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = 0;
	return out;
}

int pg_mend_params(int n, const char *const *vals, const int *lens, const char **out,
		   char **owned)
{
	bool nomem = false;
	for (int i = 0; i < n; i++) {
		owned[i] = NULL;
		out[i] = vals[i];
		if (vals[i] && !(lens && lens[i] >= 0) && (owned[i] = utf8_mend(vals[i], &nomem)))
			out[i] = owned[i];
	}
	if (!nomem)
		return 0;
	pg_free_params(n, owned);
	return -ENOMEM;
}

void pg_free_params(int n, char **owned)
{
	for (int i = 0; i < n; i++) {
		free(owned[i]);
		owned[i] = NULL;
	}
}

PGresult *pg_query(struct pgconn *c, const char *sql, int n, const char *const *vals)
{
	const char *text[PG_MAX_PARAMS];
	char *owned[PG_MAX_PARAMS];
	if (n > PG_MAX_PARAMS || pg_mend_params(n, vals, NULL, text, owned) < 0)
		return NULL;
	PGresult *r = PQexecParams(c->pg, sql, n, NULL, text, NULL, NULL, 0);
	pg_free_params(n, owned);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	PQclear(r);
	return NULL;
}

PGresult *pg_run(struct pg_store *s, struct pgconn *c, enum pg_stmt q, int n,
		 const char *const *vals, const int *lens, char *ret_state)
{
	(void)s;
	char name[16];
	snprintf(name, sizeof name, "q%d", (int)q);
	if (ret_state)
		ret_state[0] = 0;
	if (!(c->prepared & (1ull << q))) {
		PGresult *p = PQprepare(c->pg, name, SQL[q], 0, NULL);
		bool ok = p && PQresultStatus(p) == PGRES_COMMAND_OK;
		PQclear(p);
		if (!ok)
			return NULL;
		c->prepared |= 1ull << q;
	}
	int fmts[PG_MAX_PARAMS] = { 0 }, plens[PG_MAX_PARAMS] = { 0 };
	const char *text[PG_MAX_PARAMS];
	char *owned[PG_MAX_PARAMS];
	if (n > PG_MAX_PARAMS || pg_mend_params(n, vals, lens, text, owned) < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		fmts[i] = lens && lens[i] >= 0 ? 1 : 0;
		plens[i] = lens && lens[i] >= 0 ? lens[i] : 0;
	}
	PGresult *r = PQexecPrepared(c->pg, name, n, text, plens, fmts, 0);
	pg_free_params(n, owned);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (ret_state && r && PQresultErrorField(r, PG_DIAG_SQLSTATE))
		snprintf(ret_state, 6, "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
	PQclear(r);
	return NULL;
}

int pg_errno(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ? -EINVAL : -EIO;
}

int pg_exec(struct pgconn *c, const char *sql, char *err, size_t err_size)
{
	PGresult *r = PQexec(c->pg, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	if (err)
		snprintf(err, err_size, "%s", PQerrorMessage(c->pg));
	PQclear(r);
	return -EIO;
}

void pg_text(const PGresult *r, int row, int col, char *dst, size_t size)
{
	snprintf(dst, size, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t pg_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

uint8_t *pg_bytea(const PGresult *r, int row, int col, size_t *ret_len)
{
	*ret_len = 0;
	if (PQgetisnull(r, row, col))
		return NULL;
	size_t n = 0;
	unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	if (!u)
		return NULL;
	uint8_t *p = malloc(n + 1);
	if (p) {
		memcpy(p, u, n);
		p[n] = 0; /* text views of outputs rely on it */
		*ret_len = n;
	}
	PQfreemem(u);
	return p;
}

void pg_read_job(const PGresult *r, int row, struct job_row *o)
{
	memset(o, 0, sizeof *o);
	o->rowid = pg_int(r, row, 0);
	pg_text(r, row, 1, o->id, sizeof o->id);
	pg_text(r, row, 2, o->tenant, sizeof o->tenant);
	o->workload_id = (uint32_t)pg_int(r, row, 3);
	pg_text(r, row, 4, o->workload, sizeof o->workload);
	o->confidential = pg_int(r, row, 5) != 0;
	o->mode = (uint32_t)pg_int(r, row, 6);
	pg_text(r, row, 7, o->key_id, sizeof o->key_id);
	o->state = (int)pg_int(r, row, 8);
	pg_text(r, row, 9, o->error, sizeof o->error);
	pg_text(r, row, 10, o->island_id, sizeof o->island_id);
	o->attempts = (uint32_t)pg_int(r, row, 11);
	o->created_ms = pg_int(r, row, 12);
	o->started_ms = pg_int(r, row, 13);
	o->completed_ms = pg_int(r, row, 14);
	o->deadline_ms = pg_int(r, row, 15);
	o->duration_ms = pg_int(r, row, 16);
	o->credits = PQgetisnull(r, row, 17) ? 0 : strtod(PQgetvalue(r, row, 17), NULL);
	o->input = pg_bytea(r, row, 18, &o->input_len);
	size_t n;
	uint8_t *pub = pg_bytea(r, row, 19, &n);
	if (pub && n == 32) {
		memcpy(o->client_pub, pub, 32);
		o->has_client_pub = true;
	}
	free(pub);
	o->output = pg_bytea(r, row, 20, &o->output_len);
	o->output_encrypted = pg_int(r, row, 21) != 0;
	pg_text(r, row, 22, o->idempotency_key, sizeof o->idempotency_key);
	o->output_chunks = pg_bytea(r, row, 23, &o->output_chunks_len);
}

/* ---- schema ---- */

static int migrate(struct pgconn *c, char *err, size_t err_size)
{
	char lock[96];
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK);
	int latest = (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
	int e;
	if ((e = pg_exec(c, "BEGIN", err, err_size)) < 0)
		return e;
	if ((e = pg_exec(c, lock, err, err_size)) < 0 ||
	    (e = pg_exec(c, "CREATE TABLE IF NOT EXISTS atoll_schema (version INTEGER NOT NULL)",
			 err, err_size)) < 0)
		goto rollback;
	PGresult *r = PQexec(c->pg, "SELECT version FROM atoll_schema");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, err_size, "%s", PQerrorMessage(c->pg));
		PQclear(r);
		e = -EIO;
		goto rollback;
	}
	bool have = PQntuples(r) > 0;
	int version = have ? (int)pg_int(r, 0, 0) : 0;
	PQclear(r);
	if (version > latest) {
		snprintf(err, err_size,
			 "the store has schema version %d, newer than this coordinator's %d", version,
			 latest);
		e = -EPROTO;
		goto rollback;
	}
	for (int v = version; v < latest; v++)
		if ((e = pg_exec(c, MIGRATIONS[v], err, err_size)) < 0)
			goto rollback;
	char sql[96];
	snprintf(sql, sizeof sql,
		 have ? "UPDATE atoll_schema SET version = %d"
		      : "INSERT INTO atoll_schema (version) VALUES (%d)",
		 latest);
	if ((e = pg_exec(c, sql, err, err_size)) < 0 ||
	    (e = pg_exec(c, "COMMIT", err, err_size)) < 0)
		goto rollback;
	return 0;
rollback:
	pg_exec(c, "ROLLBACK", NULL, 0);
	return e;
}

/* ---- batches ---- */

static int pg_batch_begin(struct store *base, char *err, size_t err_size)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_BATCH];
	if (pg_lock(s, c) < 0) {
		snprintf(err, err_size, "cannot reach the database");
		return -EIO;
	}
	s->ev_jobs = s->ev_output = s->ev_final = false;
	int e = pg_exec(c, "BEGIN", err, err_size);
	if (e < 0)
		pg_unlock(c);
	return e;
}

static int pg_batch_commit(struct store *base, char *err, size_t err_size)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_BATCH];
	int e = 0;
	/* Announced inside the transaction: delivered only if it commits. */
	if (s->ev_jobs)
		e = pg_exec(c, "NOTIFY atoll_jobs", err, err_size);
	if (!e && s->ev_output)
		e = pg_exec(c, "NOTIFY atoll_output", err, err_size);
	if (!e && s->ev_final)
		e = pg_exec(c, "NOTIFY atoll_final", err, err_size);
	if (e < 0) {
		pg_exec(c, "ROLLBACK", NULL, 0);
		pg_unlock(c);
		return e;
	}
	e = pg_exec(c, "COMMIT", err, err_size);
	/* An error the server sent means it did not commit. A connection
	 * that broke with COMMIT on its way says nothing either way. */
	if (e < 0 && PQstatus(c->pg) == CONNECTION_OK)
		pg_exec(c, "ROLLBACK", NULL, 0);
	else if (e < 0)
		e = -ECONNRESET;
	pg_unlock(c);
	return e;
}

static void pg_batch_rollback(struct store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	pg_exec(&s->conn[CONN_BATCH], "ROLLBACK", NULL, 0);
	pg_unlock(&s->conn[CONN_BATCH]);
}

/* ---- events ---- */

static int pg_listen(struct store *base, int64_t timeout_ms,
		     void (*cb)(enum store_event ev, const char *payload, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_LISTEN];
	if (pg_lock(s, c) < 0) {
		time_sleep_ms(timeout_ms < RECONNECT_PAUSE_MS ? timeout_ms : RECONNECT_PAUSE_MS);
		return -EIO;
	}
	if (c->fresh || !s->listening) {
		c->fresh = false;
		if (pg_exec(c, "LISTEN atoll_jobs; LISTEN atoll_output; LISTEN atoll_final;"
			       " LISTEN atoll_cancel",
			    NULL, 0) < 0) {
			pg_unlock(c);
			return -EIO;
		}
		/* Whatever happened while nobody listened is unknown. */
		bool first = !s->listening;
		s->listening = true;
		if (!first) {
			pg_unlock(c);
			cb(STORE_EV_LOST, "", ud);
			return 0;
		}
	}
	struct pollfd p = { .fd = PQsocket(c->pg), .events = POLLIN };
	int e = 0;
	if (p.fd < 0 || (poll(&p, 1, (int)timeout_ms) > 0 && !PQconsumeInput(c->pg))) {
		s->listening = s->listening && PQstatus(c->pg) == CONNECTION_OK;
		pg_unlock(c);
		return -EIO;
	}
	/* Taken out under the lock, delivered without it. */
	struct {
		int ev;
		char payload[128];
	} got[64];
	size_t n = 0;
	PGnotify *nf;
	while ((nf = PQnotifies(c->pg))) {
		int ev = 0;
		for (int i = 1; i < (int)(sizeof CHANNELS / sizeof CHANNELS[0]); i++)
			if (strcmp(nf->relname, CHANNELS[i]) == 0)
				ev = i;
		if (ev && n < sizeof got / sizeof got[0]) {
			got[n].ev = ev;
			snprintf(got[n].payload, sizeof got[n].payload, "%s", nf->extra ? nf->extra : "");
			n++;
		} else if (ev) {
			got[n - 1].ev = STORE_EV_LOST; /* too many at once: look at everything */
		}
		PQfreemem(nf);
	}
	pg_unlock(c);
	for (size_t i = 0; i < n; i++)
		cb((enum store_event)got[i].ev, got[i].payload, ud);
	return e;
}

/* ---- open and close ---- */

static void pg_close(struct store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	if (!s)
		return;
	for (int i = 0; i < CONN_COUNT; i++) {
		if (s->conn[i].pg)
			PQfinish(s->conn[i].pg);
		pthread_mutex_destroy(&s->conn[i].mu);
	}
	free(s->dsn);
	free(s);
}

static const struct store_ops PG_OPS = {
	.name = "postgres",
	.close = pg_close,
	.batch_begin = pg_batch_begin,
	.batch_commit = pg_batch_commit,
	.batch_rollback = pg_batch_rollback,
	.insert_job = pg_insert_job,
	.finish_job = pg_finish_job,
	.get_job = pg_get_job,
	.find_idempotent = pg_find_idempotent,
	.list_jobs = pg_list_jobs,
	.load_active = pg_load_active,
	.usage = pg_usage,
	.insert_key = pg_insert_key,
	.get_key = pg_get_key,
	.claim_jobs = pg_claim_jobs,
	.renew_leases = pg_renew_leases,
	.sweep = pg_sweep,
	.release_job = pg_release_job,
	.append_output = pg_append_output,
	.read_output = pg_read_output,
	.cancel_job = pg_cancel_job,
	.get_final = pg_get_final,
	.listen = pg_listen,
	.publish_islands = pg_publish_islands,
	.fleet_islands = pg_fleet_islands,
};

int store_pg_open(const struct store_options *o, struct store **ret, char *err,
		  size_t err_size)
{
	struct pg_store *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->base.ops = &PG_OPS;
	for (int i = 0; i < CONN_COUNT; i++)
		pthread_mutex_init(&s->conn[i].mu, NULL);
	snprintf(s->owner, sizeof s->owner, "%s", o->owner ? o->owner : "");
	if (!(s->dsn = strdup(o->dsn ? o->dsn : ""))) {
		pg_close(&s->base);
		return -ENOMEM;
	}
	struct pgconn *c = &s->conn[CONN_BATCH];
	char what[512] = "";
	pthread_mutex_lock(&c->mu);
	c->pg = connect_db(s->dsn);
	int e = 0;
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		snprintf(what, sizeof what, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		e = -EIO;
	} else {
		e = migrate(c, what, sizeof what);
	}
	pthread_mutex_unlock(&c->mu);
	if (e < 0) {
		/* libpq's messages end with a newline. */
		size_t n = strlen(what);
		while (n && (what[n - 1] == '\n' || what[n - 1] == ' '))
			what[--n] = 0;
		snprintf(err, err_size, "store postgres: %s", what);
		pg_close(&s->base);
		return e;
	}
	*ret = &s->base;
	return 0;
}
