/* Reading the `drivers:` and `policy:` sections of a YAML file. */
#include "attest/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_drivers(struct cfg *c, const struct ynode *root, struct attest_config *ac)
{
	const struct ynode *n;
	int e = cfg_seq_alloc(c, root, "", "drivers", false, sizeof *ac->drivers, &n,
			      (void **)&ac->drivers);
	if (e <= 0)
		return e;
	for (size_t i = 0; i < n->n; i++) {
		char p[64];
		cfg_path_index(p, sizeof p, "drivers", i);
		if ((e = plugin_cfg_read(c, n->items[i], p, &ac->drivers[i], NULL)) < 0)
			return e;
		ac->n_drivers = i + 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(ac->drivers[j].name, ac->drivers[i].name) == 0) {
				char pn[96];
				cfg_path(pn, sizeof pn, p, "name");
				return cfg_error(c, cfg_get(n->items[i], "name"), pn,
						 "driver '%s' is already configured (drivers[%zu])",
						 ac->drivers[i].name, j);
			}
	}
	return 0;
}

static int read_digests(struct cfg *c, const struct ynode *map, const char *path,
			const char *key, struct attest_digest **out, size_t *ret_n)
{
	char p[512];
	cfg_path(p, sizeof p, path, key);
	const struct ynode *n;
	int e = cfg_seq_alloc(c, map, path, key, false, sizeof **out, &n, (void **)out);
	if (e <= 0)
		return e;
	for (size_t i = 0; i < n->n; i++) {
		char pi[512];
		cfg_path_index(pi, sizeof pi, p, i);
		if ((e = cfg_hex(c, n->items[i], pi, (*out)[i].v, 0, ATTEST_MAX_DIGEST,
				 &(*out)[i].len)) < 0)
			return e;
		if ((*out)[i].len == 0)
			return cfg_error(c, n->items[i], pi, "empty digest");
	}
	*ret_n = n->n;
	return 0;
}

/* policy.manifest: require_pins, manifest/runtime/driver digests, and
 * per-workload backend and model pins. */
static int read_manifest_policy(struct cfg *c, const struct ynode *policy,
				struct attest_manifest_policy *mp)
{
	static const char *const keys[] = { "require_pins", "manifest_sha256", "runtime_sha256",
					    "driver_sha256", "workloads", NULL };
	static const char *const wkeys[] = { "id", "backend_sha256", "model_sha256", NULL };
	const char *P = "policy.manifest";
	mp->require_pins = true;
	const struct ynode *n = cfg_get(policy, "manifest");
	if (!n)
		return 0;
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_bool(c, n, P, "require_pins", false, &mp->require_pins)) < 0 ||
	    (e = read_digests(c, n, P, "manifest_sha256", &mp->manifests, &mp->n_manifests)) < 0 ||
	    (e = read_digests(c, n, P, "runtime_sha256", &mp->runtimes, &mp->n_runtimes)) < 0 ||
	    (e = read_digests(c, n, P, "driver_sha256", &mp->drivers, &mp->n_drivers)) < 0)
		return e;
	const struct ynode *wls;
	if ((e = cfg_seq_alloc(c, n, P, "workloads", false, sizeof *mp->workloads, &wls,
			       (void **)&mp->workloads)) <= 0)
		return e;
	for (size_t i = 0; i < wls->n; i++) {
		char p[96];
		cfg_path_index(p, sizeof p, "policy.manifest.workloads", i);
		struct attest_workload_pins *w = &mp->workloads[i];
		mp->n_workloads = i + 1;
		uint64_t id = 0;
		const struct ynode *item = wls->items[i];
		if ((e = cfg_check_keys(c, item, p, wkeys)) < 0 ||
		    (e = cfg_uint(c, item, p, "id", true, 1, UINT32_MAX, &id)) < 0 ||
		    (e = read_digests(c, item, p, "backend_sha256", &w->backends,
				      &w->n_backends)) < 0 ||
		    (e = read_digests(c, item, p, "model_sha256", &w->models, &w->n_models)) < 0)
			return e;
		w->id = (uint32_t)id;
		if (!w->n_backends) {
			char pb[128];
			cfg_path(pb, sizeof pb, p, "backend_sha256");
			return cfg_error(c, item, pb, "at least one backend digest is needed");
		}
		for (size_t j = 0; j < i; j++)
			if (mp->workloads[j].id == w->id) {
				char pi[128];
				cfg_path(pi, sizeof pi, p, "id");
				return cfg_error(c, cfg_get(item, "id"), pi,
						 "workload %u is already pinned (workloads[%zu])", w->id, j);
			}
	}
	return 0;
}

