/* PDF documents for the ocr backend, through MuPDF's C API.
 *
 * Each document gets its own MuPDF context whose allocator counts bytes and
 * refuses past the workload's pdf memory cap, so a hostile PDF (a huge
 * embedded image, a compression bomb in a stream) fails with a MuPDF
 * exception instead of growing the enclave. Encrypted PDFs are refused
 * whether or not they need a password: their text is someone's secret the
 * client did not unlock. Page boxes are read and checked against the pixel
 * cap at the rendering resolution before any page is rendered. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "ocr.h"
#include "util/errmsg.h"

/* Each block carries its size in a header of this many bytes, which keeps
 * the max_align_t alignment MuPDF expects. */
#define HDR 16

struct capped {
	size_t used, cap;
};

struct ocr_pdf {
	struct capped mem;         /* before ctx: the allocator outlives it */
	fz_alloc_context alloc;
	fz_context *ctx;
	pdf_document *doc;
	uint32_t pages;
	uint32_t first_page_no;
	uint32_t dpi;
};

static void *cap_malloc(void *user, size_t size)
{
	struct capped *m = user;
	if (size > m->cap - m->used || size > SIZE_MAX - HDR)
		return NULL;
	unsigned char *p = malloc(size + HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof size);
	m->used += size;
	return p + HDR;
}

static void cap_free(void *user, void *ptr)
{
	struct capped *m = user;
	if (!ptr)
		return;
	unsigned char *p = (unsigned char *)ptr - HDR;
	size_t size;
	memcpy(&size, p, sizeof size);
	m->used -= size;
	free(p);
}

static void *cap_realloc(void *user, void *ptr, size_t size)
{
	struct capped *m = user;
	if (!ptr)
		return cap_malloc(user, size);
	if (size == 0) {
		cap_free(user, ptr);
		return NULL;
	}
	unsigned char *p = (unsigned char *)ptr - HDR;
	size_t old;
	memcpy(&old, p, sizeof old);
	if (size > old && (size - old > m->cap - m->used || size > SIZE_MAX - HDR))
		return NULL;
	unsigned char *q = realloc(p, size + HDR);
	if (!q)
		return NULL;
	memcpy(q, &size, sizeof size);
	m->used = m->used - old + size;
	return q + HDR;
}

/* MuPDF's messages go nowhere: the enclave's stderr ends up in the host's
 * logs, and errors reach the client through atoll_err instead. */
static void quiet(void *user, const char *message)
{
	(void)user;
	(void)message;
}

/* An error from a MuPDF exception: memory exhaustion says which cap it
 * hit; anything else is a malformed document. */
static int caught(struct ocr_pdf *p, const char *what, atoll_err *err)
{
	if (fz_caught(p->ctx) == FZ_ERROR_MEMORY)
		return err_setf(err, ATOLL_E_NOMEM, "%s: the PDF needs more than max_pdf_memory (%zu MiB)",
				what, p->mem.cap >> 20);
	return err_setf(err, ATOLL_E_FORMAT, "%s: malformed PDF: %.160s", what,
			fz_caught_message(p->ctx));
}

static void page_box(fz_context *ctx, pdf_page *page, uint32_t dpi, uint64_t *w, uint64_t *h)
{
	fz_rect r = pdf_bound_page(ctx, page);
	double s = dpi / 72.0;
	double fw = ((double)r.x1 - r.x0) * s, fh = ((double)r.y1 - r.y0) * s;
	/* NaN and negative boxes fall to 0, which the size check refuses. */
	*w = fw > 0 && fw < 1e12 ? (uint64_t)(fw + 0.999) : fw >= 1e12 ? UINT64_MAX / 4 : 0;
	*h = fh > 0 && fh < 1e12 ? (uint64_t)(fh + 0.999) : fh >= 1e12 ? UINT64_MAX / 4 : 0;
}

