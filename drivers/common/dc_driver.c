/* The config walk, chain settings, verify() argument check and table
 * release functions shared by the TEE verifier drivers. */
#include "dc_driver.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dc_util.h"

int dc_config_walk(const atoll_kv *config, size_t n_config, dc_config_fn fn,
		   void *userdata, atoll_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n_config; i++) {
		const char *k = config[i].key, *v = config[i].value;

		if (!k || !v)
			return dc_err(err, ATOLL_E_CONFIG,
				      "config entry %zu is empty", i);
		r = fn(userdata, k, v, err);
		if (r == DC_CONFIG_UNKNOWN)
			return dc_err(err, ATOLL_E_CONFIG, "unknown key '%s'", k);
		if (r != ATOLL_OK)
			return r;
	}
	return ATOLL_OK;
}

/* dc_chain_conf_init() while it walks the entries. */
struct chain_walk {
	struct dc_chain_conf *cc;
	const char *pins_key;
	bool pins_set;
	bool cache_on;
	size_t cache_size;
	bool parsed_on;
	size_t parsed_size;
	dc_config_fn fn;
	void *userdata;
	atoll_err *err;
};

static int add_cert_file(const char *item, size_t len, void *userdata)
{
	struct chain_walk *w = userdata;
	char path[4096];

	if (len >= sizeof(path))
		return dc_err(w->err, ATOLL_E_CONFIG, "path too long");
	memcpy(path, item, len);
	path[len] = '\0';
	return dc_collateral_add_file(w->cc->extra, path, w->err);
}

static int chain_key(void *userdata, const char *k, const char *v,
		     atoll_err *err)
{
	struct chain_walk *w = userdata;
	int r;

	if (strcmp(k, w->pins_key) == 0) {
		r = dc_pins_add_list(&w->cc->pins, v, err);
		if (r != ATOLL_OK)
			return dc_err_prefix(err, r, k);
		w->pins_set = true;
	} else if (strcmp(k, "certs") == 0) {
		r = dc_split_list(v, add_cert_file, w);
		if (r != ATOLL_OK)
			return dc_err_prefix(err, r, k);
	} else if (strcmp(k, "chain_cache") == 0) {
		if (dc_parse_bool(v, &w->cache_on) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "chain_cache: '%s' is not true or false",
				      v);
	} else if (strcmp(k, "chain_cache_size") == 0) {
		if (dc_parse_size(v, 1, 65536, &w->cache_size) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "chain_cache_size: '%s' is not a number "
				      "in 1..65536", v);
	} else if (strcmp(k, "cert_cache") == 0) {
		if (dc_parse_bool(v, &w->parsed_on) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "cert_cache: '%s' is not true or false",
				      v);
	} else if (strcmp(k, "cert_cache_size") == 0) {
		if (dc_parse_size(v, 1, DC_PARSE_CACHE_MAX_ENTRIES,
				  &w->parsed_size) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "cert_cache_size: '%s' is not a number "
				      "in 1..%u", v, DC_PARSE_CACHE_MAX_ENTRIES);
	} else {
		return w->fn ? w->fn(w->userdata, k, v, err) :
			       DC_CONFIG_UNKNOWN;
	}
	return ATOLL_OK;
}

int dc_chain_conf_init(struct dc_chain_conf *cc, const char *pins_key,
		       const char *default_pins, const atoll_kv *config,
		       size_t n_config, dc_config_fn fn, void *userdata,
		       atoll_err *err)
{
	struct chain_walk w = {
		.cc = cc,
		.pins_key = pins_key,
		.cache_on = true,
		.cache_size = 64,
		.parsed_on = true,
		.parsed_size = DC_CERT_CACHE_DEFAULT,
		.fn = fn,
		.userdata = userdata,
		.err = err,
	};
	int r;

	cc->extra = dc_collateral_new();
	if (!cc->extra)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	r = dc_config_walk(config, n_config, chain_key, &w, err);
	if (r != ATOLL_OK)
		return r;
	if (!w.pins_set) {
		r = dc_pins_add_list(&cc->pins, default_pins, err);
		if (r != ATOLL_OK)
			return r;
	}
	if (w.cache_on) {
		cc->cache = dc_chain_cache_new(w.cache_size);
		if (!cc->cache)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	if (w.parsed_on) {
		cc->parsed = dc_parse_cache_new(w.parsed_size);
		if (!cc->parsed)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	return ATOLL_OK;
}

void dc_chain_conf_clear(struct dc_chain_conf *cc)
{
	dc_pins_clear(&cc->pins);
	cc->extra = dc_collateral_free(cc->extra);
	cc->cache = dc_chain_cache_free(cc->cache);
	cc->parsed = dc_parse_cache_free(cc->parsed);
}

int dc_verify_args_check(const atoll_verify_args *args,
			 atoll_claims **ret_claims, atoll_err *err)
{
	if (!args || args->struct_size < sizeof(*args) || !ret_claims ||
	    (!args->evidence && args->evidence_len))
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "bad verify arguments");
	return ATOLL_OK;
}

void dc_driver_claims_free(void *ctx, atoll_claims *claims)
{
	dc_claims_free(claims);
}

void dc_driver_evidence_free(void *ctx, atoll_evidence *evidence)
{
	if (!evidence)
		return;
	free(evidence->data);
	free(evidence);
}

int dc_driver_evidence_new(uint8_t *data, size_t len, atoll_evidence **ret,
			   atoll_err *err)
{
	atoll_evidence *ev = calloc(1, sizeof(*ev));

	if (!ev) {
		free(data);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	ev->struct_size = sizeof(*ev);
	ev->data = data;
	ev->len = len;
	*ret = ev;
	return ATOLL_OK;
}
