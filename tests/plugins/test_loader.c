/* Tests of the plugin loader (lib/plugin) against purpose-built modules:
 * every refusal produces exactly the message plugin.h documents, leaves
 * the caller's struct untouched and the module unloaded; tables of older
 * minors load with their later fields absent; a side a driver lacks
 * answers ATOLL_E_UNSUPPORTED through the loader's calls. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "plugin/plugin.h"

#ifndef BAD_MODULE_DIR
#error "BAD_MODULE_DIR must name the folder of the bad test modules"
#endif

static char paths[8][4096];
static int next_path;

/* Path of a bad module; static storage rotated among a few slots. */
static const char *mod(const char *name)
{
	char *p = paths[next_path++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s.so", BAD_MODULE_DIR, name);
	return p;
}

static int is_loaded(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (!h)
		return 0;
	dlclose(h);
	return 1;
}

static char want_buf[8192];

static const char *want(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *want(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want_buf, sizeof(want_buf), fmt, ap);
	va_end(ap);
	return want_buf;
}

/* Load a driver that must be refused with exactly `expect`; checks that
 * the out struct is untouched and that nothing stays loaded. */
static void refused_driver(const char *path, const char *name,
			   const atoll_kv *cfg, size_t n_cfg,
			   const struct loaded_driver *others, size_t n_others,
			   int want_rc, const char *expect)
{
	struct loaded_driver out, pristine;
	char err[1024] = "";
	int rc;

	memset(&out, 0xa5, sizeof(out));
	pristine = out;
	rc = plugin_load_driver(path, name, cfg, n_cfg, others, n_others, &out,
				err, sizeof(err));
	CHECK_INT(rc, want_rc);
	CHECK_STR(err, expect);
	CHECK(memcmp(&out, &pristine, sizeof(out)) == 0);
	CHECK(!is_loaded(path));
}

static void test_open_and_entry(void)
{
	const char *p = "/nonexistent/atoll/x.so";
	char expect[1024];

	snprintf(expect, sizeof(expect),
		 "cannot open [%s]: %s: cannot open shared object file: "
		 "No such file or directory", p, p);
	refused_driver(p, "sim", NULL, 0, NULL, 0, -ENOENT, expect);

	p = mod("no_entry");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -ENOENT,
		       want("no entry point [atoll_tee_driver_entry] in [%s]",
			    p));
}

static void test_table_checks(void)
{
	const char *p;

	p = mod("null_table");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'sim' in [%s]: refuses host ABI 1.1", p));
	refused_driver(p, NULL, NULL, 0, NULL, 0, -EINVAL,
		       want("driver '?' in [%s]: refuses host ABI 1.1", p));

	p = mod("abi2");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'sim' in [%s]: ABI 2.0, host 1.1", p));

	p = mod("short_table");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'sim' in [%s]: table of 40 bytes, at least "
			    "80 needed", p));

	p = mod("null_fn");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'sim' in [%s]: table has NULL entries", p));

	p = mod("good_driver");
	refused_driver(p, "sim", NULL, 0, NULL, 0, -EINVAL,
		       want("driver in [%s] is named 'testdrv', config says "
			    "'sim'", p));
}

static void test_init_failure(void)
{
	const char *p = mod("init_fails");
	atoll_kv silent = { "silent", "1" };

	refused_driver(p, "initfail", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'initfail' in [%s]: init failed: ca_file: "
			    "cannot read /nonexistent/ca.pem", p));
	/* Without a message from the driver, the status names the cause. */
	refused_driver(p, "initfail", &silent, 1, NULL, 0, -EINVAL,
		       want("driver 'initfail' in [%s]: init failed: "
			    "ATOLL_E_IO", p));
}

