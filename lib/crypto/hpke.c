/* HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256), the key schedule, context
 * seal/open/export, and the X25519 and AEAD primitives beneath them. */
#include "crypto/hpke.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define NH 32 /* HKDF-SHA256 output size */
#define KEM_SUITE_LEN 5
#define HPKE_SUITE_LEN 10
/* OpenSSL 3.0's HKDF rejects a longer info input. */
#define HKDF_MAX_INFO 1024
/* EVP update calls take int lengths: feed big inputs in slices. */
#define EVP_SLICE (1 << 30)

static const char VERSION_LABEL[] = "HPKE-v1";
#define VERSION_LABEL_LEN (sizeof(VERSION_LABEL) - 1)

struct hpke_ctx {
	uint16_t aead_id;
	bool sender;
	uint64_t seq;
	uint8_t base_nonce[HPKE_NONCE_LEN];
	uint8_t exporter_secret[NH];
	/* Holds the key; each record sets only the nonce. NULL for
	 * export-only contexts. */
	EVP_CIPHER_CTX *cctx;
};

/* Algorithms fetched once: an implicit fetch on every call costs more
 * than the AEAD itself for small records. */
static struct {
	EVP_KDF *hkdf;
	EVP_CIPHER *aes_128_gcm;
	EVP_CIPHER *aes_256_gcm;
	EVP_CIPHER *chacha20_poly1305;
	bool ok;
} algs;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
	algs.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	algs.aes_128_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	algs.aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	algs.chacha20_poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	algs.ok = algs.hkdf && algs.aes_128_gcm && algs.aes_256_gcm &&
		  algs.chacha20_poly1305;
}

static int algs_get(void)
{
	if (pthread_once(&algs_once, algs_fetch) != 0)
		return -EIO;
	return algs.ok ? 0 : -EIO;
}

size_t hpke_aead_key_len(uint16_t aead_id)
{
	switch (aead_id) {
	case HPKE_AEAD_AES_128_GCM:
		return 16;
	case HPKE_AEAD_AES_256_GCM:
	case HPKE_AEAD_CHACHA20_POLY1305:
		return 32;
	default:
		return 0;
	}
}

static bool aead_known(uint16_t aead_id)
{
	return aead_id == HPKE_AEAD_EXPORT_ONLY || hpke_aead_key_len(aead_id) > 0;
}

static const EVP_CIPHER *aead_cipher(uint16_t aead_id)
{
	switch (aead_id) {
	case HPKE_AEAD_AES_128_GCM:
		return algs.aes_128_gcm;
	case HPKE_AEAD_AES_256_GCM:
		return algs.aes_256_gcm;
	case HPKE_AEAD_CHACHA20_POLY1305:
		return algs.chacha20_poly1305;
	default:
		return NULL;
	}
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void kem_suite_id(uint8_t out[KEM_SUITE_LEN])
{
	memcpy(out, "KEM", 3);
	put_be16(out + 3, HPKE_KEM_X25519_HKDF_SHA256);
}

static void hpke_suite_id(uint16_t aead_id, uint8_t out[HPKE_SUITE_LEN])
{
	memcpy(out, "HPKE", 4);
	put_be16(out + 4, HPKE_KEM_X25519_HKDF_SHA256);
	put_be16(out + 6, HPKE_KDF_HKDF_SHA256);
	put_be16(out + 8, aead_id);
}

static int hkdf_run(int mode, const uint8_t *salt, size_t salt_len,
		    const uint8_t *key, size_t key_len, const uint8_t *info,
		    size_t info_len, uint8_t *out, size_t out_len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[6], *p = params;
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(algs.hkdf);
	if (!kctx)
		return -ENOMEM;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key,
						 key_len);
	/* An absent salt is HashLen zero bytes, which HMAC treats exactly
	 * like an empty key. */
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, salt_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	int r = EVP_KDF_derive(kctx, out, out_len, params) == 1 ? 0 : -EIO;
	EVP_KDF_CTX_free(kctx);
	return r;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id
 * || label || ikm); always NH bytes. */
