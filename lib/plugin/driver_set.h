/* A set of TEE drivers loaded from configuration stanzas: the one loop
 * that turns `drivers:` (or an island's one `driver:`) into loaded
 * modules, in order, refusing duplicates. Coordinator, clients and the
 * enclave runtime all load drivers through it. */
#ifndef ATOLL_PLUGIN_DRIVER_SET_H
#define ATOLL_PLUGIN_DRIVER_SET_H

#include <stddef.h>

#include "config/plugin_cfg.h"
#include "plugin/plugin.h"

struct driver_set {
	struct loaded_driver *d;
	size_t n;
};

/* Load every stanza of cfgs[0..n). On failure nothing stays loaded, *out
 * is untouched and err holds the loader's message. */
int driver_set_load(const struct plugin_cfg *cfgs, size_t n, struct driver_set *out, char *err,
		    size_t err_size);
/* The driver named name, or NULL. */
const struct loaded_driver *driver_set_find(const struct driver_set *s, const char *name);
/* Unload in reverse order. Accepts an empty set. */
void driver_set_unload(struct driver_set *s);

#endif
