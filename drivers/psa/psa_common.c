/* Keys by instance id (which are also the drivers' instances), claim
 * getters, software components and lifecycle states for the PSA and CCA
 * token drivers. */
#include "psa_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "dc_cose.h"
#include "dc_driver.h"
#include "dc_x509.h"

int psa_instance_id_of(EVP_PKEY *k, uint8_t out[PSA_INSTANCE_ID_LEN])
{
	uint8_t pub[160];
	size_t n = 0;
	unsigned int md_len = 32;

	if (EVP_PKEY_is_a(k, "EC")) {
		if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY,
						     pub, sizeof(pub), &n))
			return -EINVAL;
	} else if (EVP_PKEY_is_a(k, "ED25519")) {
		n = sizeof(pub);
		if (!EVP_PKEY_get_raw_public_key(k, pub, &n))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	out[0] = 0x01;
	if (!EVP_Digest(pub, n, out + 1, &md_len, EVP_sha256(), NULL))
		return -EINVAL;
	return 0;
}

struct key_load {
	struct psa_keyset *ks;
	atoll_err *err;
};

static int load_key(const char *item, size_t len, void *userdata)
{
	struct key_load *l = userdata;
	struct dc_collateral *c = dc_collateral_new();
	const char *eq = memchr(item, '=', len);
	char path[4096];
	struct psa_key *n, a = { 0 };
	const char *p = eq ? eq + 1 : item;
	size_t plen = eq ? len - (size_t)(eq + 1 - item) : len;
	int r;

	if (!c)
		return dc_err(l->err, ATOLL_E_NOMEM, "out of memory");
	if (plen == 0 || plen >= sizeof(path)) {
		r = dc_err(l->err, ATOLL_E_CONFIG, "'%.*s': bad path",
			   (int)(len > 80 ? 80 : len), item);
		goto out_free;
	}
	memcpy(path, p, plen);
	path[plen] = '\0';
	r = dc_collateral_add_file(c, path, l->err);
	if (r != ATOLL_OK)
		goto out_free;
	if (c->n_keys + (size_t)sk_X509_num(c->certs) != 1) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: want exactly one public key or certificate",
			   path);
		goto out_free;
	}
	if (c->n_keys) {
		a.key = c->keys[0];
		c->keys[0] = NULL;
		c->n_keys = 0;
	} else {
		a.key = X509_get_pubkey(sk_X509_value(c->certs, 0));
	}
	if (!a.key || (!EVP_PKEY_is_a(a.key, "EC") &&
		       !EVP_PKEY_is_a(a.key, "ED25519"))) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: not an EC or Ed25519 public key", path);
		goto out_free;
	}
	if (eq) {
		if (dc_parse_hex_exact(item, (size_t)(eq - item), a.instance_id,
				       PSA_INSTANCE_ID_LEN) < 0) {
			r = dc_err(l->err, ATOLL_E_CONFIG,
				   "%s: instance id is not 33 bytes of hex",
				   path);
			goto out_free;
		}
	} else if (psa_instance_id_of(a.key, a.instance_id) < 0) {
		r = dc_err(l->err, ATOLL_E_CONFIG,
			   "%s: cannot derive the instance id", path);
		goto out_free;
	}
	n = realloc(l->ks->keys, (l->ks->n + 1) * sizeof(*n));
	if (!n) {
		r = dc_err(l->err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	l->ks->keys = n;
	n[l->ks->n++] = a;
	a.key = NULL;
	r = ATOLL_OK;
out_free:
	EVP_PKEY_free(a.key);
	dc_collateral_free(c);
	return r;
}

int psa_keyset_add_list(struct psa_keyset *ks, const char *list,
			atoll_err *err)
{
	struct key_load l = { ks, err };

	return dc_split_list(list, load_key, &l);
}

struct ctx_conf {
	struct psa_ctx *c;
	const char *keys_key;
	const char *const *collect_keys;
};

static bool listed(const char *const *list, const char *k)
{
	for (; list && *list; list++)
		if (strcmp(*list, k) == 0)
			return true;
	return false;
}

static int abs_path(const char *k, const char *v, char *out, size_t size,
		    atoll_err *err)
{
	if (v[0] != '/' || strlen(v) >= size)
		return dc_err(err, ATOLL_E_CONFIG,
			      "%s: '%s' is not an absolute path", k, v);
	snprintf(out, size, "%s", v);
	return ATOLL_OK;
}

static int ctx_key(void *userdata, const char *k, const char *v,
		   atoll_err *err)
{
	struct ctx_conf *cc = userdata;
	size_t ms;
	int r;

	if (strcmp(k, cc->keys_key) == 0) {
		r = psa_keyset_add_list(&cc->c->keys, v, err);
		return r == ATOLL_OK ? r : dc_err_prefix(err, r, k);
	}
	if (!listed(cc->collect_keys, k))
		return DC_CONFIG_UNKNOWN;
	if (strcmp(k, "tsm_dir") == 0)
		return abs_path(k, v, cc->c->tsm_dir, sizeof(cc->c->tsm_dir),
				err);
	if (strcmp(k, "token_command") == 0)
		return abs_path(k, v, cc->c->token_command,
				sizeof(cc->c->token_command), err);
	if (dc_parse_size(v, 1, 600000, &ms) < 0)
		return dc_err(err, ATOLL_E_CONFIG,
			      "%s: '%s' is not 1..600000 milliseconds", k, v);
	cc->c->token_timeout_ms = (int64_t)ms;
	return ATOLL_OK;
}

int psa_ctx_new(const char *keys_key, const char *const *collect_keys,
		const atoll_kv *config, size_t n_config, void **ret_ctx,
		atoll_err *err)
{
	struct ctx_conf cc = { calloc(1, sizeof(*cc.c)), keys_key,
			       collect_keys };
	int r;

	if (!cc.c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(cc.c->tsm_dir, sizeof(cc.c->tsm_dir), "%s",
		 "/sys/kernel/config/tsm/report");
	cc.c->token_timeout_ms = 10000;
	r = dc_config_walk(config, n_config, ctx_key, &cc, err);
	if (r != ATOLL_OK) {
		psa_ctx_free(cc.c);
		return r;
	}
	*ret_ctx = cc.c;
	return ATOLL_OK;
}

void psa_ctx_free(void *ctx)
{
	struct psa_ctx *c = ctx;

	if (!c)
		return;
	psa_keyset_clear(&c->keys);
	free(c);
}

EVP_PKEY *psa_keyset_find(const struct psa_keyset *ks,
			  const uint8_t id[PSA_INSTANCE_ID_LEN])
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (memcmp(ks->keys[i].instance_id, id, PSA_INSTANCE_ID_LEN) ==
		    0)
			return ks->keys[i].key;
	return NULL;
}

void psa_keyset_clear(struct psa_keyset *ks)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].key);
	free(ks->keys);
	ks->keys = NULL;
	ks->n = 0;
}