int ocr_pdf_open(const uint8_t *data, size_t len, const struct ocr_limits *lim,
		 uint32_t pages_before, struct ocr_pdf **ret, atoll_err *err)
{
	struct ocr_pdf *p = calloc(1, sizeof *p);
	if (!p)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	p->mem.cap = lim->pdf_memory;
	p->alloc = (fz_alloc_context){ &p->mem, cap_malloc, cap_realloc, cap_free };
	p->first_page_no = pages_before + 1;
	p->dpi = lim->dpi;
	/* MuPDF's cache of fonts and images may use a quarter of the cap;
	 * it gives memory back when an allocation would fail. */
	p->ctx = fz_new_context(&p->alloc, NULL, lim->pdf_memory / 4);
	if (!p->ctx) {
		free(p);
		return err_setf(err, ATOLL_E_NOMEM, "cannot make a PDF context");
	}
	fz_set_warning_callback(p->ctx, quiet, NULL);
	fz_set_error_callback(p->ctx, quiet, NULL);

	fz_stream *volatile stm = NULL;
	pdf_page *volatile page = NULL;
	volatile int r = ATOLL_OK;
	volatile uint32_t at = 0;
	char where[48];
	snprintf(where, sizeof where, "PDF at page %u", p->first_page_no);
	/* No return or break inside fz_try: the exception stack must unwind
	 * through fz_always. */
	fz_try(p->ctx) {
		stm = fz_open_memory(p->ctx, data, len);
		p->doc = pdf_open_document_with_stream(p->ctx, stm);
		int n = 0;
		if (p->doc->crypt)
			r = err_setf(err, ATOLL_E_UNSUPPORTED,
				     "%s: the PDF is encrypted%s; send it decrypted", where,
				     pdf_needs_password(p->ctx, p->doc) ? " with a password" : "");
		else if ((n = pdf_count_pages(p->ctx, p->doc)) <= 0)
			r = err_setf(err, ATOLL_E_FORMAT, "%s: the PDF has no pages", where);
		else if ((uint64_t)pages_before + (uint64_t)n > lim->max_pages)
			r = err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				     "the input has more than max_pages %u pages (a PDF of %d at page %u)",
				     lim->max_pages, n, p->first_page_no);
		else
			p->pages = (uint32_t)n;
		for (at = 0; r == ATOLL_OK && at < p->pages; at++) {
			uint64_t w, h;
			page = pdf_load_page(p->ctx, p->doc, (int)at);
			page_box(p->ctx, page, p->dpi, &w, &h);
			fz_drop_page(p->ctx, &page->super);
			page = NULL;
			r = ocr_check_size(p->first_page_no + at, w, h, lim, err);
		}
	}
	fz_always(p->ctx) {
		if (page)
			fz_drop_page(p->ctx, &page->super);
		fz_drop_stream(p->ctx, stm);
	}
	fz_catch(p->ctx) {
		snprintf(where, sizeof where, "page %u", p->first_page_no + at);
		r = caught(p, where, err);
	}
	if (r != ATOLL_OK) {
		ocr_pdf_close(p);
		return r;
	}
	*ret = p;
	return ATOLL_OK;
}

uint32_t ocr_pdf_pages(const struct ocr_pdf *p)
{
	return p->pages;
}

/* A grey MuPDF pixmap as an 8-bit Leptonica image. */
static PIX *to_pix(fz_context *ctx, fz_pixmap *pm, uint32_t dpi)
{
	int w = fz_pixmap_width(ctx, pm), h = fz_pixmap_height(ctx, pm);
	ptrdiff_t stride = fz_pixmap_stride(ctx, pm);
	const unsigned char *s = fz_pixmap_samples(ctx, pm);
	PIX *pix = pixCreate(w, h, 8);
	if (!pix)
		return NULL;
	l_uint32 *line = pixGetData(pix);
	l_int32 wpl = pixGetWpl(pix);
	for (int y = 0; y < h; y++, line += wpl)
		memcpy(line, s + (ptrdiff_t)y * stride, (size_t)w);
	/* Leptonica keeps bytes in 32-bit words, most significant first. */
	pixEndianByteSwap(pix);
	pixSetResolution(pix, (l_int32)dpi, (l_int32)dpi);
	return pix;
}

int ocr_pdf_page(struct ocr_pdf *p, uint32_t i, struct Pix **ret_pix, atoll_err *err)
{
	pdf_page *volatile page = NULL;
	fz_pixmap *volatile pm = NULL;
	PIX *volatile pix = NULL;
	volatile int r = ATOLL_OK;
	fz_try(p->ctx) {
		float s = (float)p->dpi / 72.0f;
		page = pdf_load_page(p->ctx, p->doc, (int)i);
		/* No alpha: MuPDF paints the page on white. */
		pm = pdf_new_pixmap_from_page_with_usage(p->ctx, page, fz_scale(s, s),
							 fz_device_gray(p->ctx), 0, "View");
		if (fz_pixmap_components(p->ctx, pm) != 1)
			r = err_setf(err, ATOLL_E_INTERNAL, "page %u: rendered with %d components",
				     p->first_page_no + i, fz_pixmap_components(p->ctx, pm));
		else if (!(pix = to_pix(p->ctx, pm, p->dpi)))
			r = err_setf(err, ATOLL_E_NOMEM, "page %u: out of memory",
				     p->first_page_no + i);
	}
	fz_always(p->ctx) {
		fz_drop_pixmap(p->ctx, pm);
		if (page)
			fz_drop_page(p->ctx, &page->super);
	}
	fz_catch(p->ctx) {
		char where[32];
		snprintf(where, sizeof where, "page %u", p->first_page_no + i);
		r = caught(p, where, err);
	}
	if (r != ATOLL_OK) {
		PIX *tmp = pix;
		pixDestroy(&tmp);
		return r;
	}
	*ret_pix = pix;
	return ATOLL_OK;
}

void ocr_pdf_close(struct ocr_pdf *p)
{
	if (!p)
		return;
	if (p->ctx) {
		pdf_drop_document(p->ctx, p->doc);
		fz_drop_context(p->ctx);
	}
	free(p);
}
