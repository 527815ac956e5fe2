/* The ocr backend through the real ABI (dlopen): configuration errors,
 * every input form, the output stream, cancellation between pages, and
 * hostile input (bombs, malformed and encrypted files, too many pages),
 * each with its own error code, with the process's peak memory checked
 * at the end. The pages are rendered at test time from the licence texts
 * in /usr/share/common-licenses. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "ocrkit.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define LICENSE "/usr/share/common-licenses/Apache-2.0"
/* Peak resident memory of this whole test, in MiB (docs/models.md): the
 * engine and model, one 300 dpi page, and every refused bomb. */
#define RSS_BOUND_MIB 256

static struct loaded_backend lb;
static char corpus[1024];

static int read_corpus(const char *name, uint8_t **data, size_t *len)
{
	char p[1200];
	snprintf(p, sizeof p, "%s/%s", corpus, name);
	return fs_read_file(p, 64u << 20, data, len);
}

/* Run and expect a status; returns the output (caller frees). */
static struct ocr_sink run_expect(void *ctx, const uint8_t *in, size_t len, int want,
				  const char *msg_part, int line)
{
	struct ocr_sink s = { 0 };
	atoll_err e;
	int r = ocrkit_run(&lb, ctx, ATOLL_MODE_TEE, in, len, &s, &e);
	if (r != want || (msg_part && !strstr(e.msg, msg_part))) {
		fprintf(stderr, "line %d: status %d (%s), want %d with '%s'\n", line, r, e.msg, want,
			msg_part ? msg_part : "");
		check_failures++;
	}
	return s;
}
#define EXPECT(ctx, in, len, want, part)                                             \
	do {                                                                         \
		struct ocr_sink s_ = run_expect(ctx, in, len, want, part, __LINE__); \
		ocrkit_sink_free(&s_);                                               \
	} while (0)

