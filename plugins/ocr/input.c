/* The ocr backend's job input: which bytes are documents, and of which
 * format. The format always comes from the bytes' magic; a content type,
 * when given, must agree with it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "ocr.h"
#include "util/enc.h"
#include "util/errmsg.h"

enum ocr_format ocr_sniff(const uint8_t *d, size_t n)
{
	if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return OCR_FMT_PNG;
	if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		return OCR_FMT_JPEG;
	if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
		return OCR_FMT_TIFF;
	/* P1..P6: the plain and binary bitmaps, graymaps and pixmaps. */
	if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' &&
	    (d[2] == ' ' || d[2] == '\n' || d[2] == '\r' || d[2] == '\t'))
		return OCR_FMT_PNM;
	if (n >= 5 && memcmp(d, "%PDF-", 5) == 0)
		return OCR_FMT_PDF;
	return OCR_FMT_UNKNOWN;
}

const char *ocr_format_name(enum ocr_format f)
{
	switch (f) {
	case OCR_FMT_UNKNOWN: return "unknown";
	case OCR_FMT_PNG: return "PNG";
	case OCR_FMT_JPEG: return "JPEG";
	case OCR_FMT_TIFF: return "TIFF";
	case OCR_FMT_PNM: return "PNM";
	case OCR_FMT_PDF: return "PDF";
	}
	return "unknown";
}

static const struct {
	const char *type;
	enum ocr_format fmt;
} content_types[] = {
	{ "application/pdf", OCR_FMT_PDF },
	{ "image/png", OCR_FMT_PNG },
	{ "image/jpeg", OCR_FMT_JPEG },
	{ "image/tiff", OCR_FMT_TIFF },
	{ "image/x-portable-anymap", OCR_FMT_PNM },
	{ "image/x-portable-bitmap", OCR_FMT_PNM },
	{ "image/x-portable-graymap", OCR_FMT_PNM },
	{ "image/x-portable-pixmap", OCR_FMT_PNM },
};

/* Names for formats people send by mistake, so the refusal says what the
 * bytes are. */
static const char *known_other(const uint8_t *d, size_t n)
{
	if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return "GIF";
	if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "WebP";
	if (n >= 2 && d[0] == 'B' && d[1] == 'M')
		return "BMP";
	if (n >= 4 && memcmp(d, "PK\3\4", 4) == 0)
		return "a ZIP archive (DOCX, ODT?)";
	return NULL;
}

/* Check one part's bytes and optional content type. */
static int classify(size_t idx, bool many, const uint8_t *d, size_t n, const char *ctype,
		    enum ocr_format *ret, atoll_err *err)
{
	char where[32] = "input";
	if (many)
		snprintf(where, sizeof where, "pages[%zu]", idx);
	if (n == 0)
		return err_setf(err, ATOLL_E_FORMAT, "%s: the document is empty", where);
	enum ocr_format f = ocr_sniff(d, n);
	if (f == OCR_FMT_UNKNOWN) {
		const char *other = known_other(d, n);
		if (other)
			return err_setf(err, ATOLL_E_UNSUPPORTED,
					"%s: %s is not supported (PNG, JPEG, TIFF, PNM or PDF)",
					where, other);
		return err_setf(err, ATOLL_E_UNSUPPORTED,
				"%s: not a PNG, JPEG, TIFF, PNM or PDF file (first bytes %02x %02x %02x %02x)",
				where, d[0], n > 1 ? d[1] : 0, n > 2 ? d[2] : 0, n > 3 ? d[3] : 0);
	}
	if (ctype && ctype[0]) {
		enum ocr_format want = OCR_FMT_UNKNOWN;
		for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
			if (strcmp(content_types[i].type, ctype) == 0)
				want = content_types[i].fmt;
		if (want == OCR_FMT_UNKNOWN)
			return err_setf(err, ATOLL_E_UNSUPPORTED,
					"%s: content_type '%.64s' is not supported (application/pdf, "
					"image/png, image/jpeg, image/tiff, image/x-portable-*)",
					where, ctype);
		if (want != f)
			return err_setf(err, ATOLL_E_FORMAT,
					"%s: content_type says %s but the data is %s", where,
					ocr_format_name(want), ocr_format_name(f));
	}
	*ret = f;
	return ATOLL_OK;
}

void ocr_input_free(struct ocr_part *parts, size_t n)
{
	if (!parts)
		return;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].data) {
			explicit_bzero(parts[i].data, parts[i].len);
			free(parts[i].data);
		}
	}
	free(parts);
}

