/* Bearer credentials against SHA-256 digests from the config. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define MAX_CREDENTIAL 1024

/* The secret after "Bearer " in v (NULL: no header), hashed. */
static int digest_of(const char *v, uint8_t digest[SHA256_LEN], char *err, size_t err_size)
{
	if (!v) {
		snprintf(err, err_size, "missing \"authorization: Bearer <key>\" metadata");
		return -ENOKEY;
	}
	if (strlen(v) > MAX_CREDENTIAL + 7 || strncasecmp(v, "Bearer ", 7) != 0 || !v[7]) {
		snprintf(err, err_size, "authorization metadata must be \"Bearer <key>\"");
		return -ENOKEY;
	}
	SHA256((const uint8_t *)v + 7, strlen(v + 7), digest);
	return 0;
}

static int bearer_digest(const rpc_call *call, uint8_t digest[SHA256_LEN], char *err,
			 size_t err_size)
{
	char v[MAX_CREDENTIAL + 16];
	int r = rpc_call_metadata(call, "authorization", v, sizeof v);
	if (r == -ENOENT)
		return digest_of(NULL, digest, err, err_size);
	if (r < 0) {
		snprintf(err, err_size, "authorization metadata must be \"Bearer <key>\"");
		return -ENOKEY;
	}
	r = digest_of(v, digest, err, err_size);
	OPENSSL_cleanse(v, sizeof v);
	return r;
}

/* Index of the matching digest, or -1; looks at every entry whatever
 * matched, so timing says nothing about which or whether. */
static long match(const uint8_t digest[SHA256_LEN], const uint8_t (*list)[SHA256_LEN], size_t n)
{
	long found = -1;
	for (size_t i = 0; i < n; i++) {
		int eq = CRYPTO_memcmp(digest, list[i], SHA256_LEN) == 0;
		found = eq ? (long)i : found;
	}
	return found;
}

/* The tenant whose key hashes to d. */
static int tenant_of(const struct coord_config *cfg, const uint8_t d[SHA256_LEN],
		     const struct tenant_cfg **ret, char *err, size_t err_size)
{
	const struct tenant_cfg *found = NULL;
	for (size_t t = 0; t < cfg->n_tenants; t++) {
		long i = match(d, cfg->tenants[t].key_hashes, cfg->tenants[t].n_keys);
		if (i >= 0)
			found = &cfg->tenants[t];
	}
	if (!found) {
		snprintf(err, err_size, "unknown API key");
		return -ENOKEY;
	}
	*ret = found;
	return 0;
}

int auth_tenant(const struct coord_config *cfg, const rpc_call *call,
		const struct tenant_cfg **ret, char *err, size_t err_size)
{
	uint8_t d[SHA256_LEN];
	int r = bearer_digest(call, d, err, err_size);
	return r < 0 ? r : tenant_of(cfg, d, ret, err, err_size);
}

int auth_tenant_bearer(const struct coord_config *cfg, const char *authorization,
		       const struct tenant_cfg **ret, char *err, size_t err_size)
{
	uint8_t d[SHA256_LEN];
	int r = digest_of(authorization, d, err, err_size);
	return r < 0 ? r : tenant_of(cfg, d, ret, err, err_size);
}

int auth_island(const struct coord_config *cfg, const rpc_call *call,
		const struct island_token_cfg **ret, char *err, size_t err_size)
{
	uint8_t d[SHA256_LEN];
	int r = bearer_digest(call, d, err, err_size);
	if (r < 0)
		return r;
	const struct island_token_cfg *found = NULL;
	for (size_t t = 0; t < cfg->islands.n_tokens; t++) {
		int eq = CRYPTO_memcmp(d, cfg->islands.tokens[t].hash, SHA256_LEN) == 0;
		found = eq ? &cfg->islands.tokens[t] : found;
	}
	if (!found) {
		snprintf(err, err_size, "unknown island token");
		return -ENOKEY;
	}
	*ret = found;
	return 0;
}

const struct tenant_cfg *auth_tenant_or_fail(const struct coord_config *cfg, rpc_call *call)
{
	const struct tenant_cfg *t;
	char err[256];
	if (auth_tenant(cfg, call, &t, err, sizeof err) < 0) {
		rpc_call_fail(call, -ENOKEY, err);
		return NULL;
	}
	return t;
}
