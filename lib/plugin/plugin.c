/* dlopen()ing plugins, negotiating their ABI version, checking their
 * tables, and calling the optional entries on the callers' behalf. */
#include "plugin/plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest tables a plugin may hand over: the 1.0 layout, up to its last
 * field. */
#define DRIVER_V1_SIZE (offsetof(atoll_tee_driver, claims_free) + sizeof(void (*)(void)))
#define BACKEND_V1_SIZE (offsetof(atoll_backend, cancel) + sizeof(void (*)(void)))

const char *atoll_status_name(int status)
{
	switch ((atoll_status)status) {
	case ATOLL_OK: return "ATOLL_OK";
	case ATOLL_E_INVALID_ARGUMENT: return "ATOLL_E_INVALID_ARGUMENT";
	case ATOLL_E_FORMAT: return "ATOLL_E_FORMAT";
	case ATOLL_E_SIGNATURE: return "ATOLL_E_SIGNATURE";
	case ATOLL_E_CHAIN: return "ATOLL_E_CHAIN";
	case ATOLL_E_TCB: return "ATOLL_E_TCB";
	case ATOLL_E_BINDING: return "ATOLL_E_BINDING";
	case ATOLL_E_POLICY: return "ATOLL_E_POLICY";
	case ATOLL_E_EXPIRED: return "ATOLL_E_EXPIRED";
	case ATOLL_E_UNSUPPORTED: return "ATOLL_E_UNSUPPORTED";
	case ATOLL_E_UNAVAILABLE: return "ATOLL_E_UNAVAILABLE";
	case ATOLL_E_NOMEM: return "ATOLL_E_NOMEM";
	case ATOLL_E_CONFIG: return "ATOLL_E_CONFIG";
	case ATOLL_E_IO: return "ATOLL_E_IO";
	case ATOLL_E_CANCELLED: return "ATOLL_E_CANCELLED";
	case ATOLL_E_CRYPTO: return "ATOLL_E_CRYPTO";
	case ATOLL_E_INTERNAL: return "ATOLL_E_INTERNAL";
	}
	return "unknown status";
}

static void *open_entry(const char *path, const char *symbol, void **ret_handle, char *err,
			size_t err_size)
{
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, err_size, "cannot open [%s]: %s", path, why ? why : "unknown error");
		return NULL;
	}
	void *sym = dlsym(h, symbol);
	if (!sym) {
		snprintf(err, err_size, "no entry point [%s] in [%s]", symbol, path);
		dlclose(h);
		return NULL;
	}
	*ret_handle = h;
	return sym;
}