/* {"data": "...", "content_type": "..."}: the fields of one part. */
static int read_part(const json_value *obj, size_t idx, bool many, struct ocr_part *out,
		     atoll_err *err)
{
	char where[32] = "input";
	if (many)
		snprintf(where, sizeof where, "pages[%zu]", idx);
	if (json_type_of(obj) != JSON_OBJECT)
		return err_setf(err, ATOLL_E_FORMAT, "%s: expected an object, got %s", where,
				json_type_name(json_type_of(obj)));
	const char *b64 = NULL, *ctype = NULL;
	size_t b64_len = 0;
	for (size_t i = 0; i < json_count(obj); i++) {
		const char *k = json_key_at(obj, i);
		const json_value *v = json_at(obj, i);
		if (json_type_of(v) == JSON_NULL)
			continue; /* proto3 JSON: a field at its default */
		if (strcmp(k, "pages") == 0 && !many)
			continue; /* read by the caller */
		if (strcmp(k, "data") == 0 || strcmp(k, "content_type") == 0) {
			size_t n;
			const char *s = json_string(v, &n);
			if (!s)
				return err_setf(err, ATOLL_E_FORMAT, "%s.%s: expected a string, got %s",
						where, k, json_type_name(json_type_of(v)));
			if (k[0] == 'd') {
				b64 = s;
				b64_len = n;
			} else {
				ctype = s;
			}
			continue;
		}
		return err_setf(err, ATOLL_E_FORMAT,
				"%s: unexpected field '%.64s' (the ocr backend takes data, "
				"content_type or pages)", where, k);
	}
	if (!b64 || !b64_len)
		return err_setf(err, ATOLL_E_FORMAT, "%s: no data (base64 of an image or a PDF)",
				where);
	uint8_t *raw = malloc(b64_len / 4 * 3 + 3);
	if (!raw)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory for %zu bytes of input", b64_len);
	long n = enc_base64_decode(b64, b64_len, raw);
	if (n < 0) {
		free(raw);
		return err_setf(err, ATOLL_E_FORMAT, "%s.data: not base64", where);
	}
	int r = classify(idx, many, raw, (size_t)n, ctype, &out->fmt, err);
	if (r != ATOLL_OK) {
		explicit_bzero(raw, (size_t)n);
		free(raw);
		return r;
	}
	out->data = raw;
	out->len = (size_t)n;
	return ATOLL_OK;
}

static bool looks_like_json(const uint8_t *in, size_t len)
{
	size_t i = 0;
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r'))
		i++;
	return i < len && in[i] == '{';
}

int ocr_input_parse(const uint8_t *in, size_t len, size_t max_parts, struct ocr_part **ret,
		    size_t *ret_n, atoll_err *err)
{
	struct ocr_part *parts = NULL;
	size_t n = 0;
	json_value *doc = NULL;
	int r;

	if (!looks_like_json(in, len)) {
		/* The raw bytes of one document, e.g. a file sealed as is. */
		enum ocr_format f;
		if ((r = classify(0, false, in, len, NULL, &f, err)) != ATOLL_OK)
			return r;
		parts = calloc(1, sizeof *parts);
		if (!parts || !(parts[0].data = malloc(len))) {
			free(parts);
			return err_setf(err, ATOLL_E_NOMEM, "out of memory");
		}
		memcpy(parts[0].data, in, len);
		parts[0].len = len;
		parts[0].fmt = f;
		*ret = parts;
		*ret_n = 1;
		return ATOLL_OK;
	}
	char jerr[128];
	r = json_parse((const char *)in, len, &doc, jerr, sizeof jerr);
	if (r < 0)
		return err_setf(err, ATOLL_E_FORMAT, "input is not JSON: %s", jerr);
	const json_value *pages = json_get(doc, "pages");
	if (pages && json_type_of(pages) == JSON_NULL)
		pages = NULL;
	if (pages) {
		for (size_t i = 0; i < json_count(doc); i++) {
			const json_value *v = json_at(doc, i);
			if (strcmp(json_key_at(doc, i), "pages") != 0 && json_type_of(v) != JSON_NULL) {
				r = err_setf(err, ATOLL_E_FORMAT,
					     "input: give either pages or data, not both ('%.64s')",
					     json_key_at(doc, i));
				goto fail;
			}
		}
		if (json_type_of(pages) != JSON_ARRAY || json_count(pages) == 0) {
			r = err_setf(err, ATOLL_E_FORMAT, "pages: expected a non-empty array");
			goto fail;
		}
		size_t count = json_count(pages);
		if (count > max_parts) {
			r = err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				     "pages: %zu documents, over max_pages %zu", count, max_parts);
			goto fail;
		}
		if (!(parts = calloc(count, sizeof *parts))) {
			r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
			goto fail;
		}
		for (; n < count; n++)
			if ((r = read_part(json_at(pages, n), n, true, &parts[n], err)) != ATOLL_OK)
				goto fail;
	} else {
		if (json_type_of(doc) != JSON_OBJECT) {
			r = err_setf(err, ATOLL_E_FORMAT, "input: expected a JSON object");
			goto fail;
		}
		if (!(parts = calloc(1, sizeof *parts))) {
			r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
			goto fail;
		}
		if ((r = read_part(doc, 0, false, &parts[0], err)) != ATOLL_OK)
			goto fail;
		n = 1;
	}
	json_free(doc);
	*ret = parts;
	*ret_n = n;
	return ATOLL_OK;
fail:
	ocr_input_free(parts, n);
	json_free(doc);
	return r;
}
