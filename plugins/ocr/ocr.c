/* The ocr backend: document OCR with Tesseract's LSTM recognizer through
 * its C API (tesseract/capi.h). A workload names its tessdata files as
 * `model` entries; a job sends images or PDFs and gets one JSON line per
 * page as soon as the page is recognized, then a summary line
 * (docs/models.md). Limits are checked on headers and page boxes before
 * anything is decoded (doc.c, pdf.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "atoll/backend.h"
#include "json/json.h"
#include "ocr.h"
#include "util/buf.h"
#include "util/errmsg.h"

#define OCR_MAX_CHUNK (1u << 20)
#define OCR_MAX_MODELS 16
#define OCR_POOL_MAX 8
#define MODEL_SUFFIX ".traineddata"
/* Images that carry no resolution (or a silly one) are taken as scans
 * at this many pixels per inch. */
#define OCR_DEFAULT_PPI 300

struct ocr_ctx {
	char *datadir;   /* the directory holding every model file */
	char *languages; /* Tesseract's "eng+deu" */
	int psm;
	struct ocr_limits lim;
	pthread_mutex_t mu;
	TessBaseAPI *idle[OCR_POOL_MAX]; /* initialized engines between jobs */
	size_t n_idle;
};

/* A decimal integer in [min, max], nothing else. */
static int parse_range(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void ocr_fini(void *vctx)
{
	struct ocr_ctx *ctx = vctx;
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->n_idle; i++)
		TessBaseAPIDelete(ctx->idle[i]);
	pthread_mutex_destroy(&ctx->mu);
	free(ctx->datadir);
	free(ctx->languages);
	free(ctx);
}

/* An engine loaded with the workload's languages. */
static int engine_new(const struct ocr_ctx *ctx, TessBaseAPI **ret, atoll_err *err)
{
	TessBaseAPI *api = TessBaseAPICreate();
	if (!api)
		return err_setf(err, ATOLL_E_NOMEM, "cannot create a Tesseract engine");
	/* Tesseract's diagnostics would go to the enclave's stderr, which the
	 * host logs; they carry no text, but nothing of a job belongs there. */
	TessBaseAPISetVariable(api, "debug_file", "/dev/null");
	if (TessBaseAPIInit2(api, ctx->datadir, ctx->languages, OEM_LSTM_ONLY) != 0) {
		TessBaseAPIDelete(api);
		return err_setf(err, ATOLL_E_CONFIG,
				"Tesseract cannot load '%s' from %s (are the models LSTM "
				"traineddata files?)", ctx->languages, ctx->datadir);
	}
	TessBaseAPISetPageSegMode(api, (TessPageSegMode)ctx->psm);
	*ret = api;
	return ATOLL_OK;
}

static int engine_get(struct ocr_ctx *ctx, TessBaseAPI **ret, atoll_err *err)
{
	pthread_mutex_lock(&ctx->mu);
	TessBaseAPI *api = ctx->n_idle ? ctx->idle[--ctx->n_idle] : NULL;
	pthread_mutex_unlock(&ctx->mu);
	if (api) {
		*ret = api;
		return ATOLL_OK;
	}
	return engine_new(ctx, ret, err);
}