static void test_config(void)
{
	const char *eng = ocrkit_model("eng");
	struct {
		atoll_kv kv[3];
		size_t n;
		const char *want;
	} cases[] = {
		{ { { 0 } }, 0, "needs a model" },
		{ { { "model", "/nonexistent/eng.traineddata" } }, 1, "No such file" },
		{ { { "model", "relative/eng.traineddata" } }, 1, "absolute path" },
		{ { { "model", "/etc/passwd" } }, 1, "LANG.traineddata" },
		{ { { "model", eng }, { "model", eng } }, 2, "listed twice" },
		{ { { "model", eng }, { "colour", "1" } }, 2, "unknown option 'colour'" },
		{ { { "model", eng }, { "languages", "deu" } }, 2, "'deu' has no model" },
		{ { { "model", eng }, { "psm", "12" } }, 2, "psm: '12'" },
		{ { { "model", eng }, { "psm", "2" } }, 2, "psm: '2'" },
		{ { { "model", eng }, { "dpi", "1200" } }, 2, "dpi: '1200'" },
		{ { { "model", eng }, { "max_pages", "0" } }, 2, "max_pages: '0'" },
		{ { { "model", eng }, { "max_pixels", "1e6" } }, 2, "max_pixels: '1e6'" },
		{ { { "model", eng }, { "max_pages", "2" }, { "max_pages", "3" } }, 3, "given twice" },
		{ { { "model", eng }, { "max_pixels", "40000000" }, { "max_pdf_memory_mb", "64" } },
		  3, "cannot hold a page" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		void *ctx;
		atoll_err e;
		int r = ocrkit_init(&lb, cases[i].kv, cases[i].n, &ctx, &e);
		if (r != ATOLL_E_CONFIG || !strstr(e.msg, cases[i].want)) {
			fprintf(stderr, "config case %zu: %d '%s', want '%s'\n", i, r, e.msg,
				cases[i].want);
			check_failures++;
		}
		if (r == ATOLL_OK)
			lb.b->fini(ctx);
	}
	/* A model file that is not a traineddata: Tesseract refuses it at init. */
	char fake[1200];
	snprintf(fake, sizeof fake, "%s/xyz.traineddata", corpus);
	FILE *f = fopen(fake, "w");
	if (f) {
		fputs("not a model", f);
		fclose(f);
	}
	atoll_kv kv = { "model", fake };
	void *ctx;
	atoll_err e;
	CHECK_INT(ocrkit_init(&lb, &kv, 1, &ctx, &e), ATOLL_E_CONFIG);
	CHECK(strstr(e.msg, "cannot load 'xyz'") != NULL);
}

static void check_page_line(const struct buf *out, const char *truth, double max_cer)
{
	size_t pages = 0;
	char *text = ocrkit_texts(out, &pages);
	CHECK(text != NULL);
	CHECK_INT(pages, 1);
	if (text) {
		double cer = ocrkit_cer(truth, text);
		fprintf(stderr, "CER %.4f\n", cer);
		CHECK(cer < max_cer);
	}
	free(text);
	/* Page line first, the summary last. */
	CHECK(out->len > 10 && memcmp(out->data, "{\"page\":1,\"text\":\"", 18) == 0);
	CHECK(strstr((const char *)out->data, "\n{\"pages\":1,\"characters\":") != NULL);
	CHECK(strstr((const char *)out->data, "\"confidence\":") != NULL);
}

static void test_forms(void *ctx)
{
	uint8_t *png = NULL, *truth = NULL;
	size_t png_len = 0, truth_len = 0;
	CHECK_INT(read_corpus("small.png", &png, &png_len), 0);
	CHECK_INT(read_corpus("small.txt", &truth, &truth_len), 0);
	if (!png || !truth)
		return;
	atoll_err e;

	/* Raw bytes, base64 JSON, base64 JSON with its content type. */
	struct ocr_sink s = { 0 };
	CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_TEE, png, png_len, &s, &e), ATOLL_OK);
	check_page_line(&s.out, (const char *)truth, 0.02);
	CHECK_INT(s.lines, 2);
	ocrkit_sink_free(&s);

	struct buf doc = { 0 };
	ocrkit_json_input(png, png_len, "image/png", &doc);
	CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_PLAIN, doc.data, doc.len, &s, &e), ATOLL_OK);
	check_page_line(&s.out, (const char *)truth, 0.02);
	ocrkit_sink_free(&s);
	buf_free(&doc);

	/* The same page twice as pages[], then the 2-page PDF: 4 pages. */
	uint8_t *pdf = NULL;
	size_t pdf_len = 0;
	CHECK_INT(read_corpus("two.pdf", &pdf, &pdf_len), 0);
	struct buf a = { 0 }, b = { 0 };
	ocrkit_json_input(png, png_len, NULL, &a);
	ocrkit_json_input(pdf, pdf_len, "application/pdf", &b);
	buf_printf(&doc, "{\"pages\": [%s, %s, %s]}", buf_cstr(&a), buf_cstr(&a), buf_cstr(&b));
	CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_TEE, doc.data, doc.len, &s, &e), ATOLL_OK);
	size_t pages = 0;
	free(ocrkit_texts(&s.out, &pages));
	CHECK_INT(pages, 4);
	CHECK(strstr((const char *)s.out.data, "{\"page\":4,") != NULL);
	CHECK(strstr((const char *)s.out.data, "{\"pages\":4,") != NULL);
	ocrkit_sink_free(&s);

	/* Cancelled after the first page line: the second page never starts. */
	s.cancel_after_lines = 1;
	CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_TEE, doc.data, doc.len, &s, &e),
		  ATOLL_E_CANCELLED);
	CHECK_INT(s.lines, 1);
	ocrkit_sink_free(&s);
	CHECK_INT(ocrkit_run(&lb, ctx, ATOLL_MODE_HOMOMORPHIC, png, png_len, &s, &e),
		  ATOLL_E_UNSUPPORTED);
	ocrkit_sink_free(&s);
	buf_free(&a);
	buf_free(&b);
	buf_free(&doc);
	free(pdf);
	free(png);
	free(truth);
}

/* A PNG whose header claims w x h and which holds no pixel data. */
static size_t png_header_only(uint8_t *out, uint32_t w, uint32_t h)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	uint8_t ihdr[17] = { 'I', 'H', 'D', 'R', w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16,
			     h >> 8, h, 8, 0, 0, 0, 0 };
	size_t n = 0;
	memcpy(out, sig, 8);
	n = 8;
	memcpy(out + n, "\0\0\0\x0d", 4);
	n += 4;
	memcpy(out + n, ihdr, 17);
	n += 17;
	uint32_t crc = (uint32_t)crc32(0, ihdr, 17);
	uint8_t c[4] = { crc >> 24, crc >> 16, crc >> 8, crc };
	memcpy(out + n, c, 4);
	n += 4;
	memcpy(out + n, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
	return n + 12;
}

