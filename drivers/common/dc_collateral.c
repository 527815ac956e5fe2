/* Collateral recognition by content (PEM blocks, DER certificates, CRLs
 * and public keys, JSON documents, anything else for the driver) and the
 * bounded cache of parsed collateral (dc_x509.h). */
#include "dc_x509.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "dc_util.h"

struct dc_collateral *dc_collateral_new_cached(struct dc_parse_cache *cache)
{
	struct dc_collateral *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->certs = sk_X509_new_null();
	c->crls = sk_X509_CRL_new_null();
	if (!c->certs || !c->crls)
		return dc_collateral_free(c);
	c->cache = cache;
	return c;
}

struct dc_collateral *dc_collateral_new(void)
{
	return dc_collateral_new_cached(NULL);
}

struct dc_collateral *dc_collateral_free(struct dc_collateral *c)
{
	size_t i;

	if (!c)
		return NULL;
	sk_X509_pop_free(c->certs, X509_free);
	sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
	for (i = 0; i < c->n_keys; i++)
		EVP_PKEY_free(c->keys[i]);
	free(c->keys);
	free(c->json);
	free(c->other);
	for (i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c);
	return NULL;
}

static int push_cert(struct dc_collateral *c, X509 *x)
{
	if (!sk_X509_push(c->certs, x)) {
		X509_free(x);
		return -ENOMEM;
	}
	return 0;
}

static int push_crl(struct dc_collateral *c, X509_CRL *x)
{
	if (!sk_X509_CRL_push(c->crls, x)) {
		X509_CRL_free(x);
		return -ENOMEM;
	}
	return 0;
}

static int push_key(struct dc_collateral *c, EVP_PKEY *k)
{
	EVP_PKEY **n = realloc(c->keys, (c->n_keys + 1) * sizeof(*n));

	if (!n) {
		EVP_PKEY_free(k);
		return -ENOMEM;
	}
	c->keys = n;
	c->keys[c->n_keys++] = k;
	return 0;
}

static int push_blob(atoll_blob **list, size_t *n, const uint8_t *data,
		     size_t len)
{
	atoll_blob *b = realloc(*list, (*n + 1) * sizeof(*b));

	if (!b)
		return -ENOMEM;
	*list = b;
	b[*n].data = data;
	b[*n].len = len;
	(*n)++;
	return 0;
}

static const uint8_t *skip_blank(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
			   *p == '\n'))
		p++;
	return p;
}

static bool starts_with(const uint8_t *p, const uint8_t *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static int add_pem(struct dc_collateral *c, const uint8_t *data, size_t len,
		   atoll_err *err)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int block = 0, status = ATOLL_OK;

	if (!bio)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		long der_len = 0;
		int r = 0;

		if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
			unsigned long e = ERR_peek_last_error();

			/* Running out of blocks is the normal end. */
			if (block == 0 ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
				status = dc_err(err, ATOLL_E_FORMAT,
						"PEM block %d does not decode",
						block + 1);
			ERR_clear_error();
			break;
		}
		block++;
		p = der;
		if (strcmp(name, "CERTIFICATE") == 0) {
			X509 *x = d2i_X509(NULL, &p, der_len);

			r = x && p == der + der_len ? push_cert(c, x) : -EBADMSG;
			if (r == -EBADMSG)
				X509_free(x);
		} else if (strcmp(name, "X509 CRL") == 0) {
			X509_CRL *x = d2i_X509_CRL(NULL, &p, der_len);

			r = x && p == der + der_len ? push_crl(c, x) : -EBADMSG;
			if (r == -EBADMSG)
				X509_CRL_free(x);
		} else if (strcmp(name, "PUBLIC KEY") == 0) {
			EVP_PKEY *k = d2i_PUBKEY(NULL, &p, der_len);

			r = k && p == der + der_len ? push_key(c, k) : -EBADMSG;
			if (r == -EBADMSG)
				EVP_PKEY_free(k);
		}
		/* Other block types (private keys, parameters) are not
		 * collateral; they are skipped rather than trusted. */
		if (r == -EBADMSG)
			status = dc_err(err, ATOLL_E_FORMAT,
					"PEM block %d (%s) does not parse",
					block, name);
		else if (r < 0)
			status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (status != ATOLL_OK)
			break;
	}
	ERR_clear_error();
	BIO_free(bio);
	return status;
}

/* One DER object at p: certificate, CRL or SubjectPublicKeyInfo. Returns
 * its length, 0 when it is none of them, -ENOMEM. */