const cbor_item_t *psa_get(const cbor_item_t *map, int64_t key,
			   const char *what, bool required, atoll_err *err,
			   int *status)
{
	bool dup;
	const cbor_item_t *v;

	if (key == 0)
		return NULL;
	v = dc_cbor_map_int(map, key, &dup);
	if (dup) {
		*status = dc_err(err, ATOLL_E_FORMAT, "%s (%lld) appears twice",
				 what, (long long)key);
		return NULL;
	}
	if (!v && required)
		*status = dc_err(err, ATOLL_E_FORMAT, "%s (%lld) is missing",
				 what, (long long)key);
	return v;
}

int psa_get_bytes(const cbor_item_t *map, int64_t key, const char *what,
		  bool required, size_t min, size_t max, const uint8_t **ret,
		  size_t *ret_len, atoll_err *err)
{
	int status = ATOLL_OK;
	const cbor_item_t *v = psa_get(map, key, what, required, err, &status);

	if (!v)
		return status;
	if (!dc_cbor_bytes(v, ret, ret_len) || *ret_len < min ||
	    *ret_len > max)
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s is not a byte string of %zu..%zu bytes", what,
			      min, max);
	return ATOLL_OK;
}

int psa_get_text(const cbor_item_t *map, int64_t key, const char *what,
		 bool required, const char **ret, size_t *ret_len,
		 atoll_err *err)
{
	int status = ATOLL_OK;
	const cbor_item_t *v = psa_get(map, key, what, required, err, &status);

	if (!v)
		return status;
	if (!dc_cbor_text(v, ret, ret_len))
		return dc_err(err, ATOLL_E_FORMAT, "%s is not a text string",
			      what);
	return ATOLL_OK;
}

bool psa_text_is(const char *s, size_t n, const char *want)
{
	return s && n == strlen(want) && memcmp(s, want, n) == 0;
}