static int labeled_extract(const uint8_t *suite, size_t suite_len,
			   const uint8_t *salt, size_t salt_len,
			   const char *label, const uint8_t *ikm, size_t ikm_len,
			   uint8_t out[NH])
{
	size_t label_len = strlen(label);
	size_t head = VERSION_LABEL_LEN + suite_len + label_len;
	if (ikm_len > SIZE_MAX - head)
		return -EINVAL;
	size_t n = head + ikm_len;
	uint8_t *m = OPENSSL_malloc(n);
	if (!m)
		return -ENOMEM;
	memcpy(m, VERSION_LABEL, VERSION_LABEL_LEN);
	memcpy(m + VERSION_LABEL_LEN, suite, suite_len);
	memcpy(m + VERSION_LABEL_LEN + suite_len, label, label_len);
	if (ikm_len > 0)
		memcpy(m + head, ikm, ikm_len);
	int r = hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, m, n,
			 NULL, 0, out, NH);
	OPENSSL_clear_free(m, n);
	return r;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) ||
 * "HPKE-v1" || suite_id || label || info, L). */
static int labeled_expand(const uint8_t *suite, size_t suite_len,
			  const uint8_t prk[NH], const char *label,
			  const uint8_t *info, size_t info_len, uint8_t *out,
			  size_t len)
{
	uint8_t m[HKDF_MAX_INFO];
	size_t label_len = strlen(label);
	size_t head = 2 + VERSION_LABEL_LEN + suite_len + label_len;
	if (len == 0 || len > HPKE_MAX_EXPORT_LEN || head > sizeof m ||
	    info_len > sizeof m - head)
		return -EINVAL;
	put_be16(m, (uint16_t)len);
	memcpy(m + 2, VERSION_LABEL, VERSION_LABEL_LEN);
	memcpy(m + 2 + VERSION_LABEL_LEN, suite, suite_len);
	memcpy(m + 2 + VERSION_LABEL_LEN + suite_len, label, label_len);
	if (info_len > 0)
		memcpy(m + head, info, info_len);
	int r = hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, NH, m,
			 head + info_len, out, len);
	OPENSSL_cleanse(m, head + info_len);
	return r;
}

/* A private key object; making one computes its public key, so each setup
 * makes one per private key and uses it for both the public key and the
 * DH. */
static EVP_PKEY *x25519_key(const uint8_t priv[X25519_KEY_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
					    X25519_KEY_LEN);
}

static int x25519_key_pub(EVP_PKEY *k, uint8_t out[X25519_KEY_LEN])
{
	size_t len = X25519_KEY_LEN;
	if (EVP_PKEY_get_raw_public_key(k, out, &len) != 1 ||
	    len != X25519_KEY_LEN)
		return -EIO;
	return 0;
}

static int x25519_dh(EVP_PKEY *sk, const uint8_t pub[X25519_KEY_LEN],
		     uint8_t out[X25519_KEY_LEN])
{
	int r = -EIO;
	size_t len = X25519_KEY_LEN;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub,
						   X25519_KEY_LEN);
	if (!pk)
		goto free_peer;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, sk, NULL);
	if (!pctx || EVP_PKEY_derive_init(pctx) != 1)
		goto free_peer;
	/* OpenSSL fails the derivation when the result is all zero (a
	 * small-order peer key), the check RFC 9180 7.1.4 asks for. */
	if (EVP_PKEY_derive_set_peer(pctx, pk) != 1 ||
	    EVP_PKEY_derive(pctx, out, &len) != 1 || len != X25519_KEY_LEN) {
		r = -EINVAL;
		goto free_peer;
	}
	r = 0;
free_peer:
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pk);
	return r;
}

int x25519_public_from_private(const uint8_t priv[X25519_KEY_LEN],
			       uint8_t ret_pub[X25519_KEY_LEN])
{
	uint8_t pub[X25519_KEY_LEN];
	if (!priv || !ret_pub)
		return -EINVAL;
	EVP_PKEY *k = x25519_key(priv);
	if (!k)
		return -EIO;
	int r = x25519_key_pub(k, pub);
	EVP_PKEY_free(k);
	if (r == 0)
		memcpy(ret_pub, pub, sizeof pub);
	return r;
}

int x25519_keygen(uint8_t ret_priv[X25519_KEY_LEN],
		  uint8_t ret_pub[X25519_KEY_LEN])
{
	uint8_t priv[X25519_KEY_LEN];
	if (!ret_priv || !ret_pub)
		return -EINVAL;
	/* X25519 clamps internally, so any 32 random bytes are a key. */
	if (RAND_priv_bytes(priv, sizeof priv) != 1)
		return -EIO;
	int r = x25519_public_from_private(priv, ret_pub);
	if (r == 0)
		memcpy(ret_priv, priv, sizeof priv);
	OPENSSL_cleanse(priv, sizeof priv);
	return r;
}

