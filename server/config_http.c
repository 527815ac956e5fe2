/* coordinator.yaml's optional `http:` section: the HTTP/JSON gateway and
 * /metrics listener (server/http). Kept apart from config.c so that the
 * gateway's keys live in one place. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

void coord_config_http_defaults(struct coord_config *cc)
{
	cc->http.max_body_bytes = 1u << 20;
	cc->http.max_connections = 256;
	cc->http.idle_timeout_ms = 60000;
	cc->http.sse_keepalive_ms = 15000;
}

int coord_config_read_http(struct cfg *c, const struct ynode *root, struct coord_config *cc)
{
	static const char *const keys[] = { "address",	   "max_body_bytes", "max_connections",
					    "idle_timeout", "sse_keepalive", "tls",
					    NULL };
	static const char *const tls_keys[] = { "cert", "key", NULL };
	const struct ynode *n = cfg_get(root, "http");
	if (!n)
		return 0;
	const char *P = "http";
	uint64_t v;
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_str(c, n, P, "address", true, &cc->http.address)) < 0)
		return e;
	if (!strchr(cc->http.address, ':'))
		return cfg_error(c, cfg_get(n, "address"), "http.address",
				 "expected host:port, found '%s'", cc->http.address);
	v = cc->http.max_body_bytes;
	if ((e = cfg_uint(c, n, P, "max_body_bytes", false, 1024, 1u << 30, &v)) < 0)
		return e;
	cc->http.max_body_bytes = (uint32_t)v;
	v = cc->http.max_connections;
	if ((e = cfg_uint(c, n, P, "max_connections", false, 1, 65536, &v)) < 0)
		return e;
	cc->http.max_connections = (uint32_t)v;
	if ((e = cfg_duration_ms(c, n, P, "idle_timeout", false, 1000, 3600000,
				 &cc->http.idle_timeout_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "sse_keepalive", false, 100, 3600000,
				 &cc->http.sse_keepalive_ms)) < 0)
		return e;
	const struct ynode *tls = cfg_get(n, "tls");
	if (tls) {
		if ((e = cfg_check_keys(c, tls, "http.tls", tls_keys)) < 0 ||
		    (e = cfg_path_value(c, tls, "http.tls", "cert", true, &cc->http.tls_cert)) < 0 ||
		    (e = cfg_path_value(c, tls, "http.tls", "key", true, &cc->http.tls_key)) < 0)
			return e;
	}
	return 0;
}

void coord_config_http_free(struct coord_config *cc)
{
	free(cc->http.address);
	free(cc->http.tls_cert);
	free(cc->http.tls_key);
}
