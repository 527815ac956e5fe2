/* island.yaml: reading and validating every section. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "atoll/mode.h"
#include "config/cfg.h"
#include "util/fsutil.h"

static int read_island(struct cfg *c, const struct ynode *root, struct island_config *ic)
{
	static const char *const keys[] = { "id", "slots", NULL };
	const struct ynode *n = cfg_get(root, "island");
	if (!n)
		return cfg_error(c, root, "island", "required key is missing");
	uint64_t slots = 1;
	int e;
	if ((e = cfg_check_keys(c, n, "island", keys)) < 0 ||
	    (e = cfg_str(c, n, "island", "id", true, &ic->id)) < 0 ||
	    (e = cfg_uint(c, n, "island", "slots", false, 1, 1024, &slots)) < 0)
		return e;
	ic->slots = (uint32_t)slots;
	return 0;
}

static int read_token_file(struct cfg *c, const struct ynode *n, const char *path, char **out)
{
	uint8_t *data;
	size_t len;
	int e = fs_read_file(path, 4096, &data, &len);
	if (e < 0)
		return cfg_error(c, cfg_get(n, "token_file"), "coordinator.token_file",
				 "cannot read %s: %s", path, strerror(-e));
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = 0;
	if (len == 0 || strlen((char *)data) != len) {
		free(data);
		return cfg_error(c, cfg_get(n, "token_file"), "coordinator.token_file",
				 "%s holds no token", path);
	}
	*out = (char *)data;
	return 0;
}

static int read_coordinator(struct cfg *c, const struct ynode *root, struct island_config *ic)
{
	static const char *const keys[] = { "address", "addresses", "token", "token_file", "tls",
					    "reconnect_min", "reconnect_max", "connect_timeout",
					    NULL };
	static const char *const tls_keys[] = { "ca", "cert", "key", "server_name", NULL };
	const struct ynode *n = cfg_get(root, "coordinator");
	const char *P = "coordinator";
	if (!n)
		return cfg_error(c, root, P, "required key is missing");
	int e;
	char *token_file = NULL;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0)
		goto out;
	/* One coordinator (address), or several tried in order (addresses). */
	if (!cfg_get(n, "address") == !cfg_get(n, "addresses")) {
		e = cfg_error(c, n, P, "exactly one of address and addresses is needed");
		goto out;
	}
	if (cfg_get(n, "address")) {
		if ((e = cfg_str(c, n, P, "address", true, &ic->coordinator.address)) < 0)
			goto out;
		if (!(ic->coordinator.addresses = calloc(2, sizeof (char *))) ||
		    !(ic->coordinator.addresses[0] = strdup(ic->coordinator.address))) {
			e = -ENOMEM;
			goto out;
		}
		ic->coordinator.n_addresses = 1;
	} else {
		const struct ynode *a = cfg_get(n, "addresses");
		if ((e = cfg_str_list(c, n, P, "addresses", true, &ic->coordinator.addresses,
				      &ic->coordinator.n_addresses)) < 0)
			goto out;
		if (!ic->coordinator.n_addresses || ic->coordinator.n_addresses > 64) {
			e = cfg_error(c, a, "coordinator.addresses", "one to 64 addresses are needed");
			goto out;
		}
		for (size_t i = 0; i < ic->coordinator.n_addresses; i++) {
			if (!ic->coordinator.addresses[i][0]) {
				e = cfg_error(c, a, "coordinator.addresses", "address %zu is empty", i);
				goto out;
			}
		}
		if (!(ic->coordinator.address = strdup(ic->coordinator.addresses[0]))) {
			e = -ENOMEM;
			goto out;
		}
	}
	if ((e = cfg_str(c, n, P, "token", false, &ic->coordinator.token)) < 0 ||
	    (e = cfg_path_value(c, n, P, "token_file", false, &token_file)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "reconnect_min", false, 10, 600000,
				 &ic->coordinator.reconnect_min_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "reconnect_max", false, 10, 3600000,
				 &ic->coordinator.reconnect_max_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "connect_timeout", false, 100, 600000,
				 &ic->coordinator.connect_timeout_ms)) < 0)
		goto out;
	if (!ic->coordinator.token == !token_file) {
		e = cfg_error(c, n, P, "exactly one of token and token_file is needed");
		goto out;
	}
	if (token_file && (e = read_token_file(c, n, token_file, &ic->coordinator.token)) < 0)
		goto out;
	if (ic->coordinator.reconnect_max_ms < ic->coordinator.reconnect_min_ms) {
		e = cfg_error(c, cfg_get(n, "reconnect_max"), "coordinator.reconnect_max",
			      "must not be below reconnect_min");
		goto out;
	}
	const struct ynode *tls = cfg_get(n, "tls");
	if (tls &&
	    ((e = cfg_check_keys(c, tls, "coordinator.tls", tls_keys)) < 0 ||
	     (e = cfg_path_value(c, tls, "coordinator.tls", "ca", true, &ic->coordinator.tls_ca)) < 0 ||
	     (e = cfg_path_value(c, tls, "coordinator.tls", "cert", false,
				 &ic->coordinator.tls_cert)) < 0 ||
	     (e = cfg_path_value(c, tls, "coordinator.tls", "key", false,
				 &ic->coordinator.tls_key)) < 0 ||
	     (e = cfg_str(c, tls, "coordinator.tls", "server_name", false,
			  &ic->coordinator.tls_server_name)) < 0))
		goto out;