int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
			uint8_t ret_priv[X25519_KEY_LEN],
			uint8_t ret_pub[X25519_KEY_LEN])
{
	uint8_t suite[KEM_SUITE_LEN], prk[NH], priv[X25519_KEY_LEN],
		pub[X25519_KEY_LEN];
	if (!ikm || ikm_len < X25519_KEY_LEN || !ret_priv || !ret_pub)
		return -EINVAL;
	int r = algs_get();
	if (r < 0)
		return r;
	kem_suite_id(suite);
	r = labeled_extract(suite, sizeof suite, NULL, 0, "dkp_prk", ikm,
			    ikm_len, prk);
	if (r == 0)
		r = labeled_expand(suite, sizeof suite, prk, "sk", NULL, 0, priv,
				   sizeof priv);
	if (r == 0)
		r = x25519_public_from_private(priv, pub);
	if (r == 0) {
		memcpy(ret_priv, priv, sizeof priv);
		memcpy(ret_pub, pub, sizeof pub);
	}
	OPENSSL_cleanse(prk, sizeof prk);
	OPENSSL_cleanse(priv, sizeof priv);
	return r;
}

/* ExtractAndExpand(dh, kem_context) of DHKEM. */
static int kem_shared_secret(const uint8_t *dh, size_t dh_len,
			     const uint8_t *kem_context, size_t kem_context_len,
			     uint8_t out[NH])
{
	uint8_t suite[KEM_SUITE_LEN], prk[NH];
	kem_suite_id(suite);
	int r = labeled_extract(suite, sizeof suite, NULL, 0, "eae_prk", dh,
				dh_len, prk);
	if (r == 0)
		r = labeled_expand(suite, sizeof suite, prk, "shared_secret",
				   kem_context, kem_context_len, out, NH);
	OPENSSL_cleanse(prk, sizeof prk);
	return r;
}

static bool is_auth(enum hpke_mode mode)
{
	return mode == HPKE_MODE_AUTH || mode == HPKE_MODE_AUTH_PSK;
}

static bool is_psk(enum hpke_mode mode)
{
	return mode == HPKE_MODE_PSK || mode == HPKE_MODE_AUTH_PSK;
}

/* Argument checks shared by both sides, including VerifyPSKInputs. */
static int check_params(uint16_t aead_id, const struct hpke_params *p)
{
	if (!p)
		return -EINVAL;
	if (!aead_known(aead_id))
		return -EPROTONOSUPPORT;
	if (p->mode != HPKE_MODE_BASE && p->mode != HPKE_MODE_PSK &&
	    p->mode != HPKE_MODE_AUTH && p->mode != HPKE_MODE_AUTH_PSK)
		return -EINVAL;
	if ((!p->info && p->info_len) || (!p->psk && p->psk_len) ||
	    (!p->psk_id && p->psk_id_len))
		return -EINVAL;
	bool got_psk = p->psk_len > 0, got_psk_id = p->psk_id_len > 0;
	if (got_psk != got_psk_id || got_psk != is_psk(p->mode))
		return -EINVAL;
	if (got_psk && p->psk_len < HPKE_MIN_PSK_LEN)
		return -EINVAL;
	return 0;
}

