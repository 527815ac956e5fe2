/* Collateral recognition by content and the cache of parsed collateral,
 * pinned-root chain verification "as of" a time with optional CRLs, the
 * verified-chain cache, and raw ECDSA signature checks. */
#include "dc_x509.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

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

int dc_pins_add(struct dc_pins *pins, const uint8_t fp[32])
{
	uint8_t (*n)[32] = realloc(pins->fp, (pins->n + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	pins->fp = n;
	memcpy(pins->fp[pins->n++], fp, 32);
	return 0;
}

struct pin_parse {
	struct dc_pins *pins;
	atoll_err *err;
};

static int pin_item(const char *item, size_t len, void *userdata)
{
	struct pin_parse *pp = userdata;
	uint8_t fp[32];

	if (dc_parse_hex_exact(item, len, fp, sizeof(fp)) < 0)
		return dc_err(pp->err, ATOLL_E_CONFIG,
			      "'%.*s' is not a SHA-256 fingerprint (64 hex digits)",
			      (int)(len > 100 ? 100 : len), item);
	if (dc_pins_add(pp->pins, fp) < 0)
		return dc_err(pp->err, ATOLL_E_NOMEM, "out of memory");
	return 0;
}

int dc_pins_add_list(struct dc_pins *pins, const char *list, atoll_err *err)
{
	struct pin_parse pp = { pins, err };
	size_t before = pins->n;
	int r;

	r = dc_split_list(list, pin_item, &pp);
	if (r)
		return r;
	if (pins->n == before)
		return dc_err(err, ATOLL_E_CONFIG, "empty fingerprint list");
	return ATOLL_OK;
}

void dc_pins_clear(struct dc_pins *pins)
{
	free(pins->fp);
	pins->fp = NULL;
	pins->n = 0;
}

int dc_cert_fingerprint(X509 *cert, uint8_t out[32])
{
	unsigned int n = 0;

	if (!X509_digest(cert, EVP_sha256(), out, &n) || n != 32)
		return -EINVAL;
	return 0;
}

bool dc_pins_match(const struct dc_pins *pins, X509 *cert)
{
	uint8_t fp[32];
	bool found = false;
	size_t i;

	if (dc_cert_fingerprint(cert, fp) < 0)
		return false;
	/* Fingerprints are public; a plain loop over all pins is enough. */
	for (i = 0; i < pins->n; i++)
		if (memcmp(pins->fp[i], fp, 32) == 0)
			found = true;
	return found;
}

int dc_asn1_time_to_unix(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

void dc_cert_name(X509 *cert, char *out, size_t out_size)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

	if (idx >= 0) {
		ASN1_STRING *s =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
		int n = ASN1_STRING_length(s);

		snprintf(out, out_size, "CN=%.*s", n > 64 ? 64 : n,
			 (const char *)ASN1_STRING_get0_data(s));
		return;
	}
	X509_NAME_oneline(name, out, (int)out_size);
}

bool dc_cert_cn_is(X509 *cert, const char *cn)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s;

	if (idx < 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return (size_t)ASN1_STRING_length(s) == strlen(cn) &&
	       memcmp(ASN1_STRING_get0_data(s), cn, strlen(cn)) == 0;
}

bool dc_key_is_ec(EVP_PKEY *k, const char *group)
{
	char name[64];
	size_t n = 0;

	return k && EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
					      name, sizeof(name), &n) &&
	       strcmp(name, group) == 0;
}

int dc_cert_ext(X509 *cert, const char *oid, const uint8_t **ret_data,
		size_t *ret_len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx, again;
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *v;

	if (!obj)
		return 0;
	idx = X509_get_ext_by_OBJ(cert, obj, -1);
	again = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return 0;
	if (again >= 0)
		return -EEXIST;
	ext = X509_get_ext(cert, idx);
	v = X509_EXTENSION_get_data(ext);
	*ret_data = ASN1_STRING_get0_data(v);
	*ret_len = (size_t)ASN1_STRING_length(v);
	return 1;
}

/* The chain cache: a ring of entries replaced oldest first. */
struct cache_entry {
	uint8_t key[32];
	int64_t not_before;
	int64_t not_after;
	uint8_t root_fp[32];
	bool used;
};

struct dc_chain_cache {
	pthread_mutex_t lock;
	struct cache_entry *entries;
	size_t capacity;
	size_t next;
	uint64_t hits;
	uint64_t misses;
};

struct dc_chain_cache *dc_chain_cache_new(size_t capacity)
{
	struct dc_chain_cache *c;

	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->entries = calloc(capacity, sizeof(*c->entries));
	if (!c->entries || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->entries);
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	return c;
}

struct dc_chain_cache *dc_chain_cache_free(struct dc_chain_cache *c)
{
	if (!c)
		return NULL;
	pthread_mutex_destroy(&c->lock);
	free(c->entries);
	free(c);
	return NULL;
}

void dc_chain_cache_stats(struct dc_chain_cache *c, uint64_t *ret_hits,
			  uint64_t *ret_misses)
{
	pthread_mutex_lock(&c->lock);
	*ret_hits = c->hits;
	*ret_misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static bool cache_lookup(struct dc_chain_cache *c, const uint8_t key[32],
			 int64_t t, struct cache_entry *ret)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->capacity; i++) {
		struct cache_entry *e = &c->entries[i];

		if (e->used && memcmp(e->key, key, 32) == 0 &&
		    t >= e->not_before && t <= e->not_after) {
			*ret = *e;
			found = true;
			break;
		}
	}
	if (found)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void cache_insert(struct dc_chain_cache *c, const struct cache_entry *e)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->capacity; i++)
		if (c->entries[i].used &&
		    memcmp(c->entries[i].key, e->key, 32) == 0)
			break;
	if (i == c->capacity) {
		i = c->next;
		c->next = (c->next + 1) % c->capacity;
	}
	c->entries[i] = *e;
	c->entries[i].used = true;
	pthread_mutex_unlock(&c->lock);
}

