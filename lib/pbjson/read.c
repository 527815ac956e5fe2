/* pbjson_read: proto3 JSON to a protobuf-c message. The JSON document is
 * turned into protobuf wire bytes by walking the descriptor, and
 * protobuf-c unpacks those, so the message is allocated exactly as
 * protobuf_c_message_free_unpacked() expects. */
#include "pbjson/internal.h"
#include "pbjson/pbjson.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/enc.h"

/* Each JSON nesting level adds at most one path segment. */
#define MAX_SEGMENTS (JSON_MAX_DEPTH + 2)
/* Longest user text (names, numbers) quoted in an error message. */
#define SHOWN_MAX 48

enum seg_kind { SEG_FIELD, SEG_INDEX, SEG_MAP_KEY };

struct segment {
	enum seg_kind kind;
	const char *key; /* SEG_FIELD, SEG_MAP_KEY */
	size_t index;    /* SEG_INDEX */
};

struct reader {
	unsigned flags;
	char *err;
	size_t err_size;
	size_t n_seg;
	struct segment seg[MAX_SEGMENTS];
	char shown[SHOWN_MAX * 6 + 8];
};

/* Returned by encoders that left a value out (PBJSON_IGNORE_UNKNOWN). */
#define SKIPPED 1

enum wire_type { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void push(struct reader *r, enum seg_kind kind, const char *key, size_t index)
{
	if (r->n_seg < MAX_SEGMENTS)
		r->seg[r->n_seg] = (struct segment){ kind, key, index };
	r->n_seg++;
}

static void pop(struct reader *r)
{
	r->n_seg--;
}

/* "path: what", e.g. "input.features[3]: expected a number, found string";
 * just "what" at the top level. */
__attribute__((format(printf, 2, 3)))
static int fail(struct reader *r, const char *fmt, ...)
{
	struct buf msg = { 0 };
	size_t n = r->n_seg < MAX_SEGMENTS ? r->n_seg : MAX_SEGMENTS;
	for (size_t i = 0; i < n; i++) {
		const struct segment *s = &r->seg[i];
		switch (s->kind) {
		case SEG_FIELD:
			if (i > 0)
				buf_putc(&msg, '.');
			buf_puts(&msg, s->key);
			break;
		case SEG_INDEX:
			buf_printf(&msg, "[%zu]", s->index);
			break;
		case SEG_MAP_KEY:
			buf_putc(&msg, '[');
			json_quote(&msg, s->key, strlen(s->key));
			buf_putc(&msg, ']');
			break;
		}
	}
	if (msg.len > 0)
		buf_puts(&msg, ": ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (r->err && r->err_size) {
		size_t len = msg.len < r->err_size - 1 ? msg.len : r->err_size - 1;
		if (len)
			memcpy(r->err, msg.data, len);
		r->err[len] = '\0';
	}
	buf_free(&msg);
	return -EINVAL;
}

static int out_of_memory(struct reader *r)
{
	if (r->err && r->err_size)
		snprintf(r->err, r->err_size, "out of memory");
	return -ENOMEM;
}

/* User text for an error message: JSON-quoted, cut after SHOWN_MAX bytes
 * (at a UTF-8 boundary), so that messages stay short and printable. */
static const char *shown(struct reader *r, const char *s, size_t n)
{
	struct buf b = { 0 };
	bool cut = n > SHOWN_MAX;
	if (cut) {
		n = SHOWN_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (json_quote(&b, s, n) < 0 || !buf_cstr(&b)) {
		buf_free(&b);
		return "\"...\"";
	}
	if (cut)
		snprintf(r->shown, sizeof r->shown, "%.*s...\"", (int)(b.len - 1),
			 (const char *)b.data);
	else
		snprintf(r->shown, sizeof r->shown, "%s", (const char *)b.data);
	buf_free(&b);
	return r->shown;
}

/* Number text (known to be JSON number syntax) for an error message. */
static const char *shown_number(struct reader *r, const char *s, size_t n)
{
	if (n > SHOWN_MAX)
		snprintf(r->shown, sizeof r->shown, "%.*s...", SHOWN_MAX, s);
	else
		snprintf(r->shown, sizeof r->shown, "%.*s", (int)n, s);
	return r->shown;
}

static const char *type_name(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: return "int32";
	case PROTOBUF_C_TYPE_SINT32: return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
	case PROTOBUF_C_TYPE_INT64: return "int64";
	case PROTOBUF_C_TYPE_SINT64: return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
	case PROTOBUF_C_TYPE_UINT32: return "uint32";
	case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
	case PROTOBUF_C_TYPE_UINT64: return "uint64";
	case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
	case PROTOBUF_C_TYPE_FLOAT: return "float";
	case PROTOBUF_C_TYPE_DOUBLE: return "double";
	case PROTOBUF_C_TYPE_BOOL: return "bool";
	case PROTOBUF_C_TYPE_ENUM: return "enum";
	case PROTOBUF_C_TYPE_STRING: return "string";
	case PROTOBUF_C_TYPE_BYTES: return "bytes";
	case PROTOBUF_C_TYPE_MESSAGE: return "message";
	}
	return "?";
}

static const char *found(const json_value *v)
{
	return json_type_name(json_type_of(v));
}

/* ---- wire encoding ---- */

static int put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return buf_append(b, t, n);
}

