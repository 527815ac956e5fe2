/* The enclave manifest's canonical encoding, its strict parser and the
 * file digests it is made of. */
#include "attest/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "atoll/mode.h"
#include "json/json.h"
#include "util/enc.h"

int manifest_hash_file(const char *path, uint8_t out[MANIFEST_SHA256_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int e = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
	uint8_t buf[1 << 16];
	for (ssize_t n; !e && (n = read(fd, buf, sizeof buf)) != 0;) {
		if (n < 0)
			e = errno == EINTR ? 0 : -errno;
		else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			e = -EIO;
	}
	unsigned int len = 0;
	if (!e && (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != MANIFEST_SHA256_LEN))
		e = -EIO;
	EVP_MD_CTX_free(ctx);
	close(fd);
	return e;
}

void manifest_digest(const uint8_t *bytes, size_t len, uint8_t out[MANIFEST_SHA256_LEN])
{
	SHA256(bytes ? bytes : (const uint8_t *)"", len, out);
}

/* ---- encoding ---- */

static int cmp_option(const void *a, const void *b)
{
	return strcmp(((const struct manifest_option *)a)->key,
		      ((const struct manifest_option *)b)->key);
}

int manifest_encode(const struct manifest *m, struct buf *out)
{
	size_t start = out->len;
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "version");
	jw_uint(&w, MANIFEST_VERSION);
	jw_key(&w, "runtime_sha256");
	jw_hex(&w, m->runtime_sha256, MANIFEST_SHA256_LEN);
	if (m->has_driver) {
		jw_key(&w, "driver");
		jw_object_begin(&w);
		jw_key(&w, "name");
		jw_string(&w, m->driver);
		jw_key(&w, "sha256");
		jw_hex(&w, m->driver_sha256, MANIFEST_SHA256_LEN);
		jw_object_end(&w);
	}
	jw_key(&w, "workloads");
	jw_array_begin(&w);
	for (size_t i = 0; i < m->n_workloads; i++) {
		const struct manifest_workload *wl = &m->workloads[i];
		jw_object_begin(&w);
		jw_key(&w, "id");
		jw_uint(&w, wl->id);
		jw_key(&w, "modes");
		jw_array_begin(&w);
		for (uint32_t k = ATOLL_MODE_PLAIN; k <= ATOLL_MODE_HOMOMORPHIC; k++)
			if (wl->modes & ATOLL_MODE_BIT(k))
				jw_string(&w, atoll_mode_name(k));
		jw_array_end(&w);
		jw_key(&w, "backend");
		jw_object_begin(&w);
		jw_key(&w, "name");
		jw_string(&w, wl->backend);
		jw_key(&w, "sha256");
		jw_hex(&w, wl->backend_sha256, MANIFEST_SHA256_LEN);
		jw_object_end(&w);
		jw_key(&w, "models_sha256");
		jw_array_begin(&w);
		for (size_t k = 0; k < wl->n_models; k++)
			jw_hex(&w, wl->models[k], MANIFEST_SHA256_LEN);
		jw_array_end(&w);
		jw_key(&w, "options");
		jw_object_begin(&w);
		struct manifest_option *sorted = calloc(wl->n_options + 1, sizeof *sorted);
		if (!sorted) {
			out->len = start;
			return -ENOMEM;
		}
		if (wl->n_options)
			memcpy(sorted, wl->options, wl->n_options * sizeof *sorted);
		qsort(sorted, wl->n_options, sizeof *sorted, cmp_option);
		for (size_t k = 0; k < wl->n_options; k++) {
			jw_key(&w, sorted[k].key);
			jw_string(&w, sorted[k].value);
		}
		free(sorted);
		jw_object_end(&w);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	if (w.error || out->len - start > MANIFEST_MAX_BYTES) {
		int e = w.error ? w.error : -E2BIG;
		out->len = start;
		return e;
	}
	return 0;
}

/* ---- decoding ---- */

static int bad(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(err, size, "manifest: ");
	if (n >= 0 && (size_t)n < size)
		vsnprintf(err + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Every key of object v is in allowed. */
static bool keys_ok(const json_value *v, const char *const *allowed)
{
	if (json_type_of(v) != JSON_OBJECT)
		return false;
	for (size_t i = 0; i < json_count(v); i++) {
		const char *k = json_key_at(v, i);
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, k) == 0;
		for (size_t j = 0; j < i; j++)
			ok &= strcmp(json_key_at(v, j), k) != 0;
		if (!ok)
			return false;
	}
	return true;
}

static bool sha_of(const json_value *v, uint8_t out[MANIFEST_SHA256_LEN])
{
	size_t n = 0;
	const char *s = json_string(v, &n);
	return s && n == 2 * MANIFEST_SHA256_LEN && enc_hex_decode(s, n, out) == 0;
}

static bool name_of(const json_value *v, char *out, size_t size)
{
	size_t n = 0;
	const char *s = json_string(v, &n);
	if (!s || n == 0 || n >= size || memchr(s, 0, n))
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

static int decode_workload(const json_value *v, struct manifest_workload *wl, char *err,
			   size_t size)
{
	static const char *const keys[] = { "id", "modes", "backend", "models_sha256", "options",
					    NULL };
	static const char *const bkeys[] = { "name", "sha256", NULL };
	uint64_t id = 0;
	if (!keys_ok(v, keys) || json_uint64(json_get(v, "id"), &id) < 0 || id == 0 ||
	    id > UINT32_MAX)
		return bad(err, size, "a workload needs id, modes, backend, models_sha256, options");
	wl->id = (uint32_t)id;
	const json_value *modes = json_get(v, "modes");
	if (json_type_of(modes) != JSON_ARRAY || json_count(modes) > 3)
		return bad(err, size, "workload %u: modes", wl->id);
	for (size_t i = 0; i < json_count(modes); i++) {
		const char *m = json_string(json_at(modes, i), NULL);
		uint32_t bit = 0;
		for (uint32_t k = ATOLL_MODE_PLAIN; m && k <= ATOLL_MODE_HOMOMORPHIC; k++)
			if (strcmp(m, atoll_mode_name(k)) == 0)
				bit = ATOLL_MODE_BIT(k);
		if (!bit || (wl->modes & bit))
			return bad(err, size, "workload %u: unknown or repeated mode", wl->id);
		wl->modes |= bit;
	}
	const json_value *b = json_get(v, "backend");
	if (!keys_ok(b, bkeys) || !name_of(json_get(b, "name"), wl->backend, sizeof wl->backend) ||
	    !sha_of(json_get(b, "sha256"), wl->backend_sha256))
		return bad(err, size, "workload %u: backend needs name and sha256", wl->id);
	const json_value *models = json_get(v, "models_sha256");
	size_t nm = json_count(models);
	if (json_type_of(models) != JSON_ARRAY || nm > MANIFEST_MAX_MODELS)
		return bad(err, size, "workload %u: models_sha256", wl->id);
	wl->models = calloc(nm + 1, sizeof *wl->models);
	if (!wl->models)
		return -ENOMEM;
	for (size_t i = 0; i < nm; i++)
		if (!sha_of(json_at(models, i), wl->models[i]))
			return bad(err, size, "workload %u: models_sha256[%zu]", wl->id, i);
	wl->n_models = nm;
	const json_value *opts = json_get(v, "options");
	size_t no = json_count(opts);
	if (json_type_of(opts) != JSON_OBJECT || no > MANIFEST_MAX_OPTIONS)
		return bad(err, size, "workload %u: options", wl->id);
	wl->options = calloc(no + 1, sizeof *wl->options);
	if (!wl->options)
		return -ENOMEM;
	for (size_t i = 0; i < no; i++) {
		const char *val = json_string(json_at(opts, i), NULL);
		if (!val)
			return bad(err, size, "workload %u: option values are strings", wl->id);
		wl->options[i].key = strdup(json_key_at(opts, i));
		wl->options[i].value = strdup(val);
		wl->n_options = i + 1;
		if (!wl->options[i].key || !wl->options[i].value)
			return -ENOMEM;
	}
	return 0;
}

int manifest_decode(const uint8_t *bytes, size_t len, struct manifest **ret, char *err,
		    size_t err_size)
{
	static const char *const keys[] = { "version", "runtime_sha256", "driver", "workloads",
					    NULL };
	static const char *const dkeys[] = { "name", "sha256", NULL };
	if (len > MANIFEST_MAX_BYTES)
		return bad(err, err_size, "larger than %u bytes", MANIFEST_MAX_BYTES);
	json_value *v = NULL;
	char jerr[128];
	if (json_parse((const char *)bytes, len, &v, jerr, sizeof jerr) < 0)
		return bad(err, err_size, "%s", jerr);
	struct manifest *m = calloc(1, sizeof *m);
	int e = m ? 0 : -ENOMEM;
	uint64_t version = 0;
	if (!e && (!keys_ok(v, keys) || json_uint64(json_get(v, "version"), &version) < 0 ||
		   version != MANIFEST_VERSION))
		e = bad(err, err_size, "not a version %d manifest", MANIFEST_VERSION);
	if (!e && !sha_of(json_get(v, "runtime_sha256"), m->runtime_sha256))
		e = bad(err, err_size, "runtime_sha256");
	const json_value *d = json_get(v, "driver");
	if (!e && d) {
		if (!keys_ok(d, dkeys) || !name_of(json_get(d, "name"), m->driver, sizeof m->driver) ||
		    !sha_of(json_get(d, "sha256"), m->driver_sha256))
			e = bad(err, err_size, "driver needs name and sha256");
		m->has_driver = true;
	}
	const json_value *wls = json_get(v, "workloads");
	size_t n = json_count(wls);
	if (!e && (json_type_of(wls) != JSON_ARRAY || n > MANIFEST_MAX_WORKLOADS))
		e = bad(err, err_size, "workloads");
	if (!e && !(m->workloads = calloc(n + 1, sizeof *m->workloads)))
		e = -ENOMEM;
	for (size_t i = 0; !e && i < n; i++) {
		m->n_workloads = i + 1;
		e = decode_workload(json_at(wls, i), &m->workloads[i], err, err_size);
		for (size_t j = 0; !e && j < i; j++)
			if (m->workloads[j].id == m->workloads[i].id &&
			    (m->workloads[j].modes & m->workloads[i].modes))
				e = bad(err, err_size, "workload %u has two entries for one mode",
					m->workloads[i].id);
	}
	json_free(v);
	if (e < 0) {
		if (e == -ENOMEM)
			snprintf(err, err_size, "manifest: out of memory");
		manifest_free(m);
		return e;
	}
	*ret = m;
	return 0;
}

void manifest_clear(struct manifest *m)
{
	for (size_t i = 0; i < m->n_workloads; i++) {
		struct manifest_workload *wl = &m->workloads[i];
		free(wl->models);
		for (size_t k = 0; k < wl->n_options; k++) {
			free(wl->options[k].key);
			free(wl->options[k].value);
		}
		free(wl->options);
	}
	free(m->workloads);
	memset(m, 0, sizeof *m);
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	manifest_clear(m);
	free(m);
}

const struct manifest_workload *manifest_workload(const struct manifest *m, uint32_t id,
						  uint32_t mode)
{
	for (size_t i = 0; m && i < m->n_workloads; i++)
		if (m->workloads[i].id == id &&
		    (!mode || (m->workloads[i].modes & ATOLL_MODE_BIT(mode))))
			return &m->workloads[i];
	return NULL;
}
