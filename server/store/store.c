/* The store interface: rows, opening by driver, and the calls that go to
 * the implementation's table (store/store.h). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/timeutil.h"

void job_row_clear(struct job_row *r)
{
	if (!r)
		return;
	if (r->input) {
		OPENSSL_cleanse(r->input, r->input_len);
		free(r->input);
	}
	if (r->output) {
		OPENSSL_cleanse(r->output, r->output_len);
		free(r->output);
	}
	free(r->output_chunks);
	free(r->recipients);
	memset(r, 0, sizeof *r);
}

void key_row_clear(struct key_row *k)
{
	if (!k)
		return;
	free(k->public_key);
	if (k->private_key) {
		OPENSSL_cleanse(k->private_key, k->private_key_len);
		free(k->private_key);
	}
	memset(k, 0, sizeof *k);
}

void island_row_clear(struct island_row *r)
{
	if (!r)
		return;
	free(r->evidence);
	free(r->manifest);
	free(r->claims);
	free(r->collateral);
	free(r->offers);
	memset(r, 0, sizeof *r);
}

int store_open(const struct store_options *o, struct store **ret, char *err, size_t err_size)
{
	switch (o->driver) {
	case STORE_SQLITE:
		return store_sqlite_open(o, ret, err, err_size);
	case STORE_POSTGRES:
		return store_pg_open(o, ret, err, err_size);
	}
	snprintf(err, err_size, "unknown store driver %d", (int)o->driver);
	return -EINVAL;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_driver_name(const struct store *s)
{
	return s->ops->name;
}

bool store_shared(const struct store *s)
{
	return s->ops->claim_jobs != NULL;
}

int store_batch_begin(struct store *s, char *err, size_t err_size)
{
	return s->ops->batch_begin(s, err, err_size);
}

void store_on_commit(struct store *s, void (*fn)(int64_t us))
{
	s->on_commit = fn;
}

int store_batch_commit(struct store *s, char *err, size_t err_size)
{
	int64_t t0 = time_mono_ns();
	int e = s->ops->batch_commit(s, err, err_size);
	if (e == 0 && s->on_commit)
		s->on_commit((time_mono_ns() - t0) / 1000);
	return e;
}

void store_batch_rollback(struct store *s)
{
	s->ops->batch_rollback(s);
}

int store_insert_job(struct store *s, const struct job_row *r, struct job_row *existing)
{
	return s->ops->insert_job(s, r, existing);
}

int store_finish_job(struct store *s, const struct job_row *r)
{
	return s->ops->finish_job(s, r);
}

int store_get_job(struct store *s, const char *tenant, const char *id, struct job_row *out)
{
	return s->ops->get_job(s, tenant, id, out);
}

int store_find_idempotent(struct store *s, const char *tenant, const char *idempotency_key,
			  struct job_row *out)
{
	return s->ops->find_idempotent(s, tenant, idempotency_key, out);
}

int store_list_jobs(struct store *s, const char *tenant, int state, uint32_t workload_id,
		    int64_t before, uint32_t limit,
		    void (*cb)(struct job_row *r, void *ud), void *ud, bool *ret_more)
{
	return s->ops->list_jobs(s, tenant, state, workload_id, before, limit, cb, ud, ret_more);
}

int store_load_active(struct store *s, void (*cb)(struct job_row *r, void *ud), void *ud)
{
	return s->ops->load_active(s, cb, ud);
}

int store_usage(struct store *s, const char *tenant, int64_t since_ms,
		void (*cb)(const struct usage_row *u, void *ud), void *ud)
{
	return s->ops->usage(s, tenant, since_ms, cb, ud);
}

int store_insert_key(struct store *s, const struct key_row *k)
{
	return s->ops->insert_key(s, k);
}

int store_get_key(struct store *s, const char *tenant, const char *id, struct key_row *out)
{
	return s->ops->get_key(s, tenant, id, out);
}

/* ---- shared stores ---- */

int store_claim_jobs(struct store *s, const struct store_claim *q, int64_t lease_ms,
		     void (*cb)(struct job_row *r, void *ud), void *ud)
{
	return s->ops->claim_jobs ? s->ops->claim_jobs(s, q, lease_ms, cb, ud) : -ENOTSUP;
}

int store_renew_leases(struct store *s, int64_t lease_ms, const char *const *ids, size_t n,
		       void (*cb)(const char *id, uint32_t attempt, void *ud), void *ud)
{
	return s->ops->renew_leases ? s->ops->renew_leases(s, lease_ms, ids, n, cb, ud)
				    : -ENOTSUP;
}

int store_sweep(struct store *s, size_t *ret_released, size_t *ret_failed)
{
	return s->ops->sweep ? s->ops->sweep(s, ret_released, ret_failed) : -ENOTSUP;
}

int store_release_job(struct store *s, const char *id, uint32_t attempt, bool unclaim)
{
	return s->ops->release_job ? s->ops->release_job(s, id, attempt, unclaim) : -ENOTSUP;
}

int store_append_output(struct store *s, const char *id, uint32_t attempt, uint32_t seq,
			const uint8_t *data, size_t len)
{
	return s->ops->append_output ? s->ops->append_output(s, id, attempt, seq, data, len)
				     : -ENOTSUP;
}

int store_read_output(struct store *s, const char *id, uint32_t attempt, uint32_t from,
		      uint32_t max,
		      void (*cb)(uint32_t seq, const uint8_t *data, size_t len, void *ud), void *ud)
{
	return s->ops->read_output ? s->ops->read_output(s, id, attempt, from, max, cb, ud)
				   : -ENOTSUP;
}

int store_cancel_job(struct store *s, const char *tenant, const char *id, const char *error,
		     struct job_row *ret_row)
{
	return s->ops->cancel_job ? s->ops->cancel_job(s, tenant, id, error, ret_row) : -ENOTSUP;
}

int store_get_final(struct store *s, const char *const *ids, size_t n,
		    void (*cb)(struct job_row *r, void *ud), void *ud)
{
	return s->ops->get_final ? s->ops->get_final(s, ids, n, cb, ud) : -ENOTSUP;
}

int store_listen(struct store *s, int64_t timeout_ms,
		 void (*cb)(enum store_event ev, const char *payload, void *ud), void *ud)
{
	return s->ops->listen ? s->ops->listen(s, timeout_ms, cb, ud) : -ENOTSUP;
}

int store_publish_islands(struct store *s, const struct island_row *rows, size_t n)
{
	return s->ops->publish_islands ? s->ops->publish_islands(s, rows, n) : -ENOTSUP;
}

int store_fleet_islands(struct store *s, int64_t max_age_ms,
			void (*cb)(struct island_row *r, void *ud), void *ud)
{
	return s->ops->fleet_islands ? s->ops->fleet_islands(s, max_age_ms, cb, ud) : -ENOTSUP;
}
