/* The PostgreSQL store: jobs, keys and usage (the calls every store has).
 * Job writes run inside a store writer batch, on the batch connection the
 * batch holds locked. */
#include "store/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/enc.h"

char *pg_hex_array(const uint8_t (*keys)[32], size_t n)
{
	char *out = malloc(n * 65 + 3);
	if (!out)
		return NULL;
	size_t k = 0;
	out[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			out[k++] = ',';
		enc_hex_encode(keys[i], 32, out + k);
		k += 64;
	}
	out[k++] = '}';
	out[k] = 0;
	return out;
}

int pg_insert_job(struct store *base, const struct job_row *r, struct job_row *existing)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_BATCH];
	char wl[24], mode[24], state[24], created[24], deadline[24];
	char *recipients = r->n_recipients
				   ? pg_hex_array((const uint8_t(*)[32])r->recipients, r->n_recipients)
				   : NULL;
	if (r->n_recipients && !recipients)
		return -ENOMEM;
	const char *v[14] = {
		r->id,
		r->tenant,
		pg_i64(wl, sizeof wl, r->workload_id),
		r->workload,
		r->confidential ? "t" : "f",
		pg_i64(mode, sizeof mode, r->mode),
		r->key_id,
		pg_i64(state, sizeof state, r->state),
		pg_i64(created, sizeof created, r->created_ms),
		pg_i64(deadline, sizeof deadline, r->deadline_ms),
		r->input ? (const char *)r->input : "",
		r->has_client_pub ? (const char *)r->client_pub : NULL,
		r->idempotency_key[0] ? r->idempotency_key : NULL,
		recipients,
	};
	int lens[14] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, (int)r->input_len, 32, -1, -1 };
	char sqlstate[8];
	PGresult *res = pg_run(s, c, Q_INSERT_JOB, 14, v, lens, sqlstate);
	free(recipients);
	if (!res)
		return pg_errno(sqlstate);
	int rows = PQntuples(res);
	PQclear(res);
	s->ev_jobs = true;
	if (rows == 1)
		return 0;
	/* A conflict: this very job (a batch retried after its commit was
	 * lost in transit), or another job with the idempotency key. */
	const char *id[1] = { r->id };
	if (!(res = pg_run(s, c, Q_JOB_BY_ID, 1, id, NULL, NULL)))
		return -EIO;
	rows = PQntuples(res);
	PQclear(res);
	if (rows == 1)
		return 0;
	const char *k[2] = { r->tenant, r->idempotency_key };
	if (!r->idempotency_key[0] || !(res = pg_run(s, c, Q_JOB_BY_IDEM, 2, k, NULL, NULL)))
		return -EIO;
	int e = -EIO;
	if (PQntuples(res) == 1) {
		pg_read_job(res, 0, existing);
		e = -EEXIST;
	}
	PQclear(res);
	return e;
}

int pg_finish_job(struct store *base, const struct job_row *r)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_BATCH];
	char state[24], attempts[24], started[24], completed[24], duration[24], credits[40];
	snprintf(credits, sizeof credits, "%.17g", r->credits);
	const char *v[13] = {
		pg_i64(state, sizeof state, r->state),
		pg_i64(attempts, sizeof attempts, r->attempts),
		r->island_id,
		pg_i64(started, sizeof started, r->started_ms),
		r->error,
		pg_i64(completed, sizeof completed, r->completed_ms),
		pg_i64(duration, sizeof duration, r->duration_ms),
		credits,
		r->output ? (const char *)r->output : NULL,
		r->output_encrypted ? "t" : "f",
		r->output_chunks ? (const char *)r->output_chunks : NULL,
		r->id,
		s->owner,
	};
	int lens[13] = { -1, -1, -1, -1, -1, -1, -1, -1, (int)r->output_len, -1,
			 (int)r->output_chunks_len, -1, -1 };
	char sqlstate[8];
	PGresult *res = pg_run(s, c, Q_FINISH, 13, v, lens, sqlstate);
	if (!res)
		return pg_errno(sqlstate);
	bool landed = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	const char *id[1] = { r->id };
	if (landed) {
		s->ev_final = true;
		if (!(res = pg_run(s, c, Q_DELETE_OUTPUT, 1, id, NULL, NULL)))
			return -EIO;
		PQclear(res);
		return 0;
	}
	/* Fenced out, unless this write landed in a batch whose commit
	 * answer was lost and is being retried. */
	if (!(res = pg_run(s, c, Q_FINISH_CHECK, 1, id, NULL, NULL)))
		return -EIO;
	int e = -ESTALE;
	if (PQntuples(res) == 1 && pg_int(res, 0, 0) >= 4 &&
	    strcmp(PQgetvalue(res, 0, 1), s->owner) == 0 &&
	    (uint32_t)pg_int(res, 0, 2) == r->attempts)
		e = 0;
	PQclear(res);
	return e;
}

static int get_one(struct pg_store *s, enum pg_stmt q, const char *a, const char *b,
		   struct job_row *out)
{
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0)
		return -EIO;
	const char *v[2] = { a, b };
	PGresult *res = pg_run(s, c, q, 2, v, NULL, NULL);
	pg_unlock(c);
	if (!res)
		return -EIO;
	int e = -ENOENT;
	if (PQntuples(res) == 1) {
		pg_read_job(res, 0, out);
		e = 0;
	}
	PQclear(res);
	return e;
}

int pg_get_job(struct store *base, const char *tenant, const char *id, struct job_row *out)
{
	return get_one((struct pg_store *)base, Q_GET_JOB, id, tenant, out);
}

