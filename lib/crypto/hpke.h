/* HPKE (RFC 9180) with DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256, built on
 * OpenSSL 3.0 primitives (3.0 has no HPKE API), plus the X25519 key helpers
 * and the one-shot AEADs that HPKE names.
 *
 * Supported: all four modes (base, psk, auth, auth_psk); AEADs AES-128-GCM,
 * AES-256-GCM, ChaCha20-Poly1305 and export-only. Functions return 0 or a
 * negative errno:
 *   -EINVAL           bad argument, inconsistent mode/psk inputs, a public
 *                     key that yields an all-zero shared secret
 *   -EPROTONOSUPPORT  unknown AEAD id
 *   -EOPNOTSUPP       seal/open on an export-only context
 *   -EBADMSG          authentication failed (tampered, wrong key or aad,
 *                     truncated, or out of sequence)
 *   -EOVERFLOW        the context's sequence number is exhausted
 *   -ENOMEM           allocation failed
 *   -EIO              the crypto library or its random generator failed
 * Out-parameters are left untouched on failure; output buffers keep their
 * previous length. */
#ifndef ATOLL_CRYPTO_HPKE_H
#define ATOLL_CRYPTO_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define HPKE_KEM_X25519_HKDF_SHA256 0x0020
#define HPKE_KDF_HKDF_SHA256 0x0001
#define HPKE_AEAD_AES_128_GCM 0x0001
#define HPKE_AEAD_AES_256_GCM 0x0002
#define HPKE_AEAD_CHACHA20_POLY1305 0x0003
#define HPKE_AEAD_EXPORT_ONLY 0xFFFF

enum hpke_mode {
	HPKE_MODE_BASE = 0,
	HPKE_MODE_PSK = 1,
	HPKE_MODE_AUTH = 2,
	HPKE_MODE_AUTH_PSK = 3,
};

#define X25519_KEY_LEN 32
#define HPKE_ENC_LEN 32
#define HPKE_TAG_LEN 16
#define HPKE_NONCE_LEN 12
#define HPKE_MAX_KEY_LEN 32
/* RFC 9180 requires a PSK of at least 32 bytes of entropy; shorter ones are
 * refused. */
#define HPKE_MIN_PSK_LEN 32
/* Export length limit: 255 * Nh for HKDF-SHA256. */
#define HPKE_MAX_EXPORT_LEN (255 * 32)
/* OpenSSL 3.0's HKDF caps its info input at 1024 bytes; LabeledExpand adds
 * 22 bytes of its own to the exporter context. */
#define HPKE_MAX_EXPORT_CONTEXT 1000

/* A context belongs to one thread at a time (seal/open advance its
 * sequence number); different contexts may be used concurrently. */
typedef struct hpke_ctx hpke_ctx;

/* Setup inputs beyond the suite and the recipient key. Zero-initialise and
 * fill what the mode needs; pointers are borrowed for the call. */
struct hpke_params {
	enum hpke_mode mode;
	const uint8_t *info;
	size_t info_len;
	/* psk and auth_psk modes: both non-empty; other modes: both empty. */
	const uint8_t *psk;
	size_t psk_len;
	const uint8_t *psk_id;
	size_t psk_id_len;
	/* auth and auth_psk modes: the sender's private key (sender side) or
	 * the sender's public key (receiver side), 32 bytes each. */
	const uint8_t *sender_priv;
	const uint8_t *sender_pub;
	/* Sender side only: the ephemeral private key to use instead of a
	 * fresh random one. For known-answer tests; never reuse one. */
	const uint8_t *ephemeral_priv;
};

/* Sender setup: encapsulate to pk_r and derive the context. Writes the
 * 32-byte encapsulated key to ret_enc. */
int hpke_setup_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		 const struct hpke_params *params, uint8_t ret_enc[HPKE_ENC_LEN],
		 hpke_ctx **ret_ctx);