int attest_policy_read(struct cfg *c, const struct ynode *root, struct attest_policy *pol)
{
	static const char *const keys[] = { "reattest_interval", "challenge_ttl", "tee", "manifest",
					    NULL };
	static const char *const tee_keys[] = { "allow_debug", "measurements", "signers",
						"min_svn", "min_tcb", "tcb_statuses",
						"require_tcb_status", "max_evidence_age", NULL };
	const struct ynode *n = cfg_get(root, "policy");
	pol->manifest.require_pins = true;
	if (!n)
		return 0;
	const char *P = "policy";
	int e;
	if ((e = cfg_check_keys(c, n, P, keys)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "reattest_interval", false, 1000, 7 * 86400000LL,
				 &pol->reattest_interval_ms)) < 0 ||
	    (e = cfg_duration_ms(c, n, P, "challenge_ttl", false, 100, 3600000,
				 &pol->challenge_ttl_ms)) < 0)
		return e;
	if ((e = read_manifest_policy(c, n, &pol->manifest)) < 0)
		return e;
	const struct ynode *tees = cfg_get(n, "tee");
	if (!tees)
		return 0;
	if (tees->type != YNODE_MAP)
		return cfg_error(c, tees, "policy.tee", "expected a mapping of TEE name to policy");
	pol->tees = calloc(tees->n + 1, sizeof *pol->tees);
	if (!pol->tees)
		return -ENOMEM;
	for (size_t i = 0; i < tees->n; i++) {
		const char *name = tees->keys[i]->scalar;
		char p[256];
		cfg_path(p, sizeof p, "policy.tee", name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(tees->keys[j]->scalar, name) == 0)
				return cfg_error(c, tees->keys[i], p, "duplicate key (first at line %d)",
						 tees->keys[j]->line);
		struct attest_tee_policy *tp = &pol->tees[i];
		pol->n_tees = i + 1;
		if (!(tp->tee = strdup(name)))
			return -ENOMEM;
		tp->require_tcb_status = -1;
		const struct ynode *t = tees->items[i];
		/* `sim: {}` or `sim:` with nothing: allowed with defaults. */
		if (t->type == YNODE_SCALAR && t->plain && t->scalar[0] == 0)
			continue;
		size_t n_status = 0;
		if ((e = cfg_check_keys(c, t, p, tee_keys)) < 0 ||
		    (e = cfg_bool(c, t, p, "allow_debug", false, &tp->allow_debug)) < 0 ||
		    (e = read_digests(c, t, p, "measurements", &tp->measurements,
				      &tp->n_measurements)) < 0 ||
		    (e = read_digests(c, t, p, "signers", &tp->signers, &tp->n_signers)) < 0 ||
		    (e = cfg_uint(c, t, p, "min_svn", false, 0, UINT64_MAX, &tp->min_svn)) < 0 ||
		    (e = cfg_uint(c, t, p, "min_tcb", false, 0, UINT64_MAX, &tp->min_tcb)) < 0 ||
		    (e = cfg_str_list(c, t, p, "tcb_statuses", false, &tp->tcb_statuses,
				      &n_status)) < 0 ||
		    (e = cfg_duration_ms(c, t, p, "max_evidence_age", false, 1000,
					 365 * 86400000LL, &tp->max_evidence_age_ms)) < 0)
			return e;
		if (cfg_get(t, "require_tcb_status")) {
			bool req = false;
			if ((e = cfg_bool(c, t, p, "require_tcb_status", true, &req)) < 0)
				return e;
			tp->require_tcb_status = req;
		}
	}
	return 0;
}

