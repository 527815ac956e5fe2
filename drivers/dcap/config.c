/* Driver configuration shared by sgx and tdx: pinned root fingerprints,
 * the chain cache and whether collateral is mandatory. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "util/enc.h"

/* CN=Intel SGX Root CA, O=Intel Corporation, 2018-05-21 -> 2049-12-31. */
const uint8_t dcap_intel_root_sha256[32] = {
	0x44, 0xa0, 0x19, 0x6b, 0x2b, 0x99, 0xf8, 0x89, 0xb8, 0xe1, 0x49,
	0xe9, 0x5b, 0x80, 0x7a, 0x35, 0x0e, 0x74, 0x24, 0x96, 0x43, 0x99,
	0xe8, 0x85, 0xa7, 0xcb, 0xb8, 0xcc, 0xfa, 0xb6, 0x74, 0xd3,
};

/* One fingerprint: 64 hex digits, colons and blanks ignored. */
static int parse_fp(const char *s, size_t len, uint8_t out[32])
{
	char hex[65];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ':' || isspace((unsigned char)s[i]))
			continue;
		if (n == 64)
			return -EINVAL;
		hex[n++] = s[i];
	}
	if (n != 64)
		return -EINVAL;
	return enc_hex_decode(hex, 64, out);
}

static int parse_pins(struct dcap_verifier *v, const char *value,
		      atoll_err *err)
{
	const char *p = value;

	v->n_pins = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (v->n_pins == DCAP_MAX_PINS)
			return dc_err(err, ATOLL_E_CONFIG,
				      "root_fingerprint: more than %d fingerprints",
				      DCAP_MAX_PINS);
		if (parse_fp(p, len, v->pins[v->n_pins]) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "root_fingerprint: '%.*s' is not a SHA-256 fingerprint (64 hex digits)",
				      (int)(len > 100 ? 100 : len), p);
		v->n_pins++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return ATOLL_OK;
}

int dcap_verifier_init(struct dcap_verifier *v, const atoll_kv *config,
		       size_t n_config, const char *const *extra_keys,
		       atoll_err *err)
{
	struct dcap_verifier nv = { .n_pins = 1 };
	bool cache = true;
	unsigned long cache_size = DCAP_CACHE_DEFAULT;
	int r;

	memcpy(nv.pins[0], dcap_intel_root_sha256, 32);
	for (size_t i = 0; i < n_config; i++) {
		const char *k = config[i].key, *val = config[i].value;
		bool extra = false;

		if (!k || !val)
			return dc_err(err, ATOLL_E_CONFIG,
				      "config entry %zu lacks a key or value", i);
		if (strcmp(k, "root_fingerprint") == 0) {
			r = parse_pins(&nv, val, err);
			if (r != ATOLL_OK)
				return r;
		} else if (strcmp(k, "chain_cache") == 0) {
			if (dc_parse_bool(val, &cache) < 0)
				return dc_err(err, ATOLL_E_CONFIG,
					      "chain_cache: '%s' is not true or false",
					      val);
		} else if (strcmp(k, "chain_cache_size") == 0) {
			char *end;
			errno = 0;
			cache_size = strtoul(val, &end, 10);
			if (errno || end == val || *end || cache_size < 1 ||
			    cache_size > DCAP_CACHE_MAX)
				return dc_err(err, ATOLL_E_CONFIG,
					      "chain_cache_size: '%s' is not a number from 1 to %d",
					      val, DCAP_CACHE_MAX);
		} else if (strcmp(k, "require_collateral") == 0) {
			if (dc_parse_bool(val, &nv.require_collateral) < 0)
				return dc_err(err, ATOLL_E_CONFIG,
					      "require_collateral: '%s' is not true or false",
					      val);
		} else {
			for (size_t j = 0; extra_keys && extra_keys[j]; j++)
				if (strcmp(k, extra_keys[j]) == 0)
					extra = true;
			if (!extra)
				return dc_err(err, ATOLL_E_CONFIG,
					      "unknown config key '%s' (known: root_fingerprint, chain_cache, chain_cache_size, require_collateral)",
					      k);
		}
	}
	if (cache) {
		nv.cache = dcap_cache_new(cache_size);
		nv.certs = dcap_x509_cache_new(cache_size);
		if (!nv.cache || !nv.certs) {
			dcap_cache_free(nv.cache);
			dcap_x509_cache_free(nv.certs);
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		}
	}
	*v = nv;
	return ATOLL_OK;
}

void dcap_verifier_done(struct dcap_verifier *v)
{
	if (!v)
		return;
	v->cache = dcap_cache_free(v->cache);
	v->certs = dcap_x509_cache_free(v->certs);
}

int dcap_verifier_new(const atoll_kv *config, size_t n_config,
		      const char *const *extra_keys, struct dcap_verifier **ret,
		      atoll_err *err)
{
	struct dcap_verifier *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = dcap_verifier_init(v, config, n_config, extra_keys, err);
	if (r != ATOLL_OK) {
		free(v);
		return r;
	}
	*ret = v;
	return ATOLL_OK;
}

void dcap_verifier_free(struct dcap_verifier *v)
{
	dcap_verifier_done(v);
	free(v);
}