static int hash_der(EVP_MD_CTX *md, const unsigned char *der, int len)
{
	uint8_t l[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 8), (uint8_t)len };

	return EVP_DigestUpdate(md, l, 4) && EVP_DigestUpdate(md, der, (size_t)len);
}

/* Key over the exact bytes of everything the verdict depends on. */
static int chain_key(X509 *leaf, STACK_OF(X509) *pool,
		     STACK_OF(X509_CRL) *crls, uint8_t key[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int i, len, ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	len = ok ? i2d_X509(leaf, &der) : -1;
	ok = ok && len > 0 && hash_der(md, der, len);
	OPENSSL_free(der);
	for (i = 0; ok && i < sk_X509_num(pool); i++) {
		der = NULL;
		len = i2d_X509(sk_X509_value(pool, i), &der);
		ok = len > 0 && hash_der(md, der, len);
		OPENSSL_free(der);
	}
	/* A separator so that a CRL cannot pose as a certificate. */
	ok = ok && EVP_DigestUpdate(md, "crl", 3);
	for (i = 0; ok && i < sk_X509_CRL_num(crls); i++) {
		der = NULL;
		len = i2d_X509_CRL(sk_X509_CRL_value(crls, i), &der);
		ok = len > 0 && hash_der(md, der, len);
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(md, key, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -ENOMEM;
}

static X509 *find_by_fp(STACK_OF(X509) *pool, const uint8_t fp[32])
{
	uint8_t f[32];
	int i;

	for (i = 0; i < sk_X509_num(pool); i++) {
		X509 *x = sk_X509_value(pool, i);

		if (dc_cert_fingerprint(x, f) == 0 && memcmp(f, fp, 32) == 0)
			return x;
	}
	return NULL;
}

static int chain_error(X509_STORE_CTX *sc, int64_t t, atoll_err *err)
{
	int e = X509_STORE_CTX_get_error(sc);
	int depth = X509_STORE_CTX_get_error_depth(sc);
	X509 *cur = X509_STORE_CTX_get_current_cert(sc);
	char name[160] = "?", when[32], lim[32] = "?";
	int64_t bound;

	if (cur)
		dc_cert_name(cur, name, sizeof(name));
	dc_format_time(t, when, sizeof(when));
	switch (e) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
		if (cur && dc_asn1_time_to_unix(X509_get0_notBefore(cur),
						&bound) == 0)
			dc_format_time(bound, lim, sizeof(lim));
		return dc_err(err, ATOLL_E_EXPIRED,
			      "certificate %s (depth %d) not valid before %s; "
			      "verification time %s", name, depth, lim, when);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		if (cur && dc_asn1_time_to_unix(X509_get0_notAfter(cur),
						&bound) == 0)
			dc_format_time(bound, lim, sizeof(lim));
		return dc_err(err, ATOLL_E_EXPIRED,
			      "certificate %s (depth %d) expired at %s; "
			      "verification time %s", name, depth, lim, when);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return dc_err(err, ATOLL_E_CHAIN,
			      "certificate %s (depth %d) does not chain to a "
			      "pinned root: %s", name, depth,
			      X509_verify_cert_error_string(e));
	default:
		return dc_err(err, ATOLL_E_CHAIN,
			      "certificate %s (depth %d): %s", name, depth,
			      X509_verify_cert_error_string(e));
	}
}

/* Apply the CRLs to the verified chain and narrow the window. */
static int check_crls(STACK_OF(X509) *chain, STACK_OF(X509_CRL) *crls,
		      int64_t t, int64_t *nb, int64_t *na, atoll_err *err)
{
	int i, j;

	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		X509 *issuer = NULL;
		int64_t this_up, next_up;
		char name[160];

		for (j = 0; j < sk_X509_num(chain); j++) {
			X509 *x = sk_X509_value(chain, j);

			if (X509_NAME_cmp(X509_get_subject_name(x),
					  X509_CRL_get_issuer(crl)) == 0) {
				issuer = x;
				break;
			}
		}
		/* A CRL of an unrelated issuer says nothing about this
		 * chain. */
		if (!issuer)
			continue;
		dc_cert_name(issuer, name, sizeof(name));
		if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1 &&
		    !dc_fuzz_accept_signature()) {
			ERR_clear_error();
			return dc_err(err, ATOLL_E_CHAIN,
				      "CRL of %s: signature does not verify",
				      name);
		}
		if (dc_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl),
					 &this_up) < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "CRL of %s: bad thisUpdate", name);
		if (!X509_CRL_get0_nextUpdate(crl))
			next_up = INT64_MAX;
		else if (dc_asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl),
					      &next_up) < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "CRL of %s: bad nextUpdate", name);
		if (t < this_up || t > next_up) {
			char when[32], bound[32];

			dc_format_time(t, when, sizeof(when));
			dc_format_time(t < this_up ? this_up : next_up, bound,
				       sizeof(bound));
			return dc_err(err, ATOLL_E_EXPIRED,
				      "CRL of %s %s %s; verification time %s",
				      name, t < this_up ? "not valid before" :
				      "past its nextUpdate", bound, when);
		}
		if (this_up > *nb)
			*nb = this_up;
		if (next_up < *na)
			*na = next_up;
		for (j = 0; j < sk_X509_num(chain); j++) {
			X509 *x = sk_X509_value(chain, j);
			X509_REVOKED *rev = NULL;
			int64_t when;

			if (X509_NAME_cmp(X509_get_issuer_name(x),
					  X509_CRL_get_issuer(crl)) != 0 ||
			    X509_CRL_get0_by_cert(crl, &rev, x) != 1)
				continue;
			/* "As of" t: a revocation dated later does not yet
			 * apply, and the cached window must end there. */
			if (dc_asn1_time_to_unix(
				    X509_REVOKED_get0_revocationDate(rev),
				    &when) == 0 && when > t) {
				if (when - 1 < *na)
					*na = when - 1;
				continue;
			}
			dc_cert_name(x, name, sizeof(name));
			return dc_err(err, ATOLL_E_CHAIN,
				      "certificate %s is revoked", name);
		}
	}
	return ATOLL_OK;
}