static int put_tag(struct buf *b, uint32_t id, enum wire_type wt)
{
	return put_varint(b, (uint64_t)id << 3 | wt);
}

static int put_fixed(struct buf *b, uint64_t v, size_t n)
{
	uint8_t t[8];
	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	return buf_append(b, t, n);
}

static int put_len(struct buf *b, uint32_t id, const void *data, size_t n)
{
	if (put_tag(b, id, WT_LEN) < 0 || put_varint(b, n) < 0 ||
	    buf_append(b, data, n) < 0)
		return -ENOMEM;
	return 0;
}

/* A scalar given as its 64-bit pattern: integers in two's complement
 * (32-bit signed ones sign-extended), floats as IEEE 754 bits. */
static int put_scalar(struct buf *b, uint32_t id, ProtobufCType t, uint64_t bits)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_BOOL:
	case PROTOBUF_C_TYPE_ENUM:
		return put_tag(b, id, WT_VARINT) < 0 ? -ENOMEM : put_varint(b, bits);
	case PROTOBUF_C_TYPE_SINT32: {
		uint32_t u = (uint32_t)bits;
		uint32_t z = u << 1 ^ (0u - (u >> 31));
		return put_tag(b, id, WT_VARINT) < 0 ? -ENOMEM : put_varint(b, z);
	}
	case PROTOBUF_C_TYPE_SINT64: {
		uint64_t z = bits << 1 ^ (0u - (bits >> 63));
		return put_tag(b, id, WT_VARINT) < 0 ? -ENOMEM : put_varint(b, z);
	}
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return put_tag(b, id, WT_I32) < 0 ? -ENOMEM : put_fixed(b, bits, 4);
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return put_tag(b, id, WT_I64) < 0 ? -ENOMEM : put_fixed(b, bits, 8);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		break;
	}
	return -EINVAL;
}

/* ---- numbers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s[0..n) is exactly a JSON number (RFC 8259 section 6). */
static bool number_syntax(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		while (i < n && is_digit(s[i]))
			i++;
	} else {
		return false;
	}
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t start = i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	}
	return i == n;
}

/* The exact integer a JSON number denotes, as sign and magnitude, so that
 * "1.0", "1e2" and "18446744073709551615" all read exactly. -EINVAL for
 * text that is not a JSON number, -EDOM for a fraction, -ERANGE for a
 * magnitude of 2^64 or more. */
