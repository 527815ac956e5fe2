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
		uint32_t max_islands;
		uint32_t max_queued_jobs;
	} limits;
	struct {
		char *path;
		bool synchronous_full;
	} store;
	struct tenant_cfg *tenants;
	size_t n_tenants;
	struct {
		int64_t heartbeat_interval_ms;
		int64_t heartbeat_timeout_ms;
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

/* The `http:` section (config_http.c). */
struct cfg;
struct ynode;
void coord_config_http_defaults(struct coord_config *cc);
int coord_config_read_http(struct cfg *c, const struct ynode *root, struct coord_config *cc);
void coord_config_http_free(struct coord_config *cc);

#endif