#ifdef ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES
static int fuzz_verify_cb(int ok, X509_STORE_CTX *sc)
{
	int e = X509_STORE_CTX_get_error(sc);

	if (!ok && (e == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
		    e == X509_V_ERR_CRL_SIGNATURE_FAILURE) &&
	    dc_fuzz_accept_signature())
		return 1;
	return ok;
}

void dc_fuzz_accept_cert_signatures(X509_STORE_CTX *sc)
{
	X509_STORE_CTX_set_verify_cb(sc, fuzz_verify_cb);
}
#endif

int dc_chain_verify(X509 *leaf, STACK_OF(X509) *pool,
		    STACK_OF(X509_CRL) *crls, const struct dc_pins *pins,
		    int64_t t, struct dc_chain_cache *cache,
		    struct dc_chain_result *ret, atoll_err *err)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *sc = NULL;
	STACK_OF(X509) *chain = NULL;
	struct cache_entry e = { 0 };
	int64_t nb = INT64_MIN, na = INT64_MAX;
	X509 *root = NULL;
	int i, n_anchors = 0, status;

	if (cache) {
		if (chain_key(leaf, pool, crls, e.key) < 0)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		if (cache_lookup(cache, e.key, t, &e)) {
			root = find_by_fp(pool, e.root_fp);
			if (root) {
				ret->not_before = e.not_before;
				ret->not_after = e.not_after;
				ret->root = root;
				ret->cached = true;
				return ATOLL_OK;
			}
		}
	}

	store = X509_STORE_new();
	sc = X509_STORE_CTX_new();
	if (!store || !sc) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	for (i = 0; i < sk_X509_num(pool); i++) {
		X509 *x = sk_X509_value(pool, i);

		if (dc_pins_match(pins, x)) {
			if (!X509_STORE_add_cert(store, x)) {
				status = dc_err(err, ATOLL_E_NOMEM,
						"out of memory");
				goto out_free;
			}
			n_anchors++;
		}
	}
	if (n_anchors == 0) {
		status = dc_err(err, ATOLL_E_CHAIN,
				"no certificate among %d matches a pinned root "
				"fingerprint", sk_X509_num(pool));
		goto out_free;
	}
	if (!X509_STORE_CTX_init(sc, store, leaf, pool)) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	X509_STORE_CTX_set_time(sc, 0, (time_t)t);
	dc_fuzz_accept_cert_signatures(sc);
	if (X509_verify_cert(sc) != 1) {
		status = chain_error(sc, t, err);
		goto out_free;
	}
	chain = X509_STORE_CTX_get1_chain(sc);
	if (!chain) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int64_t a, b;

		if (dc_asn1_time_to_unix(X509_get0_notBefore(x), &a) < 0 ||
		    dc_asn1_time_to_unix(X509_get0_notAfter(x), &b) < 0) {
			status = dc_err(err, ATOLL_E_FORMAT,
					"certificate validity does not parse");
			goto out_free;
		}
		if (a > nb)
			nb = a;
		if (b < na)
			na = b;
	}
	status = check_crls(chain, crls, t, &nb, &na, err);
	if (status != ATOLL_OK)
		goto out_free;
	/* The anchor is the last element; map it back into the pool. */
	if (dc_cert_fingerprint(sk_X509_value(chain, sk_X509_num(chain) - 1),
				e.root_fp) < 0 ||
	    !(root = find_by_fp(pool, e.root_fp))) {
		status = dc_err(err, ATOLL_E_INTERNAL, "verified root not in pool");
		goto out_free;
	}
	if (cache) {
		e.not_before = nb;
		e.not_after = na;
		cache_insert(cache, &e);
	}
	ret->not_before = nb;
	ret->not_after = na;
	ret->root = root;
	ret->cached = false;
	status = ATOLL_OK;
