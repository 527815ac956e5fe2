/* Building an enclave manifest from island.yaml and the files it names. */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hash(const char *what, const char *path, uint8_t out[MANIFEST_SHA256_LEN], char *err,
		size_t err_size)
{
	int e = manifest_hash_file(path, out);
	if (e < 0)
		snprintf(err, err_size, "%s: cannot read %s: %s", what, path, strerror(-e));
	return e;
}

static const char *backend_path(const struct island_config *ic, const char *name)
{
	for (size_t i = 0; i < ic->enclave.n_backends; i++)
		if (strcmp(ic->enclave.backends[i].name, name) == 0)
			return ic->enclave.backends[i].path;
	return NULL;
}

int island_manifest(const struct island_config *ic, const char *runtime_path,
		    const char *driver_name, const char *driver_path, const bool *include,
		    struct manifest *m, char *err, size_t err_size)
{
	int e;
	if ((e = hash("enclave runtime", runtime_path, m->runtime_sha256, err, err_size)) < 0)
		return e;
	if (driver_name && driver_path) {
		snprintf(m->driver, sizeof m->driver, "%s", driver_name);
		if ((e = hash("driver", driver_path, m->driver_sha256, err, err_size)) < 0)
			return e;
		m->has_driver = true;
	}
	size_t n = ic->enclave.n_workloads;
	if (!(m->workloads = calloc(n + 1, sizeof *m->workloads)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct island_workload *w = &ic->enclave.workloads[i];
		if (include && !include[i])
			continue;
		struct manifest_workload *mw = &m->workloads[m->n_workloads++];
		mw->id = w->id;
		mw->modes = w->modes;
		snprintf(mw->backend, sizeof mw->backend, "%s", w->backend);
		const char *bp = backend_path(ic, w->backend);
		char what[96];
		snprintf(what, sizeof what, "workload %u: backend %s", w->id, w->backend);
		if (!bp) {
			snprintf(err, err_size, "%s is not configured", what);
			return -ENOENT;
		}
		if ((e = hash(what, bp, mw->backend_sha256, err, err_size)) < 0)
			return e;
		mw->models = calloc(w->n_models + 1, sizeof *mw->models);
		mw->options = calloc(w->n_options + 1, sizeof *mw->options);
		if (!mw->models || !mw->options)
			return -ENOMEM;
		for (size_t k = 0; k < w->n_models; k++) {
			snprintf(what, sizeof what, "workload %u: model", w->id);
			if ((e = hash(what, w->models[k], mw->models[k], err, err_size)) < 0)
				return e;
			mw->n_models = k + 1;
		}
		for (size_t k = 0; k < w->n_options; k++) {
			mw->options[k].key = strdup(w->options[k].key);
			mw->options[k].value = strdup(w->options[k].value);
			mw->n_options = k + 1;
			if (!mw->options[k].key || !mw->options[k].value)
				return -ENOMEM;
		}
	}
	return 0;
}
