/* Parsed certificates by the SHA-256 of their DER. OpenSSL 3 decodes a
 * certificate's public key through its provider decoders, which costs more
 * than the signature checks of a verification; the same Intel CA and TCB
 * Signing certificates arrive with every quote and collateral bundle, so
 * they are parsed once. Bounded, least recently used out first; entries
 * hold a reference and callers get their own. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dcap.h"

struct entry {
	uint8_t key[32];
	X509 *x;
	uint64_t used;
};

struct dcap_x509_cache {
	pthread_mutex_t lock;
	struct entry *e;
	size_t n;
	size_t cap;
	uint64_t tick;
};

struct dcap_x509_cache *dcap_x509_cache_new(size_t capacity)
{
	struct dcap_x509_cache *c;

	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(capacity, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->cap = capacity;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

struct dcap_x509_cache *dcap_x509_cache_free(struct dcap_x509_cache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		X509_free(c->e[i].x);
	pthread_mutex_destroy(&c->lock);
	free(c->e);
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
	X509 *x = NULL;

	if (!c || EVP_Digest(der, len, key, NULL, EVP_sha256(), NULL) != 1)
		return parse(der, len);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->e[i].key, key, 32) == 0) {
			c->e[i].used = ++c->tick;
			x = c->e[i].x;
			if (!X509_up_ref(x))
				x = NULL;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (x)
		return x;

	x = parse(der, len);
	if (!x || !X509_up_ref(x))
		return x;
	pthread_mutex_lock(&c->lock);
	struct entry *e = NULL;
	if (c->n < c->cap) {
		e = &c->e[c->n++];
	} else {
		e = &c->e[0];
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].used < e->used)
				e = &c->e[i];
		X509_free(e->x);
	}
	memcpy(e->key, key, 32);
	e->x = x; /* the cache's reference */
	e->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
	return x;
}
