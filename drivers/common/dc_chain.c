/* Pinned root fingerprints, chain verification "as of" a time with
 * optional CRLs, the verified-chain cache, and the fuzz builds' hook that
 * lets certificate signatures pass (dc_x509.h). */
#include "dc_x509.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "dc_util.h"

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