static int key_schedule(uint16_t aead_id, const struct hpke_params *p,
			const uint8_t shared_secret[NH], bool sender,
			hpke_ctx **ret_ctx)
{
	uint8_t suite[HPKE_SUITE_LEN], ksc[1 + 2 * NH], secret[NH],
		key[HPKE_MAX_KEY_LEN];
	size_t key_len = hpke_aead_key_len(aead_id);
	hpke_ctx *ctx = NULL;
	int r;

	hpke_suite_id(aead_id, suite);
	ksc[0] = (uint8_t)p->mode;
	r = labeled_extract(suite, sizeof suite, NULL, 0, "psk_id_hash",
			    p->psk_id, p->psk_id_len, ksc + 1);
	if (r < 0)
		goto wipe;
	r = labeled_extract(suite, sizeof suite, NULL, 0, "info_hash", p->info,
			    p->info_len, ksc + 1 + NH);
	if (r < 0)
		goto wipe;
	r = labeled_extract(suite, sizeof suite, shared_secret, NH, "secret",
			    p->psk, p->psk_len, secret);
	if (r < 0)
		goto wipe;

	ctx = calloc(1, sizeof *ctx);
	if (!ctx) {
		r = -ENOMEM;
		goto wipe;
	}
	ctx->aead_id = aead_id;
	ctx->sender = sender;
	r = labeled_expand(suite, sizeof suite, secret, "exp", ksc, sizeof ksc,
			   ctx->exporter_secret, NH);
	if (r < 0)
		goto wipe;
	if (key_len > 0) {
		r = labeled_expand(suite, sizeof suite, secret, "key", ksc,
				   sizeof ksc, key, key_len);
		if (r < 0)
			goto wipe;
		r = labeled_expand(suite, sizeof suite, secret, "base_nonce", ksc,
				   sizeof ksc, ctx->base_nonce, HPKE_NONCE_LEN);
		if (r < 0)
			goto wipe;
		ctx->cctx = EVP_CIPHER_CTX_new();
		if (!ctx->cctx) {
			r = -ENOMEM;
			goto wipe;
		}
		if (EVP_CipherInit_ex2(ctx->cctx, aead_cipher(aead_id), key,
				       NULL, sender ? 1 : 0, NULL) != 1) {
			r = -EIO;
			goto wipe;
		}
	}
	*ret_ctx = ctx;
	ctx = NULL;
	r = 0;
wipe:
	hpke_ctx_free(ctx);
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(key, sizeof key);
	return r;
}

int hpke_setup_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		 const struct hpke_params *params, uint8_t ret_enc[HPKE_ENC_LEN],
		 hpke_ctx **ret_ctx)
{
	uint8_t sk_e[X25519_KEY_LEN], pk_e[X25519_KEY_LEN];
	uint8_t dh[2 * X25519_KEY_LEN], kem_context[3 * X25519_KEY_LEN];
	uint8_t shared[NH];
	size_t dh_len = X25519_KEY_LEN, kc_len = 2 * X25519_KEY_LEN;
	EVP_PKEY *ke = NULL, *ks = NULL;
	int r;

	if (!pk_r || !ret_enc || !ret_ctx)
		return -EINVAL;
	r = check_params(aead_id, params);
	if (r < 0)
		return r;
	if (is_auth(params->mode) && !params->sender_priv)
		return -EINVAL;
	r = algs_get();
	if (r < 0)
		return r;

	if (params->ephemeral_priv)
		memcpy(sk_e, params->ephemeral_priv, sizeof sk_e);
	else if (RAND_priv_bytes(sk_e, sizeof sk_e) != 1) {
		r = -EIO;
		goto wipe;
	}
	ke = x25519_key(sk_e);
	if (!ke) {
		r = -EIO;
		goto wipe;
	}
	r = x25519_key_pub(ke, pk_e);
	if (r < 0)
		goto wipe;
	r = x25519_dh(ke, pk_r, dh);
	if (r < 0)
		goto wipe;
	memcpy(kem_context, pk_e, X25519_KEY_LEN);
	memcpy(kem_context + X25519_KEY_LEN, pk_r, X25519_KEY_LEN);
	if (is_auth(params->mode)) {
		/* AuthEncap: the sender's static key joins the DH input and
		 * its public key the KEM context. */
		ks = x25519_key(params->sender_priv);
		if (!ks) {
			r = -EIO;
			goto wipe;
		}
		r = x25519_dh(ks, pk_r, dh + X25519_KEY_LEN);
		if (r < 0)
			goto wipe;
		r = x25519_key_pub(ks, kem_context + kc_len);
		if (r < 0)
			goto wipe;
		dh_len += X25519_KEY_LEN;
		kc_len += X25519_KEY_LEN;
	}
	r = kem_shared_secret(dh, dh_len, kem_context, kc_len, shared);
	if (r < 0)
		goto wipe;
	r = key_schedule(aead_id, params, shared, true, ret_ctx);
	if (r == 0)
		memcpy(ret_enc, pk_e, HPKE_ENC_LEN);
wipe:
	EVP_PKEY_free(ke);
	EVP_PKEY_free(ks);
	OPENSSL_cleanse(sk_e, sizeof sk_e);
	OPENSSL_cleanse(dh, sizeof dh);
	OPENSSL_cleanse(shared, sizeof shared);
	return r;
}

