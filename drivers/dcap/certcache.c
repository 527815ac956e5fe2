/* Parsed certificates by the SHA-256 of their DER. OpenSSL 3 decodes a
 * certificate's public key through its provider decoders, which costs more
 * than the signature checks of a verification; the same Intel CA and TCB
 * Signing certificates arrive with every quote and collateral bundle, so
 * they are parsed once. Bounded, least recently used out first (lru.c);
 * entries hold a reference and callers get their own. */
#include <stdlib.h>

#include <openssl/err.h>

#include "dcap.h"

struct dcap_x509_cache {
	struct dcap_lru lru; /* of X509 *, the cache's references */
};

struct dcap_x509_cache *dcap_x509_cache_new(size_t capacity)
{
	struct dcap_x509_cache *c = calloc(1, sizeof(*c));

	if (!c || dcap_lru_init(&c->lru, capacity, sizeof(X509 *)) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

struct dcap_x509_cache *dcap_x509_cache_free(struct dcap_x509_cache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->lru.n; i++)
		X509_free(*(X509 **)dcap_lru_val(&c->lru, i));
	dcap_lru_done(&c->lru);
	free(c);
	return NULL;
}

static X509 *parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len > INT32_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	if (!x)
		ERR_clear_error();
	return x;
}

X509 *dcap_x509_parse(struct dcap_x509_cache *c, const uint8_t *der,
		      size_t len)
{
	uint8_t key[32];
	X509 *x = NULL, **slot;
	bool evicted;

	if (!c || EVP_Digest(der, len, key, NULL, EVP_sha256(), NULL) != 1)
		return parse(der, len);
	pthread_mutex_lock(&c->lru.lock);
	long i = dcap_lru_find(&c->lru, key);
	if (i >= 0) {
		dcap_lru_touch(&c->lru, (size_t)i);
		x = *(X509 **)dcap_lru_val(&c->lru, (size_t)i);
		if (!X509_up_ref(x))
			x = NULL;
	}
	pthread_mutex_unlock(&c->lru.lock);
	if (x)
		return x;

	x = parse(der, len);
	if (!x || !X509_up_ref(x))
		return x;
	pthread_mutex_lock(&c->lru.lock);
	slot = dcap_lru_val(&c->lru, dcap_lru_claim(&c->lru, key, &evicted));
	if (evicted)
		X509_free(*slot);
	*slot = x; /* the cache's reference */
	pthread_mutex_unlock(&c->lru.lock);
	return x;
}
