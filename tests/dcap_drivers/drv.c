/* Loading the sgx/tdx driver plugins for tests and the benchmark. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "drv.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

int drv_open(struct drv *d, const char *name, const atoll_kv *config,
	     size_t n_config, atoll_err *err)
{
	const char *dir = getenv("ATOLL_MODULE_DIR");
	char path[1024];
	atoll_tee_driver_entry_fn entry;

	memset(d, 0, sizeof(*d));
	snprintf(path, sizeof(path), "%s/%s.so", dir ? dir : "modules", name);
	d->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!d->dl) {
		snprintf(err->msg, sizeof(err->msg), "cannot open [%.100s]: %.120s",
			 path, dlerror());
		return ATOLL_E_IO;
	}
	entry = (atoll_tee_driver_entry_fn)dlsym(d->dl, ATOLL_TEE_DRIVER_ENTRY);
	d->d = entry ? entry(ATOLL_TEE_DRIVER_ABI_MAJOR,
			     ATOLL_TEE_DRIVER_ABI_MINOR)
		     : NULL;
	if (!d->d) {
		snprintf(err->msg, sizeof(err->msg), "no entry point in [%.200s]",
			 path);
		dlclose(d->dl);
		d->dl = NULL;
		return ATOLL_E_IO;
	}
	int r = d->d->init(config, n_config, &d->ctx, err);
	if (r != ATOLL_OK) {
		dlclose(d->dl);
		d->dl = NULL;
		d->d = NULL;
	}
	return r;
}

void drv_close(struct drv *d)
{
	if (!d->dl)
		return;
	d->d->fini(d->ctx);
	dlclose(d->dl);
	memset(d, 0, sizeof(*d));
}

int drv_verify(struct drv *d, const uint8_t *ev, size_t len,
	       const atoll_blob *coll, size_t n_coll, int64_t t,
	       const uint8_t *expected_rd, size_t expected_rd_len,
	       atoll_claims **ret, atoll_err *err)
{
	atoll_verify_args a = {
		.struct_size = sizeof(a),
		.evidence = ev,
		.evidence_len = len,
		.collateral = coll,
		.n_collateral = n_coll,
		.expected_report_data = expected_rd,
		.expected_report_data_len = expected_rd_len,
		.verify_time = t,
	};
	atoll_claims *c = NULL;

	err->msg[0] = '\0';
	int r = d->d->verify(d->ctx, &a, &c, err);
	if (ret)
		*ret = r == ATOLL_OK ? c : NULL;
	else if (r == ATOLL_OK)
		d->d->claims_free(d->ctx, c);
	return r;
}

struct loaded_driver drv_loaded(const struct drv *d)
{
	struct loaded_driver ld = { .d = d->d, .ctx = d->ctx };

	return ld;
}

const atoll_claim *claim_find(const atoll_claims *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_extra; i++)
		if (strcmp(c->extra[i].name, name) == 0)
			return &c->extra[i];
	return NULL;
}

const char *claim_s(const atoll_claims *c, const char *name)
{
	const atoll_claim *cl = claim_find(c, name);

	return cl && cl->type == ATOLL_CLAIM_STRING ? (const char *)cl->bytes :
						       NULL;
}

uint64_t claim_u(const atoll_claims *c, const char *name)
{
	const atoll_claim *cl = claim_find(c, name);

	return cl ? cl->u64 : UINT64_MAX;
}

bool bytes_hex(const uint8_t *p, size_t n, const char *hex, bool prefix)
{
	size_t hl = strlen(hex);
	char *h;
	bool ok;

	if (!p || (!prefix && hl != 2 * n) || hl > 2 * n)
		return false;
	h = enc_hex_dup(p, n);
	ok = h && strncasecmp(h, hex, hl) == 0;
	free(h);
	return ok;
}

bool claim_hex(const atoll_claims *c, const char *name, const char *hex,
	       bool prefix)
{
	const atoll_claim *cl = claim_find(c, name);

	return cl && cl->type == ATOLL_CLAIM_BYTES &&
	       bytes_hex(cl->bytes, cl->len, hex, prefix);
}

uint8_t *file_read(const char *path, size_t *ret_len, bool decode_hex)
{
	uint8_t *d = NULL;
	size_t len = 0;

	if (fs_read_file(path, 64u << 20, &d, &len) < 0)
		return NULL;
	if (decode_hex) {
		char *s = (char *)d;
		size_t n = 0;
		if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2, len -= 2;
		while (n < len && s[n] != '\n' && s[n] != '\r' && s[n] != ' ')
			n++;
		uint8_t *out = malloc(n / 2 + 1);
		if (!out || n % 2 || enc_hex_decode(s, n, out) < 0) {
			free(out);
			free(d);
			return NULL;
		}
		free(d);
		d = out;
		len = n / 2;
	}
	*ret_len = len;
	return d;
}

const char *evidence_dir(void)
{
	static char path[1024];
	const char *shared = getenv("ATOLL_SHARED_DIR");
	struct stat st;

	snprintf(path, sizeof(path), "%s/evidence",
		 shared && *shared ? shared : "../shared");
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : NULL;
}

int64_t ts(const char *s)
{
	int64_t ms = 0;

	if (time_rfc3339_parse(s, &ms) < 0) {
		fprintf(stderr, "bad time %s\n", s);
		abort();
	}
	return ms / 1000;
}
