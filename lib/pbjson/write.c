/* pbjson_write: a protobuf-c message to proto3 JSON, walking its
 * descriptor. */
#include "pbjson/internal.h"
#include "pbjson/pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/enc.h"

struct emitter {
	struct buf *out;
	unsigned flags;
	int depth;  /* open JSON containers, for indentation */
	bool first; /* nothing written yet in the innermost container */
	int error;  /* first -errno; later output is dropped */
};

static void fail(struct emitter *e, int error)
{
	if (!e->error)
		e->error = error;
}

static void put(struct emitter *e, const void *s, size_t n)
{
	if (!e->error && buf_append(e->out, s, n) < 0)
		fail(e, -ENOMEM);
}

static void put_str(struct emitter *e, const char *s)
{
	put(e, s, strlen(s));
}

static void newline(struct emitter *e)
{
	if (!(e->flags & PBJSON_PRETTY))
		return;
	put(e, "\n", 1);
	for (int i = 0; i < e->depth; i++)
		put(e, "  ", 2);
}

/* Before each array element and each object key. */
static void next_item(struct emitter *e)
{
	if (!e->first)
		put(e, ",", 1);
	e->first = false;
	newline(e);
}

static void open_container(struct emitter *e, char c)
{
	put(e, &c, 1);
	e->depth++;
	e->first = true;
}

static void close_container(struct emitter *e, char c)
{
	e->depth--;
	if (!e->first)
		newline(e);
	put(e, &c, 1);
	e->first = false;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void put_quoted(struct emitter *e, const char *s, size_t n)
{
	if (e->error)
		return;
	if (!utf8_valid((const unsigned char *)s, n)) {
		fail(e, -EILSEQ);
		return;
	}
	if (json_quote(e->out, s, n) < 0)
		fail(e, -ENOMEM);
}

static void put_key(struct emitter *e, const char *key)
{
	next_item(e);
	put_quoted(e, key, strlen(key));
	put_str(e, e->flags & PBJSON_PRETTY ? ": " : ":");
}

static void put_field_name(struct emitter *e, const ProtobufCFieldDescriptor *f)
{
	if (e->flags & PBJSON_ORIGINAL_NAMES) {
		put_key(e, f->name);
		return;
	}
	char small[64], *name = small;
	size_t len = strlen(f->name);
	if (len >= sizeof small && !(name = malloc(len + 1))) {
		fail(e, -ENOMEM);
		return;
	}
	pbjson_json_name(f->name, name);
	put_key(e, name);
	if (name != small)
		free(name);
}

static bool reads_back(const char *s, double d, bool is_float)
{
	return is_float ? strtof(s, NULL) == (float)d : strtod(s, NULL) == d;
}

/* d in scientific notation with enough significant digits to read back
 * exactly (in float precision when is_float); the caller drops trailing
 * zeros. For normal values, rounding to DIG digits (15 for double, 6 for
 * float) yields any form of at most DIG digits that reads back, padded
 * with zeros, because DIG-digit decimals lie further apart than the
 * type's ulp: trying DIG, DIG + 1, ... digits finds the shortest form in
 * at most three tries. Subnormals have fewer bits, so there a binary
 * search over 1..max digits does (if p digits read back, so do p + 1). */
static void shortest(double d, bool is_float, char *s, size_t n)
{
	int max = is_float ? 9 : 17;
	if (fabs(d) >= (is_float ? FLT_MIN : DBL_MIN)) {
		for (int p = is_float ? 6 : 15;; p++) {
			snprintf(s, n, "%.*e", p - 1, d);
			if (p == max || reads_back(s, d, is_float))
				return;
		}
	}
	int lo = 1, hi = max;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(s, n, "%.*e", mid - 1, d);
		if (reads_back(s, d, is_float))
			hi = mid;
		else
			lo = mid + 1;
	}
	snprintf(s, n, "%.*e", lo - 1, d);
}

/* Finite d laid out as ECMAScript's Number::toString does, which is what
 * JSON consumers print themselves: plain decimals from 1e-7 up to 1e21
 * (2000, 0.001), exponent notation outside (1e-7, 1e+21). */
static void format_number(double d, bool is_float, char *out, size_t out_size)
{
	static const char ZEROS[] = "000000000000000000000";
	char sci[40], digits[24];
	shortest(d, is_float, sci, sizeof sci);
	/* sci is "[-]D[.DDD]e(+|-)XX". */
	const char *p = sci, *sign = "";
	if (*p == '-') {
		sign = "-";
		p++;
	}
	int k = 0;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[k++] = *p;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	/* The value is 0.DIGITS x 10^n. */
	int n = atoi(p + 1) + 1;
	if (k <= n && n <= 21)
		snprintf(out, out_size, "%s%s%.*s", sign, digits, n - k, ZEROS);
	else if (0 < n && n <= 21)
		snprintf(out, out_size, "%s%.*s.%s", sign, n, digits, digits + n);
	else if (-6 < n && n <= 0)
		snprintf(out, out_size, "%s0.%.*s%s", sign, -n, ZEROS, digits);
	else
		snprintf(out, out_size, "%s%c%s%se%c%d", sign, digits[0],
			 k > 1 ? "." : "", digits + 1, n - 1 < 0 ? '-' : '+',
			 n - 1 < 0 ? 1 - n : n - 1);
}

