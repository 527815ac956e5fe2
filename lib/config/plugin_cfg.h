/* Config pieces shared by coordinator.yaml and island.yaml: plugin stanzas
 * ({name, path, config}) and job mode lists. */
#ifndef ATOLL_CONFIG_PLUGIN_CFG_H
#define ATOLL_CONFIG_PLUGIN_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/status.h"
#include "config/cfg.h"

struct plugin_cfg {
	char *name;
	char *path;
	atoll_kv *config; /* the `config:` mapping, values as strings */
	size_t n_config;
	int line;         /* of the stanza, for messages */
};

/* Read a stanza with keys name, path, config (and extra_keys, which the
 * caller reads itself; may be NULL). `config:` values are scalars, or
 * lists of scalars joined with ','. Values of keys named `model` or ending
 * in _file, _dir or _path are file paths: relative ones are made absolute
 * against the YAML file's directory. */
int plugin_cfg_read(struct cfg *c, const struct ynode *n, const char *path,
		    struct plugin_cfg *out, const char *const *extra_keys);
void plugin_cfg_clear(struct plugin_cfg *p);
/* A mapping of settings to key/value strings, with plugin_cfg_read's
 * rules for lists and paths. */
int kv_map_read(struct cfg *c, const struct ynode *map, const char *path, atoll_kv **ret,
		size_t *ret_n);
void kv_list_free(atoll_kv *kv, size_t n);
/* Look up a config value, or NULL. */
const char *plugin_cfg_get(const struct plugin_cfg *p, const char *key);
/* map[key]: a list of "plain", "tee", "homomorphic" -> ATOLL_MODE_BIT()s. */
int plugin_cfg_modes_read(struct cfg *c, const struct ynode *map, const char *path,
			  const char *key, uint32_t *out);

#endif