/* Every policy.tee entry needs a driver to verify with. */
static int check_policy_drivers(struct cfg *c, const struct ynode *root,
				const struct attest_config *ac)
{
	const struct ynode *tees = cfg_get(cfg_get(root, "policy"), "tee");
	for (size_t i = 0; i < ac->policy.n_tees; i++) {
		bool found = false;
		for (size_t k = 0; k < ac->n_drivers; k++)
			if (strcmp(ac->drivers[k].name, ac->policy.tees[i].tee) == 0)
				found = true;
		if (!found) {
			char p[256];
			cfg_path(p, sizeof p, "policy.tee", ac->policy.tees[i].tee);
			return cfg_error(c, tees->keys[i], p, "no driver named '%s' in drivers",
					 ac->policy.tees[i].tee);
		}
	}
	return 0;
}

int attest_config_read(struct cfg *c, const struct ynode *root, struct attest_config *ac)
{
	int e;
	if (!ac->policy.reattest_interval_ms)
		ac->policy.reattest_interval_ms = ATTEST_DEFAULT_REATTEST_MS;
	if (!ac->policy.challenge_ttl_ms)
		ac->policy.challenge_ttl_ms = ATTEST_DEFAULT_CHALLENGE_TTL_MS;
	if ((e = read_drivers(c, root, ac)) < 0 || (e = attest_policy_read(c, root, &ac->policy)) < 0 ||
	    (e = check_policy_drivers(c, root, ac)) < 0)
		return e;
	return 0;
}

int attest_config_load(const char *path, struct attest_config **ret, char *err, size_t err_size)
{
	static const char *const keys[] = { "drivers", "policy", NULL };
	struct cfg c = { 0 };
	struct ynode *root = NULL;
	struct attest_config *ac = calloc(1, sizeof *ac);
	int e;
	if (!ac)
		return -ENOMEM;
	if ((e = cfg_load(&c, path, &root)) < 0 || (e = cfg_check_keys(&c, root, "", keys)) < 0 ||
	    (e = attest_config_read(&c, root, ac)) < 0)
		goto fail;
	ynode_free(root);
	*ret = ac;
	return 0;
fail:
	snprintf(err, err_size, "%s", c.err[0] ? c.err : "out of memory");
	ynode_free(root);
	attest_config_free(ac);
	return e;
}

void attest_policy_clear(struct attest_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_tees; i++) {
		struct attest_tee_policy *tp = &p->tees[i];
		free(tp->tee);
		free(tp->measurements);
		free(tp->signers);
		cfg_str_list_free(tp->tcb_statuses);
	}
	free(p->tees);
	p->tees = NULL;
	p->n_tees = 0;
	struct attest_manifest_policy *mp = &p->manifest;
	for (size_t i = 0; i < mp->n_workloads; i++) {
		free(mp->workloads[i].backends);
		free(mp->workloads[i].models);
	}
	free(mp->workloads);
	free(mp->manifests);
	free(mp->runtimes);
	free(mp->drivers);
	memset(mp, 0, sizeof *mp);
}

void attest_config_clear(struct attest_config *ac)
{
	if (!ac)
		return;
	for (size_t i = 0; i < ac->n_drivers; i++)
		plugin_cfg_clear(&ac->drivers[i]);
	free(ac->drivers);
	ac->drivers = NULL;
	ac->n_drivers = 0;
	attest_policy_clear(&ac->policy);
}

void attest_config_free(struct attest_config *ac)
{
	attest_config_clear(ac);
	free(ac);
}
