/* JSON (RFC 8259): a DOM parser with positioned errors, and a writer.
 *
 * The parser keeps object members in document order, rejects duplicate
 * keys, trailing garbage, invalid UTF-8 escapes and nesting deeper than
 * JSON_MAX_DEPTH. Numbers keep their source text so callers can read
 * 64-bit integers exactly. */
#ifndef ATOLL_JSON_H
#define ATOLL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define JSON_MAX_DEPTH 256

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

typedef struct json_value json_value;

/* Parse text[0..len). On failure returns -EINVAL and writes
 * "line L column C: what" to err. */
int json_parse(const char *text, size_t len, json_value **ret, char *err,
	       size_t err_size);
void json_free(json_value *v);

enum json_type json_type_of(const json_value *v);
const char *json_type_name(enum json_type t);
/* Object member by key, or NULL (also when v is not an object). */
const json_value *json_get(const json_value *v, const char *key);
/* Elements of an array or members of an object. */
size_t json_count(const json_value *v);
const json_value *json_at(const json_value *v, size_t i);
/* Key of member i of an object. */
const char *json_key_at(const json_value *v, size_t i);

bool json_bool(const json_value *v);
double json_number(const json_value *v);
/* Source text of a number, e.g. "18446744073709551615". */
const char *json_number_text(const json_value *v);
/* Exact integer value of a number; -ERANGE / -EINVAL when it is not an
 * integer that fits. */
int json_int64(const json_value *v, int64_t *ret);
int json_uint64(const json_value *v, uint64_t *ret);
/* String value (NUL-terminated; *ret_len excludes the NUL and counts
 * embedded NULs). NULL when v is not a string. */
const char *json_string(const json_value *v, size_t *ret_len);

/* Writer: appends compact JSON to a buf, inserting commas itself. */
struct json_writer {
	struct buf *out;
	int depth;
	bool first[JSON_MAX_DEPTH + 1];
	bool after_key;
	int error; /* first -errno seen; later calls do nothing */
};

void jw_init(struct json_writer *w, struct buf *out);
void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s);
void jw_stringn(struct json_writer *w, const char *s, size_t n);
/* Finite doubles in shortest round-trip form; NaN/Inf are written as the
 * strings "NaN", "Infinity", "-Infinity" (as proto3 JSON does). */
void jw_double(struct json_writer *w, double d);
void jw_int(struct json_writer *w, int64_t v);
void jw_uint(struct json_writer *w, uint64_t v);
void jw_bool(struct json_writer *w, bool b);
void jw_null(struct json_writer *w);
/* Pre-formatted JSON value, inserted as is. */
void jw_raw(struct json_writer *w, const char *json, size_t n);
/* Base64 string of bytes, and lowercase hex string of bytes. */
void jw_base64(struct json_writer *w, const uint8_t *data, size_t n);
void jw_hex(struct json_writer *w, const uint8_t *data, size_t n);

/* Escape s as a JSON string literal (with quotes) onto out. */
int json_quote(struct buf *out, const char *s, size_t n);

#endif
