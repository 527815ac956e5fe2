/* The ocr backend's internal interface: the job input split into parts,
 * each part opened as a document of pages whose sizes are checked against
 * the workload's limits before any pixel is decoded, and pages handed out
 * one at a time as Leptonica images for Tesseract. */
#ifndef ATOLL_PLUGINS_OCR_H
#define ATOLL_PLUGINS_OCR_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/status.h"

struct Pix;

enum ocr_format {
	OCR_FMT_UNKNOWN = 0,
	OCR_FMT_PNG,
	OCR_FMT_JPEG,
	OCR_FMT_TIFF,
	OCR_FMT_PNM,
	OCR_FMT_PDF,
};

/* Tesseract refuses larger images; the same cap applies to PDF pages. */
#define OCR_MAX_SIDE 32000

struct ocr_limits {
	uint64_t max_pixels;   /* per page */
	uint32_t max_pages;    /* per job, over every part */
	uint32_t dpi;          /* PDF rendering */
	size_t pdf_memory;     /* bytes MuPDF may hold at once for one document */
};

/* One input document: bytes (owned, wiped when freed) and their format. */
struct ocr_part {
	uint8_t *data;
	size_t len;
	enum ocr_format fmt;
};

/* Format from magic bytes; OCR_FMT_UNKNOWN when none matches. */
enum ocr_format ocr_sniff(const uint8_t *d, size_t n);
const char *ocr_format_name(enum ocr_format f);

/* The job input: a JSON document {"data": b64, "content_type": ...} or
 * {"pages": [{...}, ...]}, or the raw bytes of one image or PDF. At most
 * max_parts parts. ATOLL_E_FORMAT or ATOLL_E_UNSUPPORTED with a message
 * on bad input. */
int ocr_input_parse(const uint8_t *in, size_t len, size_t max_parts, struct ocr_part **ret,
		    size_t *ret_n, atoll_err *err);
void ocr_input_free(struct ocr_part *parts, size_t n);

/* An opened part. Opening reads headers and page boxes only and refuses a
 * page over the limits (ATOLL_E_INVALID_ARGUMENT) or a document whose pages
 * would take the job past max_pages counting pages_before. */
struct ocr_doc;
int ocr_doc_open(const struct ocr_part *part, const struct ocr_limits *lim, uint32_t pages_before,
		 struct ocr_doc **ret, atoll_err *err);
uint32_t ocr_doc_pages(const struct ocr_doc *d);
/* Decode or render page i (0-based). *ret_ppi is the resolution to tell
 * Tesseract (0 when unknown). Free the image with pixDestroy. */
int ocr_doc_page(struct ocr_doc *d, uint32_t i, struct Pix **ret_pix, int *ret_ppi,
		 atoll_err *err);
void ocr_doc_close(struct ocr_doc *d);

/* PDF documents (pdf.c), used by ocr_doc_*. */
struct ocr_pdf;
int ocr_pdf_open(const uint8_t *data, size_t len, const struct ocr_limits *lim,
		 uint32_t pages_before, struct ocr_pdf **ret, atoll_err *err);
uint32_t ocr_pdf_pages(const struct ocr_pdf *p);
int ocr_pdf_page(struct ocr_pdf *p, uint32_t i, struct Pix **ret_pix, atoll_err *err);
void ocr_pdf_close(struct ocr_pdf *p);

/* Shared page-size check: "page N: WxH pixels ..." on failure. */
int ocr_check_size(uint32_t page_no, uint64_t w, uint64_t h, const struct ocr_limits *lim,
		   atoll_err *err);

#endif