static void engine_put(struct ocr_ctx *ctx, TessBaseAPI *api)
{
	if (!api)
		return;
	/* Drops the page image and results, keeps the loaded model. */
	TessBaseAPIClear(api);
	pthread_mutex_lock(&ctx->mu);
	if (ctx->n_idle < OCR_POOL_MAX) {
		ctx->idle[ctx->n_idle++] = api;
		api = NULL;
	}
	pthread_mutex_unlock(&ctx->mu);
	if (api)
		TessBaseAPIDelete(api);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A model path: its directory must be the one of the models before it;
 * its language is the file name without ".traineddata". */
static int add_model(struct ocr_ctx *ctx, const char *path, char langs[][64], size_t *n_langs,
		     atoll_err *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	struct stat st;
	if (!slash || path[0] != '/')
		return err_setf(err, ATOLL_E_CONFIG, "model '%s': an absolute path is needed", path);
	if (!ends_with(base, MODEL_SUFFIX) || strlen(base) == strlen(MODEL_SUFFIX) ||
	    strlen(base) - strlen(MODEL_SUFFIX) >= 64)
		return err_setf(err, ATOLL_E_CONFIG,
				"model '%s': expected a Tesseract LANG.traineddata file", path);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_setf(err, ATOLL_E_CONFIG, "model '%s': %s", path,
				stat(path, &st) != 0 ? strerror(errno) : "not a regular file");
	size_t dlen = (size_t)(slash - path);
	if (ctx->datadir && (strlen(ctx->datadir) != dlen || strncmp(ctx->datadir, path, dlen) != 0))
		return err_setf(err, ATOLL_E_CONFIG,
				"model '%s': every model of a workload must be in one directory (%s)",
				path, ctx->datadir);
	if (!ctx->datadir && !(ctx->datadir = strndup(path, dlen ? dlen : 1)))
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	if (*n_langs == OCR_MAX_MODELS)
		return err_setf(err, ATOLL_E_CONFIG, "more than %d models", OCR_MAX_MODELS);
	snprintf(langs[*n_langs], 64, "%.*s", (int)(strlen(base) - strlen(MODEL_SUFFIX)), base);
	for (size_t i = 0; i < *n_langs; i++)
		if (strcmp(langs[i], langs[*n_langs]) == 0)
			return err_setf(err, ATOLL_E_CONFIG, "model '%s' is listed twice", path);
	(*n_langs)++;
	return ATOLL_OK;
}

/* languages: names separated by ',' or '+', each one of the models. */
static int set_languages(struct ocr_ctx *ctx, const char *list, char langs[][64], size_t n_langs,
			 atoll_err *err)
{
	struct buf b = { 0 };
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",+");
		bool known = false;
		for (size_t i = 0; i < n_langs; i++)
			if (strlen(langs[i]) == n && strncmp(langs[i], p, n) == 0)
				known = true;
		if (!known) {
			buf_free(&b);
			return err_setf(err, ATOLL_E_CONFIG,
					"languages: '%.*s' has no model (list its .traineddata "
					"file as a model of the workload)", (int)(n > 64 ? 64 : n), p);
		}
		if (b.len)
			buf_putc(&b, '+');
		buf_append(&b, p, n);
		p += n;
		if (*p)
			p++;
	}
	char *s = buf_cstr(&b);
	ctx->languages = s && b.len ? strdup(s) : NULL;
	buf_free(&b);
	if (!ctx->languages)
		return err_setf(err, ATOLL_E_CONFIG, "languages: empty list");
	return ATOLL_OK;
}

static const struct {
	const char *key;
	long long min, max;
} numeric[] = {
	/* 3..13 are the modes that need no orientation model, less 12. */
	{ "psm", 3, 13 },
	{ "dpi", 72, 600 },
	{ "max_pages", 1, 1000 },
	{ "max_pixels", 10000, 250000000 },
	{ "max_pdf_memory_mb", 64, 4096 },
};