/* A one-page PDF; MuPDF rebuilds the missing cross-reference table. */
static void mini_pdf(struct buf *b, const char *page_extra, const char *count, double side)
{
	buf_printf(b, "%%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
		      "2 0 obj <</Type/Pages/Kids[3 0 R]/Count %s>> endobj\n"
		      "3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 %g %g]%s>> endobj\n"
		      "trailer <</Root 1 0 R>>\n%%%%EOF\n",
		   count, side, side, page_extra);
}

/* A page painting a flate image of w x h grey zeros. */
static void image_bomb_pdf(struct buf *b, uint32_t w, uint32_t h)
{
	size_t raw_len = (size_t)w * h;
	uint8_t *raw = calloc(1, raw_len);
	uLongf z_len = compressBound(raw_len);
	uint8_t *z = malloc(z_len);
	if (!raw || !z || compress2(z, &z_len, raw, raw_len, 9) != Z_OK) {
		free(raw);
		free(z);
		return;
	}
	free(raw);
	const char content[] = "q 500 0 0 500 0 0 cm /Im0 Do Q";
	buf_printf(b, "%%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
		      "2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
		      "3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 500 500]"
		      "/Resources<</XObject<</Im0 5 0 R>>>>/Contents 4 0 R>> endobj\n"
		      "4 0 obj <</Length %zu>> stream\n%s\nendstream endobj\n"
		      "5 0 obj <</Type/XObject/Subtype/Image/Width %u/Height %u/ColorSpace/DeviceGray"
		      "/BitsPerComponent 8/Filter/FlateDecode/Length %lu>> stream\n",
		   strlen(content), content, w, h, (unsigned long)z_len);
	buf_append(b, z, z_len);
	buf_printf(b, "\nendstream endobj\ntrailer <</Root 1 0 R>>\n%%%%EOF\n");
	free(z);
}