static int parse_integer(const char *s, size_t n, bool *ret_neg, uint64_t *ret_mag)
{
	if (!number_syntax(s, n))
		return -EINVAL;
	size_t i = 0;
	bool neg = s[0] == '-';
	if (neg)
		i++;
	/* The significant digits are those of the integer and fraction parts
	 * together; exp counts the fraction digits back. */
	const char *digits = s + i;
	size_t n_int = 0, n_frac = 0;
	while (i < n && is_digit(s[i])) {
		i++;
		n_int++;
	}
	const char *frac = digits;
	if (i < n && s[i] == '.') {
		frac = s + i + 1;
		for (i++; i < n && is_digit(s[i]); i++)
			n_frac++;
	}
	int64_t exp = 0;
	if (i < n) { /* 'e' or 'E' */
		bool eneg = false;
		i++;
		if (s[i] == '+' || s[i] == '-')
			eneg = s[i++] == '-';
		for (; i < n; i++)
			if (exp < INT64_C(1000000000000000))
				exp = exp * 10 + (s[i] - '0');
		if (eneg)
			exp = -exp;
	}
	size_t total = n_int + n_frac, first = 0, last = total;
#define DIGIT(k) ((k) < n_int ? digits[(k)] : frac[(k) - n_int])
	while (first < total && DIGIT(first) == '0')
		first++;
	if (first == total) {
		*ret_neg = false;
		*ret_mag = 0;
		return 0;
	}
	while (DIGIT(last - 1) == '0')
		last--;
	int64_t scale = exp - (int64_t)n_frac + (int64_t)(total - last);
	if (scale < 0)
		return -EDOM;
	if ((int64_t)(last - first) + scale > 20)
		return -ERANGE;
	uint64_t x = 0;
	for (size_t k = first; k < last; k++) {
		unsigned d = (unsigned)(DIGIT(k) - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
#undef DIGIT
	for (; scale > 0; scale--) {
		if (x > UINT64_MAX / 10)
			return -ERANGE;
		x *= 10;
	}
	*ret_neg = neg;
	*ret_mag = x;
	return 0;
}

/* Range of integer type t; the result is the two's complement pattern. */
static int integer_bits(ProtobufCType t, bool neg, uint64_t mag, uint64_t *ret_bits)
{
	uint64_t max_pos, max_neg;
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		max_pos = INT32_MAX;
		max_neg = (uint64_t)INT32_MAX + 1;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		max_pos = INT64_MAX;
		max_neg = (uint64_t)INT64_MAX + 1;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		max_pos = UINT32_MAX;
		max_neg = 0;
		break;
	default:
		max_pos = UINT64_MAX;
		max_neg = 0;
		break;
	}
	if (neg ? mag > max_neg : mag > max_pos)
		return -ERANGE;
	*ret_bits = neg ? 0 - mag : mag;
	return 0;
}

static int read_integer(struct reader *r, ProtobufCType t, const json_value *v,
			uint64_t *ret_bits)
{
	const char *text;
	size_t len;
	bool neg;
	uint64_t mag;
	if (json_type_of(v) == JSON_NUMBER) {
		text = json_number_text(v);
		len = strlen(text);
	} else if (json_type_of(v) == JSON_STRING) {
		text = json_string(v, &len);
	} else {
		return fail(r, "expected a number, found %s", found(v));
	}
	int rc = parse_integer(text, len, &neg, &mag);
	if (rc == 0)
		rc = integer_bits(t, neg, mag, ret_bits);
	switch (rc) {
	case 0:
		return 0;
	case -EDOM:
		return fail(r, "%s is not an integer", shown_number(r, text, len));
	case -ERANGE:
		return fail(r, "%s is out of range for %s", shown_number(r, text, len),
			    type_name(t));
	default:
		return fail(r, "expected a number, found string");
	}
}

static int read_floating(struct reader *r, ProtobufCType t, const json_value *v,
			 uint64_t *ret_bits)
{
	const char *text;
	size_t len;
	double d;
	if (json_type_of(v) == JSON_NUMBER) {
		text = json_number_text(v);
		len = strlen(text);
	} else if (json_type_of(v) == JSON_STRING) {
		text = json_string(v, &len);
		if (!number_syntax(text, len)) {
			/* strlen() == len: no NUL hides after the name. */
			bool exact = strlen(text) == len;
			if (exact && strcmp(text, "NaN") == 0)
				d = NAN;
			else if (exact && strcmp(text, "Infinity") == 0)
				d = INFINITY;
			else if (exact && strcmp(text, "-Infinity") == 0)
				d = -INFINITY;
			else
				return fail(r, "expected a number, found string");
			goto convert;
		}
	} else {
		return fail(r, "expected a number, found %s", found(v));
	}
	/* Parsed in the field's own precision: a float's range is checked
	 * after rounding to float, not to double. */
	if (t == PROTOBUF_C_TYPE_FLOAT) {
		float f = strtof(text, NULL);
		if (isinf(f))
			return fail(r, "%s is out of range for float",
				    shown_number(r, text, len));
		d = f;
	} else {
		d = strtod(text, NULL);
		if (isinf(d))
			return fail(r, "%s is out of range for double",
				    shown_number(r, text, len));
	}
convert:
	if (t == PROTOBUF_C_TYPE_FLOAT) {
		float f = (float)d;
		uint32_t bits;
		memcpy(&bits, &f, sizeof bits);
		*ret_bits = bits;
	} else {
		memcpy(ret_bits, &d, sizeof d);
	}
	return 0;
}

/* 0 with *ret_value, SKIPPED for an unknown name under IGNORE_UNKNOWN. */
static int read_enum(struct reader *r, const ProtobufCEnumDescriptor *ed,
		     const json_value *v, uint64_t *ret_bits)
{
	size_t len;
	const char *name = json_string(v, &len);
	if (name) {
		const ProtobufCEnumValue *ev =
			strlen(name) == len ?
				protobuf_c_enum_descriptor_get_value_by_name(ed, name) :
				NULL;
		if (ev) {
			*ret_bits = (uint64_t)(int64_t)ev->value;
			return 0;
		}
		if (r->flags & PBJSON_IGNORE_UNKNOWN)
			return SKIPPED;
		return fail(r, "unknown enum value %s for %s", shown(r, name, len),
			    ed->name);
	}
	if (json_type_of(v) != JSON_NUMBER)
		return fail(r, "expected an enum name or number, found %s", found(v));
	return read_integer(r, PROTOBUF_C_TYPE_ENUM, v, ret_bits);
}

/* ---- strings, bytes, Timestamps ---- */

static int read_string(struct reader *r, const json_value *v, const char **ret_s,
		       size_t *ret_len)
{
	size_t len;
	const char *s = json_string(v, &len);
	if (!s)
		return fail(r, "expected a string, found %s", found(v));
	/* protobuf-c strings are C strings: a NUL would silently cut them. */
	if (memchr(s, '\0', len))
		return fail(r, "string contains a NUL character");
	*ret_s = s;
	*ret_len = len;
	return 0;
}

static int encode_bytes(struct reader *r, uint32_t id, const json_value *v,
			struct buf *out)
{
	size_t len;
	const char *s = json_string(v, &len);
	if (!s)
		return fail(r, "expected a base64 string, found %s", found(v));
	/* Padding, when present, completes the last group of four. */
	size_t pad = 0;
	while (pad < len && s[len - 1 - pad] == '=')
		pad++;
	if (pad > 2 || (pad > 0 && len % 4 != 0))
		return fail(r, "invalid base64");
	uint8_t *data = malloc(len / 4 * 3 + 3);
	if (!data)
		return out_of_memory(r);
	long n = enc_base64_decode(s, len, data);
	int rc;
	if (n < 0)
		rc = fail(r, "invalid base64");
	else if (put_len(out, id, data, (size_t)n) < 0)
		rc = out_of_memory(r);
	else
		rc = 0;
	free(data);
	return rc;
}

static int encode_timestamp(struct reader *r, const json_value *v, struct buf *out)
{
	size_t len;
	const char *s = json_string(v, &len);
	int64_t secs;
	int32_t nanos;
	if (!s)
		return fail(r, "expected an RFC 3339 timestamp string, found %s", found(v));
	int rc = pbjson_ts_parse(s, len, &secs, &nanos);
	if (rc == -ERANGE)
		return fail(r, "timestamp %s is out of range", shown(r, s, len));
	if (rc < 0)
		return fail(r, "invalid timestamp %s", shown(r, s, len));
	if ((secs && put_scalar(out, 1, PROTOBUF_C_TYPE_INT64, (uint64_t)secs) < 0) ||
	    (nanos && put_scalar(out, 2, PROTOBUF_C_TYPE_INT32, (uint64_t)nanos) < 0))
		return out_of_memory(r);
	return 0;
}

/* ---- fields and messages ---- */

static int encode_message(struct reader *r, const ProtobufCMessageDescriptor *d,
			  const json_value *v, int depth, struct buf *out);

/* One value of field f (one element, for repeated fields) as tag and
 * value. Returns 0, SKIPPED or a negative errno. */
static int encode_value(struct reader *r, const ProtobufCFieldDescriptor *f,
			const json_value *v, int depth, struct buf *out)
{
	uint64_t bits = 0;
	int rc;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		rc = read_integer(r, f->type, v, &bits);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		rc = read_floating(r, f->type, v, &bits);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		if (json_type_of(v) != JSON_BOOL)
			return fail(r, "expected a boolean, found %s", found(v));
		bits = json_bool(v);
		rc = 0;
		break;
	case PROTOBUF_C_TYPE_ENUM:
		rc = read_enum(r, f->descriptor, v, &bits);
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = NULL;
		size_t len = 0;
		rc = read_string(r, v, &s, &len);
		if (rc == 0 && put_len(out, f->id, s, len) < 0)
			rc = out_of_memory(r);
		return rc;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return encode_bytes(r, f->id, v, out);
	case PROTOBUF_C_TYPE_MESSAGE: {
		struct buf sub = { 0 };
		rc = encode_message(r, f->descriptor, v, depth + 1, &sub);
		if (rc == 0 && put_len(out, f->id, sub.data, sub.len) < 0)
			rc = out_of_memory(r);
		buf_free(&sub);
		return rc;
	}
	default:
		return fail(r, "unsupported field type");
	}
	if (rc != 0)
		return rc;
	if (put_scalar(out, f->id, f->type, bits) < 0)
		return out_of_memory(r);
	return 0;
}