int hpke_setup_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		 const uint8_t sk_r[X25519_KEY_LEN],
		 const struct hpke_params *params, hpke_ctx **ret_ctx)
{
	uint8_t dh[2 * X25519_KEY_LEN], kem_context[3 * X25519_KEY_LEN];
	uint8_t shared[NH];
	size_t dh_len = X25519_KEY_LEN, kc_len = 2 * X25519_KEY_LEN;
	EVP_PKEY *kr = NULL;
	int r;

	if (!enc || !sk_r || !ret_ctx)
		return -EINVAL;
	r = check_params(aead_id, params);
	if (r < 0)
		return r;
	if (is_auth(params->mode) && !params->sender_pub)
		return -EINVAL;
	r = algs_get();
	if (r < 0)
		return r;

	kr = x25519_key(sk_r);
	if (!kr)
		return -EIO;
	memcpy(kem_context, enc, HPKE_ENC_LEN);
	r = x25519_key_pub(kr, kem_context + HPKE_ENC_LEN);
	if (r < 0)
		goto wipe;
	r = x25519_dh(kr, enc, dh);
	if (r < 0)
		goto wipe;
	if (is_auth(params->mode)) {
		r = x25519_dh(kr, params->sender_pub, dh + X25519_KEY_LEN);
		if (r < 0)
			goto wipe;
		memcpy(kem_context + kc_len, params->sender_pub, X25519_KEY_LEN);
		dh_len += X25519_KEY_LEN;
		kc_len += X25519_KEY_LEN;
	}
	r = kem_shared_secret(dh, dh_len, kem_context, kc_len, shared);
	if (r < 0)
		goto wipe;
	r = key_schedule(aead_id, params, shared, false, ret_ctx);
wipe:
	EVP_PKEY_free(kr);
	OPENSSL_cleanse(dh, sizeof dh);
	OPENSSL_cleanse(shared, sizeof shared);
	return r;
}

int hpke_setup_base_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		      const uint8_t *info, size_t info_len,
		      uint8_t ret_enc[HPKE_ENC_LEN], hpke_ctx **ret_ctx)
{
	struct hpke_params p = { .mode = HPKE_MODE_BASE, .info = info,
				 .info_len = info_len };
	return hpke_setup_s(aead_id, pk_r, &p, ret_enc, ret_ctx);
}

int hpke_setup_base_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		      const uint8_t sk_r[X25519_KEY_LEN], const uint8_t *info,
		      size_t info_len, hpke_ctx **ret_ctx)
{
	struct hpke_params p = { .mode = HPKE_MODE_BASE, .info = info,
				 .info_len = info_len };
	return hpke_setup_r(aead_id, enc, sk_r, &p, ret_ctx);
}

int hpke_setup_psk_s(uint16_t aead_id, const uint8_t pk_r[X25519_KEY_LEN],
		     const uint8_t *info, size_t info_len, const uint8_t *psk,
		     size_t psk_len, const uint8_t *psk_id, size_t psk_id_len,
		     uint8_t ret_enc[HPKE_ENC_LEN], hpke_ctx **ret_ctx)
{
	struct hpke_params p = { .mode = HPKE_MODE_PSK, .info = info,
				 .info_len = info_len, .psk = psk,
				 .psk_len = psk_len, .psk_id = psk_id,
				 .psk_id_len = psk_id_len };
	return hpke_setup_s(aead_id, pk_r, &p, ret_enc, ret_ctx);
}

int hpke_setup_psk_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		     const uint8_t sk_r[X25519_KEY_LEN], const uint8_t *info,
		     size_t info_len, const uint8_t *psk, size_t psk_len,
		     const uint8_t *psk_id, size_t psk_id_len, hpke_ctx **ret_ctx)
{
	struct hpke_params p = { .mode = HPKE_MODE_PSK, .info = info,
				 .info_len = info_len, .psk = psk,
				 .psk_len = psk_len, .psk_id = psk_id,
				 .psk_id_len = psk_id_len };
	return hpke_setup_r(aead_id, enc, sk_r, &p, ret_ctx);
}

