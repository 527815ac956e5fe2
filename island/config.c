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

static int read_transport(struct cfg *c, const struct ynode *n, struct island_config *ic)
{
	const char *P = "enclave";
	char *kind = NULL;
	int e = cfg_str(c, n, P, "transport", false, &kind);
	if (e < 0)
		return e;
	ic->enclave.transport = TRANSPORT_CHILD;
	if (kind && transport_kind_parse(kind, &ic->enclave.transport) < 0) {
		e = cfg_error(c, cfg_get(n, "transport"), "enclave.transport",
			      "'%s' is not child, vsock, unix or tcp", kind);
		free(kind);
		return e;
	}
	free(kind);
	struct transport_addr *a = &ic->enclave.addr;
	a->kind = ic->enclave.transport;
	/* Keys of the other transports would be silently ignored: refuse. */
	static const char *const only[][3] = { { "cid", "vsock", "vsock" },
					       { "port", "vsock", "tcp" },
					       { "address", "tcp", "tcp" },
					       { "socket", "unix", "unix" },
					       { "path", "child", "child" } };
	for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
		const struct ynode *k = cfg_get(n, only[i][0]);
		const char *kn = transport_kind_name(a->kind);
		if (k && strcmp(kn, only[i][1]) != 0 && strcmp(kn, only[i][2]) != 0) {
			char pk[64];
			cfg_path(pk, sizeof pk, P, only[i][0]);
			return cfg_error(c, k, pk, "only used with transport: %s%s%s", only[i][1],
					 strcmp(only[i][1], only[i][2]) ? " or " : "",
					 strcmp(only[i][1], only[i][2]) ? only[i][2] : "");
		}
	}
	if (a->kind == TRANSPORT_VSOCK) {
		uint64_t cid = 0, port = 0;
		/* CIDs 0 and 2^32-1 are the hypervisor's and "any"; 1 is the
		 * local loopback, 2 the host, 3 and up guests and enclaves. */
		if ((e = cfg_uint(c, n, P, "cid", true, 1, 0xfffffffeu, &cid)) < 0 ||
		    (e = cfg_uint(c, n, P, "port", true, 1, 0xfffffffeu, &port)) < 0)
			return e;
		a->cid = (uint32_t)cid;
		a->port = (uint32_t)port;
	} else if (a->kind == TRANSPORT_TCP) {
		char *addr = NULL, spec[96], why[160];
		uint64_t port = 0;
		if ((e = cfg_str(c, n, P, "address", true, &addr)) < 0 ||
		    (e = cfg_uint(c, n, P, "port", true, 1, 65535, &port)) < 0) {
			free(addr);
			return e;
		}
		snprintf(spec, sizeof spec, "tcp:%.40s:%u", addr, (unsigned)port);
		free(addr);
		if (transport_parse(spec, a, why, sizeof why) < 0)
			return cfg_error(c, cfg_get(n, "address"), "enclave.address",
					 "expected an IPv4 address, e.g. 127.0.0.1");
	} else if (a->kind == TRANSPORT_UNIX) {
		char *sock = NULL;
		if ((e = cfg_path_value(c, n, P, "socket", true, &sock)) < 0)
			return e;
		if (strlen(sock) >= sizeof a->path) {
			e = cfg_error(c, cfg_get(n, "socket"), "enclave.socket",
				      "longer than %zu bytes", sizeof a->path - 1);
			free(sock);
			return e;
		}
		snprintf(a->path, sizeof a->path, "%s", sock);
		free(sock);
	}
	return 0;
}

/* driver: {name, path, config}, driver: none, or neither (probe
 * driver_dir, with driver_config per driver). */