static void test_duplicates(void)
{
	const char *good = mod("good_driver"), *twin = mod("twin_driver");
	struct loaded_driver ld = { 0 };
	char err[1024] = "";
	atoll_err e = { "" };
	int rc;

	rc = plugin_load_driver(good, "testdrv", NULL, 0, NULL, 0, &ld, err,
				sizeof(err));
	CHECK_INT(rc, 0);
	CHECK_STR(err, "");
	if (rc != 0)
		return;
	CHECK(ld.d && ld.ctx && ld.handle);
	CHECK_STR(ld.name, "testdrv");
	CHECK_STR(ld.path, good);
	CHECK(is_loaded(good));
	CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_OK);

	/* The same name from another file, and the same file again. */
	refused_driver(twin, "testdrv", NULL, 0, &ld, 1, -EINVAL,
		       want("driver 'testdrv' from [%s] is already loaded from "
			    "[%s]", twin, good));
	memset(err, 0, sizeof(err));
	{
		struct loaded_driver again, pristine;

		memset(&again, 0x5a, sizeof(again));
		pristine = again;
		rc = plugin_load_driver(good, NULL, NULL, 0, &ld, 1, &again,
					err, sizeof(err));
		CHECK_INT(rc, -EINVAL);
		CHECK_STR(err, want("driver 'testdrv' from [%s] is already "
				    "loaded from [%s]", good, good));
		CHECK(memcmp(&again, &pristine, sizeof(again)) == 0);
	}
	/* The refusal dropped only its own reference. */
	CHECK(is_loaded(good));
	CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_OK);

	plugin_unload_driver(&ld);
	CHECK(ld.d == NULL && ld.handle == NULL && ld.path == NULL);
	CHECK(!is_loaded(good));
	/* Unloading twice, or NULL, is harmless. */
	plugin_unload_driver(&ld);
	plugin_unload_driver(NULL);
}

static void test_backends(void)
{
	const char *p = mod("backend_abi2");
	struct loaded_backend lb, pristine;
	atoll_kv silent = { "silent", "1" };
	char err[1024] = "";
	void *ctx = (void *)&err;
	int rc;

	memset(&lb, 0xa5, sizeof(lb));
	pristine = lb;
	rc = plugin_load_backend(p, &lb, err, sizeof(err));
	CHECK_INT(rc, -EINVAL);
	CHECK_STR(err, want("backend '?' in [%s]: ABI 2.0, host 1.1", p));
	CHECK(memcmp(&lb, &pristine, sizeof(lb)) == 0);
	CHECK(!is_loaded(p));

	/* A driver module offered as a backend has no backend entry. */
	p = mod("good_driver");
	rc = plugin_load_backend(p, &lb, err, sizeof(err));
	CHECK_INT(rc, -ENOENT);
	CHECK_STR(err, want("no entry point [atoll_backend_entry] in [%s]", p));
	CHECK(memcmp(&lb, &pristine, sizeof(lb)) == 0);
	CHECK(!is_loaded(p));

	p = mod("backend_init_fails");
	memset(&lb, 0, sizeof(lb));
	rc = plugin_load_backend(p, &lb, err, sizeof(err));
	CHECK_INT(rc, 0);
	if (rc != 0)
		return;
	CHECK_STR(lb.path, p);
	CHECK_STR(lb.b->name, "initfail");
	rc = plugin_backend_init(&lb, NULL, 0, &ctx, err, sizeof(err));
	CHECK_INT(rc, -EINVAL);
	CHECK_STR(err, want("backend 'initfail' in [%s]: init failed: model: "
			    "cannot read /nonexistent/model.bin", p));
	rc = plugin_backend_init(&lb, &silent, 1, &ctx, err, sizeof(err));
	CHECK_INT(rc, -EINVAL);
	CHECK_STR(err, want("backend 'initfail' in [%s]: init failed: "
			    "ATOLL_E_IO", p));
	CHECK(ctx == (void *)&err);
	plugin_unload_backend(&lb);
	CHECK(lb.b == NULL && lb.path == NULL);
	CHECK(!is_loaded(p));
	plugin_unload_backend(&lb);
	plugin_unload_backend(NULL);
}

/* Load a driver that must load; NULL config, no others. */
static int loads(const char *path, const char *name, struct loaded_driver *ld)
{
	char err[1024] = "";
	int rc;

	memset(ld, 0, sizeof(*ld));
	rc = plugin_load_driver(path, name, NULL, 0, NULL, 0, ld, err,
				sizeof(err));
	CHECK_INT(rc, 0);
	CHECK_STR(err, "");
	return rc;
}

