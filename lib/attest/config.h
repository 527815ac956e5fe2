/* The trust part of a configuration file: the verifier drivers to load
 * (`drivers:`) and the attestation policy (`policy:`). The coordinator's
 * coordinator.yaml embeds it; a client's policy file is nothing else.
 * Errors read "file:line:col: key.path: what" like every config error. */
#ifndef ATOLL_ATTEST_CONFIG_H
#define ATOLL_ATTEST_CONFIG_H

#include <stddef.h>

#include "attest/policy.h"
#include "config/cfg.h"
#include "config/plugin_cfg.h"

struct attest_config {
	struct plugin_cfg *drivers;
	size_t n_drivers;
	struct attest_policy policy;
};

/* Read root's `drivers` and `policy` keys into out (zeroed by the caller;
 * other keys of root are the caller's). Every policy.tee entry must name
 * a configured driver. 0 or -errno with the error in c. */
int attest_config_read(struct cfg *c, const struct ynode *root, struct attest_config *out);

/* Read only `policy:` of root into out (timings defaulted by the caller). */
int attest_policy_read(struct cfg *c, const struct ynode *root, struct attest_policy *out);

/* A client policy file: `drivers` and `policy`, nothing else. */
int attest_config_load(const char *path, struct attest_config **ret, char *err,
		       size_t err_size);

/* Release what out owns. Accepts NULL. */
void attest_config_clear(struct attest_config *ac);
void attest_config_free(struct attest_config *ac);
void attest_policy_clear(struct attest_policy *p);

#endif
