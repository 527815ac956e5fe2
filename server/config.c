/* coordinator.yaml: reading and validating every section. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atoll/mode.h"
#include "config/cfg.h"

#define MAX_WORKLOAD_ID 0xffffffffu

static const char *const TOP_KEYS[] = { "listen", "limits", "store", "tenants", "islands",
					"keys", "drivers", "policy", "workloads", "http", NULL };

static int read_listen(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "address", "tls", NULL };
	static const char *const tls_keys[] = { "cert", "key", "client_ca", NULL };
	const struct ynode *n = cfg_get(root, "listen");
	if (!n)
		return cfg_error(c, root, "listen", "required key is missing");
	int e;
	if ((e = cfg_check_keys(c, n, "listen", keys)) < 0 ||
	    (e = cfg_str(c, n, "listen", "address", true, &cc->listen.address)) < 0)
		return e;
	if (!strchr(cc->listen.address, ':') && strncmp(cc->listen.address, "unix:", 5) != 0)
		return cfg_error(c, cfg_get(n, "address"), "listen.address",
				 "expected host:port or unix:/path, found '%s'", cc->listen.address);
	const struct ynode *tls = cfg_get(n, "tls");
	if (tls) {
		if ((e = cfg_check_keys(c, tls, "listen.tls", tls_keys)) < 0 ||
		    (e = cfg_path_value(c, tls, "listen.tls", "cert", true, &cc->listen.tls_cert)) < 0 ||
		    (e = cfg_path_value(c, tls, "listen.tls", "key", true, &cc->listen.tls_key)) < 0 ||
		    (e = cfg_path_value(c, tls, "listen.tls", "client_ca", false,
					&cc->listen.tls_client_ca)) < 0)
			return e;
	}
	return 0;
}

/* One unsigned limit: map[key] into *out within [min, max]. */
static int read_u64(struct cfg *c, const struct ynode *n, const char *key, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	return cfg_uint(c, n, "limits", key, false, min, max, out);
}

static int read_limits(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "threads", "max_message_bytes", "drain_timeout",
					    "keepalive_time", "keepalive_timeout", "max_islands",
					    "max_queued_jobs", "max_active_jobs_per_tenant",
					    "max_watches_per_tenant", "max_output_bytes",
					    "max_send_backlog", "max_streams_per_connection",
					    "memory_quota", NULL };
	const struct ynode *n = cfg_get(root, "limits");
	if (!n)
		return 0;
	int e;
	const char *P = "limits";
	if ((e = cfg_check_keys(c, n, P, keys)) < 0)
		return e;
	struct {
		const char *key;
		uint64_t min, max;
		void *out;
		int bits;
	} u[] = {
		{ "threads", 1, 64, &cc->limits.threads, 32 },
		{ "max_message_bytes", 1024, 1u << 30, &cc->limits.max_message_bytes, 32 },
		{ "max_islands", 1, 1000000, &cc->limits.max_islands, 32 },
		{ "max_queued_jobs", 1, 100000000, &cc->limits.max_queued_jobs, 32 },
		{ "max_active_jobs_per_tenant", 1, 100000000, &cc->limits.max_active_jobs_per_tenant,
		  32 },
		{ "max_watches_per_tenant", 1, 1000000, &cc->limits.max_watches_per_tenant, 32 },
		{ "max_output_bytes", 1024, 1ull << 32, &cc->limits.max_output_bytes, 64 },
		{ "max_send_backlog", 64 << 10, 1u << 30, &cc->limits.max_send_backlog, 64 },
		{ "max_streams_per_connection", 1, 1000000, &cc->limits.max_streams_per_connection,
		  32 },
		{ "memory_quota", 0, 1ull << 40, &cc->limits.memory_quota, 64 },
	};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		uint64_t v = u[i].bits == 32 ? *(uint32_t *)u[i].out : *(uint64_t *)u[i].out;
		if ((e = read_u64(c, n, u[i].key, u[i].min, u[i].max, &v)) < 0)
			return e;
		if (u[i].bits == 32)
			*(uint32_t *)u[i].out = (uint32_t)v;
		else
			*(uint64_t *)u[i].out = v;
	}
	if ((e = cfg_duration_ms(c, n, P, "drain_timeout", false, 0, 3600000,
				 &cc->limits.drain_timeout_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "keepalive_time", false, 1000, 86400000,
				 &cc->limits.keepalive_time_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "keepalive_timeout", false, 1000, 3600000,
				 &cc->limits.keepalive_timeout_ms)) < 0)
		return e;
	return 0;
}