int plugin_load_driver(const char *path, const char *expect_name, const atoll_kv *config,
		       size_t n_config, const struct loaded_driver *others, size_t n_others,
		       struct loaded_driver *out, char *err, size_t err_size)
{
	const unsigned host_major = ATOLL_TEE_DRIVER_ABI_MAJOR, host_minor = ATOLL_TEE_DRIVER_ABI_MINOR;
	void *h;
	atoll_tee_driver_entry_fn entry =
		(atoll_tee_driver_entry_fn)open_entry(path, ATOLL_TEE_DRIVER_ENTRY, &h, err, err_size);
	if (!entry)
		return -ENOENT;
	const atoll_tee_driver *d = entry(host_major, host_minor);
	const char *label = expect_name ? expect_name : "?";
	if (!d) {
		snprintf(err, err_size, "driver '%s' in [%s]: refuses host ABI %u.%u", label, path,
			 host_major, host_minor);
		goto fail;
	}
	if (d->abi_major != host_major) {
		snprintf(err, err_size, "driver '%s' in [%s]: ABI %u.%u, host %u.%u", label, path,
			 (unsigned)d->abi_major, (unsigned)d->abi_minor, host_major, host_minor);
		goto fail;
	}
	if (d->struct_size < DRIVER_V1_SIZE) {
		snprintf(err, err_size, "driver '%s' in [%s]: table of %u bytes, at least %zu needed",
			 label, path, d->struct_size, DRIVER_V1_SIZE);
		goto fail;
	}
	/* Each side is whole or absent (tee_driver.h). */
	bool collects = d->collect != NULL, verifies = d->verify != NULL;
	if (!d->name || !d->init || !d->fini || (d->detect != NULL) != collects ||
	    (d->evidence_free != NULL) != collects || (d->claims_free != NULL) != verifies) {
		snprintf(err, err_size, "driver '%s' in [%s]: table has NULL entries", label, path);
		goto fail;
	}
	if (!collects && !verifies) {
		snprintf(err, err_size, "driver '%s' in [%s]: table has neither collect nor verify",
			 label, path);
		goto fail;
	}
	if (expect_name && strcmp(expect_name, d->name) != 0) {
		snprintf(err, err_size, "driver in [%s] is named '%s', config says '%s'", path,
			 d->name, expect_name);
		goto fail;
	}
	for (size_t i = 0; i < n_others; i++)
		if (others[i].d && strcmp(others[i].d->name, d->name) == 0) {
			snprintf(err, err_size, "driver '%s' from [%s] is already loaded from [%s]",
				 d->name, path, others[i].path);
			goto fail;
		}
	atoll_err e = { "" };
	void *ctx = NULL;
	int r = d->init(config, n_config, &ctx, &e);
	if (r != ATOLL_OK) {
		snprintf(err, err_size, "driver '%s' in [%s]: init failed: %s", d->name, path,
			 e.msg[0] ? e.msg : atoll_status_name(r));
		goto fail;
	}
	/* Built aside so that *out stays untouched when a copy fails. */
	struct loaded_driver ld = { .d = d, .ctx = ctx, .handle = h };
	ld.path = strdup(path);
	ld.name = strdup(d->name);
	if (!ld.path || !ld.name) {
		d->fini(ctx);
		free(ld.path);
		free(ld.name);
		snprintf(err, err_size, "out of memory");
		goto fail;
	}
	*out = ld;
	return 0;
fail:
	dlclose(h);
	return -EINVAL;
}

void plugin_unload_driver(struct loaded_driver *ld)
{
	if (!ld || !ld->d)
		return;
	ld->d->fini(ld->ctx);
	dlclose(ld->handle);
	free(ld->path);
	free(ld->name);
	memset(ld, 0, sizeof *ld);
}

int plugin_load_backend(const char *path, struct loaded_backend *out, char *err,
			size_t err_size)
{
	void *h;
	atoll_backend_entry_fn entry =
		(atoll_backend_entry_fn)open_entry(path, ATOLL_BACKEND_ENTRY, &h, err, err_size);
	if (!entry)
		return -ENOENT;
	const unsigned host_major = ATOLL_BACKEND_ABI_MAJOR, host_minor = ATOLL_BACKEND_ABI_MINOR;
	const atoll_backend *b = entry(host_major, host_minor);
	if (!b) {
		snprintf(err, err_size, "backend in [%s]: refuses host ABI %u.%u", path, host_major,
			 host_minor);
		goto fail;
	}
	const char *label = b->abi_major == host_major && b->name ? b->name : "?";
	if (b->abi_major != host_major) {
		snprintf(err, err_size, "backend '%s' in [%s]: ABI %u.%u, host %u.%u", label, path,
			 (unsigned)b->abi_major, (unsigned)b->abi_minor, host_major, host_minor);
		goto fail;
	}
	if (b->struct_size < BACKEND_V1_SIZE) {
		snprintf(err, err_size, "backend '%s' in [%s]: table of %u bytes, at least %zu needed",
			 label, path, b->struct_size, BACKEND_V1_SIZE);
		goto fail;
	}
	if (!b->name || !b->init || !b->fini || !b->run) {
		snprintf(err, err_size, "backend '%s' in [%s]: table has NULL entries", label, path);
		goto fail;
	}
	char *copy = strdup(path);
	if (!copy) {
		snprintf(err, err_size, "out of memory");
		goto fail;
	}
	out->b = b;
	out->handle = h;
	out->path = copy;
	return 0;
fail:
	dlclose(h);
	return -EINVAL;
}

