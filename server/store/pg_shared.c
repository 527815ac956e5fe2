/* The PostgreSQL store's shared-store calls: claims and leases on the
 * claim connection, released jobs and output chunks inside writer
 * batches, cancels and reads on the read connection, and the fleet's
 * islands (store/store.h). */
#include "store/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a coordinator may stay silent before its rows go: long
 * enough for a database restart, short enough to keep the table small. */
#define FORGET_COORDINATOR_MS 600000

static bool plain_id(const char *id)
{
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return id[0] != 0;
}

/* Job ids as a PostgreSQL text[] literal, malloc'd. Job ids are made of
 * letters, digits and '_': safe in an array literal; anything else
 * cannot name a job and is left out. */
static char *id_array(const char *const *ids, size_t n)
{
	size_t size = 3;
	for (size_t i = 0; i < n; i++)
		size += strlen(ids[i]) + 1;
	char *lit = malloc(size);
	if (!lit)
		return NULL;
	size_t k = 0;
	lit[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (!plain_id(ids[i]))
			continue;
		if (k > 1)
			lit[k++] = ',';
		size_t l = strlen(ids[i]);
		memcpy(lit + k, ids[i], l);
		k += l;
	}
	lit[k++] = '}';
	lit[k] = 0;
	return lit;
}

int pg_claim_jobs(struct store *base, const struct store_claim *q, int64_t lease_ms,
		  void (*cb)(struct job_row *r, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_CLAIM];
	char lease[24], wl[24], mode[24], max[24];
	char *keys = NULL;
	bool tee = q->mode == 2;
	if (tee && !(keys = pg_hex_array(q->keys, q->n_keys)))
		return -ENOMEM;
	const char *v[5] = { s->owner, pg_i64(lease, sizeof lease, lease_ms),
			     pg_i64(wl, sizeof wl, q->workload_id),
			     tee ? keys : pg_i64(mode, sizeof mode, q->mode),
			     pg_i64(max, sizeof max, q->max) };
	if (pg_lock(s, c) < 0) {
		free(keys);
		return -EIO;
	}
	PGresult *res = pg_run(s, c, tee ? Q_CLAIM_TEE : Q_CLAIM_PLAIN, 5, v, NULL, NULL);
	pg_unlock(c);
	free(keys);
	if (!res)
		return -EIO;
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct job_row r;
		pg_read_job(res, i, &r);
		cb(&r, ud);
	}
	PQclear(res);
	return n;
}

int pg_renew_leases(struct store *base, int64_t lease_ms, const char *const *ids, size_t n,
		    void (*cb)(const char *id, uint32_t attempt, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_CLAIM];
	char lease[24];
	char *held = id_array(ids, n);
	if (!held)
		return -ENOMEM;
	const char *v[3] = { s->owner, pg_i64(lease, sizeof lease, lease_ms), held };
	if (pg_lock(s, c) < 0) {
		free(held);
		return -EIO;
	}
	PGresult *res = pg_run(s, c, Q_RENEW, 3, v, NULL, NULL);
	pg_unlock(c);
	free(held);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++)
		cb(PQgetvalue(res, i, 0), (uint32_t)pg_int(res, i, 1), ud);
	PQclear(res);
	return 0;
}

static int notify(struct pg_store *s, struct pgconn *c, const char *channel, const char *payload)
{
	const char *v[2] = { channel, payload };
	PGresult *res = pg_run(s, c, Q_NOTIFY, 2, v, NULL, NULL);
	PQclear(res);
	return res ? 0 : -EIO;
}

int pg_sweep(struct store *base, size_t *ret_released, size_t *ret_failed)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_CLAIM];
	*ret_released = *ret_failed = 0;
	if (pg_lock(s, c) < 0)
		return -EIO;
	int e = -EIO;
	PGresult *res = pg_run(s, c, Q_SWEEP_LEASES, 0, NULL, NULL, NULL);
	if (!res)
		goto out;
	*ret_released = (size_t)PQntuples(res);
	PQclear(res);
	if (!(res = pg_run(s, c, Q_SWEEP_DEADLINES, 0, NULL, NULL, NULL)))
		goto out;
	*ret_failed = (size_t)PQntuples(res);
	PQclear(res);
	if ((*ret_released && notify(s, c, "atoll_jobs", "") < 0) ||
	    (*ret_failed && notify(s, c, "atoll_final", "") < 0))
		goto out;
	char sql[160];
	snprintf(sql, sizeof sql, "DELETE FROM coordinators WHERE seen_ms < " PG_NOW_MS " - %d",
		 FORGET_COORDINATOR_MS);
	e = pg_exec(c, sql, NULL, 0);