static int read_store(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "driver", "path", "synchronous", "dsn", "lease", NULL };
	const struct ynode *n = cfg_get(root, "store");
	if (!n)
		return cfg_error(c, root, "store", "required key is missing");
	int e;
	char *driver = NULL, *sync = NULL;
	if ((e = cfg_check_keys(c, n, "store", keys)) < 0 ||
	    (e = cfg_str(c, n, "store", "driver", false, &driver)) < 0)
		return e;
	if (driver && strcmp(driver, "postgres") == 0) {
		cc->store.driver = 1;
	} else if (driver && strcmp(driver, "sqlite") != 0) {
		e = cfg_error(c, cfg_get(n, "driver"), "store.driver",
			      "expected sqlite or postgres, found '%s'", driver);
		free(driver);
		return e;
	}
	free(driver);
	/* Each driver's keys only: a key of the other is a mistake worth
	 * saying, not something to ignore. */
	static const char *const sqlite_only[] = { "path", "synchronous", NULL };
	static const char *const pg_only[] = { "dsn", "lease", NULL };
	const char *const *other = cc->store.driver ? sqlite_only : pg_only;
	for (size_t i = 0; other[i]; i++) {
		char p[64];
		cfg_path(p, sizeof p, "store", other[i]);
		if (cfg_get(n, other[i]))
			return cfg_error(c, cfg_get(n, other[i]), p, "not a key of the %s driver",
					 cc->store.driver ? "postgres" : "sqlite");
	}
	if (cc->store.driver) {
		if ((e = cfg_str(c, n, "store", "dsn", true, &cc->store.dsn)) < 0 ||
		    (e = cfg_duration_ms(c, n, "store", "lease", false, 500, 600000,
					 &cc->store.lease_ms)) < 0)
			return e;
		if (!cc->store.dsn[0])
			return cfg_error(c, cfg_get(n, "dsn"), "store.dsn",
					 "a libpq connection string is needed");
		return 0;
	}
	if ((e = cfg_path_value(c, n, "store", "path", true, &cc->store.path)) < 0 ||
	    (e = cfg_str(c, n, "store", "synchronous", false, &sync)) < 0)
		return e;
	if (sync) {
		if (strcmp(sync, "full") == 0)
			cc->store.synchronous_full = true;
		else if (strcmp(sync, "normal") == 0)
			cc->store.synchronous_full = false;
		else
			e = cfg_error(c, cfg_get(n, "synchronous"), "store.synchronous",
				      "expected full or normal, found '%s'", sync);
		free(sync);
	}
	return e;
}

/* A list of 64-hex-digit SHA-256 digests under map[key]. */
static int read_hashes(struct cfg *c, const struct ynode *map, const char *path,
		       const char *key, uint8_t (**out)[SHA256_LEN], size_t *ret_n)
{
	char p[512];
	cfg_path(p, sizeof p, path, key);
	const struct ynode *n;
	int e = cfg_seq_alloc(c, map, path, key, true, SHA256_LEN, &n, (void **)out);
	if (e < 0)
		return e;
	if (n->n == 0)
		return cfg_error(c, n, p, "at least one SHA-256 digest is needed");
	for (size_t i = 0; i < n->n; i++) {
		char pi[512];
		cfg_path_index(pi, sizeof pi, p, i);
		if ((e = cfg_hex(c, n->items[i], pi, (*out)[i], SHA256_LEN, SHA256_LEN, NULL)) < 0)
			return e;
	}
	*ret_n = n->n;
	return 0;
}