out:
	free(token_file);
	return e;
}

/* `model: path` or `models: [path, ...]` (not both), made absolute. */
static int read_models(struct cfg *c, const struct ynode *n, const char *p,
		       struct island_workload *w)
{
	const struct ynode *one = cfg_get(n, "model"), *many = cfg_get(n, "models");
	char pk[256];
	int e;
	if (one && many) {
		cfg_path(pk, sizeof pk, p, "models");
		return cfg_error(c, many, pk, "give model or models, not both");
	}
	if (one) {
		if (!(w->models = calloc(2, sizeof *w->models)))
			return -ENOMEM;
		if ((e = cfg_path_value(c, n, p, "model", false, &w->models[0])) < 0)
			return e;
		w->n_models = 1;
		return 0;
	}
	if (!many)
		return 0;
	cfg_path(pk, sizeof pk, p, "models");
	if (many->type != YNODE_SEQ || many->n == 0)
		return cfg_error(c, many, pk, "expected a non-empty list of model files");
	if (!(w->models = calloc(many->n + 1, sizeof *w->models)))
		return -ENOMEM;
	for (size_t i = 0; i < many->n; i++) {
		const struct ynode *item = many->items[i];
		char pi[280];
		cfg_path_index(pi, sizeof pi, pk, i);
		if (item->type != YNODE_SCALAR || !item->scalar[0])
			return cfg_error(c, item, pi, "expected a file path");
		if (item->scalar[0] == '/')
			w->models[i] = strdup(item->scalar);
		else if (asprintf(&w->models[i], "%s/%s", c->dir, item->scalar) < 0)
			w->models[i] = NULL;
		if (!w->models[i])
			return -ENOMEM;
		w->n_models = i + 1;
	}
	return 0;
}

static int read_workload(struct cfg *c, const struct ynode *n, const char *p,
			 struct island_workload *w)
{
	static const char *const keys[] = { "id", "backend", "model", "models", "modes", "options",
					    NULL };
	uint64_t id = 0;
	int e;
	w->modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN);
	if ((e = cfg_check_keys(c, n, p, keys)) < 0 ||
	    (e = cfg_uint(c, n, p, "id", true, 1, 0xffffffffu, &id)) < 0 ||
	    (e = cfg_str(c, n, p, "backend", true, &w->backend)) < 0 ||
	    (e = read_models(c, n, p, w)) < 0 ||
	    (e = plugin_cfg_modes_read(c, n, p, "modes", &w->modes)) < 0)
		return e;
	w->id = (uint32_t)id;
	const struct ynode *opts = cfg_get(n, "options");
	if (opts) {
		char po[256];
		cfg_path(po, sizeof po, p, "options");
		if ((e = kv_map_read(c, opts, po, &w->options, &w->n_options)) < 0)
			return e;
	}
	return 0;
}

