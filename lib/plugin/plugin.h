/* Loading TEE drivers and inference backends: dlopen, the entry symbol,
 * ABI version negotiation and table checks, init, unloading in reverse,
 * and calls to a driver's optional entries that answer for absent ones.
 *
 * The host offers ABI 1.1 of both (ATOLL_*_ABI_MAJOR/_MINOR), refuses
 * another major, accepts any minor, and reads fields appended after 1.0
 * only when the table's struct_size covers them.
 *
 * Errors name the path, the symbol and the cause, e.g.
 *   cannot open [/x/sim.so]: /x/sim.so: cannot open shared object file...
 *   no entry point [atoll_tee_driver_entry] in [/x/bad.so]
 *   driver 'sim' in [/x/sim.so]: refuses host ABI 1.1
 *   driver 'sim' in [/x/sim.so]: ABI 2.0, host 1.1
 *   driver 'sim' in [/x/sim.so]: table of 40 bytes, at least 80 needed
 *   driver 'sim' in [/x/sim.so]: table has NULL entries
 *   driver 'sim' in [/x/sim.so]: table has neither collect nor verify
 *   driver in [/x/sim.so] is named 'other', config says 'sim'
 *   driver 'sim' from [/x/other.so] is already loaded from [/x/sim.so]
 *   driver 'sim' in [/x/sim.so]: init failed: ca_file: cannot read ...
 * where 'sim' is the configured name ('?' when none was given) until the
 * table has been checked, and the driver's own name after. "NULL entries"
 * means a NULL name, init or fini, or a side (detect, collect,
 * evidence_free / verify, claims_free) that is neither whole nor absent.
 * Backends use the same forms with "backend" (the name is '?' until the
 * major matches, and "backend in [path]: refuses host ABI 1.1" names
 * none). When init fails without a message, the status name stands in for
 * it. After any failure the module has been dlclose()d. */
#ifndef ATOLL_PLUGIN_PLUGIN_H
#define ATOLL_PLUGIN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Which sides a loaded driver has (a verify-only driver cannot collect). */
bool plugin_driver_can_collect(const struct loaded_driver *ld);
bool plugin_driver_can_verify(const struct loaded_driver *ld);
/* The driver's own version (ABI 1.1), or NULL when it has none or its
 * table predates the field. */
const char *plugin_driver_version(const struct loaded_driver *ld);
/* One line for the host's log, e.g.
 *   driver sim 0.1.0 (ABI 1.1) loaded from /x/sim.so
 *   driver psa 0.1.0 (ABI 1.1, verify only) loaded from /x/psa.so
 *   driver old (ABI 1.0) loaded from /x/old.so */
void plugin_driver_describe(const struct loaded_driver *ld, char *buf, size_t size);

/* The driver's entries with ld's instance. An absent side answers
 * ATOLL_E_UNSUPPORTED with "driver 'psa' is verify-only: it has no
 * collect()" (or detect(), or "collect-only: it has no verify()") in err,
 * which may be NULL. The release functions do nothing for an absent side
 * and pass anything else, NULL included, to the driver. Threading rules
 * are the ABI's (tee_driver.h). */
int plugin_driver_detect(const struct loaded_driver *ld, atoll_err *err);
int plugin_driver_collect(const struct loaded_driver *ld, const uint8_t *report_data,
			  atoll_evidence **ret_evidence, atoll_err *err);
void plugin_driver_evidence_free(const struct loaded_driver *ld, atoll_evidence *evidence);
int plugin_driver_verify(const struct loaded_driver *ld, const atoll_verify_args *args,
			 atoll_claims **ret_claims, atoll_err *err);
void plugin_driver_claims_free(const struct loaded_driver *ld, atoll_claims *claims);

/* Load a backend's table (no init: backends are initialized per workload
 * with plugin_backend_init). */
int plugin_load_backend(const char *path, struct loaded_backend *out, char *err,
			size_t err_size);
int plugin_backend_init(const struct loaded_backend *lb, const atoll_kv *config,
			size_t n_config, void **ret_ctx, char *err, size_t err_size);
void plugin_unload_backend(struct loaded_backend *lb);

/* The backend's own version (ABI 1.1) or NULL, and its log line, e.g.
 * "backend echo 0.1.0 (ABI 1.1) loaded from /x/echo.so". */
const char *plugin_backend_version(const struct loaded_backend *lb);
void plugin_backend_describe(const struct loaded_backend *lb, char *buf, size_t size);
/* cancel() of an instance when the backend has one; nothing otherwise
 * (the host's io->cancelled() is what every backend observes). */
void plugin_backend_cancel(const struct loaded_backend *lb, void *ctx, const char *job_id);

/* "ATOLL_E_SIGNATURE" and so on; a switch with no default. */
const char *atoll_status_name(int status);

#endif