static void test_versions(void)
{
	struct loaded_driver ld;
	struct loaded_backend lb;
	atoll_verify_args args = { .struct_size = sizeof(args) };
	atoll_claims *claims = NULL;
	atoll_err e = { "" };
	char line[1024], err[1024] = "";
	const char *p;
	int count = 0;

	/* This host is 1.1; 1.0 tables leave `version` out. */
	CHECK_INT(ATOLL_TEE_DRIVER_ABI_MAJOR, 1);
	CHECK_INT(ATOLL_TEE_DRIVER_ABI_MINOR, 1);
	CHECK_INT(ATOLL_BACKEND_ABI_MINOR, 1);

	p = mod("good_driver");
	if (loads(p, "testdrv", &ld) == 0) {
		CHECK_INT(ld.d->abi_minor, 1);
		CHECK(ATOLL_ABI_HAS(ld.d, atoll_tee_driver, version));
		CHECK_STR(plugin_driver_version(&ld), "2.3.4");
		plugin_driver_describe(&ld, line, sizeof(line));
		CHECK_STR(line, want("driver testdrv 2.3.4 (ABI 1.1) loaded "
				     "from %s", p));
		plugin_unload_driver(&ld);
	}

	/* Built with ATOLL_TEE_DRIVER_TARGET_MINOR 0. */
	p = mod("old_minor");
	if (loads(p, "oldminor", &ld) == 0) {
		CHECK_INT(ld.d->abi_major, 1);
		CHECK_INT(ld.d->abi_minor, 0);
		CHECK_INT(ld.d->struct_size, offsetof(atoll_tee_driver, version));
		CHECK(!ATOLL_ABI_HAS(ld.d, atoll_tee_driver, version));
		CHECK(plugin_driver_version(&ld) == NULL);
		plugin_driver_describe(&ld, line, sizeof(line));
		CHECK_STR(line, want("driver oldminor (ABI 1.0) loaded from %s",
				     p));
		CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_OK);
		plugin_unload_driver(&ld);
		CHECK(!is_loaded(p));
	}

	/* Built before 1.1: uint32_t abi_version = 1, a one-argument entry. */
	p = mod("legacy_v1");
	if (loads(p, "legacy", &ld) == 0) {
		CHECK_INT(ld.d->abi_major, 1);
		CHECK_INT(ld.d->abi_minor, 0);
		CHECK(plugin_driver_version(&ld) == NULL);
		CHECK_INT(plugin_driver_verify(&ld, &args, &claims, &e),
			  ATOLL_E_FORMAT);
		CHECK_STR(e.msg, "legacy: not evidence");
		CHECK(claims == NULL);
		plugin_unload_driver(&ld);
	}

	/* Needs a newer minor than this host offers: its entry says no. */
	p = mod("needs_minor");
	refused_driver(p, "needsminor", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'needsminor' in [%s]: refuses host ABI 1.1",
			    p));

	p = mod("backend_old_minor");
	memset(&lb, 0, sizeof(lb));
	CHECK_INT(plugin_load_backend(p, &lb, err, sizeof(err)), 0);
	if (lb.b) {
		CHECK_INT(lb.b->abi_minor, 0);
		CHECK(plugin_backend_version(&lb) == NULL);
		plugin_backend_describe(&lb, line, sizeof(line));
		CHECK_STR(line, want("backend oldminor (ABI 1.0) loaded from %s",
				     p));
		/* No cancel(): nothing to call, nothing to break. */
		plugin_backend_cancel(&lb, &count, "job-1");
		CHECK_INT(count, 0);
		plugin_unload_backend(&lb);
	}

	p = mod("backend_cancel");
	CHECK_INT(plugin_load_backend(p, &lb, err, sizeof(err)), 0);
	if (lb.b) {
		CHECK_STR(plugin_backend_version(&lb), "0.9.1");
		plugin_backend_describe(&lb, line, sizeof(line));
		CHECK_STR(line, want("backend cancelling 0.9.1 (ABI 1.1) loaded "
				     "from %s", p));
		plugin_backend_cancel(&lb, &count, "job-1");
		CHECK_INT(count, 1);
		plugin_unload_backend(&lb);
		CHECK(!is_loaded(p));
	}
}

