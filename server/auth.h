/* Who is calling: tenants by API key, islands by island token. Both arrive
 * as "authorization: Bearer <secret>" metadata; config holds only SHA-256
 * digests, compared in constant time. */
#ifndef ATOLL_SERVER_AUTH_H
#define ATOLL_SERVER_AUTH_H

#include <stddef.h>

#include "config.h"
#include "rpc/server.h"

/* 0 with the tenant; -ENOKEY with a message for the client otherwise. */
int auth_tenant(const struct coord_config *cfg, const rpc_call *call,
		const struct tenant_cfg **ret, char *err, size_t err_size);
/* The same for an "authorization" value given as text (the HTTP
 * gateway's Authorization header); NULL when the request had none. */
int auth_tenant_bearer(const struct coord_config *cfg, const char *authorization,
		       const struct tenant_cfg **ret, char *err, size_t err_size);
int auth_island(const struct coord_config *cfg, const rpc_call *call,
		const struct island_token_cfg **ret, char *err, size_t err_size);
/* Shorthand for handlers: the tenant, or NULL after failing the call. */
const struct tenant_cfg *auth_tenant_or_fail(const struct coord_config *cfg, rpc_call *call);

#endif
