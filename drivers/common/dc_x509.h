/* Collateral recognition and X.509 chain verification for TEE verifier
 * drivers.
 *
 * Collateral arrives as a list of blobs in no particular order or naming:
 * each is recognized by its content (PEM blocks, DER certificates, CRLs,
 * public keys, JSON documents), optionally through a bounded cache of
 * blobs already parsed. Chains are verified "as of" a given time to a root
 * pinned by its SHA-256 fingerprint, optionally through a bounded cache of
 * chains already verified.
 *
 * Implemented in dc_collateral.c (recognition, parse cache), dc_chain.c
 * (pins, chain verification, chain cache) and dc_x509.c (the rest). */
#ifndef ATOLL_DRVCOMMON_DC_X509_H
#define ATOLL_DRVCOMMON_DC_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound on one collateral blob; larger ones are refused. */
#define DC_COLLATERAL_MAX_BLOB (1u << 20)

struct dc_collateral {
	/* Every certificate found, in input order (PEM and DER, including
	 * several concatenated DER certificates in one blob). */
	STACK_OF(X509) *certs;
	STACK_OF(X509_CRL) *crls;
	/* Bare public keys (PEM "PUBLIC KEY" or DER SubjectPublicKeyInfo). */
	EVP_PKEY **keys;
	size_t n_keys;
	/* JSON documents (first non-blank byte '{' or '['), borrowed from the
	 * input or from `owned`. */
	atoll_blob *json;
	size_t n_json;
	/* Anything not recognized above, for the driver to interpret (e.g. an
	 * SEV-SNP certificate table). Borrowed like json. */
	atoll_blob *other;
	size_t n_other;
	/* Storage for data read from files. */
	uint8_t **owned;
	size_t n_owned;
	/* Where dc_collateral_add() looks blobs up first; NULL for none.
	 * Borrowed: must outlive c. */
	struct dc_parse_cache *cache;
};

/* A bounded, thread-safe cache of parsed collateral. OpenSSL 3 decodes a
 * certificate's public key through its provider decoders on every
 * d2i_X509(), which costs about a fifth of a P-384 signature check per
 * certificate, and the same VCEK, ASK, ARK or Nitro CA certificates come
 * with every verification. An entry is keyed by the SHA-256 of the exact
 * bytes parsed (one DER certificate for dc_cert_from_der(); one whole
 * blob, DER or PEM, for dc_collateral_add()) and holds the certificates,
 * CRLs and public keys parsed from them; callers get their own
 * references. Parsing involves no time and no trust: validity, revocation
 * and signatures are checked on every verification whether or not the
 * objects came from here. At most `capacity` entries, each parsed from at
 * most DC_PARSE_CACHE_MAX_BLOB bytes (larger blobs are parsed every
 * time); a full cache gives up its least recently used entry. Lookups are
 * a scan under a mutex. */
struct dc_parse_cache;

#define DC_PARSE_CACHE_MAX_BLOB (16u * 1024)
#define DC_PARSE_CACHE_MAX_ENTRIES 65536u

/* NULL when capacity is 0 or above DC_PARSE_CACHE_MAX_ENTRIES, or out of
 * memory. */
struct dc_parse_cache *dc_parse_cache_new(size_t capacity);
/* Drops the cache's references (objects still held by callers live on).
 * Accepts NULL. */
struct dc_parse_cache *dc_parse_cache_free(struct dc_parse_cache *cache);
/* Counters and the entries held now, for tests and benchmarks. Any
 * pointer may be NULL. */
void dc_parse_cache_stats(struct dc_parse_cache *cache, uint64_t *ret_hits,
			  uint64_t *ret_misses, size_t *ret_entries);

/* Exactly one DER certificate filling all len bytes, through cache when
 * not NULL. A new reference, or NULL when the bytes are not that. */
X509 *dc_cert_from_der(struct dc_parse_cache *cache, const uint8_t *der,
		       size_t len);

struct dc_collateral *dc_collateral_new(void);
/* The same, looking blobs up in cache (may be NULL) first. */
struct dc_collateral *dc_collateral_new_cached(struct dc_parse_cache *cache);
/* Recognize one blob and add what it holds. ATOLL_OK, ATOLL_E_FORMAT
 * (a PEM block or DER object that claims to be a certificate, CRL or key
 * but does not parse), ATOLL_E_NOMEM. The blob must outlive c when it
 * lands in json/other. With a cache, a blob made only of certificates,
 * CRLs and keys is parsed once and later yields the same objects. */
int dc_collateral_add(struct dc_collateral *c, const uint8_t *data,
		      size_t len, atoll_err *err);
/* All blobs of a verify() call; messages name the blob index. */
int dc_collateral_add_all(struct dc_collateral *c, const atoll_blob *blobs,
			  size_t n, atoll_err *err);