/* One AEAD operation on a context that already holds its key. On
 * decryption `tag` is the expected tag; on encryption it receives it. */
static int aead_run(EVP_CIPHER_CTX *cctx, bool encrypt,
		    const uint8_t nonce[HPKE_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *in, size_t in_len,
		    uint8_t *out, uint8_t tag[HPKE_TAG_LEN])
{
	uint8_t tail[HPKE_TAG_LEN];
	int n;

	if (EVP_CipherInit_ex2(cctx, NULL, NULL, nonce, encrypt ? 1 : 0,
			       NULL) != 1)
		return -EIO;
	if (!encrypt &&
	    EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_TAG, HPKE_TAG_LEN,
				tag) != 1)
		return -EIO;
	for (size_t off = 0; off < aad_len;) {
		int chunk = aad_len - off > EVP_SLICE ? EVP_SLICE
						      : (int)(aad_len - off);
		if (EVP_CipherUpdate(cctx, NULL, &n, aad + off, chunk) != 1)
			return -EIO;
		off += (size_t)chunk;
	}
	for (size_t off = 0; off < in_len;) {
		int chunk = in_len - off > EVP_SLICE ? EVP_SLICE
						     : (int)(in_len - off);
		if (EVP_CipherUpdate(cctx, out + off, &n, in + off, chunk) != 1 ||
		    n != chunk)
			return -EIO;
		off += (size_t)chunk;
	}
	/* GCM and ChaCha20-Poly1305 emit nothing at finalisation. */
	if (EVP_CipherFinal_ex(cctx, tail, &n) != 1)
		return encrypt ? -EIO : -EBADMSG;
	if (encrypt &&
	    EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, HPKE_TAG_LEN,
				tag) != 1)
		return -EIO;
	return 0;
}

