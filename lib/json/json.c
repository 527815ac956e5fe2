/* JSON parser (DOM) and writer. */
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/enc.h"

struct json_value {
	enum json_type type;
	bool b;
	double num;
	char *str;     /* string value or number text */
	size_t len;    /* string length */
	size_t count;  /* array elements / object members */
	json_value **items;
	char **keys;   /* object keys, parallel to items */
};

struct parser {
	const char *p, *end, *start;
	char *err;
	size_t err_size;
	int depth;
};

static int fail(struct parser *ps, const char *what)
{
	if (ps->err && ps->err_size) {
		int line = 1, col = 1;
		for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
			if (*q == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(ps->err, ps->err_size, "line %d column %d: %s", line, col, what);
	}
	return -EINVAL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static json_value *new_value(enum json_type t)
{
	json_value *v = calloc(1, sizeof *v);
	if (v)
		v->type = t;
	return v;
}

static int parse_value(struct parser *ps, json_value **ret);

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 63));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 63));
		u[2] = (char)(0x80 | (cp & 63));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 63));
		u[2] = (char)(0x80 | ((cp >> 6) & 63));
		u[3] = (char)(0x80 | (cp & 63));
		n = 4;
	}
	buf_append(b, u, n);
}

/* Length of a valid UTF-8 sequence starting at p, or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int parse_string(struct parser *ps, char **ret, size_t *ret_len)
{
	struct buf b = { 0 };
	ps->p++; /* opening quote */
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			if (!buf_cstr(&b)) {
				buf_free(&b);
				return fail(ps, "out of memory");
			}
			*ret_len = b.len;
			*ret = (char *)buf_steal(&b, NULL);
			return 0;
		}
		if (c < 0x20) {
			buf_free(&b);
			return fail(ps, "control character in string");
		}
		if (c == '\\') {
			if (ps->end - ps->p < 2)
				break;
			char e = ps->p[1];
			ps->p += 2;
			switch (e) {
			case '"': buf_putc(&b, '"'); break;
			case '\\': buf_putc(&b, '\\'); break;
			case '/': buf_putc(&b, '/'); break;
			case 'b': buf_putc(&b, '\b'); break;
			case 'f': buf_putc(&b, '\f'); break;
			case 'n': buf_putc(&b, '\n'); break;
			case 'r': buf_putc(&b, '\r'); break;
			case 't': buf_putc(&b, '\t'); break;
			case 'u': {
				unsigned cp, lo;
				if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0) {
					buf_free(&b);
					return fail(ps, "bad \\u escape");
				}
				ps->p += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					buf_free(&b);
					return fail(ps, "lone low surrogate");
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
					    ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0 ||
					    lo < 0xdc00 || lo > 0xdfff) {
						buf_free(&b);
						return fail(ps, "unpaired surrogate");
					}
					ps->p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				put_utf8(&b, cp);
				break;
			}
			default:
				ps->p -= 1;
				buf_free(&b);
				return fail(ps, "bad escape");
			}
			continue;
		}
		size_t n = utf8_seq((const unsigned char *)ps->p,
				    (const unsigned char *)ps->end);
		if (n == 0) {
			buf_free(&b);
			return fail(ps, "invalid UTF-8 in string");
		}
		buf_append(&b, ps->p, n);
		ps->p += n;
	}
	buf_free(&b);
	return fail(ps, "unterminated string");
}

static int parse_number(struct parser *ps, json_value **ret)
{
	const char *s = ps->p;
	const char *p = s;
	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end)
		return fail(ps, "bad number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return fail(ps, "bad number");
	}
	if (p < ps->end && *p == '.') {
		p++;
		if (p >= ps->end || *p < '0' || *p > '9') {
			ps->p = p;
			return fail(ps, "bad number: digit expected after '.'");
		}
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9') {
			ps->p = p;
			return fail(ps, "bad number: digit expected in exponent");
		}
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	json_value *v = new_value(JSON_NUMBER);
	if (!v)
		return fail(ps, "out of memory");
	v->str = strndup(s, (size_t)(p - s));
	if (!v->str) {
		free(v);
		return fail(ps, "out of memory");
	}
	v->len = (size_t)(p - s);
	v->num = strtod(v->str, NULL);
	ps->p = p;
	*ret = v;
	return 0;
}

static int push(json_value *c, json_value *item, char *key)
{
	if ((c->count & (c->count - 1)) == 0) {
		size_t cap = c->count ? c->count * 2 : 4;
		json_value **items = realloc(c->items, cap * sizeof *items);
		if (!items)
			return -ENOMEM;
		c->items = items;
		if (c->type == JSON_OBJECT) {
			char **keys = realloc(c->keys, cap * sizeof *keys);
			if (!keys)
				return -ENOMEM;
			c->keys = keys;
		}
	}
	c->items[c->count] = item;
	if (c->type == JSON_OBJECT)
		c->keys[c->count] = key;
	c->count++;
	return 0;
}