/* A map key arrives as JSON object member name text. */
static int encode_map_key(struct reader *r, const ProtobufCFieldDescriptor *kf,
			  const char *key, struct buf *out)
{
	size_t len = strlen(key);
	uint64_t bits = 0;
	bool neg;
	uint64_t mag;
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING:
		return put_len(out, kf->id, key, len) < 0 ? out_of_memory(r) : 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (strcmp(key, "true") == 0)
			bits = 1;
		else if (strcmp(key, "false") == 0)
			bits = 0;
		else
			return fail(r, "invalid map key for bool");
		break;
	default: {
		/* Integer keys are plain decimal, as they are written. */
		bool plain = len > 0 && len <= 21;
		for (size_t i = key[0] == '-'; i < len && plain; i++)
			plain = is_digit(key[i]);
		int rc = plain ? parse_integer(key, len, &neg, &mag) : -EINVAL;
		if (rc == 0)
			rc = integer_bits(kf->type, neg, mag, &bits);
		if (rc == -ERANGE)
			return fail(r, "map key out of range for %s", type_name(kf->type));
		if (rc < 0)
			return fail(r, "invalid map key for %s", type_name(kf->type));
		break;
	}
	}
	return put_scalar(out, kf->id, kf->type, bits) < 0 ? out_of_memory(r) : 0;
}

