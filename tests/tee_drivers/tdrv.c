/* Driver loading, verification and sample-file helpers for the TEE
 * verifier driver tests. */
#include "tdrv.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

void tdrv_load(struct tdrv *t, const char *name)
{
	const char *dir = getenv("ATOLL_MODULE_DIR");
	atoll_tee_driver_entry_fn entry;
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.so", dir ? dir : "modules", name);
	t->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!t->handle) {
		fprintf(stderr, "cannot open [%s]: %s\n", path, dlerror());
		exit(1);
	}
	entry = (atoll_tee_driver_entry_fn)dlsym(t->handle,
						 ATOLL_TEE_DRIVER_ENTRY);
	if (!entry) {
		fprintf(stderr, "no entry point [%s] in [%s]\n",
			ATOLL_TEE_DRIVER_ENTRY, path);
		exit(1);
	}
	t->drv = entry(ATOLL_TEE_DRIVER_ABI_MAJOR, ATOLL_TEE_DRIVER_ABI_MINOR);
	if (!t->drv || t->drv->abi_major != ATOLL_TEE_DRIVER_ABI_MAJOR ||
	    t->drv->abi_minor != ATOLL_TEE_DRIVER_ABI_MINOR ||
	    t->drv->struct_size < sizeof(atoll_tee_driver)) {
		fprintf(stderr, "driver [%s] has an unusable table\n", path);
		exit(1);
	}
	if (entry(ATOLL_TEE_DRIVER_ABI_MAJOR + 1, 0) != NULL) {
		fprintf(stderr, "driver [%s] accepts a future ABI\n", path);
		exit(1);
	}
}

void tdrv_unload(struct tdrv *t)
{
	if (t->handle)
		dlclose(t->handle);
	t->handle = NULL;
	t->drv = NULL;
}