static long add_der_one(struct dc_collateral *c, const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	long n = len > 0x7fffffff ? 0x7fffffff : (long)len;
	X509 *x;
	X509_CRL *crl;
	EVP_PKEY *k;

	x = d2i_X509(NULL, &q, n);
	if (x)
		return push_cert(c, x) < 0 ? -ENOMEM : (long)(q - p);
	q = p;
	crl = d2i_X509_CRL(NULL, &q, n);
	if (crl)
		return push_crl(c, crl) < 0 ? -ENOMEM : (long)(q - p);
	q = p;
	k = d2i_PUBKEY(NULL, &q, n);
	if (k)
		return push_key(c, k) < 0 ? -ENOMEM : (long)(q - p);
	return 0;
}

/* dc_collateral_add() without the cache. */
static int collateral_parse(struct dc_collateral *c, const uint8_t *data,
			    size_t len, atoll_err *err)
{
	const uint8_t *end = data + len, *p;
	size_t off = 0;
	int n_objs = 0;

	if (len == 0)
		return dc_err(err, ATOLL_E_FORMAT, "empty blob");
	if (len > DC_COLLATERAL_MAX_BLOB)
		return dc_err(err, ATOLL_E_FORMAT, "blob of %zu bytes exceeds %u",
			      len, DC_COLLATERAL_MAX_BLOB);
	p = skip_blank(data, end);
	if (starts_with(p, end, "-----BEGIN "))
		return add_pem(c, data, len, err);
	if (p < end && (*p == '{' || *p == '[')) {
		if (push_blob(&c->json, &c->n_json, data, len) < 0)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		return ATOLL_OK;
	}
	/* DER: one or more objects back to back, then optional zero padding
	 * (certificate tables pad entries). */
	while (off < len && data[off] == 0x30) {
		long r = add_der_one(c, data + off, len - off);

		if (r < 0)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		if (r == 0)
			break;
		off += (size_t)r;
		n_objs++;
	}
	ERR_clear_error();
	if (n_objs > 0) {
		if (!dc_all_zero(data + off, len - off))
			return dc_err(err, ATOLL_E_FORMAT,
				      "%zu unexpected bytes after DER object %d",
				      len - off, n_objs);
		return ATOLL_OK;
	}
	if (push_blob(&c->other, &c->n_other, data, len) < 0)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	return ATOLL_OK;
}

/* ---- the cache of parsed collateral ---- */

enum parse_kind {
	KIND_FREE = 0,
	KIND_BLOB, /* a whole dc_collateral_add() blob */
	KIND_CERT, /* one exact DER certificate (dc_cert_from_der) */
};

struct parse_entry {
	uint8_t key[32];
	uint8_t kind;
	uint64_t used; /* tick of the last hit or insertion */
	/* The cache's references, in the order the blob held them. */
	X509 **certs;
	X509_CRL **crls;
	EVP_PKEY **keys;
	size_t n_certs, n_crls, n_keys;
};

struct dc_parse_cache {
	pthread_mutex_t lock;
	struct parse_entry *slots;
	size_t capacity;
	uint64_t tick;
	uint64_t hits;
	uint64_t misses;
};

static void entry_clear(struct parse_entry *e)
{
	size_t i;

	for (i = 0; i < e->n_certs; i++)
		X509_free(e->certs[i]);
	for (i = 0; i < e->n_crls; i++)
		X509_CRL_free(e->crls[i]);
	for (i = 0; i < e->n_keys; i++)
		EVP_PKEY_free(e->keys[i]);
	/* One allocation holds the three arrays. */
	free(e->certs);
	memset(e, 0, sizeof(*e));
}

struct dc_parse_cache *dc_parse_cache_new(size_t capacity)
{
	struct dc_parse_cache *c;

	if (capacity == 0 || capacity > DC_PARSE_CACHE_MAX_ENTRIES)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->slots = calloc(capacity, sizeof(*c->slots));
	if (!c->slots || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->slots);
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	return c;
}

struct dc_parse_cache *dc_parse_cache_free(struct dc_parse_cache *c)
{
	size_t i;

