/* Pieces shared by the PSA and CCA token drivers: attestation public keys
 * registered by instance id (a driver instance is such a keyset), typed
 * claim getters, software components, lifecycle states and the digest
 * that stands for the components. */
#ifndef ATOLL_DRIVERS_PSA_COMMON_H
#define ATOLL_DRIVERS_PSA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>
#include <openssl/evp.h>

#include "atoll/tee_driver.h"
#include "dc_util.h"

#define PSA_INSTANCE_ID_LEN 33
#define PSA_MAX_SW 32
#define PSA_MAX_TOKEN (64u * 1024)

struct psa_key {
	uint8_t instance_id[PSA_INSTANCE_ID_LEN];
	EVP_PKEY *key;
};

struct psa_keyset {
	struct psa_key *keys;
	size_t n;
};

/* Add the entries of a config list: "<path>" or "<instance-id-hex>=<path>"
 * (a PEM/DER public key or certificate; EC or Ed25519). Without an id,
 * TF-M's derivation 0x01 || SHA-256(public key) is used. ATOLL_OK or
 * ATOLL_E_CONFIG / ATOLL_E_NOMEM. */
int psa_keyset_add_list(struct psa_keyset *ks, const char *list,
			atoll_err *err);
/* A psa or cca driver instance: the verifier's keys, and where the island
 * side gets its tokens. */
struct psa_ctx {
	struct psa_keyset keys;
	/* cca: the configfs-tsm report directory. */
	char tsm_dir[256];
	/* psa: the token provider program (docs/tee/psa.md); empty when
	 * none is configured. */
	char token_command[512];
	int64_t token_timeout_ms;
};

/* init() and fini() of these drivers: the keyset under keys_key (psa:
 * iak_keys, cca: cpak_keys) and the collect settings named in
 * collect_keys ("tsm_dir", "token_command", "token_timeout_ms"; a
 * NULL-terminated list). *ret_ctx is a struct psa_ctx. */
int psa_ctx_new(const char *keys_key, const char *const *collect_keys,
		const atoll_kv *config, size_t n_config, void **ret_ctx,
		atoll_err *err);
void psa_ctx_free(void *ctx);
/* The key of an instance id, borrowed; NULL when none. */
EVP_PKEY *psa_keyset_find(const struct psa_keyset *ks,
			  const uint8_t id[PSA_INSTANCE_ID_LEN]);
void psa_keyset_clear(struct psa_keyset *ks);
/* 0x01 || SHA-256 of the uncompressed EC point or raw Ed25519 key. */
int psa_instance_id_of(EVP_PKEY *k, uint8_t out[PSA_INSTANCE_ID_LEN]);

/* Claim getters on a map with integer keys. A missing optional claim
 * leaves the outputs alone and returns ATOLL_OK; duplicates, a missing
 * required claim and wrong types or sizes are ATOLL_E_FORMAT naming
 * `what`. */
const cbor_item_t *psa_get(const cbor_item_t *map, int64_t key,
			   const char *what, bool required, atoll_err *err,
			   int *status);
int psa_get_bytes(const cbor_item_t *map, int64_t key, const char *what,
		  bool required, size_t min, size_t max, const uint8_t **ret,
		  size_t *ret_len, atoll_err *err);
int psa_get_text(const cbor_item_t *map, int64_t key, const char *what,
		 bool required, const char **ret, size_t *ret_len,
		 atoll_err *err);
bool psa_text_is(const char *s, size_t n, const char *want);

struct psa_sw {
	const char *type, *version, *desc;
	size_t type_len, version_len, desc_len;
	const uint8_t *value, *signer;
	size_t value_len, signer_len;
};

/* An array of 1..PSA_MAX_SW component maps {1 type, 2 measurement value,
 * 4 version, 5 signer id, 6 description}. sw must hold PSA_MAX_SW. */
int psa_parse_sw(const cbor_item_t *arr, bool signer_required,
		 struct psa_sw *sw, size_t *ret_n, atoll_err *err);
/* SHA-256 over the components in order, each as be32 length || type ||
 * be32 length || measurement value || be32 length || signer id. */
int psa_sw_digest(const struct psa_sw *sw, size_t n, uint8_t out[32]);
/* sw_count and swN_measurement, _signer_id, _type, _version, _desc. */
int psa_claims_add_sw(struct dc_claims *c, const struct psa_sw *sw,
		      size_t n);

/* "secured", "non_psa_rot_debug", ... from a PSA security lifecycle. */
const char *psa_lifecycle_state(uint64_t lc);

#endif
