/* Documents of pages: images through Leptonica (PNG, JPEG, PNM, and TIFF
 * with any number of pages) and PDFs through pdf.c. Every page's size is
 * read from its header and checked before the page is decoded, so a
 * decompression bomb is refused at the cost of reading a header. */
#include <stdio.h>
#include <stdlib.h>

#include <leptonica/allheaders.h>

#include "ocr.h"
#include "util/errmsg.h"

struct ocr_doc {
	const struct ocr_part *part;
	struct ocr_limits lim;
	uint32_t pages;
	uint32_t first_page_no; /* of the job, 1-based, for messages */
	struct ocr_pdf *pdf;
};

int ocr_check_size(uint32_t page_no, uint64_t w, uint64_t h, const struct ocr_limits *lim,
		   atoll_err *err)
{
	if (w == 0 || h == 0)
		return err_setf(err, ATOLL_E_FORMAT, "page %u: empty page (%llux%llu)", page_no,
				(unsigned long long)w, (unsigned long long)h);
	if (w > OCR_MAX_SIDE || h > OCR_MAX_SIDE)
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				"page %u: %llux%llu pixels, a side may be at most %d", page_no,
				(unsigned long long)w, (unsigned long long)h, OCR_MAX_SIDE);
	if (w * h > lim->max_pixels)
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				"page %u: %llux%llu pixels is over max_pixels %llu", page_no,
				(unsigned long long)w, (unsigned long long)h,
				(unsigned long long)lim->max_pixels);
	return ATOLL_OK;
}

/* Pages of a TIFF, counted without decoding any. */
static int tiff_pages(const struct ocr_part *part, uint32_t *ret)
{
	FILE *f = fmemopen(part->data, part->len, "r");
	l_int32 n = 0;
	if (!f)
		return -1;
	int r = tiffGetCount(f, &n);
	fclose(f);
	if (r != 0 || n <= 0)
		return -1;
	*ret = (uint32_t)n;
	return 0;
}

static int header_size(const struct ocr_part *part, uint32_t i, l_int32 *w, l_int32 *h)
{
	l_int32 fmt, bps, spp, cmap, res;
	if (part->fmt == OCR_FMT_TIFF)
		return readHeaderMemTiff(part->data, part->len, (l_int32)i, w, h, &bps, &spp, &res,
					 &cmap, &fmt);
	return pixReadHeaderMem(part->data, part->len, &fmt, w, h, &bps, &spp, &cmap);
}

int ocr_doc_open(const struct ocr_part *part, const struct ocr_limits *lim, uint32_t pages_before,
		 struct ocr_doc **ret, atoll_err *err)
{
	struct ocr_doc *d = calloc(1, sizeof *d);
	int r;
	if (!d)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	d->part = part;
	d->lim = *lim;
	d->first_page_no = pages_before + 1;
	if (part->fmt == OCR_FMT_PDF) {
		if ((r = ocr_pdf_open(part->data, part->len, lim, pages_before, &d->pdf, err)) !=
		    ATOLL_OK)
			goto fail;
		d->pages = ocr_pdf_pages(d->pdf);
		*ret = d;
		return ATOLL_OK;
	}
	d->pages = 1;
	if (part->fmt == OCR_FMT_TIFF && tiff_pages(part, &d->pages) < 0) {
		r = err_setf(err, ATOLL_E_FORMAT, "page %u: not a readable TIFF file", d->first_page_no);
		goto fail;
	}
	if ((uint64_t)pages_before + d->pages > lim->max_pages) {
		r = err_setf(err, ATOLL_E_INVALID_ARGUMENT,
			     "the input has more than max_pages %u pages (a TIFF of %u at page %u)",
			     lim->max_pages, d->pages, d->first_page_no);
		goto fail;
	}
	for (uint32_t i = 0; i < d->pages; i++) {
		l_int32 w = 0, h = 0;
		if (header_size(part, i, &w, &h) != 0) {
			r = err_setf(err, ATOLL_E_FORMAT, "page %u: not a readable %s header",
				     d->first_page_no + i, ocr_format_name(part->fmt));
			goto fail;
		}
		if ((r = ocr_check_size(d->first_page_no + i, (uint64_t)(w < 0 ? 0 : w),
					(uint64_t)(h < 0 ? 0 : h), lim, err)) != ATOLL_OK)
			goto fail;
	}
	*ret = d;
	return ATOLL_OK;
fail:
	ocr_doc_close(d);
	return r;
}

uint32_t ocr_doc_pages(const struct ocr_doc *d)
{
	return d->pages;
}

int ocr_doc_page(struct ocr_doc *d, uint32_t i, struct Pix **ret_pix, int *ret_ppi,
		 atoll_err *err)
{
	uint32_t no = d->first_page_no + i;
	PIX *pix;
	if (d->pdf) {
		int r = ocr_pdf_page(d->pdf, i, &pix, err);
		if (r != ATOLL_OK)
			return r;
		*ret_pix = pix;
		*ret_ppi = pixGetXRes(pix);
		return ATOLL_OK;
	}
	if (d->part->fmt == OCR_FMT_TIFF)
		pix = pixReadMemTiff(d->part->data, d->part->len, (l_int32)i);
	else
		pix = pixReadMem(d->part->data, d->part->len);
	if (!pix)
		return err_setf(err, ATOLL_E_FORMAT, "page %u: the %s data is corrupt or truncated",
				no, ocr_format_name(d->part->fmt));
	/* The header was checked; a decoder that read more than it said is
	 * refused all the same. */
	l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix);
	atoll_err tmp;
	if (ocr_check_size(no, (uint64_t)w, (uint64_t)h, &d->lim, &tmp) != ATOLL_OK) {
		pixDestroy(&pix);
		return err_setf(err, ATOLL_E_FORMAT, "page %u: the %s data disagrees with its header",
				no, ocr_format_name(d->part->fmt));
	}
	*ret_pix = pix;
	*ret_ppi = pixGetXRes(pix);
	return ATOLL_OK;
}

void ocr_doc_close(struct ocr_doc *d)
{
	if (!d)
		return;
	ocr_pdf_close(d->pdf);
	free(d);
}
