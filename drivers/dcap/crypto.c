/* ECDSA P-256 with SHA-256 over raw keys (x || y) and raw signatures
 * (r || s), the encodings DCAP quotes and Intel collateral use. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "dcap.h"

EVP_PKEY *dcap_p256_from_raw(const uint8_t xy[64])
{
	uint8_t pub[65];
	char group[] = "prime256v1";
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx;

	pub[0] = 0x04; /* uncompressed point */
	memcpy(pub + 1, xy, 64);
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)),
		OSSL_PARAM_END,
	};
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx)
		return NULL;
	/* The import decodes the point, which rejects points off the curve. */
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int dcap_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
		      const uint8_t sig[64])
{
	ECDSA_SIG *es = NULL;
	EVP_MD_CTX *md = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int der_len, ok = 0;

	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	es = ECDSA_SIG_new();
	if (!r || !s || !es)
		goto out;
	if (!ECDSA_SIG_set0(es, r, s))
		goto out;
	r = s = NULL;
	der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len <= 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1 ||
	     dc_fuzz_accept_signature();
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	/* A failed verification leaves errors on the thread's queue. */
	ERR_clear_error();
	return ok;
}