/* Seal into out (appending) with a keyed context. */
static int seal_into(EVP_CIPHER_CTX *cctx, const uint8_t nonce[HPKE_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *pt,
		     size_t pt_len, struct buf *out)
{
	if (pt_len > SIZE_MAX - HPKE_TAG_LEN)
		return -EINVAL;
	int r = buf_reserve(out, pt_len + HPKE_TAG_LEN);
	if (r < 0)
		return r;
	uint8_t *dst = out->data + out->len;
	r = aead_run(cctx, true, nonce, aad, aad_len, pt, pt_len, dst,
		     dst + pt_len);
	if (r < 0) {
		OPENSSL_cleanse(dst, pt_len + HPKE_TAG_LEN);
		return r;
	}
	out->len += pt_len + HPKE_TAG_LEN;
	return 0;
}

/* Open into out (appending); nothing is appended on failure. */
static int open_into(EVP_CIPHER_CTX *cctx, const uint8_t nonce[HPKE_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *ct,
		     size_t ct_len, struct buf *out)
{
	uint8_t tag[HPKE_TAG_LEN];
	if (ct_len < HPKE_TAG_LEN)
		return -EBADMSG;
	size_t pt_len = ct_len - HPKE_TAG_LEN;
	int r = buf_reserve(out, pt_len);
	if (r < 0)
		return r;
	memcpy(tag, ct + pt_len, HPKE_TAG_LEN);
	uint8_t *dst = pt_len ? out->data + out->len : NULL;
	r = aead_run(cctx, false, nonce, aad, aad_len, ct, pt_len, dst, tag);
	if (r < 0) {
		/* Unauthenticated plaintext must not linger. */
		if (dst)
			OPENSSL_cleanse(dst, pt_len);
		return r;
	}
	out->len += pt_len;
	return 0;
}

static void context_nonce(const hpke_ctx *ctx, uint8_t out[HPKE_NONCE_LEN])
{
	memcpy(out, ctx->base_nonce, HPKE_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		out[HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

int hpke_seal(hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, struct buf *out)
{
	uint8_t nonce[HPKE_NONCE_LEN];
	if (!ctx || !out || (!aad && aad_len) || (!pt && pt_len))
		return -EINVAL;
	if (!ctx->cctx)
		return -EOPNOTSUPP;
	if (!ctx->sender)
		return -EINVAL;
	/* The next increment would wrap and reuse a nonce. */
	if (ctx->seq == UINT64_MAX)
		return -EOVERFLOW;
	context_nonce(ctx, nonce);
	int r = seal_into(ctx->cctx, nonce, aad, aad_len, pt, pt_len, out);
	if (r == 0)
		ctx->seq++;
	return r;
}

int hpke_open(hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, struct buf *out)
{
	uint8_t nonce[HPKE_NONCE_LEN];
	if (!ctx || !out || (!aad && aad_len) || (!ct && ct_len))
		return -EINVAL;
	if (!ctx->cctx)
		return -EOPNOTSUPP;
	if (ctx->sender)
		return -EINVAL;
	if (ctx->seq == UINT64_MAX)
		return -EOVERFLOW;
	context_nonce(ctx, nonce);
	int r = open_into(ctx->cctx, nonce, aad, aad_len, ct, ct_len, out);
	if (r == 0)
		ctx->seq++;
	return r;
}

int hpke_export(const hpke_ctx *ctx, const uint8_t *exporter_context,
		size_t context_len, size_t len, uint8_t *out)
{
	uint8_t suite[HPKE_SUITE_LEN];
	if (!ctx || !out || (!exporter_context && context_len) || len == 0 ||
	    len > HPKE_MAX_EXPORT_LEN || context_len > HPKE_MAX_EXPORT_CONTEXT)
		return -EINVAL;
	int r = algs_get();
	if (r < 0)
		return r;
	hpke_suite_id(ctx->aead_id, suite);
	return labeled_expand(suite, sizeof suite, ctx->exporter_secret, "sec",
			      exporter_context, context_len, out, len);
}

uint64_t hpke_ctx_seq(const hpke_ctx *ctx)
{
	return ctx ? ctx->seq : 0;
}

int hpke_ctx_set_seq(hpke_ctx *ctx, uint64_t seq)
{
	if (!ctx || (ctx->sender && seq < ctx->seq))
		return -EINVAL;
	ctx->seq = seq;
	return 0;
}

hpke_ctx *hpke_ctx_free(hpke_ctx *ctx)
{
	if (!ctx)
		return NULL;
	/* EVP_CIPHER_CTX_free wipes the key schedule it holds. */
	EVP_CIPHER_CTX_free(ctx->cctx);
	OPENSSL_cleanse(ctx, sizeof *ctx);
	free(ctx);
	return NULL;
}

static int aead_oneshot(uint16_t aead_id, const uint8_t *key, bool encrypt,
			EVP_CIPHER_CTX **ret_cctx)
{
	int r = algs_get();
	if (r < 0)
		return r;
	const EVP_CIPHER *cipher = aead_cipher(aead_id);
	if (!cipher)
		return -EPROTONOSUPPORT;
	EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
	if (!cctx)
		return -ENOMEM;
	if (EVP_CipherInit_ex2(cctx, cipher, key, NULL, encrypt ? 1 : 0,
			       NULL) != 1) {
		EVP_CIPHER_CTX_free(cctx);
		return -EIO;
	}
	*ret_cctx = cctx;
	return 0;
}

int hpke_aead_seal(uint16_t aead_id, const uint8_t *key,
		   const uint8_t nonce[HPKE_NONCE_LEN], const uint8_t *aad,
		   size_t aad_len, const uint8_t *pt, size_t pt_len,
		   struct buf *out)
{
	EVP_CIPHER_CTX *cctx = NULL;
	if (!key || !nonce || !out || (!aad && aad_len) || (!pt && pt_len))
		return -EINVAL;
	int r = aead_oneshot(aead_id, key, true, &cctx);
	if (r < 0)
		return r;
	r = seal_into(cctx, nonce, aad, aad_len, pt, pt_len, out);
	EVP_CIPHER_CTX_free(cctx);
	return r;
}

int hpke_aead_open(uint16_t aead_id, const uint8_t *key,
		   const uint8_t nonce[HPKE_NONCE_LEN], const uint8_t *aad,
		   size_t aad_len, const uint8_t *ct, size_t ct_len,
		   struct buf *out)
{
	EVP_CIPHER_CTX *cctx = NULL;
	if (!key || !nonce || !out || (!aad && aad_len) || (!ct && ct_len))
		return -EINVAL;
	int r = aead_oneshot(aead_id, key, false, &cctx);
	if (r < 0)
		return r;
	r = open_into(cctx, nonce, aad, aad_len, ct, ct_len, out);
	EVP_CIPHER_CTX_free(cctx);
	return r;
}
