/* Accuracy of the ocr backend on real text: pages of the licence texts in
 * /usr/share/common-licenses, rendered at test time at 150 and 300 dpi,
 * clean and degraded (rotation, blur, noise, JPEG at quality 25, and all
 * of them at once), and a three-page PDF. The character error rate against
 * the source text must stay under 2 % for clean pages and 8 % for degraded
 * ones (docs/models.md). Under the sanitizers only the small clean page
 * runs: the rest adds time, not coverage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "ocrkit.h"
#include "util/fsutil.h"

#define CLEAN_BOUND 0.02
#define DEGRADED_BOUND 0.08

struct page_case {
	const char *name;    /* file stem in the corpus */
	const char *file;    /* rendered file */
	const char *text;    /* source text */
	const char *args;    /* render-text.sh options */
	double bound;
	int heavy;           /* skipped under the sanitizers */
};

static const struct page_case cases[] = {
	{ "small150", "small150.png", "/usr/share/common-licenses/Apache-2.0",
	  "--dpi 150 --lines 16 --skip 100", CLEAN_BOUND, 0 },
	{ "clean300", "clean300.png", "/usr/share/common-licenses/Apache-2.0",
	  "--dpi 300 --skip 20", CLEAN_BOUND, 1 },
	{ "clean150", "clean150.png", "/usr/share/common-licenses/GPL-3",
	  "--dpi 150 --skip 200", CLEAN_BOUND, 1 },
	{ "rotate", "rotate.png", "/usr/share/common-licenses/MPL-2.0",
	  "--dpi 300 --skip 40 --degrade rotate", DEGRADED_BOUND, 1 },
	{ "blur", "blur.png", "/usr/share/common-licenses/MPL-2.0",
	  "--dpi 300 --skip 90 --degrade blur", DEGRADED_BOUND, 1 },
	{ "noise", "noise.png", "/usr/share/common-licenses/LGPL-2.1",
	  "--dpi 300 --skip 60 --degrade noise", DEGRADED_BOUND, 1 },
	{ "jpeg", "jpeg.jpg", "/usr/share/common-licenses/LGPL-2.1",
	  "--dpi 300 --skip 120 --degrade jpeg", DEGRADED_BOUND, 1 },
	{ "all", "all.jpg", "/usr/share/common-licenses/GPL-2",
	  "--dpi 300 --skip 30 --degrade all", DEGRADED_BOUND, 1 },
	{ "pdf3", "pdf3.pdf", "/usr/share/common-licenses/Apache-2.0",
	  "--pdf --pages 3 --skip 60", CLEAN_BOUND, 1 },
};

int main(void)
{
	struct loaded_backend lb;
	char err[1024], dir[1100];
	if (ocrkit_load(&lb, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	atoll_kv kv = { "model", ocrkit_model("eng") };
	void *ctx;
	atoll_err e;
	if (ocrkit_init(&lb, &kv, 1, &ctx, &e) != ATOLL_OK) {
		fprintf(stderr, "init: %s\n", e.msg);
		return 1;
	}
	mkdir(ocrkit_corpus_dir(), 0755);
	snprintf(dir, sizeof dir, "%s/accuracy", ocrkit_corpus_dir());
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct page_case *pc = &cases[i];
		if (pc->heavy && ATOLL_SANITIZED) {
			fprintf(stderr, "skipped: %s (sanitizer build)\n", pc->name);
			continue;
		}
		char path[1300];
		uint8_t *doc = NULL, *truth = NULL;
		size_t doc_len, truth_len;
		CHECK_INT(ocrkit_render(dir, pc->args, pc->text, pc->name, pc->file), 0);
		snprintf(path, sizeof path, "%s/%s", dir, pc->file);
		CHECK_INT(fs_read_file(path, 64u << 20, &doc, &doc_len), 0);
		snprintf(path, sizeof path, "%s/%s.txt", dir, pc->name);
		CHECK_INT(fs_read_file(path, 1u << 20, &truth, &truth_len), 0);
		if (!doc || !truth) {
			free(doc);
			free(truth);
			continue;
		}
		struct ocr_sink s = { 0 };
		CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_TEE, doc, doc_len, &s, &e), ATOLL_OK);
		size_t pages = 0;
		char *text = ocrkit_texts(&s.out, &pages);
		double cer = text ? ocrkit_cer((const char *)truth, text) : 1.0;
		printf("%-9s CER %5.2f %% (bound %.0f %%), %zu page(s)\n", pc->name, cer * 100,
		       pc->bound * 100, pages);
		CHECK(cer < pc->bound);
		CHECK(pages >= 1);
		free(text);
		ocrkit_sink_free(&s);
		free(doc);
		free(truth);
	}
	lb.b->fini(ctx);
	plugin_unload_backend(&lb);
	CHECK_DONE();
}