static void test_hostile(void *ctx, void *small_ctx)
{
	uint8_t bomb[128];
	struct buf doc = { 0 };

	/* Unknown and unsupported formats, bad documents. */
	EXPECT(ctx, (const uint8_t *)"GIF89a\1\0\1\0", 10, ATOLL_E_UNSUPPORTED, "GIF is not supported");
	EXPECT(ctx, (const uint8_t *)"hello", 5, ATOLL_E_UNSUPPORTED, "not a PNG, JPEG, TIFF, PNM or PDF");
	EXPECT(ctx, (const uint8_t *)"", 0, ATOLL_E_FORMAT, "empty");
	EXPECT(ctx, (const uint8_t *)"{\"data\": 1", 10, ATOLL_E_FORMAT, "input is not JSON");
	EXPECT(ctx, (const uint8_t *)"{\"prompt\": \"x\"}", 15, ATOLL_E_FORMAT, "unexpected field 'prompt'");
	EXPECT(ctx, (const uint8_t *)"{\"data\": \"!!!!\"}", 16, ATOLL_E_FORMAT, "not base64");
	EXPECT(ctx, (const uint8_t *)"{}", 2, ATOLL_E_FORMAT, "no data");
	EXPECT(ctx, (const uint8_t *)"{\"pages\": []}", 13, ATOLL_E_FORMAT, "non-empty array");
	size_t n = png_header_only(bomb, 100, 100);
	ocrkit_json_input(bomb, n, "application/pdf", &doc);
	EXPECT(ctx, doc.data, doc.len, ATOLL_E_FORMAT, "content_type says PDF but the data is PNG");
	buf_reset(&doc);
	ocrkit_json_input(bomb, n, "image/gif", &doc);
	EXPECT(ctx, doc.data, doc.len, ATOLL_E_UNSUPPORTED, "content_type 'image/gif'");
	buf_reset(&doc);

	/* A PNG with a valid header and no pixels: fails in the decoder. */
	EXPECT(ctx, bomb, n, ATOLL_E_FORMAT, "page 1: the PNG data is corrupt");
	EXPECT(ctx, bomb, 20, ATOLL_E_FORMAT, "page 1: not a readable PNG header");
	EXPECT(ctx, (const uint8_t *)"\xff\xd8\xff\xe0garbage", 11, ATOLL_E_FORMAT,
	       "not a readable JPEG header");

	/* Decompression bombs: refused from the header, before decoding. */
	int64_t t0 = time_mono_ms();
	n = png_header_only(bomb, 20000, 20000);
	EXPECT(ctx, bomb, n, ATOLL_E_INVALID_ARGUMENT,
	       "page 1: 20000x20000 pixels is over max_pixels 40000000");
	n = png_header_only(bomb, 40000, 10);
	EXPECT(ctx, bomb, n, ATOLL_E_INVALID_ARGUMENT, "a side may be at most 32000");
	const char pnm[] = "P5\n99999 99999\n255\n\0\0\0\0";
	EXPECT(ctx, (const uint8_t *)pnm, sizeof pnm - 1, ATOLL_E_INVALID_ARGUMENT,
	       "a side may be at most");
	CHECK(time_mono_ms() - t0 < 2000);

	/* PDFs: a page box over the cap at the rendering resolution, a
	 * page count over max_pages, garbage, encryption, an image bomb. */
	mini_pdf(&doc, "", "1", 5000);
	EXPECT(ctx, doc.data, doc.len, ATOLL_E_INVALID_ARGUMENT,
	       "page 1: 20834x20834 pixels is over max_pixels");
	buf_reset(&doc);
	mini_pdf(&doc, "", "100000", 595);
	EXPECT(ctx, doc.data, doc.len, ATOLL_E_INVALID_ARGUMENT, "more than max_pages 50 pages");
	buf_reset(&doc);
	/* An empty MediaBox: MuPDF falls back to a default page, blank. */
	mini_pdf(&doc, "", "1", 0);
	struct ocr_sink blank = run_expect(ctx, doc.data, doc.len, ATOLL_OK, NULL, __LINE__);
	CHECK(blank.out.len && strstr((const char *)buf_cstr(&blank.out), "\"text\":\"\"") != NULL);
	ocrkit_sink_free(&blank);
	buf_reset(&doc);
	EXPECT(ctx, (const uint8_t *)"%PDF-1.7\n\x01\x02garbage", 19, ATOLL_E_FORMAT, "malformed PDF");
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	CHECK_INT(read_corpus("encrypted.pdf", &enc, &enc_len), 0);
	if (enc)
		EXPECT(ctx, enc, enc_len, ATOLL_E_UNSUPPORTED, "the PDF is encrypted with a password");
	free(enc);
	CHECK_INT(read_corpus("owner-only.pdf", &enc, &enc_len), 0);
	if (enc)
		EXPECT(ctx, enc, enc_len, ATOLL_E_UNSUPPORTED, "the PDF is encrypted;");
	free(enc);
	/* 400 Mpx of image data on a small page, with a 64 MiB PDF cap:
	 * MuPDF decodes it subsampled to the rendered size, so the page
	 * renders (blank) in bounded memory; the peak RSS check below holds
	 * it to that. */
	image_bomb_pdf(&doc, 20000, 20000);
	EXPECT(small_ctx, doc.data, doc.len, ATOLL_OK, NULL);
	buf_reset(&doc);

	/* A TIFF of three pages against max_pages 2. */
	uint8_t *tif = NULL;
	size_t tif_len = 0;
	CHECK_INT(read_corpus("three.tif", &tif, &tif_len), 0);
	if (tif)
		EXPECT(small_ctx, tif, tif_len, ATOLL_E_INVALID_ARGUMENT,
		       "more than max_pages 2 pages (a TIFF of 3 at page 1)");
	free(tif);
	/* Three parts against max_pages 2, refused before decoding any. */
	n = png_header_only(bomb, 100, 100);
	struct buf one = { 0 };
	ocrkit_json_input(bomb, n, NULL, &one);
	buf_printf(&doc, "{\"pages\": [%s, %s, %s]}", buf_cstr(&one), buf_cstr(&one), buf_cstr(&one));
	EXPECT(small_ctx, doc.data, doc.len, ATOLL_E_INVALID_ARGUMENT, "over max_pages 2");
	buf_free(&one);
	buf_free(&doc);
}

