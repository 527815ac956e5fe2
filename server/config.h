/* coordinator.yaml: the schema, its defaults, and validation. The example
 * config/coordinator.yaml documents every key. */
#ifndef ATOLL_SERVER_CONFIG_H
#define ATOLL_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/status.h"
#include "attest/config.h"
#include "config/plugin_cfg.h"

#define SHA256_LEN 32

struct tenant_cfg {
	char *name;
	uint8_t (*key_hashes)[SHA256_LEN];
	size_t n_keys;
};

struct island_token_cfg {
	char *name;
	uint8_t hash[SHA256_LEN];
	/* Island ids the token may connect as: exact ids, or a prefix ending
	 * in '*' ("gpu-*"; "*" alone is any id). */
	char **island_ids; /* NULL-terminated */
	size_t n_island_ids;
};

struct workload_cfg {
	uint32_t id;
	char *name;
	char *backend;
	char *model;
	uint32_t modes; /* ATOLL_MODE_BIT() set */
	double price_per_second;
	int64_t timeout_ms;
	uint32_t max_attempts;
};

struct coord_config {
	char *file;
	struct {
		char *address;
		char *tls_cert;
		char *tls_key;
		char *tls_client_ca;
	} listen;
	struct {
		uint32_t threads;
		uint32_t max_message_bytes;
		int64_t drain_timeout_ms;
		int64_t keepalive_time_ms;
		int64_t keepalive_timeout_ms;
		uint32_t max_islands;       /* island streams, said hello or not */
		uint32_t max_queued_jobs;   /* active jobs, all tenants */
		uint32_t max_active_jobs_per_tenant;
		uint32_t max_watches_per_tenant;
		uint64_t max_output_bytes;  /* of one job */
		uint64_t max_send_backlog;  /* bytes waiting on one call */
		uint32_t max_streams_per_connection;
		uint64_t memory_quota;      /* gRPC's buffers, 0: none */
	} limits;
	struct {
		int driver; /* enum store_driver: 0 sqlite, 1 postgres */
		char *path;
		bool synchronous_full;
		char *dsn;          /* postgres */
		int64_t lease_ms;   /* postgres: how long a claimed job stays ours unrenewed */
	} store;
	struct tenant_cfg *tenants;
	size_t n_tenants;
	struct {
		int64_t heartbeat_interval_ms;
		int64_t heartbeat_timeout_ms;
		int64_t hello_timeout_ms; /* a stream must say hello within it */
		struct island_token_cfg *tokens;
		size_t n_tokens;
	} islands;
	struct {
		bool custodial;
	} keys;
	/* Verifier drivers and the attestation policy (lib/attest). */
	struct attest_config attest;
	struct workload_cfg *workloads;
	size_t n_workloads;
	/* The HTTP/JSON gateway and /metrics (config_http.c); off when
	 * address is NULL. */
	struct {
		char *address;
		char *tls_cert, *tls_key;
		uint32_t max_body_bytes;
		uint32_t max_connections;
		int64_t idle_timeout_ms;
		int64_t sse_keepalive_ms;
	} http;
};

/* Load and validate. On failure err holds "file:line:col: key.path: what". */
int coord_config_load(const char *path, struct coord_config **ret, char *err,
		      size_t err_size);
void coord_config_free(struct coord_config *c);

const struct workload_cfg *coord_config_workload(const struct coord_config *c, uint32_t id);
/* May a stream with this token say it is island id? */
bool island_token_allows(const struct island_token_cfg *t, const char *id);

/* The `http:` section (config_http.c). */
struct cfg;
struct ynode;
void coord_config_http_defaults(struct coord_config *cc);
int coord_config_read_http(struct cfg *c, const struct ynode *root, struct coord_config *cc);
void coord_config_http_free(struct coord_config *cc);

#endif
