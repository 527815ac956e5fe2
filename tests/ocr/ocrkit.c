/* OCR test helpers: loading and running the backend, the rendered
 * corpus, the character error rate, peak memory. */
#include "ocrkit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/json.h"
#include "util/enc.h"

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

const char *ocrkit_model(const char *lang)
{
	static __thread char path[1024];
	snprintf(path, sizeof path, "%s/%s.traineddata",
		 env_or("ATOLL_TESSDATA", "/usr/share/tesseract-ocr/5/tessdata"), lang);
	return path;
}

int ocrkit_load(struct loaded_backend *lb, char *err, size_t err_size)
{
	char path[1024];
	/* As atoll-enclave does before loading backends. */
	setenv("OMP_THREAD_LIMIT", "1", 0);
	snprintf(path, sizeof path, "%s/ocr.so",
		 env_or("ATOLL_MODULE_DIR", OCRKIT_BUILD_DIR "/modules"));
	return plugin_load_backend(path, lb, err, err_size) < 0 ? -1 : 0;
}

int ocrkit_init(const struct loaded_backend *lb, const atoll_kv *kv, size_t n, void **ret_ctx,
		atoll_err *err)
{
	err->msg[0] = 0;
	*ret_ctx = NULL;
	return lb->b->init(kv, n, ret_ctx, err);
}

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	struct ocr_sink *s = host;
	s->chunks++;
	if (buf_append(&s->out, data, len) < 0)
		return ATOLL_E_NOMEM;
	for (size_t i = 0; i < len; i++)
		s->lines += data[i] == '\n';
	if (s->cancel_after_lines && s->lines >= s->cancel_after_lines)
		__atomic_store_n(&s->cancelled, 1, __ATOMIC_SEQ_CST);
	return ATOLL_OK;
}

static int sink_cancelled(void *host)
{
	struct ocr_sink *s = host;
	return __atomic_load_n(&s->cancelled, __ATOMIC_SEQ_CST);
}

int ocrkit_run(const struct loaded_backend *lb, void *ctx, uint32_t mode, const uint8_t *in,
	       size_t len, struct ocr_sink *sink, atoll_err *err)
{
	atoll_backend_job job = {
		.struct_size = sizeof job,
		.job_id = "job_ocr_test",
		.workload_id = 9,
		.mode = mode,
		.input = in,
		.input_len = len,
	};
	atoll_backend_io io = {
		.struct_size = sizeof io,
		.host = sink,
		.emit = sink_emit,
		.cancelled = sink_cancelled,
	};
	err->msg[0] = 0;
	return lb->b->run(ctx, &job, &io, err);
}

void ocrkit_sink_free(struct ocr_sink *s)
{
	buf_free(&s->out);
	memset(s, 0, sizeof *s);
}

int ocrkit_json_input(const uint8_t *data, size_t len, const char *content_type, struct buf *out)
{
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "data");
	jw_base64(&w, data, len);
	if (content_type) {
		jw_key(&w, "content_type");
		jw_string(&w, content_type);
	}
	jw_object_end(&w);
	return w.error;
}

char *ocrkit_texts(const struct buf *out, size_t *ret_pages)
{
	struct buf all = { 0 };
	size_t pages = 0, off = 0;
	while (off < out->len) {
		const uint8_t *nl = memchr(out->data + off, '\n', out->len - off);
		size_t n = nl ? (size_t)(nl - (out->data + off)) : out->len - off;
		json_value *v = NULL;
		if (json_parse((const char *)out->data + off, n, &v, NULL, 0) < 0) {
			buf_free(&all);
			return NULL;
		}
		size_t tl;
		const char *t = json_string(json_get(v, "text"), &tl);
		if (json_get(v, "page") && t) {
			if (pages++)
				buf_putc(&all, '\f');
			buf_append(&all, t, tl);
		}
		json_free(v);
		off += n + 1;
	}
	if (ret_pages)
		*ret_pages = pages;
	char *s = buf_cstr(&all);
	char *r = s ? strdup(s) : NULL;
	buf_free(&all);
	return r;
}

const char *ocrkit_corpus_dir(void)
{
	static char dir[1024];
	snprintf(dir, sizeof dir, "%s/ocr-corpus", env_or("ATOLL_BUILD_DIR", OCRKIT_BUILD_DIR));
	return dir;
}

int ocrkit_render(const char *dir, const char *args, const char *text_file, const char *out_name,
		  const char *out_file)
{
	char path[2048], cmd[4096];
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/%s", dir, out_file);
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(cmd, sizeof cmd, "sh '%s/scripts/render-text.sh' %s '%s' '%s/%s'",
		 env_or("ATOLL_SOURCE_DIR", OCRKIT_SOURCE_DIR), args, text_file, dir, out_name);
	if (system(cmd) != 0 || access(path, R_OK) != 0) {
		fprintf(stderr, "render failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

/* Fold the text for comparison: typographic quotes and dashes to ASCII,
 * whitespace runs (and form feeds) to one space, no space at the ends. */
static char *fold(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	int space = 1;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *u = (const unsigned char *)s + i;
		char c = s[i];
		if (u[0] == 0xe2 && i + 2 < n && u[1] == 0x80) {
			if (u[2] == 0x98 || u[2] == 0x99)
				c = '\'';
			else if (u[2] == 0x9c || u[2] == 0x9d)
				c = '"';
			else if (u[2] == 0x93 || u[2] == 0x94)
				c = '-';
			if (c != s[i])
				i += 2;
		}
		if (c == ' ' || c == '\n' || c == '\t' || c == '\f' || c == '\r') {
			if (!space)
				out[o++] = ' ';
			space = 1;
			continue;
		}
		out[o++] = c;
		space = 0;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = 0;
	*ret_len = o;
	return out;
}

double ocrkit_cer(const char *ref, const char *hyp)
{
	size_t n, m;
	char *a = fold(ref, &n), *b = fold(hyp, &m);
	size_t *prev = calloc(m + 1, sizeof *prev), *cur = calloc(m + 1, sizeof *cur);
	double cer = 1.0;
	if (a && b && prev && cur && n) {
		for (size_t j = 0; j <= m; j++)
			prev[j] = j;
		for (size_t i = 1; i <= n; i++) {
			cur[0] = i;
			for (size_t j = 1; j <= m; j++) {
				size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
				size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
				cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			}
			size_t *t = prev;
			prev = cur;
			cur = t;
		}
		cer = (double)prev[m] / (double)n;
	}
	free(a);
	free(b);
	free(prev);
	free(cur);
	return cer;
}

long ocrkit_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}