static int encode_map(struct reader *r, const ProtobufCFieldDescriptor *f,
		      const json_value *v, int depth, struct buf *out)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	struct buf entry = { 0 };
	int rc = 0;
	if (json_type_of(v) != JSON_OBJECT)
		return fail(r, "expected an object, found %s", found(v));
	for (size_t i = 0; i < json_count(v) && rc >= 0; i++) {
		const char *key = json_key_at(v, i);
		buf_reset(&entry);
		push(r, SEG_MAP_KEY, key, 0);
		rc = encode_map_key(r, &ed->fields[0], key, &entry);
		if (rc == 0)
			rc = encode_value(r, &ed->fields[1], json_at(v, i), depth, &entry);
		/* An entry whose value is skipped is left out whole. */
		if (rc == 0 && put_len(out, f->id, entry.data, entry.len) < 0)
			rc = out_of_memory(r);
		pop(r);
	}
	buf_free(&entry);
	return rc < 0 ? rc : 0;
}

static int encode_field(struct reader *r, const ProtobufCMessageDescriptor *d,
			const ProtobufCFieldDescriptor *f, const json_value *v,
			int depth, struct buf *out)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		int rc = encode_value(r, f, v, depth, out);
		return rc < 0 ? rc : 0;
	}
	if (pbjson_is_map(d, f))
		return encode_map(r, f, v, depth, out);
	if (json_type_of(v) != JSON_ARRAY)
		return fail(r, "expected an array, found %s", found(v));
	for (size_t i = 0; i < json_count(v); i++) {
		push(r, SEG_INDEX, NULL, i);
		int rc = encode_value(r, f, json_at(v, i), depth, out);
		pop(r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
						  const char *key)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(d, key);
	if (f)
		return f;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (pbjson_json_name_is(d->fields[i].name, key))
			return &d->fields[i];
	return NULL;
}

