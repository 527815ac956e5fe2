/* CBOR access helpers on libcbor and COSE_Sign1 (RFC 9052) parsing and
 * signature verification, as used by attestation documents and tokens.
 *
 * Input is screened before libcbor sees it: it must be well-formed,
 * definite-length, nested at most DC_CBOR_MAX_DEPTH deep and contain no
 * bytes after the top-level item, so that hostile input can neither
 * exhaust the stack nor hide data. */
#ifndef ATOLL_DRVCOMMON_DC_COSE_H
#define ATOLL_DRVCOMMON_DC_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>
#include <openssl/evp.h>

#include "atoll/tee_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DC_CBOR_MAX_DEPTH 16

/* COSE algorithm identifiers (IANA "COSE Algorithms"). */
#define DC_COSE_ES256 (-7)
#define DC_COSE_ES384 (-35)
#define DC_COSE_ES512 (-36)
#define DC_COSE_EDDSA (-8)

/* CBOR tags of COSE messages. */
#define DC_COSE_TAG_SIGN1 18
#define DC_COSE_TAG_MAC0 17

/* Screen data as described above. ATOLL_OK or ATOLL_E_FORMAT. */
int dc_cbor_check(const uint8_t *data, size_t len, unsigned max_depth,
		  atoll_err *err);
/* Screen, then decode the single item. Short-form tags 6..20 (which
 * libcbor 0.8 cannot read) are widened first. ATOLL_OK, ATOLL_E_FORMAT,
 * ATOLL_E_NOMEM. *ret is released with cbor_decref(). */
int dc_cbor_decode(const uint8_t *data, size_t len, cbor_item_t **ret,
		   atoll_err *err);

/* A CBOR integer (major type 0 or 1) as int64. false when it is not one
 * or does not fit. */
bool dc_cbor_int(const cbor_item_t *item, int64_t *ret);
/* Look a map entry up by integer / text key. Returns the value (borrowed)
 * or NULL; *ret_dup is set when the key occurs more than once (callers
 * reject such maps). */
const cbor_item_t *dc_cbor_map_int(const cbor_item_t *map, int64_t key,
				   bool *ret_dup);
const cbor_item_t *dc_cbor_map_str(const cbor_item_t *map, const char *key,
				   bool *ret_dup);
/* True for the simple value null. Safe on any item: libcbor's own
 * cbor_is_null() asserts (aborts) when handed a float. */
bool dc_cbor_is_null(const cbor_item_t *item);
/* Borrow a definite byte or text string's bytes. false on type mismatch. */
bool dc_cbor_bytes(const cbor_item_t *item, const uint8_t **ret,
		   size_t *ret_len);
bool dc_cbor_text(const cbor_item_t *item, const char **ret, size_t *ret_len);

/* A parsed COSE_Sign1. Byte fields borrow from `root`. */
struct dc_cose_sign1 {
	cbor_item_t *root;
	/* 18 when tagged, 0 when untagged. */
	uint64_t tag;
	const uint8_t *protected_raw;
	size_t protected_len;
	/* The decoded protected header map (NULL when empty). */
	cbor_item_t *protected_map;
	const cbor_item_t *unprotected;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *signature;
	size_t signature_len;
	int64_t alg;
};

/* Parse a COSE_Sign1, tagged (18) or untagged. A COSE_Mac0 (tag 17) is
 * refused with ATOLL_E_UNSUPPORTED; any other shape with ATOLL_E_FORMAT.
 * The algorithm must be in the protected header. On success *m owns its
 * items; release with dc_cose_sign1_clear(). */
int dc_cose_sign1_parse(const uint8_t *data, size_t len,
			struct dc_cose_sign1 *m, atoll_err *err);
void dc_cose_sign1_clear(struct dc_cose_sign1 *m);
/* The bytes a COSE_Sign1 signature covers: the CBOR encoding of
 * ["Signature1", protected, external_aad, payload]. malloc'd. */
int dc_cose_sig_structure(const struct dc_cose_sign1 *m,
			  const uint8_t *external_aad, size_t aad_len,
			  uint8_t **ret, size_t *ret_len);
/* Check m's signature with key. The key type must fit the algorithm (P-256
 * for ES256, P-384 for ES384, P-521 for ES512, Ed25519 for EdDSA).
 * ATOLL_OK, ATOLL_E_SIGNATURE, ATOLL_E_UNSUPPORTED (algorithm),
 * ATOLL_E_NOMEM. */
int dc_cose_sign1_verify(const struct dc_cose_sign1 *m, EVP_PKEY *key,
			 atoll_err *err);
/* Name of a COSE algorithm for messages ("ES256", or "alg -999"). */
const char *dc_cose_alg_name(int64_t alg);

/* Append the head of a CBOR item (major type 0..7, argument) to out, which
 * must hold 9 bytes. Returns the number of bytes written. Used to build
 * exact encodings (Sig_structure, test generators). */
size_t dc_cbor_head(uint8_t *out, unsigned major, uint64_t arg);

#ifdef __cplusplus
}
#endif

#endif