struct par {
	void *ctx;
	const uint8_t *png;
	size_t len;
	int status;
};

static void *par_run(void *arg)
{
	struct par *p = arg;
	struct ocr_sink s = { 0 };
	atoll_err e;
	p->status = ocrkit_run(&lb, p->ctx, ATOLL_MODE_TEE, p->png, p->len, &s, &e);
	if (p->status == ATOLL_OK && s.lines != 2)
		p->status = -1;
	ocrkit_sink_free(&s);
	return NULL;
}

static void test_parallel(void *ctx)
{
	uint8_t *png = NULL;
	size_t len = 0;
	CHECK_INT(read_corpus("small.png", &png, &len), 0);
	if (!png)
		return;
	struct par p[2] = { { ctx, png, len, -1 }, { ctx, png, len, -1 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, par_run, &p[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(p[i].status, ATOLL_OK);
	}
	free(png);
}

static int make_corpus(void)
{
	const char *src = check_env("ATOLL_SOURCE_DIR", OCRKIT_SOURCE_DIR);
	char cmd[4096];
	snprintf(corpus, sizeof corpus, "%s/unit", ocrkit_corpus_dir());
	mkdir(ocrkit_corpus_dir(), 0755);
	if (ocrkit_render(corpus, "--dpi 150 --lines 16", LICENSE, "small", "small.png") < 0 ||
	    ocrkit_render(corpus, "--pdf --pages 2 --lines 10 --skip 60", LICENSE, "two", "two.pdf") < 0)
		return -1;
	/* Encrypted copies of two.pdf: one needing a password, one with an
	 * owner password only (opens without one, still encrypted). */
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && { [ -s encrypted.pdf ] || gs -q -dSAFER -dBATCH -dNOPAUSE "
		 "-sDEVICE=pdfwrite -sOwnerPassword=o -sUserPassword=u -dEncryptionR=3 -dKeyLength=128 "
		 "-o encrypted.pdf two.pdf; } && { [ -s owner-only.pdf ] || gs -q -dSAFER -dBATCH "
		 "-dNOPAUSE -sDEVICE=pdfwrite -sOwnerPassword=o -dEncryptionR=3 -dKeyLength=128 "
		 "-o owner-only.pdf two.pdf; } && { [ -s three.tif ] || /usr/bin/convert small.png "
		 "small.png small.png -compress lzw three.tif; }",
		 corpus);
	(void)src;
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	char err[1024];
	if (ocrkit_load(&lb, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (make_corpus() < 0) {
		fprintf(stderr, "cannot render the test pages (ghostscript, imagemagick?)\n");
		return 1;
	}
	CHECK_STR(lb.b->name, "ocr");
	test_config();
	atoll_kv kv[] = { { "model", ocrkit_model("eng") } };
	atoll_kv small_kv[] = { { "model", ocrkit_model("eng") },
				{ "max_pages", "2" },
				{ "max_pixels", "10000000" },
				{ "max_pdf_memory_mb", "64" } };
	void *ctx = NULL, *small = NULL;
	atoll_err e;
	CHECK_INT(ocrkit_init(&lb, kv, 1, &ctx, &e), ATOLL_OK);
	CHECK_INT(ocrkit_init(&lb, small_kv, 4, &small, &e), ATOLL_OK);
	if (ctx && small) {
		test_forms(ctx);
		test_hostile(ctx, small);
		test_parallel(ctx);
	}
	lb.b->fini(ctx);
	lb.b->fini(small);
	plugin_unload_backend(&lb);
	long peak = ocrkit_peak_rss_kib();
	fprintf(stderr, "peak RSS (VmHWM): %ld MiB, bound %d MiB\n", peak / 1024, RSS_BOUND_MIB);
#if ATOLL_SANITIZED
	fprintf(stderr, "skipped: the peak RSS bound (sanitizer build: shadow memory)\n");
#else
	CHECK(peak > 0 && peak / 1024 < RSS_BOUND_MIB);
#endif
	CHECK_DONE();
}