/* Read a file (PEM or DER) and add it; its bytes are kept in c.
 * ATOLL_E_CONFIG when unreadable. */
int dc_collateral_add_file(struct dc_collateral *c, const char *path,
			   atoll_err *err);
/* Add every certificate of src to dst (references, not copies). */
int dc_collateral_merge_certs(struct dc_collateral *dst,
			      const struct dc_collateral *src);
struct dc_collateral *dc_collateral_free(struct dc_collateral *c);

/* SHA-256 fingerprints of accepted roots. */
struct dc_pins {
	uint8_t (*fp)[32];
	size_t n;
};

/* Parse a comma-separated list of 64-hex-digit fingerprints (colons
 * allowed) and append to pins. ATOLL_OK or ATOLL_E_CONFIG. */
int dc_pins_add_list(struct dc_pins *pins, const char *list, atoll_err *err);
int dc_pins_add(struct dc_pins *pins, const uint8_t fp[32]);
void dc_pins_clear(struct dc_pins *pins);
bool dc_pins_match(const struct dc_pins *pins, X509 *cert);
/* SHA-256 of the certificate's DER. 0 or -EINVAL. */
int dc_cert_fingerprint(X509 *cert, uint8_t out[32]);

/* ASN1_TIME to Unix seconds. 0 or -EINVAL. */
int dc_asn1_time_to_unix(const ASN1_TIME *t, int64_t *ret);
/* The subject's CN (or the whole subject when it has none) into out. */
void dc_cert_name(X509 *cert, char *out, size_t out_size);
/* 1 when the certificate's subject CN equals cn. */
bool dc_cert_cn_is(X509 *cert, const char *cn);
/* 1 when k is an EC key on the named group ("prime256v1", "secp384r1").
 * k may be NULL. */
bool dc_key_is_ec(EVP_PKEY *k, const char *group);

/* A bounded, thread-safe cache of verified chains. An entry is keyed by
 * the SHA-256 of the exact DER bytes of the leaf, the candidate
 * certificates and the CRLs, and answers only for verification times
 * inside the chain's validity window (the intersection of every
 * certificate's and CRL's window), so a cached success never outlives
 * the certificates. */
struct dc_chain_cache;

struct dc_chain_cache *dc_chain_cache_new(size_t capacity);
struct dc_chain_cache *dc_chain_cache_free(struct dc_chain_cache *cache);
/* Counters for tests and benchmarks. */
void dc_chain_cache_stats(struct dc_chain_cache *cache, uint64_t *ret_hits,
			  uint64_t *ret_misses);

struct dc_chain_result {
	/* Validity window of the whole chain (and CRLs), Unix seconds. */
	int64_t not_before;
	int64_t not_after;
	/* The pinned root the chain ends at (a reference into the pool). */
	X509 *root;
	/* True when the answer came from the cache. */
	bool cached;
};

/* Verify leaf up to a root in pool whose fingerprint is pinned, with every
 * certificate valid at time t and none revoked by a CRL in crls (CRLs are
 * optional; each applies to the certificates of its issuer and must
 * itself be valid at t). pool may contain the leaf and unrelated
 * certificates. Returns ATOLL_OK, ATOLL_E_CHAIN (no path, bad signature,
 * not a CA, revoked), ATOLL_E_EXPIRED (a certificate or CRL outside its
 * validity at t), ATOLL_E_NOMEM; the message names the certificate. */
int dc_chain_verify(X509 *leaf, STACK_OF(X509) *pool,
		    STACK_OF(X509_CRL) *crls, const struct dc_pins *pins,
		    int64_t t, struct dc_chain_cache *cache,
		    struct dc_chain_result *ret, atoll_err *err);

/* Find an extension by dotted OID and return its extnValue contents
 * (borrowed from the certificate). 1 found, 0 absent, -EEXIST when it
 * occurs more than once. */
int dc_cert_ext(X509 *cert, const char *oid, const uint8_t **ret_data,
		size_t *ret_len);

/* Fuzz builds only (see dc_fuzz_accept_signature()): let sc count a
 * certificate or CRL signature that does not verify as verified. A no-op
 * otherwise. */
#ifdef ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES
void dc_fuzz_accept_cert_signatures(X509_STORE_CTX *sc);
#else
static inline void dc_fuzz_accept_cert_signatures(X509_STORE_CTX *sc)
{
	(void)sc;
}
#endif

/* ECDSA over a message with raw big-endian r||s (COSE) or little-endian
 * r||s (AMD) signatures: each half is half of sig_len. md is the digest
 * (EVP_sha256() ...). ATOLL_OK, ATOLL_E_SIGNATURE, ATOLL_E_NOMEM. */
int dc_ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg,
			size_t msg_len, const uint8_t *sig, size_t sig_len,
			bool little_endian, atoll_err *err);

#ifdef __cplusplus
}
#endif

#endif