static int read_enclave(struct cfg *c, const struct ynode *root, struct island_config *ic)
{
	static const char *const keys[] = { "path", "max_frame_bytes", "start_timeout", "driver",
					    "backends", "workloads", NULL };
	const struct ynode *n = cfg_get(root, "enclave");
	const char *P = "enclave";
	if (!n)
		return cfg_error(c, root, P, "required key is missing");
	uint64_t max_frame = 64u << 20;
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_path_value(c, n, P, "path", true, &ic->enclave.path)) < 0 ||
	    (e = cfg_uint(c, n, P, "max_frame_bytes", false, 4096, 1u << 30, &max_frame)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "start_timeout", false, 100, 600000,
				 &ic->enclave.start_timeout_ms)) < 0)
		return e;
	ic->enclave.max_frame_bytes = (uint32_t)max_frame;
	const struct ynode *drv = cfg_get(n, "driver");
	if (drv) {
		if ((e = plugin_cfg_read(c, drv, "enclave.driver", &ic->enclave.driver, NULL)) < 0)
			return e;
		ic->enclave.has_driver = true;
	}
	const struct ynode *bes, *wls;
	if ((e = cfg_seq_alloc(c, n, P, "backends", true, sizeof *ic->enclave.backends, &bes,
			       (void **)&ic->enclave.backends)) < 0)
		return e;
	for (size_t i = 0; i < bes->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "enclave.backends", i);
		if ((e = plugin_cfg_read(c, bes->items[i], p, &ic->enclave.backends[i], NULL)) < 0)
			return e;
		ic->enclave.n_backends = i + 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(ic->enclave.backends[j].name, ic->enclave.backends[i].name) == 0) {
				char pn[96];
				cfg_path(pn, sizeof pn, p, "name");
				return cfg_error(c, cfg_get(bes->items[i], "name"), pn,
						 "backend '%s' is already configured (%s[%zu])",
						 ic->enclave.backends[i].name, "enclave.backends", j);
			}
	}
	if ((e = cfg_seq_alloc(c, n, P, "workloads", true, sizeof *ic->enclave.workloads, &wls,
			       (void **)&ic->enclave.workloads)) < 0)
		return e;
	for (size_t i = 0; i < wls->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "enclave.workloads", i);
		struct island_workload *w = &ic->enclave.workloads[i];
		ic->enclave.n_workloads = i + 1;
		if ((e = read_workload(c, wls->items[i], p, w)) < 0)
			return e;
		bool known = false;
		for (size_t k = 0; k < ic->enclave.n_backends; k++)
			if (strcmp(ic->enclave.backends[k].name, w->backend) == 0)
				known = true;
		if (!known) {
			char pb[96];
			cfg_path(pb, sizeof pb, p, "backend");
			return cfg_error(c, cfg_get(wls->items[i], "backend"), pb,
					 "no backend named '%s' in enclave.backends", w->backend);
		}
		/* One workload may run on different backends in different modes
		 * (e.g. linear for plain and tee, paillier for homomorphic). */
		for (size_t j = 0; j < i; j++)
			if (ic->enclave.workloads[j].id == w->id &&
			    (ic->enclave.workloads[j].modes & w->modes)) {
				char pm[96];
				cfg_path(pm, sizeof pm, p, "modes");
				return cfg_error(c, cfg_get(wls->items[i], "modes") ? cfg_get(wls->items[i], "modes")
										 : wls->items[i],
						 pm, "workload %u already has a backend for one of these modes "
						 "(enclave.workloads[%zu])", w->id, j);
			}
	}
	return 0;
}

int island_config_load(const char *path, struct island_config **ret, char *err, size_t err_size)
{
	static const char *const top[] = { "island", "coordinator", "enclave", "shutdown", NULL };
	struct cfg c = { 0 };
	struct ynode *root = NULL;
	struct island_config *ic = calloc(1, sizeof *ic);
	int e;
	if (!ic)
		return -ENOMEM;
	ic->coordinator.reconnect_min_ms = 200;
	ic->coordinator.reconnect_max_ms = 30000;
	ic->coordinator.connect_timeout_ms = 2000;
	ic->enclave.start_timeout_ms = 30000;
	ic->shutdown_grace_ms = 30000;
	if ((e = cfg_load(&c, path, &root)) < 0 ||
	    (e = cfg_check_keys(&c, root, "", top)) < 0 ||
	    (e = read_island(&c, root, ic)) < 0 ||
	    (e = read_coordinator(&c, root, ic)) < 0 ||
	    (e = read_enclave(&c, root, ic)) < 0)
		goto fail;
	const struct ynode *sd = cfg_get(root, "shutdown");
	if (sd) {
		static const char *const sk[] = { "grace", NULL };
		if ((e = cfg_check_keys(&c, sd, "shutdown", sk)) < 0 ||
		    (e = cfg_duration_ms(&c, sd, "shutdown", "grace", false, 0, 86400000,
					 &ic->shutdown_grace_ms)) < 0)
			goto fail;
	}
	ynode_free(root);
	*ret = ic;
	return 0;
fail:
	snprintf(err, err_size, "%s", c.err[0] ? c.err : "out of memory");
	ynode_free(root);
	island_config_free(ic);
	return e;
}

void island_config_free(struct island_config *ic)
{
	if (!ic)
		return;
	free(ic->id);
	free(ic->coordinator.address);
	cfg_str_list_free(ic->coordinator.addresses);
	if (ic->coordinator.token)
		OPENSSL_cleanse(ic->coordinator.token, strlen(ic->coordinator.token));
	free(ic->coordinator.token);
	free(ic->coordinator.tls_ca);
	free(ic->coordinator.tls_cert);
	free(ic->coordinator.tls_key);
	free(ic->coordinator.tls_server_name);
	free(ic->enclave.path);
	plugin_cfg_clear(&ic->enclave.driver);
	for (size_t i = 0; i < ic->enclave.n_backends; i++)
		plugin_cfg_clear(&ic->enclave.backends[i]);
	free(ic->enclave.backends);
	for (size_t i = 0; i < ic->enclave.n_workloads; i++) {
		free(ic->enclave.workloads[i].backend);
		for (size_t k = 0; k < ic->enclave.workloads[i].n_models; k++)
			free(ic->enclave.workloads[i].models[k]);
		free(ic->enclave.workloads[i].models);
		kv_list_free(ic->enclave.workloads[i].options, ic->enclave.workloads[i].n_options);
	}
	free(ic->enclave.workloads);
	free(ic);
}
