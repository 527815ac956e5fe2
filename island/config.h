/* island.yaml: read by both the island host (its `island`, `coordinator`
 * and `shutdown` sections) and the enclave runtime (its `enclave`
 * section). config/island.yaml documents every key. */
#ifndef ATOLL_ISLAND_CONFIG_H
#define ATOLL_ISLAND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/plugin_cfg.h"

struct island_workload {
	uint32_t id;
	char *backend;
	/* Model files, absolute: `model: path`, or `models: [path, ...]` for a
	 * backend that takes several (ocr: one tessdata file per language).
	 * Each reaches init() as its own "model" entry. */
	char **models;
	size_t n_models;
	uint32_t modes; /* ATOLL_MODE_BIT()s */
	atoll_kv *options;
	size_t n_options;
};

struct island_config {
	char *id;
	uint32_t slots;
	struct {
		char *address;     /* the first of addresses */
		char **addresses;  /* tried in order (NULL-terminated) */
		size_t n_addresses;
		char *token;
		char *tls_ca;
		char *tls_cert;
		char *tls_key;
		char *tls_server_name;
		int64_t reconnect_min_ms;
		int64_t reconnect_max_ms;
		int64_t connect_timeout_ms; /* one address, before the next is tried */
	} coordinator;
	struct {
		char *path; /* the atoll-enclave program */
		uint32_t max_frame_bytes;
		int64_t start_timeout_ms;
		bool has_driver;
		struct plugin_cfg driver;
		struct plugin_cfg *backends;
		size_t n_backends;
		struct island_workload *workloads;
		size_t n_workloads;
	} enclave;
	int64_t shutdown_grace_ms;
};

int island_config_load(const char *path, struct island_config **ret, char *err, size_t err_size);
void island_config_free(struct island_config *c);

#endif
