/* Helpers shared by the OCR tests and bench/ocr: the ocr backend driven
 * through the real ABI (dlopen), the test corpus rendered into the build
 * tree from text already on a Debian system, and the character error
 * rate. */
#ifndef ATOLL_TESTS_OCRKIT_H
#define ATOLL_TESTS_OCRKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin/plugin.h"
#include "util/buf.h"

/* The host side of a run: collects output, cancels after a number of
 * page lines when asked. */
struct ocr_sink {
	struct buf out;
	size_t chunks;
	size_t lines;
	size_t cancel_after_lines; /* 0: never */
	int cancelled;
};

/* The English model: $ATOLL_TESSDATA/eng.traineddata, else Debian's. */
const char *ocrkit_model(const char *lang);
/* Load $ATOLL_MODULE_DIR/ocr.so. 0, or -1 with the loader's message. */
int ocrkit_load(struct loaded_backend *lb, char *err, size_t err_size);
/* init() with config; the status, err->msg filled on failure. */
int ocrkit_init(const struct loaded_backend *lb, const atoll_kv *kv, size_t n, void **ret_ctx,
		atoll_err *err);
/* One run; sink->out gets the output. Returns the status. */
int ocrkit_run(const struct loaded_backend *lb, void *ctx, uint32_t mode, const uint8_t *in,
	       size_t len, struct ocr_sink *sink, atoll_err *err);
void ocrkit_sink_free(struct ocr_sink *s);

/* {"data": "<base64>"[, "content_type": ct]} */
int ocrkit_json_input(const uint8_t *data, size_t len, const char *content_type, struct buf *out);
/* The "text" of every page line of an output, joined with '\f'. NULL when
 * a line is not JSON. Caller frees. */
char *ocrkit_texts(const struct buf *out, size_t *ret_pages);

/* Render with scripts/render-text.sh into dir (made if missing); args are
 * the script's options. Skips the work when out_file already exists.
 * 0 or -1. */
int ocrkit_render(const char *dir, const char *args, const char *text_file, const char *out_name,
		  const char *out_file);
/* The corpus directory: $ATOLL_BUILD_DIR/ocr-corpus. */
const char *ocrkit_corpus_dir(void);

/* Character error rate of hyp against ref, after folding whitespace runs
 * to one space and typographic quotes to ASCII: edit distance / ref length. */
double ocrkit_cer(const char *ref, const char *hyp);

/* Peak resident set (VmHWM) of this process in KiB, or -1. */
long ocrkit_peak_rss_kib(void);

#endif