int plugin_backend_init(const struct loaded_backend *lb, const atoll_kv *config,
			size_t n_config, void **ret_ctx, char *err, size_t err_size)
{
	atoll_err e = { "" };
	void *ctx = NULL;
	int r = lb->b->init(config, n_config, &ctx, &e);
	if (r != ATOLL_OK) {
		snprintf(err, err_size, "backend '%s' in [%s]: init failed: %s", lb->b->name,
			 lb->path, e.msg[0] ? e.msg : atoll_status_name(r));
		return -EINVAL;
	}
	*ret_ctx = ctx;
	return 0;
}

void plugin_unload_backend(struct loaded_backend *lb)
{
	if (!lb || !lb->b)
		return;
	dlclose(lb->handle);
	free(lb->path);
	memset(lb, 0, sizeof *lb);
}

bool plugin_driver_can_collect(const struct loaded_driver *ld)
{
	return ld->d->collect != NULL;
}

bool plugin_driver_can_verify(const struct loaded_driver *ld)
{
	return ld->d->verify != NULL;
}

const char *plugin_driver_version(const struct loaded_driver *ld)
{
	return ATOLL_ABI_HAS(ld->d, atoll_tee_driver, version) ? ld->d->version : NULL;
}

const char *plugin_backend_version(const struct loaded_backend *lb)
{
	return ATOLL_ABI_HAS(lb->b, atoll_backend, version) ? lb->b->version : NULL;
}

void plugin_driver_describe(const struct loaded_driver *ld, char *buf, size_t size)
{
	const char *v = plugin_driver_version(ld);
	const char *side = !plugin_driver_can_collect(ld) ? ", verify only"
			   : !plugin_driver_can_verify(ld) ? ", collect only"
							   : "";
	snprintf(buf, size, "driver %s%s%.64s (ABI %u.%u%s) loaded from %s", ld->d->name,
		 v ? " " : "", v ? v : "", (unsigned)ld->d->abi_major, (unsigned)ld->d->abi_minor,
		 side, ld->path);
}

void plugin_backend_describe(const struct loaded_backend *lb, char *buf, size_t size)
{
	const char *v = plugin_backend_version(lb);
	snprintf(buf, size, "backend %s%s%.64s (ABI %u.%u) loaded from %s", lb->b->name,
		 v ? " " : "", v ? v : "", (unsigned)lb->b->abi_major, (unsigned)lb->b->abi_minor,
		 lb->path);
}

static int lacks(const struct loaded_driver *ld, const char *fn, atoll_err *err)
{
	if (err)
		snprintf(err->msg, sizeof err->msg, "driver '%s' is %s-only: it has no %s()",
			 ld->d->name, ld->d->verify ? "verify" : "collect", fn);
	return ATOLL_E_UNSUPPORTED;
}

int plugin_driver_detect(const struct loaded_driver *ld, atoll_err *err)
{
	if (!ld->d->detect)
		return lacks(ld, "detect", err);
	return ld->d->detect(ld->ctx, err);
}

int plugin_driver_collect(const struct loaded_driver *ld, const uint8_t *report_data,
			  atoll_evidence **ret_evidence, atoll_err *err)
{
	if (!ld->d->collect)
		return lacks(ld, "collect", err);
	return ld->d->collect(ld->ctx, report_data, ret_evidence, err);
}

void plugin_driver_evidence_free(const struct loaded_driver *ld, atoll_evidence *evidence)
{
	if (ld->d->evidence_free)
		ld->d->evidence_free(ld->ctx, evidence);
}

int plugin_driver_verify(const struct loaded_driver *ld, const atoll_verify_args *args,
			 atoll_claims **ret_claims, atoll_err *err)
{
	if (!ld->d->verify)
		return lacks(ld, "verify", err);
	return ld->d->verify(ld->ctx, args, ret_claims, err);
}

void plugin_driver_claims_free(const struct loaded_driver *ld, atoll_claims *claims)
{
	if (ld->d->claims_free)
		ld->d->claims_free(ld->ctx, claims);
}

void plugin_backend_cancel(const struct loaded_backend *lb, void *ctx, const char *job_id)
{
	if (lb->b->cancel)
		lb->b->cancel(ctx, job_id);
}