static int ocr_init(const atoll_kv *config, size_t n_config, void **ret_ctx, atoll_err *err)
{
	char langs[OCR_MAX_MODELS][64];
	size_t n_langs = 0;
	long long vals[5] = { 3, 300, 50, 40000000, 512 };
	bool seen[5] = { false };
	const char *languages = NULL;
	int r;

	if (!ret_ctx || (n_config && !config))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "bad init arguments");
	/* Leptonica reports through stderr; the backend reports through atoll_err. */
	setMsgSeverity(L_SEVERITY_NONE);
	struct ocr_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	pthread_mutex_init(&ctx->mu, NULL);
	for (size_t i = 0; i < n_config; i++) {
		const char *k = config[i].key, *v = config[i].value;
		if (!k || !v) {
			r = err_setf(err, ATOLL_E_CONFIG, "config entry %zu is empty", i);
			goto fail;
		}
		if (strcmp(k, "model") == 0) {
			if ((r = add_model(ctx, v, langs, &n_langs, err)) != ATOLL_OK)
				goto fail;
			continue;
		}
		if (strcmp(k, "languages") == 0) {
			if (languages) {
				r = err_setf(err, ATOLL_E_CONFIG, "option 'languages' given twice");
				goto fail;
			}
			languages = v;
			continue;
		}
		size_t j = 0;
		while (j < 5 && strcmp(numeric[j].key, k) != 0)
			j++;
		if (j == 5) {
			r = err_setf(err, ATOLL_E_CONFIG,
				     "unknown option '%.64s' (the ocr backend takes model, languages, "
				     "psm, dpi, max_pages, max_pixels, max_pdf_memory_mb)", k);
			goto fail;
		}
		if (seen[j]) {
			r = err_setf(err, ATOLL_E_CONFIG, "option '%s' given twice", k);
			goto fail;
		}
		if (parse_range(v, numeric[j].min, numeric[j].max, &vals[j]) < 0 ||
		    (j == 0 && vals[j] == 12)) {
			r = err_setf(err, ATOLL_E_CONFIG, "%s: '%.64s' is not a whole number in %lld..%lld%s",
				     k, v, numeric[j].min, numeric[j].max,
				     j == 0 ? " other than 12 (modes 0-2 and 12 need an orientation model)"
					    : "");
			goto fail;
		}
		seen[j] = true;
	}
	if (!n_langs) {
		r = err_setf(err, ATOLL_E_CONFIG,
			     "the ocr backend needs a model: a Tesseract LANG.traineddata file "
			     "(e.g. /usr/share/tesseract-ocr/5/tessdata/eng.traineddata)");
		goto fail;
	}
	if (languages) {
		if ((r = set_languages(ctx, languages, langs, n_langs, err)) != ATOLL_OK)
			goto fail;
	} else {
		char all[OCR_MAX_MODELS * 65] = "";
		for (size_t i = 0; i < n_langs; i++) {
			if (i)
				strcat(all, "+");
			strcat(all, langs[i]);
		}
		if (!(ctx->languages = strdup(all))) {
			r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	ctx->psm = (int)vals[0];
	ctx->lim.dpi = (uint32_t)vals[1];
	ctx->lim.max_pages = (uint32_t)vals[2];
	ctx->lim.max_pixels = (uint64_t)vals[3];
	ctx->lim.pdf_memory = (size_t)vals[4] << 20;
	/* A rendered page is one byte per pixel; MuPDF needs room beside it. */
	if (ctx->lim.pdf_memory < ctx->lim.max_pixels + (32u << 20)) {
		r = err_setf(err, ATOLL_E_CONFIG,
			     "max_pdf_memory_mb %lld cannot hold a page of max_pixels %lld "
			     "(at least %llu needed)", vals[4], vals[3],
			     (unsigned long long)((ctx->lim.max_pixels >> 20) + 33));
		goto fail;
	}
	/* Load the models once now, so a workload with a bad model is refused
	 * at start rather than at its first job; the engine is kept. */
	TessBaseAPI *api;
	if ((r = engine_new(ctx, &api, err)) != ATOLL_OK)
		goto fail;
	ctx->idle[ctx->n_idle++] = api;
	*ret_ctx = ctx;
	return ATOLL_OK;
fail:
	ocr_fini(ctx);
	return r;
}

static int emit_all(const atoll_backend_io *io, const uint8_t *data, size_t len, atoll_err *err)
{
	for (size_t off = 0; off < len;) {
		size_t n = len - off > OCR_MAX_CHUNK ? OCR_MAX_CHUNK : len - off;
		int r = io->emit(io->host, data + off, n);
		if (r == ATOLL_E_CANCELLED)
			return err_setf(err, ATOLL_E_CANCELLED, "cancelled");
		if (r != ATOLL_OK)
			return err_setf(err, r, "the host refused %zu bytes of output", n);
		off += n;
	}
	return ATOLL_OK;
}

/* Tesseract asks between words whether to stop. */
static bool stop_requested(void *cancel_this, int words)
{
	const atoll_backend_io *io = cancel_this;
	(void)words;
	return io->cancelled && io->cancelled(io->host);
}

static bool is_cancelled(const atoll_backend_io *io)
{
	return io->cancelled && io->cancelled(io->host);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

struct totals {
	uint32_t pages;
	uint64_t chars, words;
	double conf_sum; /* over words */
};

/* Recognize one page image and emit its line. */
static int recognize(TessBaseAPI *api, ETEXT_DESC *monitor, PIX *pix, int ppi, uint32_t page_no,
		     const atoll_backend_io *io, struct totals *t, atoll_err *err)
{
	if (ppi < 70 || ppi > 2400)
		ppi = OCR_DEFAULT_PPI;
	TessBaseAPISetImage2(api, pix);
	TessBaseAPISetSourceResolution(api, ppi);
	int rc = TessBaseAPIRecognize(api, monitor);
	if (is_cancelled(io))
		return err_setf(err, ATOLL_E_CANCELLED, "cancelled");
	if (rc != 0)
		return err_setf(err, ATOLL_E_INTERNAL, "page %u: recognition failed", page_no);
	char *text = TessBaseAPIGetUTF8Text(api);
	int *confs = TessBaseAPIAllWordConfidences(api);
	if (!text || !confs) {
		TessDeleteText(text);
		TessDeleteIntArray(confs);
		return err_setf(err, ATOLL_E_NOMEM, "page %u: out of memory", page_no);
	}
	double sum = 0;
	uint64_t words = 0;
	for (int *c = confs; *c >= 0; c++, words++)
		sum += *c;
	TessDeleteIntArray(confs);
	size_t chars = utf8_chars(text);

	struct buf line = { 0 };
	struct json_writer w;
	jw_init(&w, &line);
	jw_object_begin(&w);
	jw_key(&w, "page");
	jw_uint(&w, page_no);
	jw_key(&w, "text");
	jw_string(&w, text);
	jw_key(&w, "confidence");
	jw_double(&w, words ? round(sum / (double)words * 10) / 10 : 0);
	jw_object_end(&w);
	buf_putc(&line, '\n');
	explicit_bzero(text, strlen(text));
	TessDeleteText(text);
	int r = w.error || !buf_cstr(&line) ? err_setf(err, ATOLL_E_NOMEM, "out of memory")
					     : emit_all(io, line.data, line.len, err);
	buf_free(&line); /* wiped */
	t->pages++;
	t->chars += chars;
	t->words += words;
	t->conf_sum += sum;
	return r;
}

static int emit_summary(const atoll_backend_io *io, const struct totals *t, const char *languages,
			atoll_err *err)
{
	struct buf line = { 0 };
	struct json_writer w;
	jw_init(&w, &line);
	jw_object_begin(&w);
	jw_key(&w, "pages");
	jw_uint(&w, t->pages);
	jw_key(&w, "characters");
	jw_uint(&w, t->chars);
	jw_key(&w, "words");
	jw_uint(&w, t->words);
	jw_key(&w, "confidence");
	jw_double(&w, t->words ? round(t->conf_sum / (double)t->words * 10) / 10 : 0);
	jw_key(&w, "languages");
	jw_string(&w, languages);
	jw_object_end(&w);
	buf_putc(&line, '\n');
	int r = w.error || !buf_cstr(&line) ? err_setf(err, ATOLL_E_NOMEM, "out of memory")
					     : emit_all(io, line.data, line.len, err);
	buf_free(&line);
	return r;
}

static int ocr_run(void *vctx, const atoll_backend_job *job, const atoll_backend_io *io,
		   atoll_err *err)
{
	struct ocr_ctx *ctx = vctx;
	struct ocr_part *parts = NULL;
	struct ocr_doc **docs = NULL;
	size_t n_parts = 0;
	TessBaseAPI *api = NULL;
	ETEXT_DESC *monitor = NULL;
	struct totals t = { 0 };
	int r;

	if (!ctx || !job || job->struct_size < sizeof(*job) || !io ||
	    io->struct_size < sizeof(*io) || !io->emit || (!job->input && job->input_len))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "bad run arguments");
	if (job->mode != ATOLL_MODE_PLAIN && job->mode != ATOLL_MODE_TEE)
		return err_setf(err, ATOLL_E_UNSUPPORTED, "ocr runs plain and tee jobs, not mode %u",
				job->mode);
	if ((r = ocr_input_parse(job->input ? job->input : (const uint8_t *)"", job->input_len,
				 ctx->lim.max_pages, &parts, &n_parts, err)) != ATOLL_OK)
		return r;
	/* Every part's pages are counted and sized before any is decoded. */
	if (!(docs = calloc(n_parts, sizeof *docs))) {
		r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	uint32_t total = 0;
	for (size_t i = 0; i < n_parts; i++) {
		if ((r = ocr_doc_open(&parts[i], &ctx->lim, total, &docs[i], err)) != ATOLL_OK)
			goto out;
		total += ocr_doc_pages(docs[i]);
	}
	if ((r = engine_get(ctx, &api, err)) != ATOLL_OK)
		goto out;
	if (!(monitor = TessMonitorCreate())) {
		r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	TessMonitorSetCancelFunc(monitor, stop_requested);
	TessMonitorSetCancelThis(monitor, (void *)io);
	uint32_t page_no = 0;
	for (size_t i = 0; i < n_parts; i++) {
		for (uint32_t p = 0; p < ocr_doc_pages(docs[i]); p++) {
			PIX *pix = NULL;
			int ppi = 0;
			page_no++;
			if (is_cancelled(io)) {
				r = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
				goto out;
			}
			if ((r = ocr_doc_page(docs[i], p, &pix, &ppi, err)) != ATOLL_OK)
				goto out;
			r = recognize(api, monitor, pix, ppi, page_no, io, &t, err);
			pixDestroy(&pix);
			TessBaseAPIClear(api);
			if (r != ATOLL_OK)
				goto out;
		}
		/* A finished document's memory goes back before the next. */
		ocr_doc_close(docs[i]);
		docs[i] = NULL;
	}
	r = emit_summary(io, &t, ctx->languages, err);
out:
	if (monitor)
		TessMonitorDelete(monitor);
	engine_put(ctx, api);
	for (size_t i = 0; docs && i < n_parts; i++)
		ocr_doc_close(docs[i]);
	free(docs);
	ocr_input_free(parts, n_parts);
	return r;
}

static const atoll_backend ocr_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "ocr",
	.description = "document OCR (Tesseract LSTM) on images and PDFs, streamed page by page",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = ocr_init,
	.fini = ocr_fini,
	.run = ocr_run,
	.cancel = NULL,
	.version = ATOLL_VERSION,
};

ATOLL_BACKEND_EXPORT(ocr_backend)