out:
	pg_unlock(c);
	return e;
}

int pg_release_job(struct store *base, const char *id, uint32_t attempt, bool unclaim)
{
	struct pg_store *s = (struct pg_store *)base;
	char a[24];
	const char *v[3] = { id, s->owner, pg_i64(a, sizeof a, attempt) };
	char sqlstate[8];
	PGresult *res = pg_run(s, &s->conn[CONN_BATCH], unclaim ? Q_UNCLAIM : Q_RELEASE, 3, v,
			       NULL, sqlstate);
	if (!res)
		return pg_errno(sqlstate);
	PQclear(res);
	s->ev_jobs = true;
	return 0;
}

int pg_append_output(struct store *base, const char *id, uint32_t attempt, uint32_t seq,
		     const uint8_t *data, size_t len)
{
	struct pg_store *s = (struct pg_store *)base;
	char a[24], q[24];
	const char *v[5] = { id, pg_i64(a, sizeof a, attempt), pg_i64(q, sizeof q, seq),
			     data ? (const char *)data : "", s->owner };
	int lens[5] = { -1, -1, -1, (int)len, -1 };
	char sqlstate[8];
	PGresult *res = pg_run(s, &s->conn[CONN_BATCH], Q_APPEND_OUTPUT, 5, v, lens, sqlstate);
	if (!res)
		return pg_errno(sqlstate);
	PQclear(res);
	s->ev_output = true;
	return 0;
}

int pg_read_output(struct store *base, const char *id, uint32_t attempt, uint32_t from,
		   uint32_t max, void (*cb)(uint32_t seq, const uint8_t *data, size_t len, void *ud),
		   void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_READ];
	char a[24], f[24], m[24];
	const char *v[4] = { id, pg_i64(a, sizeof a, attempt), pg_i64(f, sizeof f, from),
			     pg_i64(m, sizeof m, max) };
	if (pg_lock(s, c) < 0)
		return -EIO;
	PGresult *res = pg_run(s, c, Q_READ_OUTPUT, 4, v, NULL, NULL);
	pg_unlock(c);
	if (!res)
		return -EIO;
	int e = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		size_t len;
		uint8_t *d = pg_bytea(res, i, 1, &len);
		if (!d) {
			e = -ENOMEM;
			break;
		}
		cb((uint32_t)pg_int(res, i, 0), d, len, ud);
		free(d);
	}
	PQclear(res);
	return e;
}

int pg_cancel_job(struct store *base, const char *tenant, const char *id, const char *error,
		  struct job_row *ret_row)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_READ];
	/* Cleared on every failure below: empty from the start. */
	memset(ret_row, 0, sizeof *ret_row);
	if (pg_lock(s, c) < 0)
		return -EIO;
	int e = pg_exec(c, "BEGIN", NULL, 0);
	if (e < 0)
		goto out;
	const char *v[3] = { id, tenant, error };
	PGresult *res = pg_run(s, c, Q_CANCEL, 3, v, NULL, NULL);
	if (!res) {
		e = -EIO;
		goto rollback;
	}
	bool cancelled = PQntuples(res) == 1;
	if (cancelled)
		pg_read_job(res, 0, ret_row);
	PQclear(res);
	if (!cancelled) {
		pg_exec(c, "ROLLBACK", NULL, 0);
		pg_unlock(c);
		struct job_row r;
		e = pg_get_job(base, tenant, id, &r);
		job_row_clear(&r);
		return e == 0 ? -EALREADY : e;
	}
	const char *idv[1] = { id };
	if (!(res = pg_run(s, c, Q_DELETE_OUTPUT, 1, idv, NULL, NULL))) {
		e = -EIO;
		goto rollback;
	}
	PQclear(res);
	if ((e = notify(s, c, "atoll_cancel", id)) < 0 || (e = notify(s, c, "atoll_final", "")) < 0 ||
	    (e = pg_exec(c, "COMMIT", NULL, 0)) < 0)
		goto rollback;
	pg_unlock(c);
	return 0;
rollback:
	pg_exec(c, "ROLLBACK", NULL, 0);
	job_row_clear(ret_row);
out:
	pg_unlock(c);
	return e;
}

