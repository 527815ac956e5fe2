/* Loading TEE drivers and inference backends: dlopen, the entry symbol,
 * ABI version and table size checks, init, and unloading in reverse.
 *
 * Errors name the path, the symbol and the cause, e.g.
 *   cannot open [/x/sim.so]: /x/sim.so: cannot open shared object file...
 *   no entry point [atoll_tee_driver_entry] in [/x/bad.so]
 *   driver 'sim' in [/x/sim.so]: refuses host ABI 1
 *   driver 'sim' in [/x/sim.so]: ABI version 2, host 1
 *   driver 'sim' in [/x/sim.so]: table of 40 bytes, at least 80 needed
 *   driver 'sim' in [/x/sim.so]: table has NULL entries
 *   driver in [/x/sim.so] is named 'other', config says 'sim'
 *   driver 'sim' from [/x/other.so] is already loaded from [/x/sim.so]
 *   driver 'sim' in [/x/sim.so]: init failed: ca_file: cannot read ...
 * where 'sim' is the configured name ('?' when none was given) until the
 * table has been checked, and the driver's own name after. Backends use
 * the same forms with "backend" (the name is '?' until the ABI version
 * matches, and "backend in [path]: refuses host ABI 1" names none). When
 * init fails without a message, the status name stands in for it.
 * After any failure the module has been dlclose()d. */
#ifndef ATOLL_PLUGIN_PLUGIN_H
#define ATOLL_PLUGIN_PLUGIN_H

#include <stddef.h>

#include "atoll/backend.h"
#include "atoll/tee_driver.h"

struct loaded_driver {
	const atoll_tee_driver *d;
	void *ctx;
	void *handle;
	char *path;
	char *name; /* the configured name, which must equal d->name */
};

struct loaded_backend {
	const atoll_backend *b;
	void *handle;
	char *path;
};

/* Load a driver and init it with config. expect_name (may be NULL) must
 * equal the driver's own name. Loaded drivers in others[0..n) are checked
 * for duplicates. 0 or a negative errno with err filled. */
int plugin_load_driver(const char *path, const char *expect_name, const atoll_kv *config,
		       size_t n_config, const struct loaded_driver *others, size_t n_others,
		       struct loaded_driver *out, char *err, size_t err_size);
void plugin_unload_driver(struct loaded_driver *ld);

/* Load a backend's table (no init: backends are initialized per workload
 * with plugin_backend_init). */
int plugin_load_backend(const char *path, struct loaded_backend *out, char *err,
			size_t err_size);
int plugin_backend_init(const struct loaded_backend *lb, const atoll_kv *config,
			size_t n_config, void **ret_ctx, char *err, size_t err_size);
void plugin_unload_backend(struct loaded_backend *lb);

/* "ATOLL_E_SIGNATURE" and so on; a switch with no default. */
const char *atoll_status_name(int status);

#endif