static int read_tenants(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "name", "api_key_sha256", NULL };
	const struct ynode *n;
	int e = cfg_seq_alloc(c, root, "", "tenants", true, sizeof *cc->tenants, &n,
			      (void **)&cc->tenants);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "tenants", i);
		struct tenant_cfg *t = &cc->tenants[i];
		cc->n_tenants = i + 1;
		if ((e = cfg_check_keys(c, n->items[i], p, keys)) < 0 ||
		    (e = cfg_str(c, n->items[i], p, "name", true, &t->name)) < 0 ||
		    (e = read_hashes(c, n->items[i], p, "api_key_sha256", &t->key_hashes,
				     &t->n_keys)) < 0)
			return e;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cc->tenants[j].name, t->name) == 0)
				return cfg_error(c, cfg_get(n->items[i], "name"), p,
						 "duplicate tenant name '%s'", t->name);
			for (size_t a = 0; a < t->n_keys; a++)
				for (size_t b = 0; b < cc->tenants[j].n_keys; b++)
					if (memcmp(t->key_hashes[a], cc->tenants[j].key_hashes[b],
						   SHA256_LEN) == 0)
						return cfg_error(c, n->items[i], p,
								 "API key also belongs to tenant '%s'",
								 cc->tenants[j].name);
		}
	}
	return 0;
}

static int read_islands(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "heartbeat_interval", "heartbeat_timeout",
					    "hello_timeout", "tokens", NULL };
	static const char *const tok_keys[] = { "name", "token_sha256", "island_ids", NULL };
	const struct ynode *n = cfg_get(root, "islands");
	if (!n)
		return cfg_error(c, root, "islands", "required key is missing");
	const char *P = "islands";
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "heartbeat_interval", false, 100, 3600000,
				 &cc->islands.heartbeat_interval_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "heartbeat_timeout", false, 300, 86400000,
				 &cc->islands.heartbeat_timeout_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "hello_timeout", false, 100, 600000,
				 &cc->islands.hello_timeout_ms)) < 0)
		return e;
	if (cc->islands.heartbeat_timeout_ms < 2 * cc->islands.heartbeat_interval_ms)
		return cfg_error(c, cfg_get(n, "heartbeat_timeout") ? cfg_get(n, "heartbeat_timeout") : n,
				 "islands.heartbeat_timeout",
				 "must be at least twice heartbeat_interval (%lldms)",
				 (long long)cc->islands.heartbeat_interval_ms);
	const struct ynode *toks;
	if ((e = cfg_seq_alloc(c, n, P, "tokens", true, sizeof *cc->islands.tokens, &toks,
			       (void **)&cc->islands.tokens)) < 0)
		return e;
	for (size_t i = 0; i < toks->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "islands.tokens", i);
		struct island_token_cfg *t = &cc->islands.tokens[i];
		cc->islands.n_tokens = i + 1;
		const struct ynode *item = toks->items[i];
		if ((e = cfg_check_keys(c, item, p, tok_keys)) < 0 ||
		    (e = cfg_str(c, item, p, "name", true, &t->name)) < 0)
			return e;
		char pk[96];
		cfg_path(pk, sizeof pk, p, "token_sha256");
		const struct ynode *h = cfg_get(item, "token_sha256");
		if (!h)
			return cfg_error(c, item, pk, "required key is missing");
		if ((e = cfg_hex(c, h, pk, t->hash, SHA256_LEN, SHA256_LEN, NULL)) < 0)
			return e;
		/* A token names the islands it may be: one token cannot pose as
		 * another operator's island. */
		char pi[96];
		cfg_path(pi, sizeof pi, p, "island_ids");
		if ((e = cfg_str_list(c, item, p, "island_ids", true, &t->island_ids,
				      &t->n_island_ids)) < 0)
			return e;
		if (!t->n_island_ids)
			return cfg_error(c, cfg_get(item, "island_ids"), pi,
					 "at least one island id (or pattern such as \"gpu-*\") is needed");
		for (size_t k = 0; k < t->n_island_ids; k++) {
			const char *id = t->island_ids[k];
			const char *star = strchr(id, '*');
			if (!id[0] || strlen(id) > 127 || (star && star[1]))
				return cfg_error(c, cfg_get(item, "island_ids"), pi,
						 "'%s' is not an island id or a prefix ending in '*'", id);
		}
	}
	return 0;
}