static int parse_container(struct parser *ps, json_value **ret)
{
	bool obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nesting too deep");
	json_value *c = new_value(obj ? JSON_OBJECT : JSON_ARRAY);
	if (!c)
		return fail(ps, "out of memory");
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		*ret = c;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		skip_ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				json_free(c);
				return fail(ps, "object key (string) expected");
			}
			const char *kpos = ps->p;
			if (parse_string(ps, &key, &klen) < 0) {
				json_free(c);
				return -EINVAL;
			}
			for (size_t i = 0; i < c->count; i++)
				if (strcmp(c->keys[i], key) == 0) {
					free(key);
					json_free(c);
					ps->p = kpos;
					return fail(ps, "duplicate key");
				}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				json_free(c);
				return fail(ps, "':' expected");
			}
			ps->p++;
		}
		json_value *item;
		if (parse_value(ps, &item) < 0) {
			free(key);
			json_free(c);
			return -EINVAL;
		}
		if (push(c, item, key) < 0) {
			free(key);
			json_free(item);
			json_free(c);
			return fail(ps, "out of memory");
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		json_free(c);
		return fail(ps, obj ? "',' or '}' expected" : "',' or ']' expected");
	}
	ps->depth--;
	*ret = c;
	return 0;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return -1;
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, json_value **ret)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "value expected");
	char c = *ps->p;
	json_value *v;
	switch (c) {
	case '{':
	case '[':
		return parse_container(ps, ret);
	case '"':
		v = new_value(JSON_STRING);
		if (!v)
			return fail(ps, "out of memory");
		if (parse_string(ps, &v->str, &v->len) < 0) {
			free(v);
			return -EINVAL;
		}
		*ret = v;
		return 0;
	case 't':
	case 'f':
		if (literal(ps, c == 't' ? "true" : "false") < 0)
			return fail(ps, "unknown literal");
		v = new_value(JSON_BOOL);
		if (!v)
			return fail(ps, "out of memory");
		v->b = c == 't';
		*ret = v;
		return 0;
	case 'n':
		if (literal(ps, "null") < 0)
			return fail(ps, "unknown literal");
		v = new_value(JSON_NULL);
		if (!v)
			return fail(ps, "out of memory");
		*ret = v;
		return 0;
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(ps, ret);
		return fail(ps, "value expected");
	}
}

int json_parse(const char *text, size_t len, json_value **ret, char *err,
	       size_t err_size)
{
	struct parser ps = { text, text + len, text, err, err_size, 0 };
	json_value *v;
	if (parse_value(&ps, &v) < 0)
		return -EINVAL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(v);
		return fail(&ps, "trailing characters after JSON value");
	}
	*ret = v;
	return 0;
}

void json_free(json_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

enum json_type json_type_of(const json_value *v)
{
	return v ? v->type : JSON_NULL;
}

const char *json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL: return "null";
	case JSON_BOOL: return "boolean";
	case JSON_NUMBER: return "number";
	case JSON_STRING: return "string";
	case JSON_ARRAY: return "array";
	case JSON_OBJECT: return "object";
	}
	return "?";
}

const json_value *json_get(const json_value *v, const char *key)
{
	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->keys[i], key) == 0)
			return v->items[i];
	return NULL;
}

size_t json_count(const json_value *v)
{
	return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->count : 0;
}

const json_value *json_at(const json_value *v, size_t i)
{
	return v && i < json_count(v) ? v->items[i] : NULL;
}

const char *json_key_at(const json_value *v, size_t i)
{
	return v && v->type == JSON_OBJECT && i < v->count ? v->keys[i] : NULL;
}

bool json_bool(const json_value *v)
{
	return v && v->type == JSON_BOOL && v->b;
}

double json_number(const json_value *v)
{
	return v && v->type == JSON_NUMBER ? v->num : 0;
}

const char *json_number_text(const json_value *v)
{
	return v && v->type == JSON_NUMBER ? v->str : NULL;
}

