/* What the verifier drivers' init(), verify() and tables have in common:
 * walking the config entries, the chain settings of the drivers that pin
 * X.509 roots (fingerprints, `certs` files, the verified-chain cache),
 * verify()'s argument check, and the release functions of the table. */
#ifndef ATOLL_DRVCOMMON_DC_DRIVER_H
#define ATOLL_DRVCOMMON_DC_DRIVER_H

#include <stddef.h>

#include "atoll/tee_driver.h"
#include "dc_x509.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a dc_config_fn returns for a key it does not know. */
#define DC_CONFIG_UNKNOWN (-1)

/* Take one config entry (both strings non-NULL): ATOLL_OK,
 * DC_CONFIG_UNKNOWN, or a status with its message in err. */
typedef int (*dc_config_fn)(void *userdata, const char *key,
			    const char *value, atoll_err *err);

/* Hand the entries to fn in order. An entry lacking its key or value is
 * ATOLL_E_CONFIG "config entry N is empty", and DC_CONFIG_UNKNOWN becomes
 * ATOLL_E_CONFIG "unknown key 'K'". Stops at the first failure. */
int dc_config_walk(const atoll_kv *config, size_t n_config, dc_config_fn fn,
		   void *userdata, atoll_err *err);

/* Entries of the parsed-collateral cache unless cert_cache_size says
 * otherwise: each is a certificate or a blob of at most
 * DC_PARSE_CACHE_MAX_BLOB bytes, so at most 4 MiB of input. */
#define DC_CERT_CACHE_DEFAULT 256

/* How a driver checks certificate chains. */
struct dc_chain_conf {
	/* Accepted roots. */
	struct dc_pins pins;
	/* Certificates from the `certs` files, added to the candidate pool
	 * of every verification. */
	struct dc_collateral *extra;
	/* NULL when chain_cache is false. */
	struct dc_chain_cache *cache;
	/* Parsed collateral (dc_collateral_new_cached(), dc_cert_from_der());
	 * NULL when cert_cache is false. */
	struct dc_parse_cache *parsed;
};

/* Read the chain settings from config: pins_key (comma-separated SHA-256
 * fingerprints of accepted roots, default_pins when the key is absent),
 * `certs` (comma-separated PEM or DER files), `chain_cache` (a boolean,
 * default true), `chain_cache_size` (1..65536, default 64), `cert_cache`
 * (a boolean, default true) and `cert_cache_size` (1..65536, default
 * DC_CERT_CACHE_DEFAULT). Every other key goes to fn, or is unknown when
 * fn is NULL. cc must be zeroed before; on failure, what was set up is
 * left for dc_chain_conf_clear(). */
int dc_chain_conf_init(struct dc_chain_conf *cc, const char *pins_key,
		       const char *default_pins, const atoll_kv *config,
		       size_t n_config, dc_config_fn fn, void *userdata,
		       atoll_err *err);
/* Release and zero. Accepts a zeroed or partly set up cc. */
void dc_chain_conf_clear(struct dc_chain_conf *cc);

/* The checks every verify() makes first: ATOLL_E_INVALID_ARGUMENT "bad
 * verify arguments" when args is NULL or smaller than this header's
 * atoll_verify_args, its evidence is NULL with a length, or ret_claims is
 * NULL; else ATOLL_OK. */
int dc_verify_args_check(const atoll_verify_args *args,
			 atoll_claims **ret_claims, atoll_err *err);

/* claims_free() of drivers whose claims come from dc_claims_new(). */
void dc_driver_claims_free(void *ctx, atoll_claims *claims);
/* evidence_free() of drivers whose evidence is a malloc'd atoll_evidence
 * holding malloc'd data and no collateral. Accepts NULL. */
void dc_driver_evidence_free(void *ctx, atoll_evidence *evidence);
/* Such evidence around data (malloc'd, len bytes), which it takes: on
 * ATOLL_E_NOMEM data is freed. ATOLL_OK with *ret. */
int dc_driver_evidence_new(uint8_t *data, size_t len, atoll_evidence **ret,
			   atoll_err *err);

#ifdef __cplusplus
}
#endif

#endif