out_free:
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(sc);
	X509_STORE_free(store);
	ERR_clear_error();
	return status;
}

int dc_ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg,
			size_t msg_len, const uint8_t *sig, size_t sig_len,
			bool little_endian, atoll_err *err)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *mctx = NULL;
	size_t half = sig_len / 2;
	int der_len, ok, status;

	if (sig_len == 0 || sig_len % 2)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "ECDSA signature of odd length %zu", sig_len);
	if (little_endian) {
		r = BN_lebin2bn(sig, (int)half, NULL);
		s = BN_lebin2bn(sig + half, (int)half, NULL);
	} else {
		r = BN_bin2bn(sig, (int)half, NULL);
		s = BN_bin2bn(sig + half, (int)half, NULL);
	}
	es = ECDSA_SIG_new();
	if (!r || !s || !es) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	if (!ECDSA_SIG_set0(es, r, s)) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	r = s = NULL;
	der_len = i2d_ECDSA_SIG(es, &der);
	mctx = EVP_MD_CTX_new();
	if (der_len <= 0 || !mctx) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	ok = EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1 &&
	     EVP_DigestVerify(mctx, der, (size_t)der_len, msg, msg_len) == 1;
	status = ok || dc_fuzz_accept_signature() ? ATOLL_OK :
		      dc_err(err, ATOLL_E_SIGNATURE,
			     "ECDSA signature does not verify");
out_free:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return status;
}