int psa_parse_sw(const cbor_item_t *arr, bool signer_required,
		 struct psa_sw *sw, size_t *ret_n, atoll_err *err)
{
	size_t i;
	int r;

	if (!cbor_isa_array(arr) || cbor_array_size(arr) == 0 ||
	    cbor_array_size(arr) > PSA_MAX_SW)
		return dc_err(err, ATOLL_E_FORMAT,
			      "software components are not an array of 1..%d",
			      PSA_MAX_SW);
	for (i = 0; i < cbor_array_size(arr); i++) {
		const cbor_item_t *m = cbor_array_handle(arr)[i];
		struct psa_sw *s = &sw[i];

		memset(s, 0, sizeof(*s));
		if (!cbor_isa_map(m))
			return dc_err(err, ATOLL_E_FORMAT,
				      "software component %zu is not a map", i);
		r = psa_get_bytes(m, 2, "measurement value", true, 1, 64,
				  &s->value, &s->value_len, err);
		if (r == ATOLL_OK)
			r = psa_get_bytes(m, 5, "signer id", signer_required, 1,
					  64, &s->signer, &s->signer_len, err);
		if (r == ATOLL_OK)
			r = psa_get_text(m, 1, "measurement type", false,
					 &s->type, &s->type_len, err);
		if (r == ATOLL_OK)
			r = psa_get_text(m, 4, "version", false, &s->version,
					 &s->version_len, err);
		if (r == ATOLL_OK)
			r = psa_get_text(m, 6, "measurement description", false,
					 &s->desc, &s->desc_len, err);
		if (r != ATOLL_OK) {
			char what[48];

			snprintf(what, sizeof(what), "software component %zu",
				 i);
			return dc_err_prefix(err, r, what);
		}
	}
	*ret_n = cbor_array_size(arr);
	return ATOLL_OK;
}

int psa_sw_digest(const struct psa_sw *sw, size_t n, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t i;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	for (i = 0; ok && i < n; i++) {
		const struct psa_sw *s = &sw[i];
		const void *parts[3] = { s->type, s->value, s->signer };
		size_t lens[3] = { s->type ? s->type_len : 0, s->value_len,
				   s->signer ? s->signer_len : 0 };
		int j;

		for (j = 0; ok && j < 3; j++) {
			uint8_t l[4] = { (uint8_t)(lens[j] >> 24),
					 (uint8_t)(lens[j] >> 16),
					 (uint8_t)(lens[j] >> 8),
					 (uint8_t)lens[j] };

			ok = EVP_DigestUpdate(md, l, 4) &&
			     (lens[j] == 0 ||
			      EVP_DigestUpdate(md, parts[j], lens[j]));
		}
	}
	ok = ok && EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -ENOMEM;
}

int psa_claims_add_sw(struct dc_claims *c, const struct psa_sw *sw,
		      size_t n)
{
	char name[48];
	size_t i;
	int r = 0;

	r |= dc_claims_add_uint(c, "sw_count", n);
	for (i = 0; i < n; i++) {
		const struct psa_sw *s = &sw[i];

		snprintf(name, sizeof(name), "sw%zu_measurement", i);
		r |= dc_claims_add_bytes(c, name, s->value, s->value_len);
		if (s->signer) {
			snprintf(name, sizeof(name), "sw%zu_signer_id", i);
			r |= dc_claims_add_bytes(c, name, s->signer,
						 s->signer_len);
		}
		if (s->type) {
			snprintf(name, sizeof(name), "sw%zu_type", i);
			r |= dc_claims_add_string(c, name, s->type, s->type_len);
		}
		if (s->version) {
			snprintf(name, sizeof(name), "sw%zu_version", i);
			r |= dc_claims_add_string(c, name, s->version,
						  s->version_len);
		}
		if (s->desc) {
			snprintf(name, sizeof(name), "sw%zu_desc", i);
			r |= dc_claims_add_string(c, name, s->desc, s->desc_len);
		}
	}
	return r ? -ENOMEM : 0;
}

const char *psa_lifecycle_state(uint64_t lc)
{
	switch (lc & 0xff00) {
	case 0x0000:
		return "unknown";
	case 0x1000:
		return "assembly_and_test";
	case 0x2000:
		return "psa_rot_provisioning";
	case 0x3000:
		return "secured";
	case 0x4000:
		return "non_psa_rot_debug";
	case 0x5000:
		return "recoverable_psa_rot_debug";
	case 0x6000:
		return "decommissioned";
	default:
		return "invalid";
	}
}