static void put_floating(struct emitter *e, double d, bool is_float)
{
	char s[64];
	if (isnan(d)) {
		put_str(e, "\"NaN\"");
	} else if (isinf(d)) {
		put_str(e, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	} else {
		format_number(d, is_float, s, sizeof s);
		put_str(e, s);
	}
}

static void put_timestamp(struct emitter *e, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *fs = protobuf_c_message_descriptor_get_field(d, 1);
	const ProtobufCFieldDescriptor *fn = protobuf_c_message_descriptor_get_field(d, 2);
	if (!fs || !fn || fs->type != PROTOBUF_C_TYPE_INT64 ||
	    fn->type != PROTOBUF_C_TYPE_INT32) {
		fail(e, -EINVAL);
		return;
	}
	int64_t secs;
	int32_t nanos;
	memcpy(&secs, (const char *)m + fs->offset, sizeof secs);
	memcpy(&nanos, (const char *)m + fn->offset, sizeof nanos);
	char text[PBJSON_TS_TEXT_MAX];
	if (pbjson_ts_format(secs, nanos, text) < 0) {
		fail(e, -EINVAL);
		return;
	}
	put(e, "\"", 1);
	put_str(e, text);
	put(e, "\"", 1);
}

static void put_message(struct emitter *e, const ProtobufCMessage *m, int depth);

/* One value of field f stored at p (an element, for repeated fields). */
static void put_value(struct emitter *e, const ProtobufCFieldDescriptor *f,
		      const void *p, int depth)
{
	char s[32];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(s, sizeof s, "%" PRId32, *(const int32_t *)p);
		put_str(e, s);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(s, sizeof s, "%" PRIu32, *(const uint32_t *)p);
		put_str(e, s);
		break;
	/* 64-bit integers are strings: JavaScript numbers are doubles. */
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(s, sizeof s, "\"%" PRId64 "\"", *(const int64_t *)p);
		put_str(e, s);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(s, sizeof s, "\"%" PRIu64 "\"", *(const uint64_t *)p);
		put_str(e, s);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		put_floating(e, *(const float *)p, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_floating(e, *(const double *)p, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		put_str(e, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const char *name = pbjson_enum_name(f->descriptor, v);
		if (name) {
			put_quoted(e, name, strlen(name));
		} else {
			snprintf(s, sizeof s, "%d", v);
			put_str(e, s);
		}
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *str = *(char *const *)p;
		if (!str)
			str = "";
		put_quoted(e, str, strlen(str));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char *text = malloc(enc_base64_size(b->len));
		if (!text) {
			fail(e, -ENOMEM);
			break;
		}
		enc_base64_encode(b->data, b->len, text);
		put(e, "\"", 1);
		put_str(e, text);
		put(e, "\"", 1);
		free(text);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			put_message(e, sub, depth + 1);
		else if (pbjson_is_timestamp(f->descriptor))
			/* An unset map value or element reads as the default. */
			put_str(e, "\"1970-01-01T00:00:00Z\"");
		else
			put_str(e, "{}");
		break;
	}
	}
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

struct map_key {
	const char *text;
	size_t index;
	char num[24]; /* text of a non-string key */
};

static int cmp_map_key(const void *a, const void *b)
{
	const struct map_key *x = *(struct map_key *const *)a;
	const struct map_key *y = *(struct map_key *const *)b;
	int c = strcmp(x->text, y->text);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void map_key_text(const ProtobufCFieldDescriptor *kf, const void *p,
			 struct map_key *k)
{
	k->text = k->num;
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING:
		k->text = *(char *const *)p ? *(char *const *)p : "";
		break;
	case PROTOBUF_C_TYPE_BOOL:
		k->text = *(const protobuf_c_boolean *)p ? "true" : "false";
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(k->num, sizeof k->num, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(k->num, sizeof k->num, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(k->num, sizeof k->num, "%" PRId64, *(const int64_t *)p);
		break;
	default:
		snprintf(k->num, sizeof k->num, "%" PRIu64, *(const uint64_t *)p);
		break;
	}
}

/* A map as a JSON object, entries in their stored order. The wire format
 * lets a key repeat with the last entry winning; a JSON object may not
 * repeat a key, so earlier entries of a repeated key are left out. */
static void put_map(struct emitter *e, const ProtobufCFieldDescriptor *f,
		    ProtobufCMessage *const *entries, size_t n, int depth)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	struct map_key *keys = NULL, **order = NULL;
	bool *skip = NULL;

	if (n > 0) {
		keys = calloc(n, sizeof *keys);
		order = calloc(n, sizeof *order);
		skip = calloc(n, sizeof *skip);
		if (!keys || !order || !skip) {
			fail(e, -ENOMEM);
			goto free_keys;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!entries[i] || entries[i]->descriptor != ed) {
			fail(e, -EINVAL);
			goto free_keys;
		}
		map_key_text(kf, (const char *)entries[i] + kf->offset, &keys[i]);
		keys[i].index = i;
		order[i] = &keys[i];
	}
	if (n > 1) {
		qsort(order, n, sizeof *order, cmp_map_key);
		for (size_t i = 0; i + 1 < n; i++)
			if (strcmp(order[i]->text, order[i + 1]->text) == 0)
				skip[order[i]->index] = true;
	}
	open_container(e, '{');
	for (size_t i = 0; i < n && !e->error; i++) {
		if (skip[i])
			continue;
		put_key(e, keys[i].text);
		put_value(e, vf, (const char *)entries[i] + vf->offset, depth);
	}
	close_container(e, '}');
free_keys:
	free(skip);
	free(order);
	free(keys);
}

static void put_array(struct emitter *e, const ProtobufCFieldDescriptor *f,
		      const void *elems, size_t n, int depth)
{
	size_t size = elem_size(f->type);
	open_container(e, '[');
	for (size_t i = 0; i < n && !e->error; i++) {
		next_item(e);
		put_value(e, f, (const char *)elems + i * size, depth);
	}
	close_container(e, ']');
}

static bool zeroish(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)p == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p == 0;
	/* Bit patterns, as the wire format sees them: -0.0 is not a default. */
	case PROTOBUF_C_TYPE_FLOAT: {
		uint32_t bits;
		memcpy(&bits, p, sizeof bits);
		return bits == 0;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		uint64_t bits;
		memcpy(&bits, p, sizeof bits);
		return bits == 0;
	}
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p == 0;
	case PROTOBUF_C_TYPE_STRING:
		return !*(char *const *)p || !**(char *const *)p;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return !*(ProtobufCMessage *const *)p;
	}
	return true;
}

/* Whether a non-repeated field is written; mirrors what protobuf-c packs,
 * with proto3 fields at their default kept when EMIT_DEFAULTS asks. */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
		    unsigned flags)
{
	const char *base = (const char *)m;
	const void *p = base + f->offset;
	bool pointer = f->type == PROTOBUF_C_TYPE_MESSAGE ||
		       f->type == PROTOBUF_C_TYPE_STRING;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
			return false;
		return !pointer || *(void *const *)p;
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)p;
	switch (f->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return true;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->type == PROTOBUF_C_TYPE_STRING)
			return *(void *const *)p && *(void *const *)p != f->default_value;
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	case PROTOBUF_C_LABEL_NONE:
		return (flags & PBJSON_EMIT_DEFAULTS) || !zeroish(f, p);
	case PROTOBUF_C_LABEL_REPEATED:
		break;
	}
	return false;
}

