/* A set of TEE drivers loaded from configuration stanzas: the one loop
 * that turns `drivers:` (or an island's one `driver:`) into loaded
 * modules, in order, refusing duplicates. Coordinator, clients and the
 * enclave runtime all load drivers through it. An island with no driver
 * named probes instead: the stanzas of every module in its driver
 * directory are loaded one by one and asked whether their TEE is here. */
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
/* What probing one stanza found. */
struct driver_probe {
	char name[64];
	char path[512];
	/* ATOLL_OK when detect() found the TEE; else the loader's failure
	 * (ATOLL_E_CONFIG), ATOLL_E_UNSUPPORTED for a verify-only driver,
	 * or detect()'s status. */
	int status;
	char reason[512];
};

/* Load each stanza of cfgs[0..n) in turn, ask it to detect, and record
 * the outcome in probes[i] (the caller's array of n). Drivers that found
 * their TEE stay loaded in *found, in order; the others are unloaded.
 * A module that fails to load is a probe result, not an error. 0, or
 * -ENOMEM with nothing loaded. */
int driver_set_probe(const struct plugin_cfg *cfgs, size_t n, struct driver_probe *probes,
		     struct driver_set *found);

/* The modules of a driver directory: malloc'd absolute paths of its
 * regular "*.so" files, sorted by name. 0 (possibly none), or -errno
 * when the directory cannot be read. Free with driver_set_paths_free. */
int driver_set_dir(const char *dir, char ***ret_paths, size_t *ret_n);
void driver_set_paths_free(char **paths, size_t n);

/* The driver named name, or NULL. */
const struct loaded_driver *driver_set_find(const struct driver_set *s, const char *name);
/* Unload in reverse order. Accepts an empty set. */
void driver_set_unload(struct driver_set *s);

#endif