static int read_workloads(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "id", "name", "backend", "model", "modes",
					    "price_per_second", "timeout", "max_attempts", NULL };
	const struct ynode *n;
	int e = cfg_seq_alloc(c, root, "", "workloads", true, sizeof *cc->workloads, &n,
			      (void **)&cc->workloads);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "workloads", i);
		struct workload_cfg *w = &cc->workloads[i];
		const struct ynode *item = n->items[i];
		cc->n_workloads = i + 1;
		uint64_t id = 0, attempts = 3;
		w->modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN);
		w->timeout_ms = 300000;
		if ((e = cfg_check_keys(c, item, p, keys)) < 0 ||
		    (e = cfg_uint(c, item, p, "id", true, 1, MAX_WORKLOAD_ID, &id)) < 0 ||
		    (e = cfg_str(c, item, p, "name", true, &w->name)) < 0 ||
		    (e = cfg_str(c, item, p, "backend", true, &w->backend)) < 0 ||
		    (e = cfg_path_value(c, item, p, "model", false, &w->model)) < 0 ||
		    (e = plugin_cfg_modes_read(c, item, p, "modes", &w->modes)) < 0 ||
		    (e = cfg_double(c, item, p, "price_per_second", false, 0, 1e9,
				    &w->price_per_second)) < 0 ||
		    (e = cfg_duration_ms(c, item, p, "timeout", false, 100, 7 * 86400000LL,
					 &w->timeout_ms)) < 0 ||
		    (e = cfg_uint(c, item, p, "max_attempts", false, 1, 100, &attempts)) < 0)
			return e;
		w->id = (uint32_t)id;
		w->max_attempts = (uint32_t)attempts;
		for (size_t j = 0; j < i; j++) {
			if (cc->workloads[j].id == w->id) {
				char pi[96];
				cfg_path(pi, sizeof pi, p, "id");
				return cfg_error(c, cfg_get(item, "id"), pi,
						 "workload id %u is already used by workloads[%zu]",
						 w->id, j);
			}
			if (strcmp(cc->workloads[j].name, w->name) == 0) {
				char pn[96];
				cfg_path(pn, sizeof pn, p, "name");
				return cfg_error(c, cfg_get(item, "name"), pn,
						 "workload name '%s' is already used by workloads[%zu]",
						 w->name, j);
			}
		}
	}
	return 0;
}

