/* Plugin stanzas and mode lists shared by the config files. */
#include "config/plugin_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/mode.h"
#include "util/buf.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_path_key(const char *k)
{
	return strcmp(k, "model") == 0 || ends_with(k, "_file") ||
	       ends_with(k, "_dir") || ends_with(k, "_path");
}

void plugin_cfg_clear(struct plugin_cfg *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->path);
	kv_list_free(p->config, p->n_config);
	memset(p, 0, sizeof *p);
}

const char *plugin_cfg_get(const struct plugin_cfg *p, const char *key)
{
	for (size_t i = 0; i < p->n_config; i++)
		if (strcmp(p->config[i].key, key) == 0)
			return p->config[i].value;
	return NULL;
}

static int config_value(struct cfg *c, const struct ynode *v, const char *path,
			const char *key, char **out)
{
	struct buf b = { 0 };
	size_t count = v->type == YNODE_SEQ ? v->n : 1;
	if (v->type == YNODE_MAP)
		return cfg_error(c, v, path, "expected a scalar or a list of scalars, found a mapping");
	for (size_t i = 0; i < count; i++) {
		const struct ynode *item = v->type == YNODE_SEQ ? v->items[i] : v;
		if (item->type != YNODE_SCALAR) {
			buf_free(&b);
			return cfg_error(c, item, path, "expected a scalar");
		}
		if (strchr(item->scalar, ',') && count > 1) {
			buf_free(&b);
			return cfg_error(c, item, path, "list items cannot contain ','");
		}
		if (i)
			buf_putc(&b, ',');
		if (is_path_key(key) && item->scalar[0] && item->scalar[0] != '/')
			buf_printf(&b, "%s/%s", c->dir, item->scalar);
		else
			buf_puts(&b, item->scalar);
	}
	char *s = buf_cstr(&b);
	if (!s) {
		buf_free(&b);
		return -ENOMEM;
	}
	*out = strdup(s);
	buf_free(&b);
	return *out ? 0 : -ENOMEM;
}

void kv_list_free(atoll_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)kv[i].key);
		free((char *)kv[i].value);
	}
	free(kv);
}

int kv_map_read(struct cfg *c, const struct ynode *conf, const char *p, atoll_kv **ret,
		size_t *ret_n)
{
	int e;
	if (conf->type != YNODE_MAP)
		return cfg_error(c, conf, p, "expected a mapping of settings");
	atoll_kv *kv = calloc(conf->n + 1, sizeof *kv);
	size_t n = 0;
	if (!kv)
		return -ENOMEM;
	for (size_t i = 0; i < conf->n; i++) {
		const char *k = conf->keys[i]->scalar;
		char pk[512];
		cfg_path(pk, sizeof pk, p, k);
		for (size_t j = 0; j < i; j++)
			if (strcmp(conf->keys[j]->scalar, k) == 0) {
				e = cfg_error(c, conf->keys[i], pk, "duplicate key (first at line %d)",
					      conf->keys[j]->line);
				goto fail;
			}
		char *v = NULL;
		if ((e = config_value(c, conf->items[i], pk, k, &v)) < 0)
			goto fail;
		kv[n].value = v;
		if (!(kv[n].key = strdup(k))) {
			free(v);
			e = -ENOMEM;
			goto fail;
		}
		n++;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
fail:
	kv_list_free(kv, n);
	return e;
}

int plugin_cfg_read(struct cfg *c, const struct ynode *n, const char *path,
		    struct plugin_cfg *out, const char *const *extra_keys)
{
	const char *keys[32] = { "name", "path", "config" };
	size_t nk = 3;
	for (const char *const *k = extra_keys; k && *k && nk < 31; k++)
		keys[nk++] = *k;
	keys[nk] = NULL;
	memset(out, 0, sizeof *out);
	out->line = n->line;
	int e;
	if ((e = cfg_check_keys(c, n, path, keys)) < 0 ||
	    (e = cfg_str(c, n, path, "name", true, &out->name)) < 0 ||
	    (e = cfg_path_value(c, n, path, "path", true, &out->path)) < 0)
		goto fail;
	const struct ynode *conf = cfg_get(n, "config");
	if (conf) {
		char p[512];
		cfg_path(p, sizeof p, path, "config");
		if ((e = kv_map_read(c, conf, p, &out->config, &out->n_config)) < 0)
			goto fail;
	}
	return 0;
fail:
	plugin_cfg_clear(out);
	return e;
}

int plugin_cfg_modes_read(struct cfg *c, const struct ynode *map, const char *path,
	       const char *key, uint32_t *out)
{
	char **list = NULL;
	size_t n = 0;
	char p[512];
	cfg_path(p, sizeof p, path, key);
	int e = cfg_str_list(c, map, path, key, false, &list, &n);
	if (e < 0 || !list)
		return e;
	uint32_t bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t m = 0;
		for (uint32_t k = ATOLL_MODE_PLAIN; k <= ATOLL_MODE_HOMOMORPHIC; k++)
			if (strcmp(list[i], atoll_mode_name(k)) == 0)
				m = k;
		if (!m) {
			const struct ynode *v = cfg_get(map, key);
			char pi[512];
			cfg_path_index(pi, sizeof pi, p, i);
			e = cfg_error(c, v->type == YNODE_SEQ ? v->items[i] : v, pi,
				      "unknown mode '%s' (plain, tee or homomorphic)", list[i]);
			cfg_str_list_free(list);
			return e;
		}
		bits |= ATOLL_MODE_BIT(m);
	}
	cfg_str_list_free(list);
	if (!bits)
		return cfg_error(c, cfg_get(map, key), p, "at least one mode is needed");
	*out = bits;
	return 0;
}
