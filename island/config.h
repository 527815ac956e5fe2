/* island.yaml: read by both the island host (its `island`, `coordinator`
 * and `shutdown` sections) and the enclave runtime (its `enclave`
 * section). config/island.yaml documents every key. */
#ifndef ATOLL_ISLAND_CONFIG_H
#define ATOLL_ISLAND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/plugin_cfg.h"
#include "transport.h"

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

/* driver_config.<name>: the config of a driver found by probing. */
struct island_driver_config {
	char *name;
	atoll_kv *config;
	size_t n_config;
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
		/* How the host reaches the runtime: a child it starts (path),
		 * or a runtime listening on vsock or a Unix socket (addr). */
		enum transport_kind transport;
		struct transport_addr addr;
		char *path; /* the atoll-enclave program (transport child) */
		uint32_t max_frame_bytes;
		int64_t start_timeout_ms;
		/* A named driver (has_driver), no TEE at all (no_tee: `driver:
		 * none`), or else every driver in driver_dir is probed, each
		 * with its entry of driver_config. */
		bool has_driver;
		bool no_tee;
		struct plugin_cfg driver;
		char *driver_dir;
		struct island_driver_config *driver_config;
		size_t n_driver_config;
		struct plugin_cfg *backends;
		size_t n_backends;
		struct island_workload *workloads;
		size_t n_workloads;
	} enclave;
	int64_t shutdown_grace_ms;
};

/* What a program reads. ISLAND_CFG_HOST: the island and coordinator
 * sections (required) and the enclave section's transport. Without it
 * those sections are skipped, so that a standalone enclave runtime never
 * needs the island token. ISLAND_CFG_ENCLAVE: the enclave's backends and
 * workloads are required; the host requires them only for a child
 * runtime, which reads the same file. */
#define ISLAND_CFG_HOST 1u
#define ISLAND_CFG_ENCLAVE 2u

int island_config_load(const char *path, unsigned what, struct island_config **ret, char *err,
		       size_t err_size);
/* driver_config for a driver name, or NULL. */
const struct island_driver_config *island_driver_config(const struct island_config *ic,
							const char *name);
void island_config_free(struct island_config *c);

#endif