int coord_config_load(const char *path, struct coord_config **ret, char *err,
		      size_t err_size)
{
	struct cfg c = { 0 };
	struct ynode *root = NULL;
	struct coord_config *cc = calloc(1, sizeof *cc);
	int e;
	if (!cc)
		return -ENOMEM;
	/* Defaults. */
	/* One completion-queue thread per CPU, at most 4: the services work
	 * outside the core's lock, which the threads share. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cc->limits.threads = cpus < 1 ? 1 : cpus > 4 ? 4 : (uint32_t)cpus;
	cc->limits.max_message_bytes = 4u << 20;
	cc->limits.drain_timeout_ms = 10000;
	cc->limits.keepalive_time_ms = 60000;
	cc->limits.keepalive_timeout_ms = 20000;
	cc->limits.max_islands = 10000;
	cc->limits.max_queued_jobs = 1000000;
	cc->limits.max_active_jobs_per_tenant = 100000;
	cc->limits.max_watches_per_tenant = 256;
	cc->limits.max_output_bytes = 64u << 20;
	cc->limits.max_send_backlog = 8u << 20;
	cc->limits.max_streams_per_connection = 1000;
	cc->limits.memory_quota = 1ull << 30;
	cc->store.synchronous_full = true;
	cc->store.lease_ms = 5000;
	cc->islands.heartbeat_interval_ms = 5000;
	cc->islands.heartbeat_timeout_ms = 15000;
	cc->islands.hello_timeout_ms = 10000;
	coord_config_http_defaults(cc);

	if (!(cc->file = strdup(path))) {
		e = -ENOMEM;
		goto fail;
	}
	if ((e = cfg_load(&c, path, &root)) < 0)
		goto fail;
	if ((e = cfg_check_keys(&c, root, "", TOP_KEYS)) < 0 ||
	    (e = read_listen(&c, root, cc)) < 0 ||
	    (e = read_limits(&c, root, cc)) < 0 ||
	    (e = read_store(&c, root, cc)) < 0 ||
	    (e = read_tenants(&c, root, cc)) < 0 ||
	    (e = read_islands(&c, root, cc)) < 0 ||
	    (e = attest_config_read(&c, root, &cc->attest)) < 0 ||
	    (e = read_workloads(&c, root, cc)) < 0 ||
	    (e = coord_config_read_http(&c, root, cc)) < 0)
		goto fail;
	const struct ynode *keys = cfg_get(root, "keys");
	if (keys) {
		static const char *const kk[] = { "custodial", NULL };
		if ((e = cfg_check_keys(&c, keys, "keys", kk)) < 0 ||
		    (e = cfg_bool(&c, keys, "keys", "custodial", false, &cc->keys.custodial)) < 0)
			goto fail;
	}
	ynode_free(root);
	*ret = cc;
	return 0;
fail:
	if (e == -ENOMEM && !c.err[0])
		snprintf(c.err, sizeof c.err, "%s: out of memory", path);
	snprintf(err, err_size, "%s", c.err);
	ynode_free(root);
	coord_config_free(cc);
	return e;
}

void coord_config_free(struct coord_config *cc)
{
	if (!cc)
		return;
	free(cc->file);
	free(cc->listen.address);
	free(cc->listen.tls_cert);
	free(cc->listen.tls_key);
	free(cc->listen.tls_client_ca);
	free(cc->store.path);
	free(cc->store.dsn);
	for (size_t i = 0; i < cc->n_tenants; i++) {
		free(cc->tenants[i].name);
		free(cc->tenants[i].key_hashes);
	}
	free(cc->tenants);
	for (size_t i = 0; i < cc->islands.n_tokens; i++) {
		free(cc->islands.tokens[i].name);
		cfg_str_list_free(cc->islands.tokens[i].island_ids);
	}
	free(cc->islands.tokens);
	attest_config_clear(&cc->attest);
	for (size_t i = 0; i < cc->n_workloads; i++) {
		free(cc->workloads[i].name);
		free(cc->workloads[i].backend);
		free(cc->workloads[i].model);
	}
	free(cc->workloads);
	coord_config_http_free(cc);
	free(cc);
}

bool island_token_allows(const struct island_token_cfg *t, const char *id)
{
	for (size_t i = 0; i < t->n_island_ids; i++) {
		const char *p = t->island_ids[i];
		size_t n = strlen(p);
		if (n && p[n - 1] == '*' ? strncmp(p, id, n - 1) == 0 : strcmp(p, id) == 0)
			return true;
	}
	return false;
}

const struct workload_cfg *coord_config_workload(const struct coord_config *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_workloads; i++)
		if (c->workloads[i].id == id)
			return &c->workloads[i];
	return NULL;
}
