/* proxy.yaml: where the proxy listens, which coordinator it talks to and
 * how, the keystore, the client's policy, limits. config/proxy.yaml
 * documents every key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "proxy.h"

static int read_listen(struct cfg *c, const struct ynode *root, struct proxy_config *pc)
{
	static const char *const keys[] = { "address", "allow_remote", "tls", NULL };
	static const char *const tls_keys[] = { "cert", "key", NULL };
	const struct ynode *n = cfg_get(root, "listen");
	if (!n)
		return 0;
	int e;
	if ((e = cfg_check_keys(c, n, "listen", keys)) < 0 ||
	    (e = cfg_str(c, n, "listen", "address", false, &pc->listen.address)) < 0 ||
	    (e = cfg_bool(c, n, "listen", "allow_remote", false, &pc->listen.allow_remote)) < 0)
		return e;
	const struct ynode *tls = cfg_get(n, "tls");
	if (tls && ((e = cfg_check_keys(c, tls, "listen.tls", tls_keys)) < 0 ||
		    (e = cfg_path_value(c, tls, "listen.tls", "cert", true, &pc->listen.tls_cert)) < 0 ||
		    (e = cfg_path_value(c, tls, "listen.tls", "key", true, &pc->listen.tls_key)) < 0))
		return e;
	return 0;
}

static int read_coordinator(struct cfg *c, const struct ynode *root, struct proxy_config *pc)
{
	static const char *const keys[] = { "address", "api_key", "tls", "timeout", NULL };
	static const char *const tls_keys[] = { "ca", "cert", "key", "server_name", NULL };
	const struct ynode *n = cfg_get(root, "coordinator");
	if (!n)
		return cfg_error(c, root, "coordinator", "required key is missing");
	const char *P = "coordinator";
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_str(c, n, P, "address", true, &pc->coordinator.address)) < 0 ||
	    (e = cfg_str(c, n, P, "api_key", false, &pc->coordinator.api_key)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "timeout", false, 100, 3600000,
				 &pc->coordinator.timeout_ms)) < 0)
		return e;
	const struct ynode *tls = cfg_get(n, "tls");
	if (tls) {
		const char *T = "coordinator.tls";
		if ((e = cfg_check_keys(c, tls, T, tls_keys)) < 0 ||
		    (e = cfg_path_value(c, tls, T, "ca", true, &pc->coordinator.tls_ca)) < 0 ||
		    (e = cfg_path_value(c, tls, T, "cert", false, &pc->coordinator.tls_cert)) < 0 ||
		    (e = cfg_path_value(c, tls, T, "key", false, &pc->coordinator.tls_key)) < 0 ||
		    (e = cfg_str(c, tls, T, "server_name", false,
				 &pc->coordinator.tls_server_name)) < 0)
			return e;
		if (!pc->coordinator.tls_cert != !pc->coordinator.tls_key)
			return cfg_error(c, tls, T, "cert and key go together (mTLS)");
	}
	return 0;
}

static int read_limits(struct cfg *c, const struct ynode *root, struct proxy_config *pc)
{
	static const char *const keys[] = { "max_body_bytes", "max_connections", "sse_keepalive",
					    "paillier_bits", NULL };
	const struct ynode *n = cfg_get(root, "limits");
	if (!n)
		return 0;
	const char *P = "limits";
	uint64_t v;
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0)
		return e;
	v = pc->limits.max_body_bytes;
	if ((e = cfg_uint(c, n, P, "max_body_bytes", false, 1024, 1u << 30, &v)) < 0)
		return e;
	pc->limits.max_body_bytes = (uint32_t)v;
	v = pc->limits.max_connections;
	if ((e = cfg_uint(c, n, P, "max_connections", false, 1, 65536, &v)) < 0)
		return e;
	pc->limits.max_connections = (uint32_t)v;
	v = pc->limits.paillier_bits;
	if ((e = cfg_uint(c, n, P, "paillier_bits", false, 2048, 4096, &v)) < 0)
		return e;
	if (v != 2048 && v != 3072 && v != 4096)
		return cfg_error(c, cfg_get(n, "paillier_bits"), "limits.paillier_bits",
				 "expected 2048, 3072 or 4096, found %llu", (unsigned long long)v);
	pc->limits.paillier_bits = (uint32_t)v;
	return cfg_duration_ms(c, n, P, "sse_keepalive", false, 100, 3600000,
			       &pc->limits.sse_keepalive_ms);
}

int proxy_config_load(const char *path, struct proxy_config **ret, char *err, size_t err_size)
{
	static const char *const top[] = { "listen", "coordinator", "keystore", "policy", "limits",
					   NULL };
	struct cfg c = { 0 };
	struct ynode *root = NULL;
	struct proxy_config *pc = calloc(1, sizeof *pc);
	int e;
	if (!pc)
		return -ENOMEM;
	pc->coordinator.timeout_ms = 30000;
	pc->limits.max_body_bytes = 16u << 20;
	pc->limits.max_connections = 64;
	pc->limits.sse_keepalive_ms = 15000;
	pc->limits.paillier_bits = 3072;
	if (!(pc->file = strdup(path))) {
		e = -ENOMEM;
		goto fail;
	}
	if ((e = cfg_load(&c, path, &root)) < 0 || (e = cfg_check_keys(&c, root, "", top)) < 0 ||
	    (e = read_listen(&c, root, pc)) < 0 || (e = read_coordinator(&c, root, pc)) < 0 ||
	    (e = cfg_path_value(&c, root, "", "keystore", false, &pc->keystore)) < 0 ||
	    (e = cfg_path_value(&c, root, "", "policy", false, &pc->policy)) < 0 ||
	    (e = read_limits(&c, root, pc)) < 0)
		goto fail;
	if (!pc->listen.address && !(pc->listen.address = strdup("127.0.0.1:8787"))) {
		e = -ENOMEM;
		goto fail;
	}
	ynode_free(root);
	*ret = pc;
	return 0;
fail:
	if (e == -ENOMEM && !c.err[0])
		snprintf(c.err, sizeof c.err, "%s: out of memory", path);
	snprintf(err, err_size, "%s", c.err);
	ynode_free(root);
	proxy_config_free(pc);
	return e;
}

void proxy_config_free(struct proxy_config *pc)
{
	if (!pc)
		return;
	free(pc->file);
	free(pc->listen.address);
	free(pc->listen.tls_cert);
	free(pc->listen.tls_key);
	free(pc->coordinator.address);
	free(pc->coordinator.api_key);
	free(pc->coordinator.tls_ca);
	free(pc->coordinator.tls_cert);
	free(pc->coordinator.tls_key);
	free(pc->coordinator.tls_server_name);
	free(pc->keystore);
	free(pc->policy);
	free(pc);
}