int tdrv_init(struct tdrv *t, void **ret_ctx, atoll_err *err, ...)
{
	atoll_kv kv[32];
	size_t n = 0;
	va_list ap;
	const char *k;

	va_start(ap, err);
	while ((k = va_arg(ap, const char *)) && n < 32) {
		kv[n].key = k;
		kv[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	err->msg[0] = '\0';
	return t->drv->init(kv, n, ret_ctx, err);
}

int tdrv_verify(struct tdrv *t, void *ctx, const uint8_t *ev, size_t ev_len,
		const atoll_blob *col, size_t n_col, int64_t when,
		atoll_claims **ret, atoll_err *err)
{
	atoll_verify_args a = tdrv_args(ev, ev_len, col, n_col, when);

	err->msg[0] = '\0';
	return t->drv->verify(ctx, &a, ret, err);
}

bool tdrv_expect(struct tdrv *t, void *ctx, const uint8_t *ev, size_t ev_len,
		 const atoll_blob *col, size_t n_col, int64_t when, int want,
		 const char *msg_part, const char *what)
{
	atoll_claims *c = NULL;
	atoll_err err;
	int r = tdrv_verify(t, ctx, ev, ev_len, col, n_col, when, &c, &err);

	if (r == ATOLL_OK)
		t->drv->claims_free(ctx, c);
	if (r != want) {
		fprintf(stderr, "%s: got %d (%s), want %d\n", what, r,
			r ? err.msg : "ok", want);
		return false;
	}
	if (r != ATOLL_OK && msg_part && !strstr(err.msg, msg_part)) {
		fprintf(stderr, "%s: message '%s' lacks '%s'\n", what, err.msg,
			msg_part);
		return false;
	}
	return true;
}

bool tdrv_binding_holds(struct tdrv *t, void *ctx, const uint8_t *ev,
			size_t ev_len, const atoll_blob *col, size_t n_col,
			int64_t when, const uint8_t *want, size_t want_len,
			size_t flip)
{
	atoll_verify_args a = tdrv_args(ev, ev_len, col, n_col, when);
	atoll_claims *c = NULL;
	atoll_err err;
	uint8_t *w = malloc(want_len);
	int r, r_flipped;

	if (!w || flip >= want_len)
		abort();
	memcpy(w, want, want_len);
	a.expected_report_data = w;
	a.expected_report_data_len = want_len;
	r = t->drv->verify(ctx, &a, &c, &err);
	if (r == ATOLL_OK)
		t->drv->claims_free(ctx, c);
	else
		fprintf(stderr, "expected report data: got %d (%s)\n", r,
			err.msg);
	w[flip] ^= 1;
	r_flipped = t->drv->verify(ctx, &a, &c, &err);
	if (r_flipped == ATOLL_OK)
		t->drv->claims_free(ctx, c);
	if (r_flipped != ATOLL_E_BINDING)
		fprintf(stderr, "other report data: got %d, want %d\n",
			r_flipped, ATOLL_E_BINDING);
	free(w);
	return r == ATOLL_OK && r_flipped == ATOLL_E_BINDING;
}

bool tdrv_truncations_refused(struct tdrv *t, void *ctx, const uint8_t *ev,
			      size_t ev_len, size_t step, int64_t when)
{
	atoll_claims *c = NULL;
	atoll_err err;
	size_t cut;
	int bad = 0;

	for (cut = 0; cut < ev_len; cut += step) {
		int r = tdrv_verify(t, ctx, ev, cut, NULL, 0, when, &c, &err);

		if (r == ATOLL_OK)
			t->drv->claims_free(ctx, c);
		if (r != ATOLL_E_FORMAT)
			bad++;
	}
	if (bad)
		fprintf(stderr, "%d of the truncations were not format errors\n",
			bad);
	return bad == 0;
}

/* An instance as the loader sees it, for the loader's calls
 * (plugin_driver_collect() ...), which use only the table and ctx. */
static struct loaded_driver tdrv_loaded(struct tdrv *t, void *ctx)
{
	struct loaded_driver ld = { .d = t->drv, .ctx = ctx };

	return ld;
}

bool tdrv_absent(struct tdrv *t, void *ctx, const char *detect_part,
		 int collect_want)
{
	struct loaded_driver ld = tdrv_loaded(t, ctx);
	atoll_evidence *ev = NULL;
	uint8_t rd[ATOLL_REPORT_DATA_LEN] = { 0 };
	atoll_err err;
	bool ok = true;
	int r;

	r = plugin_driver_detect(&ld, &err);
	if (r != ATOLL_E_UNAVAILABLE ||
	    (detect_part && !strstr(err.msg, detect_part))) {
		fprintf(stderr, "detect: got %d (%s), want %d naming '%s'\n", r,
			r ? err.msg : "ok", ATOLL_E_UNAVAILABLE,
			detect_part ? detect_part : "");
		ok = false;
	}
	r = plugin_driver_collect(&ld, rd, &ev, &err);
	if (r != collect_want || ev) {
		fprintf(stderr, "collect: got %d (%s), want %d and no evidence\n",
			r, r ? err.msg : "ok", collect_want);
		ok = false;
	}
	plugin_driver_evidence_free(&ld, ev);
	t->drv->evidence_free(ctx, NULL);
	t->drv->claims_free(ctx, NULL);
	return ok;
}

const char *tdrv_evidence_dir(void)
{
	static char path[1024];
	const char *shared = getenv("ATOLL_SHARED_DIR");
	struct stat st;

	if (!shared)
		shared = "../shared";
	snprintf(path, sizeof(path), "%s/evidence", shared);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return path;
}

uint8_t *tdrv_read(const char *rel, size_t *ret_len)
{
	const char *dir = tdrv_evidence_dir();
	char path[2048];
	uint8_t *data;
	size_t len;

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (fs_read_file(path, 16u << 20, &data, &len) < 0)
		return NULL;
	*ret_len = len;
	return data;
}

uint8_t *tdrv_unhex(const char *hex, size_t *ret_len)
{
	size_t n = strlen(hex), i, o = 0;
	char *clean = malloc(n + 1);
	uint8_t *out;

	if (!clean)
		return NULL;
	if (n >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	for (i = 0; hex[i]; i++)
		if (!strchr(" \t\r\n:", hex[i]))
			clean[o++] = hex[i];
	clean[o] = 0;
	out = malloc(o / 2 + 1);
	if (!out || o % 2 || enc_hex_decode(clean, o, out) < 0) {
		free(clean);
		free(out);
		return NULL;
	}
	free(clean);
	*ret_len = o / 2;
	return out;
}

uint8_t *tdrv_read_hex(const char *rel, size_t *ret_len)
{
	size_t n;
	uint8_t *text = tdrv_read(rel, &n), *out;

	if (!text)
		return NULL;
	out = tdrv_unhex((const char *)text, ret_len);
	free(text);
	return out;
}

uint8_t *tdrv_read_b64(const char *rel, size_t *ret_len)
{
	size_t n, i, o = 0;
	uint8_t *text = tdrv_read(rel, &n), *out;
	long dec;

	if (!text)
		return NULL;
	for (i = 0; i < n; i++)
		if (!strchr(" \t\r\n", text[i]))
			text[o++] = text[i];
	out = malloc(o * 3 / 4 + 3);
	dec = out ? enc_base64_decode((const char *)text, o, out) : -1;
	free(text);
	if (dec < 0) {
		free(out);
		return NULL;
	}
	*ret_len = (size_t)dec;
	return out;
}

int64_t tdrv_time(const char *s)
{
	int64_t ms = 0;

	if (time_rfc3339_parse(s, &ms) < 0) {
		fprintf(stderr, "bad time %s\n", s);
		exit(1);
	}
	return ms / 1000;
}

const atoll_claim *tdrv_claim(const atoll_claims *c, const char *name)
{
	size_t i;

	if (!c)
		return NULL;
	for (i = 0; i < c->n_extra; i++)
		if (strcmp(c->extra[i].name, name) == 0)
			return &c->extra[i];
	return NULL;
}

bool tdrv_bytes_eq_hex(const uint8_t *p, size_t n, const char *hex)
{
	size_t len;
	uint8_t *want = tdrv_unhex(hex, &len);
	bool eq = want && p && len == n && memcmp(p, want, n) == 0;

	free(want);
	return eq;
}

static char tmpdir[256];

static void rm_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[600];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

const char *tdrv_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/atoll-teedrv-XXXXXX",
			 base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

const char *tdrv_write_tmp(const char *name, const void *data, size_t len)
{
	static char slots[8][600];
	static unsigned next;
	char *path = slots[next++ % 8];

	snprintf(path, 600, "%s/%s", tdrv_tmpdir(), name);
	if (fs_write_atomic(path, data, len, 0600) < 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	return path;
}