	if (!c)
		return NULL;
	for (i = 0; i < c->capacity; i++)
		entry_clear(&c->slots[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
	return NULL;
}

void dc_parse_cache_stats(struct dc_parse_cache *c, uint64_t *ret_hits,
			  uint64_t *ret_misses, size_t *ret_entries)
{
	size_t i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->capacity; i++)
		if (c->slots[i].kind != KIND_FREE)
			n++;
	if (ret_hits)
		*ret_hits = c->hits;
	if (ret_misses)
		*ret_misses = c->misses;
	pthread_mutex_unlock(&c->lock);
	if (ret_entries)
		*ret_entries = n;
}

/* The slot holding key, or NULL. Called with the lock held. */
static struct parse_entry *slot_find(struct dc_parse_cache *c,
				     const uint8_t key[32], uint8_t kind)
{
	size_t i;

	for (i = 0; i < c->capacity; i++) {
		struct parse_entry *e = &c->slots[i];

		if (e->kind == kind && memcmp(e->key, key, 32) == 0)
			return e;
	}
	return NULL;
}

/* Move *e (its references) into the cache unless key is there already;
 * what is displaced (an evicted entry, or e itself when another thread
 * put the same bytes first) is left in *e for the caller to clear
 * outside the lock. */
static void cache_put_entry(struct dc_parse_cache *c, struct parse_entry *e)
{
	struct parse_entry *slot, tmp;
	size_t i;

	pthread_mutex_lock(&c->lock);
	if (slot_find(c, e->key, e->kind)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	slot = &c->slots[0];
	for (i = 0; i < c->capacity; i++) {
		if (c->slots[i].kind == KIND_FREE) {
			slot = &c->slots[i];
			break;
		}
		if (c->slots[i].used < slot->used)
			slot = &c->slots[i];
	}
	e->used = ++c->tick;
	tmp = *slot;
	*slot = *e;
	*e = tmp;
	pthread_mutex_unlock(&c->lock);
}

/* An entry holding new references to the objects c gained since it had
 * nc certificates, ncrl CRLs and nk keys. 0 or -ENOMEM. */
static int entry_from(struct parse_entry *e, const uint8_t key[32],
		      uint8_t kind, struct dc_collateral *c, int nc, int ncrl,
		      size_t nk)
{
	size_t n_certs = (size_t)(sk_X509_num(c->certs) - nc);
	size_t n_crls = (size_t)(sk_X509_CRL_num(c->crls) - ncrl);
	size_t n_keys = c->n_keys - nk, i;
	void **all = calloc(n_certs + n_crls + n_keys, sizeof(void *));

	memset(e, 0, sizeof(*e));
	if (!all)
		return -ENOMEM;
	memcpy(e->key, key, 32);
	e->kind = kind;
	e->certs = (X509 **)all;
	e->crls = (X509_CRL **)(all + n_certs);
	e->keys = (EVP_PKEY **)(all + n_certs + n_crls);
	for (i = 0; i < n_certs; i++) {
		X509 *x = sk_X509_value(c->certs, nc + (int)i);

		if (!X509_up_ref(x))
			goto fail;
		e->certs[e->n_certs++] = x;
	}
	for (i = 0; i < n_crls; i++) {
		X509_CRL *x = sk_X509_CRL_value(c->crls, ncrl + (int)i);

		if (!X509_CRL_up_ref(x))
			goto fail;
		e->crls[e->n_crls++] = x;
	}
	for (i = 0; i < n_keys; i++) {
		if (!EVP_PKEY_up_ref(c->keys[nk + i]))
			goto fail;
		e->keys[e->n_keys++] = c->keys[nk + i];
	}
	return 0;
fail:
	entry_clear(e);
	return -ENOMEM;
}

/* Add new references to a cached blob's objects to dst. 1 on a hit, 0 on
 * a miss, -ENOMEM (dst may then hold part of the objects). */
static int cache_take_blob(struct dc_parse_cache *c, const uint8_t key[32],
			   struct dc_collateral *dst)
{
	struct parse_entry *e;
	size_t i;
	int r = 1;

	pthread_mutex_lock(&c->lock);
	e = slot_find(c, key, KIND_BLOB);
	if (!e) {
		c->misses++;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	c->hits++;
	e->used = ++c->tick;
	for (i = 0; r == 1 && i < e->n_certs; i++)
		if (!X509_up_ref(e->certs[i]) || push_cert(dst, e->certs[i]) < 0)
			r = -ENOMEM;
	for (i = 0; r == 1 && i < e->n_crls; i++)
		if (!X509_CRL_up_ref(e->crls[i]) || push_crl(dst, e->crls[i]) < 0)
			r = -ENOMEM;
	for (i = 0; r == 1 && i < e->n_keys; i++)
		if (!EVP_PKEY_up_ref(e->keys[i]) || push_key(dst, e->keys[i]) < 0)
			r = -ENOMEM;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int dc_collateral_add(struct dc_collateral *c, const uint8_t *data,
		      size_t len, atoll_err *err)
{
	uint8_t key[32];
	struct parse_entry e;
	size_t nk, nj, no;
	int nc, ncrl, r;

	if (!c->cache || len == 0 || len > DC_PARSE_CACHE_MAX_BLOB)
		return collateral_parse(c, data, len, err);
	if (EVP_Digest(data, len, key, NULL, EVP_sha256(), NULL) != 1)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = cache_take_blob(c->cache, key, c);
	if (r < 0)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (r == 1)
		return ATOLL_OK;
	nc = sk_X509_num(c->certs);
	ncrl = sk_X509_CRL_num(c->crls);
	nk = c->n_keys;
	nj = c->n_json;
	no = c->n_other;
	r = collateral_parse(c, data, len, err);
	/* Only blobs that were nothing but parsed objects: JSON and other
	 * blobs are borrowed bytes the driver reads each time. */
	if (r != ATOLL_OK || c->n_json != nj || c->n_other != no ||
	    (sk_X509_num(c->certs) == nc && sk_X509_CRL_num(c->crls) == ncrl &&
	     c->n_keys == nk))
		return r;
	/* Failing to remember is not a failure to parse. */
	if (entry_from(&e, key, KIND_BLOB, c, nc, ncrl, nk) == 0) {
		cache_put_entry(c->cache, &e);
		entry_clear(&e);
	}
	return ATOLL_OK;
}

static X509 *cert_exact(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len == 0 || len > 0x7fffffff)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

X509 *dc_cert_from_der(struct dc_parse_cache *c, const uint8_t *der,
		       size_t len)
{
	struct parse_entry e = { 0 }, *hit;
	uint8_t key[32];
	X509 *x = NULL;

	if (!c || len == 0 || len > DC_PARSE_CACHE_MAX_BLOB ||
	    EVP_Digest(der, len, key, NULL, EVP_sha256(), NULL) != 1)
		return cert_exact(der, len);
	pthread_mutex_lock(&c->lock);
	hit = slot_find(c, key, KIND_CERT);
	if (hit) {
		c->hits++;
		hit->used = ++c->tick;
		x = hit->certs[0];
		if (!X509_up_ref(x))
			x = NULL;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	if (hit)
		return x;

	x = cert_exact(der, len);
	if (!x)
		return NULL;
	e.certs = calloc(1, sizeof(*e.certs));
	if (e.certs && X509_up_ref(x)) {
		memcpy(e.key, key, 32);
		e.kind = KIND_CERT;
		e.certs[0] = x;
		e.n_certs = 1;
		cache_put_entry(c, &e);
	}
	entry_clear(&e);
	return x;
}

int dc_collateral_add_all(struct dc_collateral *c, const atoll_blob *blobs,
			  size_t n, atoll_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int r;

		if (!blobs[i].data && blobs[i].len)
			return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
				      "collateral[%zu] has no data", i);
		r = dc_collateral_add(c, blobs[i].data, blobs[i].len, err);
		if (r != ATOLL_OK) {
			char what[48];

			snprintf(what, sizeof(what), "collateral[%zu]", i);
			return dc_err_prefix(err, r, what);
		}
	}
	return ATOLL_OK;
}

int dc_collateral_add_file(struct dc_collateral *c, const char *path,
			   atoll_err *err)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, **owned;
	size_t len = 0, cap = 0;
	int r;

	if (!f)
		return dc_err(err, ATOLL_E_CONFIG, "cannot open %s: %s", path,
			      strerror(errno));
	for (;;) {
		size_t got;

		if (len == cap) {
			uint8_t *nb;

			if (cap >= DC_COLLATERAL_MAX_BLOB) {
				fclose(f);
				free(buf);
				return dc_err(err, ATOLL_E_CONFIG,
					      "%s is larger than %u bytes", path,
					      DC_COLLATERAL_MAX_BLOB);
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return dc_err(err, ATOLL_E_NOMEM, "out of memory");
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	r = ferror(f);
	fclose(f);
	if (r) {
		free(buf);
		return dc_err(err, ATOLL_E_CONFIG, "cannot read %s", path);
	}
	owned = realloc(c->owned, (c->n_owned + 1) * sizeof(*owned));
	if (!owned) {
		free(buf);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	c->owned = owned;
	c->owned[c->n_owned++] = buf;
	r = dc_collateral_add(c, buf, len, err);
	if (r != ATOLL_OK)
		return dc_err_prefix(err, r == ATOLL_E_NOMEM ? r : ATOLL_E_CONFIG,
				     path);
	return ATOLL_OK;
}

int dc_collateral_merge_certs(struct dc_collateral *dst,
			      const struct dc_collateral *src)
{
	int i;

	if (!src)
		return ATOLL_OK;
	for (i = 0; i < sk_X509_num(src->certs); i++) {
		X509 *x = sk_X509_value(src->certs, i);

		if (!X509_up_ref(x))
			return ATOLL_E_NOMEM;
		if (push_cert(dst, x) < 0)
			return ATOLL_E_NOMEM;
	}
	return ATOLL_OK;
}