static void test_sides(void)
{
	struct loaded_driver ld;
	atoll_verify_args args = { .struct_size = sizeof(args) };
	atoll_evidence *ev = NULL;
	atoll_claims *claims = NULL;
	uint8_t rd[ATOLL_REPORT_DATA_LEN] = { 0 };
	atoll_err e = { "" };
	char line[1024];
	const char *p;

	p = mod("verify_only");
	if (loads(p, "verifyonly", &ld) == 0) {
		CHECK(!plugin_driver_can_collect(&ld));
		CHECK(plugin_driver_can_verify(&ld));
		CHECK_INT(plugin_driver_collect(&ld, rd, &ev, &e),
			  ATOLL_E_UNSUPPORTED);
		CHECK_STR(e.msg, "driver 'verifyonly' is verify-only: it has "
				 "no collect()");
		CHECK(ev == NULL);
		CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_E_UNSUPPORTED);
		CHECK_STR(e.msg, "driver 'verifyonly' is verify-only: it has "
				 "no detect()");
		CHECK_INT(plugin_driver_detect(&ld, NULL), ATOLL_E_UNSUPPORTED);
		plugin_driver_evidence_free(&ld, NULL);
		/* The side it has is called. */
		CHECK_INT(plugin_driver_verify(&ld, &args, &claims, &e),
			  ATOLL_E_FORMAT);
		CHECK_STR(e.msg, "verifyonly: not evidence");
		plugin_driver_claims_free(&ld, NULL);
		plugin_driver_describe(&ld, line, sizeof(line));
		CHECK_STR(line, want("driver verifyonly 1.0.0 (ABI 1.1, verify "
				     "only) loaded from %s", p));
		plugin_unload_driver(&ld);
	}

	p = mod("collect_only");
	if (loads(p, "collectonly", &ld) == 0) {
		CHECK(plugin_driver_can_collect(&ld));
		CHECK(!plugin_driver_can_verify(&ld));
		CHECK_INT(plugin_driver_verify(&ld, &args, &claims, &e),
			  ATOLL_E_UNSUPPORTED);
		CHECK_STR(e.msg, "driver 'collectonly' is collect-only: it has "
				 "no verify()");
		CHECK(claims == NULL);
		CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_E_UNAVAILABLE);
		CHECK_STR(e.msg, "collectonly: no hardware");
		plugin_driver_describe(&ld, line, sizeof(line));
		CHECK_STR(line, want("driver collectonly (ABI 1.1, collect only) "
				     "loaded from %s", p));
		plugin_unload_driver(&ld);
	}

	p = mod("no_sides");
	refused_driver(p, "nosides", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'nosides' in [%s]: table has neither "
			    "collect nor verify", p));
	p = mod("half_collect");
	refused_driver(p, "halfcollect", NULL, 0, NULL, 0, -EINVAL,
		       want("driver 'halfcollect' in [%s]: table has NULL "
			    "entries", p));
}

static void test_status_names(void)
{
	static const char *names[] = {
		"ATOLL_OK", "ATOLL_E_INVALID_ARGUMENT", "ATOLL_E_FORMAT",
		"ATOLL_E_SIGNATURE", "ATOLL_E_CHAIN", "ATOLL_E_TCB",
		"ATOLL_E_BINDING", "ATOLL_E_POLICY", "ATOLL_E_EXPIRED",
		"ATOLL_E_UNSUPPORTED", "ATOLL_E_UNAVAILABLE", "ATOLL_E_NOMEM",
		"ATOLL_E_CONFIG", "ATOLL_E_IO", "ATOLL_E_CANCELLED",
		"ATOLL_E_CRYPTO", "ATOLL_E_INTERNAL",
	};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		CHECK_STR(atoll_status_name(i), names[i]);
	CHECK_STR(atoll_status_name(999), "unknown status");
	CHECK_STR(atoll_status_name(-1), "unknown status");
}

int main(void)
{
	test_open_and_entry();
	test_table_checks();
	test_init_failure();
	test_duplicates();
	test_backends();
	test_versions();
	test_sides();
	test_status_names();
	CHECK_DONE();
}