static void put_message(struct emitter *e, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > PBJSON_MAX_DEPTH) {
		fail(e, -E2BIG);
		return;
	}
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		fail(e, -EINVAL);
		return;
	}
	if (pbjson_is_timestamp(d)) {
		put_timestamp(e, m);
		return;
	}
	open_container(e, '{');
	for (unsigned i = 0; i < d->n_fields && !e->error; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p = (const char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const void *elems = *(void *const *)p;
			if (n == 0 && !(e->flags & PBJSON_EMIT_DEFAULTS))
				continue;
			if (n > 0 && !elems) {
				fail(e, -EINVAL);
				break;
			}
			put_field_name(e, f);
			if (pbjson_is_map(d, f))
				put_map(e, f, elems, n, depth);
			else
				put_array(e, f, elems, n, depth);
			continue;
		}
		if (!present(m, f, e->flags))
			continue;
		put_field_name(e, f);
		put_value(e, f, p, depth);
	}
	close_container(e, '}');
}

int pbjson_write(const ProtobufCMessage *m, unsigned flags, struct buf *out)
{
	if (!m || !out)
		return -EINVAL;
	size_t start = out->len;
	struct emitter e = { .out = out, .flags = flags, .first = true };
	put_message(&e, m, 1);
	if (flags & PBJSON_PRETTY)
		put(&e, "\n", 1);
	if (e.error) {
		/* Output so far may hold message contents: wipe it. */
		if (out->data)
			memset(out->data + start, 0, out->len - start);
		out->len = start;
		return e.error;
	}
	return 0;
}