static bool same_oneof(const ProtobufCFieldDescriptor *a,
		       const ProtobufCFieldDescriptor *b)
{
	return (a->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	       (b->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	       a->quantifier_offset == b->quantifier_offset;
}

/* The members of a JSON object (or a Timestamp string) as the fields of
 * message type d, without an enclosing tag. */
static int encode_message(struct reader *r, const ProtobufCMessageDescriptor *d,
			  const json_value *v, int depth, struct buf *out)
{
	struct seen {
		const char *key; /* how the JSON named the field */
		bool set;        /* given and not null */
	} *seen = NULL;
	int rc = 0;

	if (depth > PBJSON_MAX_DEPTH)
		return fail(r, "messages nested deeper than %d", PBJSON_MAX_DEPTH);
	if (pbjson_is_timestamp(d))
		return encode_timestamp(r, v, out);
	if (json_type_of(v) != JSON_OBJECT)
		return fail(r, "expected an object, found %s", found(v));
	if (d->n_fields > 0) {
		seen = calloc(d->n_fields, sizeof *seen);
		if (!seen)
			return out_of_memory(r);
	}
	for (size_t i = 0; i < json_count(v); i++) {
		const char *key = json_key_at(v, i);
		const json_value *val = json_at(v, i);
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		if (!f) {
			if (r->flags & PBJSON_IGNORE_UNKNOWN)
				continue;
			rc = fail(r, "unknown field %s", shown(r, key, strlen(key)));
			goto free_seen;
		}
		size_t k = (size_t)(f - d->fields);
		if (seen[k].key) {
			rc = fail(r, "\"%s\" and \"%s\" name the same field",
				  seen[k].key, key);
			goto free_seen;
		}
		seen[k].key = key;
		if (json_type_of(val) == JSON_NULL)
			continue;
		for (unsigned j = 0; j < d->n_fields; j++) {
			if (seen[j].set && same_oneof(f, &d->fields[j])) {
				rc = fail(r, "\"%s\" and \"%s\" are members of the same oneof",
					  seen[j].key, key);
				goto free_seen;
			}
		}
		seen[k].set = true;
		push(r, SEG_FIELD, key, 0);
		rc = encode_field(r, d, f, val, depth, out);
		pop(r);
		if (rc < 0)
			goto free_seen;
	}
	for (unsigned j = 0; j < d->n_fields; j++) {
		if (d->fields[j].label == PROTOBUF_C_LABEL_REQUIRED && !seen[j].set) {
			rc = fail(r, "missing required field \"%s\"", d->fields[j].name);
			goto free_seen;
		}
	}
	rc = 0;
free_seen:
	free(seen);
	return rc;
}

int pbjson_read(const ProtobufCMessageDescriptor *d, const char *json,
		size_t len, unsigned flags, ProtobufCMessage **ret, char *err,
		size_t err_size)
{
	struct reader *r = NULL;
	json_value *v = NULL;
	struct buf wire = { 0 };
	ProtobufCMessage *m;
	int rc;

	if (err && err_size)
		err[0] = '\0';
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
	    (!json && len) || !ret) {
		if (err && err_size)
			snprintf(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		if (err && err_size)
			snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	r->flags = flags;
	r->err = err;
	r->err_size = err_size;
	rc = json_parse(json ? json : "", len, &v, err, err_size);
	if (rc < 0)
		goto free_reader;
	rc = encode_message(r, d, v, 1, &wire);
	if (rc < 0)
		goto free_wire;
	m = protobuf_c_message_unpack(
		d, NULL, wire.len, wire.data ? wire.data : (const uint8_t *)"");
	if (!m) {
		/* Only allocation can fail on bytes built from the descriptor. */
		rc = out_of_memory(r);
		goto free_wire;
	}
	*ret = m;
	rc = 0;
free_wire:
	buf_free(&wire);
	json_free(v);
free_reader:
	free(r);
	return rc;
}