int json_uint64(const json_value *v, uint64_t *ret)
{
	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	if (v->str[0] == '-') {
		/* "-0" is the integer zero, as json_int64() reads it; any other
		 * negative number does not fit. */
		if (!v->str[1] || strspn(v->str + 1, "0") != strlen(v->str + 1))
			return -EINVAL;
		*ret = 0;
		return 0;
	}
	uint64_t x = 0;
	for (const char *p = v->str; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*ret = x;
	return 0;
}

int json_int64(const json_value *v, int64_t *ret)
{
	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	bool neg = v->str[0] == '-';
	uint64_t x = 0;
	for (const char *p = v->str + neg; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

const char *json_string(const json_value *v, size_t *ret_len)
{
	if (!v || v->type != JSON_STRING)
		return NULL;
	if (ret_len)
		*ret_len = v->len;
	return v->str;
}

/* ---- writer ---- */

int json_quote(struct buf *out, const char *s, size_t n)
{
	int r = buf_putc(out, '"');
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': r = buf_puts(out, "\\\""); break;
		case '\\': r = buf_puts(out, "\\\\"); break;
		case '\n': r = buf_puts(out, "\\n"); break;
		case '\r': r = buf_puts(out, "\\r"); break;
		case '\t': r = buf_puts(out, "\\t"); break;
		case '\b': r = buf_puts(out, "\\b"); break;
		case '\f': r = buf_puts(out, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				r = buf_printf(out, "\\u%04x", c);
			else
				r = buf_putc(out, (char)c);
		}
	}
	if (r == 0)
		r = buf_putc(out, '"');
	return r;
}

void jw_init(struct json_writer *w, struct buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
	w->first[0] = true;
}

/* Comma before a value unless it follows a key or opens a container. */
static bool jw_pre(struct json_writer *w)
{
	if (w->error)
		return false;
	if (w->after_key) {
		w->after_key = false;
		return true;
	}
	if (!w->first[w->depth]) {
		if (buf_putc(w->out, ',') < 0) {
			w->error = -ENOMEM;
			return false;
		}
	}
	w->first[w->depth] = false;
	return true;
}

static void jw_put(struct json_writer *w, const char *s)
{
	if (!w->error && buf_puts(w->out, s) < 0)
		w->error = -ENOMEM;
}

static void jw_open(struct json_writer *w, const char *s)
{
	if (!jw_pre(w))
		return;
	if (w->depth >= JSON_MAX_DEPTH) {
		w->error = -E2BIG;
		return;
	}
	jw_put(w, s);
	w->first[++w->depth] = true;
}

static void jw_close(struct json_writer *w, const char *s)
{
	if (w->error)
		return;
	if (w->depth == 0) {
		w->error = -EINVAL;
		return;
	}
	w->depth--;
	jw_put(w, s);
}

void jw_object_begin(struct json_writer *w) { jw_open(w, "{"); }
void jw_object_end(struct json_writer *w) { jw_close(w, "}"); }
void jw_array_begin(struct json_writer *w) { jw_open(w, "["); }
void jw_array_end(struct json_writer *w) { jw_close(w, "]"); }

void jw_key(struct json_writer *w, const char *key)
{
	if (!jw_pre(w))
		return;
	if (json_quote(w->out, key, strlen(key)) < 0 || buf_putc(w->out, ':') < 0)
		w->error = -ENOMEM;
	w->after_key = true;
}

void jw_stringn(struct json_writer *w, const char *s, size_t n)
{
	if (jw_pre(w) && json_quote(w->out, s, n) < 0)
		w->error = -ENOMEM;
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_stringn(w, s, strlen(s));
}

void jw_double(struct json_writer *w, double d)
{
	if (isnan(d)) {
		jw_string(w, "NaN");
		return;
	}
	if (isinf(d)) {
		jw_string(w, d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (!jw_pre(w))
		return;
	char s[40];
	/* Shortest of %.15g..%.17g that reads back to the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	jw_put(w, s);
}

void jw_int(struct json_writer *w, int64_t v)
{
	if (!jw_pre(w))
		return;
	char s[24];
	snprintf(s, sizeof s, "%lld", (long long)v);
	jw_put(w, s);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	if (!jw_pre(w))
		return;
	char s[24];
	snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	jw_put(w, s);
}

void jw_bool(struct json_writer *w, bool b)
{
	if (jw_pre(w))
		jw_put(w, b ? "true" : "false");
}

void jw_null(struct json_writer *w)
{
	if (jw_pre(w))
		jw_put(w, "null");
}

void jw_raw(struct json_writer *w, const char *json, size_t n)
{
	if (jw_pre(w) && buf_append(w->out, json, n) < 0)
		w->error = -ENOMEM;
}

void jw_base64(struct json_writer *w, const uint8_t *data, size_t n)
{
	char *s = malloc(enc_base64_size(n));
	if (!s) {
		w->error = -ENOMEM;
		return;
	}
	enc_base64_encode(data, n, s);
	jw_string(w, s);
	free(s);
}

void jw_hex(struct json_writer *w, const uint8_t *data, size_t n)
{
	char *s = enc_hex_dup(data, n);
	if (!s) {
		w->error = -ENOMEM;
		return;
	}
	jw_string(w, s);
	free(s);
}