/* Receiver setup: decapsulate enc with sk_r and derive the context. */
int hpke_setup_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		 const uint8_t sk_r[X25519_KEY_LEN],
		 const struct hpke_params *params, hpke_ctx **ret_ctx);

/* Base-mode and psk-mode shorthands for the two calls above. */
int hpke_setup_base_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		      const uint8_t *info, size_t info_len,
		      uint8_t ret_enc[HPKE_ENC_LEN], hpke_ctx **ret_ctx);
int hpke_setup_base_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		      const uint8_t sk_r[X25519_KEY_LEN], const uint8_t *info,
		      size_t info_len, hpke_ctx **ret_ctx);
int hpke_setup_psk_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		     const uint8_t *info, size_t info_len, const uint8_t *psk,
		     size_t psk_len, const uint8_t *psk_id, size_t psk_id_len,
		     uint8_t ret_enc[HPKE_ENC_LEN], hpke_ctx **ret_ctx);
int hpke_setup_psk_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		     const uint8_t sk_r[X25519_KEY_LEN], const uint8_t *info,
		     size_t info_len, const uint8_t *psk, size_t psk_len,
		     const uint8_t *psk_id, size_t psk_id_len, hpke_ctx **ret_ctx);

/* Seal pt with the next sequence number and append ciphertext || tag
 * (pt_len + HPKE_TAG_LEN bytes) to out. Sender contexts only. */
int hpke_seal(hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, struct buf *out);
/* Open ct (ciphertext || tag) with the next sequence number and append the
 * plaintext to out. The sequence number advances only on success, so a
 * failed record can be retried. Receiver contexts only. */
int hpke_open(hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, struct buf *out);
/* Export len bytes (at most HPKE_MAX_EXPORT_LEN) bound to
 * exporter_context (at most HPKE_MAX_EXPORT_CONTEXT bytes). Either side. */
int hpke_export(const hpke_ctx *ctx, const uint8_t *exporter_context,
		size_t context_len, size_t len, uint8_t *out);
/* Sequence number of the next seal or open. Setting it is for tests and
 * for callers that skip records deliberately. A sender context only moves
 * forward (-EINVAL otherwise), since an earlier number would reuse a
 * nonce. */
uint64_t hpke_ctx_seq(const hpke_ctx *ctx);
int hpke_ctx_set_seq(hpke_ctx *ctx, uint64_t seq);
/* Wipes the keys and frees. Accepts NULL; returns NULL. */
hpke_ctx *hpke_ctx_free(hpke_ctx *ctx);

/* DeriveKeyPair (RFC 9180 7.1.3) for X25519: a deterministic key pair from
 * at least 32 bytes of input keying material. */
int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
			uint8_t ret_priv[X25519_KEY_LEN],
			uint8_t ret_pub[X25519_KEY_LEN]);

/* Key length Nk of an AEAD id; 0 for export-only and unknown ids. */
size_t hpke_aead_key_len(uint16_t aead_id);
/* One-shot AEAD with a caller-managed key (hpke_aead_key_len bytes) and
 * 12-byte nonce: appends ciphertext || tag to out, or the plaintext when
 * opening. For payloads under a random data key; a nonce must never repeat
 * under one key. */
int hpke_aead_seal(uint16_t aead_id, const uint8_t *key,
		   const uint8_t nonce[HPKE_NONCE_LEN], const uint8_t *aad,
		   size_t aad_len, const uint8_t *pt, size_t pt_len,
		   struct buf *out);
int hpke_aead_open(uint16_t aead_id, const uint8_t *key,
		   const uint8_t nonce[HPKE_NONCE_LEN], const uint8_t *aad,
		   size_t aad_len, const uint8_t *ct, size_t ct_len,
		   struct buf *out);

/* A fresh random X25519 key pair. */
int x25519_keygen(uint8_t ret_priv[X25519_KEY_LEN],
		  uint8_t ret_pub[X25519_KEY_LEN]);
int x25519_public_from_private(const uint8_t priv[X25519_KEY_LEN],
			       uint8_t ret_pub[X25519_KEY_LEN]);

#endif
