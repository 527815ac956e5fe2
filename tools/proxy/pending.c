/* Inputs encrypted before their workload is known. The seed's encrypt
 * body names no workload, and an Atoll envelope is bound to one, so
 * POST /encrypt without workload_id returns a pending input instead: the
 * input document under AES-256-GCM with a key that never leaves this
 * machine (<keystore>/proxy-pending.key, 0600), bound to the output key
 * id. POST /jobs opens it and seals it for the job's workload, judging
 * the islands then. A coordinator handed one directly refuses it, as it
 * is not an Atoll envelope.
 *
 * Layout: "ATLP" | version 1 | 12-byte nonce | ciphertext | 16-byte tag. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proxy.h"
#include "util/fsutil.h"

#define MAGIC "ATLP"
#define HDR (4 + 1 + 12)
#define TAG 16

int pending_key_load(struct proxy *p, char *err, size_t err_size)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/proxy-pending.key", p->ks.dir);
	uint8_t *data;
	size_t len;
	int e = fs_read_file(path, 64, &data, &len);
	if (e == 0) {
		if (len != sizeof p->pending_key) {
			OPENSSL_cleanse(data, len);
			free(data);
			snprintf(err, err_size, "%s: not a 32-byte key", path);
			return -EBADMSG;
		}
		memcpy(p->pending_key, data, len);
		OPENSSL_cleanse(data, len);
		free(data);
		return 0;
	}
	if (e != -ENOENT) {
		snprintf(err, err_size, "cannot read %s: %s", path, strerror(-e));
		return e;
	}
	if (RAND_bytes(p->pending_key, sizeof p->pending_key) != 1) {
		snprintf(err, err_size, "no randomness for %s", path);
		return -EIO;
	}
	if ((e = fs_write_atomic(path, p->pending_key, sizeof p->pending_key, 0600)) < 0)
		snprintf(err, err_size, "cannot write %s: %s", path, strerror(-e));
	return e;
}

static int gcm(bool enc, const uint8_t key[32], const uint8_t nonce[12], const char *aad,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[TAG])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
		    EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
		    EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + n, &n) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EBADMSG;
}

int pending_seal(const struct proxy *p, const char *key_id, const uint8_t *doc, size_t len,
		 struct buf *out)
{
	if (len > (1u << 30))
		return -E2BIG;
	int e = buf_reserve(out, HDR + len + TAG);
	if (e < 0)
		return e;
	uint8_t *h = out->data + out->len;
	memcpy(h, MAGIC, 4);
	h[4] = 1;
	if (RAND_bytes(h + 5, 12) != 1)
		return -EIO;
	if ((e = gcm(true, p->pending_key, h + 5, key_id, doc, len, h + HDR, h + HDR + len)) < 0)
		return e;
	out->len += HDR + len + TAG;
	return 0;
}

int pending_open(const struct proxy *p, const char *key_id, const uint8_t *ct, size_t len,
		 struct buf *doc)
{
	if (len < HDR + TAG || memcmp(ct, MAGIC, 4) != 0)
		return 0;
	if (ct[4] != 1)
		return -EBADMSG;
	size_t n = len - HDR - TAG;
	int e = buf_reserve(doc, n + 1);
	if (e < 0)
		return e;
	uint8_t tag[TAG];
	memcpy(tag, ct + len - TAG, TAG);
	if (gcm(false, p->pending_key, ct + 5, key_id, ct + HDR, n, doc->data + doc->len, tag) < 0)
		return -EBADMSG;
	doc->len += n;
	return 1;
}