int pg_get_final(struct store *base, const char *const *ids, size_t n,
		 void (*cb)(struct job_row *r, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	if (!n)
		return 0;
	char *lit = id_array(ids, n);
	if (!lit)
		return -ENOMEM;
	struct pgconn *c = &s->conn[CONN_READ];
	if (pg_lock(s, c) < 0) {
		free(lit);
		return -EIO;
	}
	const char *v[1] = { lit };
	PGresult *res = pg_run(s, c, Q_GET_FINAL, 1, v, NULL, NULL);
	pg_unlock(c);
	free(lit);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		struct job_row r;
		pg_read_job(res, i, &r);
		cb(&r, ud);
	}
	PQclear(res);
	return 0;
}

int pg_publish_islands(struct store *base, const struct island_row *rows, size_t n)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_CLAIM];
	if (pg_lock(s, c) < 0)
		return -EIO;
	int e = pg_exec(c, "BEGIN", NULL, 0);
	if (e < 0)
		goto out;
	const char *own[1] = { s->owner };
	PGresult *res = pg_run(s, c, Q_ALIVE, 1, own, NULL, NULL);
	if (!res)
		goto rollback;
	PQclear(res);
	if (!(res = pg_run(s, c, Q_DELETE_ISLANDS, 1, own, NULL, NULL)))
		goto rollback;
	PQclear(res);
	for (size_t i = 0; i < n; i++) {
		const struct island_row *r = &rows[i];
		char st[24], slots[24], running[24], att[24], until[24];
		const char *v[16] = {
			s->owner,
			r->id,
			pg_i64(st, sizeof st, r->state),
			r->reason,
			r->tee_type,
			r->has_pub ? (const char *)r->enclave_pub : NULL,
			pg_i64(slots, sizeof slots, r->slots),
			pg_i64(running, sizeof running, r->running),
			pg_i64(att, sizeof att, r->attested_ms),
			pg_i64(until, sizeof until, r->valid_until_ms),
			(const char *)r->nonce,
			(const char *)r->evidence,
			(const char *)r->manifest,
			(const char *)r->claims,
			(const char *)r->collateral,
			(const char *)r->offers,
		};
		int lens[16] = { -1, -1, -1, -1, -1, 32, -1, -1, -1, -1, 32,
				 (int)r->evidence_len, (int)r->manifest_len, (int)r->claims_len,
				 (int)r->collateral_len, (int)r->offers_len };
		if (!(res = pg_run(s, c, Q_INSERT_ISLAND, 16, v, lens, NULL)))
			goto rollback;
		PQclear(res);
	}
	if ((e = pg_exec(c, "COMMIT", NULL, 0)) < 0)
		goto rollback;
	pg_unlock(c);
	return 0;
rollback:
	pg_exec(c, "ROLLBACK", NULL, 0);
	e = -EIO;
out:
	pg_unlock(c);
	return e;
}

int pg_fleet_islands(struct store *base, int64_t max_age_ms,
		     void (*cb)(struct island_row *r, void *ud), void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pgconn *c = &s->conn[CONN_CLAIM];
	char age[24];
	const char *v[2] = { s->owner, pg_i64(age, sizeof age, max_age_ms) };
	if (pg_lock(s, c) < 0)
		return -EIO;
	PGresult *res = pg_run(s, c, Q_FLEET, 2, v, NULL, NULL);
	pg_unlock(c);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		struct island_row r;
		memset(&r, 0, sizeof r);
		pg_text(res, i, 0, r.coordinator, sizeof r.coordinator);
		pg_text(res, i, 1, r.id, sizeof r.id);
		r.state = (int)pg_int(res, i, 2);
		pg_text(res, i, 3, r.reason, sizeof r.reason);
		pg_text(res, i, 4, r.tee_type, sizeof r.tee_type);
		size_t len;
		uint8_t *b = pg_bytea(res, i, 5, &len);
		if (b && len == 32) {
			memcpy(r.enclave_pub, b, 32);
			r.has_pub = true;
		}
		free(b);
		r.slots = (uint32_t)pg_int(res, i, 6);
		r.running = (uint32_t)pg_int(res, i, 7);
		r.attested_ms = pg_int(res, i, 8);
		r.valid_until_ms = pg_int(res, i, 9);
		if ((b = pg_bytea(res, i, 10, &len)) && len == 32)
			memcpy(r.nonce, b, 32);
		free(b);
		r.evidence = pg_bytea(res, i, 11, &r.evidence_len);
		r.manifest = pg_bytea(res, i, 12, &r.manifest_len);
		r.claims = pg_bytea(res, i, 13, &r.claims_len);
		r.collateral = pg_bytea(res, i, 14, &r.collateral_len);
		r.offers = pg_bytea(res, i, 15, &r.offers_len);
		cb(&r, ud);
	}
	PQclear(res);
	return 0;
}