int pg_find_idempotent(struct store *base, const char *tenant, const char *key,
		       struct job_row *out)
{
	return get_one((struct pg_store *)base, Q_JOB_BY_IDEM, tenant, key, out);
}

int pg_list_jobs(struct store *base, const char *tenant, int state, uint32_t workload_id,
		 int64_t before, uint32_t limit, void (*cb)(struct job_row *r, void *ud), void *ud,
		 bool *ret_more)
{
	struct pg_store *s = (struct pg_store *)base;
	char sql[1024], st[24], wl[24], bf[24], lim[24];
	snprintf(sql, sizeof sql,
		 "SELECT " PG_JOB_COLUMNS " FROM jobs WHERE tenant = $1 %s %s %s"
		 " ORDER BY rowid DESC LIMIT $5",
		 state == STORE_STATE_ACTIVE ? "AND state IN (1, 2, 3) AND $2::int IS NULL"
		 : state		     ? "AND state = $2::int"
					     : "AND $2::int IS NULL",
		 workload_id ? "AND workload_id = $3::bigint" : "AND $3::bigint IS NULL",
		 before ? "AND rowid < $4::bigint" : "AND $4::bigint IS NULL");
	const char *v[5] = {
		tenant,
		state > 0 ? pg_i64(st, sizeof st, state) : NULL,
		workload_id ? pg_i64(wl, sizeof wl, workload_id) : NULL,
		before ? pg_i64(bf, sizeof bf, before) : NULL,
		pg_i64(lim, sizeof lim, (int64_t)limit + 1),
	};
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0)
		return -EIO;
	PGresult *res = pg_query(c, sql, 5, v);
	pg_unlock(c);
	if (!res)
		return -EIO;
	int n = PQntuples(res);
	*ret_more = n > (int)limit;
	for (int i = 0; i < n && i < (int)limit; i++) {
		struct job_row r;
		pg_read_job(res, i, &r);
		cb(&r, ud);
	}
	PQclear(res);
	return 0;
}

int pg_load_active(struct store *base, void (*cb)(struct job_row *r, void *ud), void *ud)
{
	/* A shared store's jobs are claimed, never loaded at start: the
	 * jobs a coordinator held before a restart come back to the queue
	 * when their leases run out. */
	(void)base;
	(void)cb;
	(void)ud;
	return 0;
}

int pg_usage(struct store *base, const char *tenant, int64_t since_ms,
	     void (*cb)(const struct usage_row *u, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	char since[24];
	const char *v[2] = { tenant, pg_i64(since, sizeof since, since_ms) };
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0)
		return -EIO;
	PGresult *res = pg_query(
		c,
		"SELECT workload_id, max(workload), count(*), sum(confidential::int),"
		" sum(credits) FROM jobs WHERE tenant = $1 AND completed_ms >= $2::bigint"
		" AND (state = 4 OR (state = 6 AND duration_ms > 0))"
		" GROUP BY workload_id ORDER BY workload_id",
		2, v);
	pg_unlock(c);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		struct usage_row u = { 0 };
		u.workload_id = (uint32_t)pg_int(res, i, 0);
		pg_text(res, i, 1, u.workload, sizeof u.workload);
		u.jobs = (uint64_t)pg_int(res, i, 2);
		u.confidential_jobs = (uint64_t)pg_int(res, i, 3);
		u.credits = PQgetisnull(res, i, 4) ? 0 : strtod(PQgetvalue(res, i, 4), NULL);
		cb(&u, ud);
	}
	PQclear(res);
	return 0;
}

int pg_insert_key(struct store *base, const struct key_row *k)
{
	struct pg_store *s = (struct pg_store *)base;
	char alg[24], created[24];
	const char *v[7] = { k->id,
			     k->tenant,
			     pg_i64(alg, sizeof alg, k->algorithm),
			     (const char *)k->public_key,
			     (const char *)k->private_key,
			     k->label,
			     pg_i64(created, sizeof created, k->created_ms) };
	int lens[7] = { -1, -1, -1, (int)k->public_key_len, (int)k->private_key_len, -1, -1 };
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0)
		return -EIO;
	char sqlstate[8];
	PGresult *res = pg_run(s, c, Q_INSERT_KEY, 7, v, lens, sqlstate);
	pg_unlock(c);
	if (!res)
		return strcmp(sqlstate, "23505") == 0 ? -EEXIST : -EIO;
	PQclear(res);
	return 0;
}

int pg_get_key(struct store *base, const char *tenant, const char *id, struct key_row *out)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0)
		return -EIO;
	const char *v[2] = { id, tenant };
	PGresult *res = pg_run(s, c, Q_GET_KEY, 2, v, NULL, NULL);
	pg_unlock(c);
	if (!res)
		return -EIO;
	int e = -ENOENT;
	if (PQntuples(res) == 1) {
		memset(out, 0, sizeof *out);
		pg_text(res, 0, 0, out->id, sizeof out->id);
		pg_text(res, 0, 1, out->tenant, sizeof out->tenant);
		out->algorithm = (int)pg_int(res, 0, 2);
		out->public_key = pg_bytea(res, 0, 3, &out->public_key_len);
		out->private_key = pg_bytea(res, 0, 4, &out->private_key_len);
		pg_text(res, 0, 5, out->label, sizeof out->label);
		out->created_ms = pg_int(res, 0, 6);
		e = 0;
	}
	PQclear(res);
	return e;
}