static int read_driver(struct cfg *c, const struct ynode *n, struct island_config *ic)
{
	const char *P = "enclave";
	const struct ynode *drv = cfg_get(n, "driver");
	const struct ynode *dc = cfg_get(n, "driver_config");
	int e;
	if (drv && drv->type == YNODE_SCALAR) {
		if (strcmp(drv->scalar, "none") != 0)
			return cfg_error(c, drv, "enclave.driver",
					 "expected a driver stanza {name, path, config} or none");
		ic->enclave.no_tee = true;
	} else if (drv) {
		if ((e = plugin_cfg_read(c, drv, "enclave.driver", &ic->enclave.driver, NULL)) < 0)
			return e;
		ic->enclave.has_driver = true;
	}
	if (drv && (cfg_get(n, "driver_dir") || dc)) {
		const char *k = cfg_get(n, "driver_dir") ? "driver_dir" : "driver_config";
		char pk[64];
		cfg_path(pk, sizeof pk, P, k);
		return cfg_error(c, cfg_get(n, k), pk,
				 "only used when no driver is named (drivers are then probed)");
	}
	if (drv)
		return 0;
	if ((e = cfg_path_value(c, n, P, "driver_dir", false, &ic->enclave.driver_dir)) < 0)
		return e;
	if (!ic->enclave.driver_dir && !(ic->enclave.driver_dir = strdup(ATOLL_DRIVER_DIR)))
		return -ENOMEM;
	if (!dc)
		return 0;
	if (dc->type != YNODE_MAP)
		return cfg_error(c, dc, "enclave.driver_config",
				 "expected a mapping of driver names to their config");
	if (!(ic->enclave.driver_config = calloc(dc->n + 1, sizeof *ic->enclave.driver_config)))
		return -ENOMEM;
	for (size_t i = 0; i < dc->n; i++) {
		struct island_driver_config *d = &ic->enclave.driver_config[i];
		char pk[160];
		cfg_path(pk, sizeof pk, "enclave.driver_config", dc->keys[i]->scalar);
		ic->enclave.n_driver_config = i + 1;
		if (!(d->name = strdup(dc->keys[i]->scalar)))
			return -ENOMEM;
		if ((e = kv_map_read(c, dc->items[i], pk, &d->config, &d->n_config)) < 0)
			return e;
	}
	return 0;
}

static int read_enclave(struct cfg *c, const struct ynode *root, unsigned what,
			struct island_config *ic)
{
	static const char *const keys[] = { "transport", "path", "cid", "port", "socket", "address",
					    "max_frame_bytes", "start_timeout", "driver",
					    "driver_dir", "driver_config", "backends", "workloads",
					    NULL };
	const struct ynode *n = cfg_get(root, "enclave");
	const char *P = "enclave";
	if (!n)
		return cfg_error(c, root, P, "required key is missing");
	uint64_t max_frame = 64u << 20;
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 || (e = read_transport(c, n, ic)) < 0 ||
	    (e = cfg_path_value(c, n, P, "path",
				(what & ISLAND_CFG_HOST) && ic->enclave.transport == TRANSPORT_CHILD,
				&ic->enclave.path)) < 0 ||
	    (e = cfg_uint(c, n, P, "max_frame_bytes", false, 4096, 1u << 30, &max_frame)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "start_timeout", false, 100, 600000,
				 &ic->enclave.start_timeout_ms)) < 0 ||
	    (e = read_driver(c, n, ic)) < 0)
		return e;
	ic->enclave.max_frame_bytes = (uint32_t)max_frame;
	/* A child runtime reads this very file, so its host checks it all. */
	bool required = (what & ISLAND_CFG_ENCLAVE) || ic->enclave.transport == TRANSPORT_CHILD;
	const struct ynode *bes = NULL, *wls = NULL;
	if ((e = cfg_seq_alloc(c, n, P, "backends", required, sizeof *ic->enclave.backends, &bes,
			       (void **)&ic->enclave.backends)) < 0)
		return e;
	for (size_t i = 0; bes && i < bes->n; i++) {
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
	if ((e = cfg_seq_alloc(c, n, P, "workloads", required, sizeof *ic->enclave.workloads, &wls,
			       (void **)&ic->enclave.workloads)) < 0)
		return e;
	for (size_t i = 0; wls && i < wls->n; i++) {
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

int island_config_load(const char *path, unsigned what, struct island_config **ret, char *err,
		       size_t err_size)
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
	    ((what & ISLAND_CFG_HOST) &&
	     ((e = read_island(&c, root, ic)) < 0 || (e = read_coordinator(&c, root, ic)) < 0)) ||
	    (e = read_enclave(&c, root, what, ic)) < 0)
		goto fail;
	const struct ynode *sd = cfg_get(root, "shutdown");
	if (sd && (what & ISLAND_CFG_HOST)) {
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
	free(ic->enclave.driver_dir);
	for (size_t i = 0; i < ic->enclave.n_driver_config; i++) {
		free(ic->enclave.driver_config[i].name);
		kv_list_free(ic->enclave.driver_config[i].config, ic->enclave.driver_config[i].n_config);
	}
	free(ic->enclave.driver_config);
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

const struct island_driver_config *island_driver_config(const struct island_config *ic,
							const char *name)
{
	for (size_t i = 0; i < ic->enclave.n_driver_config; i++)
		if (strcmp(ic->enclave.driver_config[i].name, name) == 0)
			return &ic->enclave.driver_config[i];
	return NULL;
}
