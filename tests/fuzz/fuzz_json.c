/* libFuzzer target: lib/json's parser on arbitrary text, and its writer on
 * whatever the parser accepts. A refusal must say where ("line L column
 * C: ..."); an accepted document is walked through every accessor and
 * written back, and that text must parse and write again to itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json/json.h"
#include "util/buf.h"

void fuzz_setup(void)
{
}

static void write_value(struct json_writer *w, const json_value *v)
{
	size_t n;
	const char *s;

	switch (json_type_of(v)) {
	case JSON_NULL:
		jw_null(w);
		break;
	case JSON_BOOL:
		jw_bool(w, json_bool(v));
		break;
	case JSON_NUMBER: {
		int64_t i;
		uint64_t u;

		s = json_number_text(v);
		if (!s)
			fuzz_die("number without text");
		/* The exact readers agree with each other where both apply. */
		if (json_int64(v, &i) == 0 && i >= 0 &&
		    (json_uint64(v, &u) != 0 || u != (uint64_t)i))
			fuzz_die("json_int64 and json_uint64 disagree on %s", s);
		(void)json_number(v);
		jw_raw(w, s, strlen(s));
		break;
	}
	case JSON_STRING:
		s = json_string(v, &n);
		if (!s || s[n] != '\0')
			fuzz_die("string value not NUL-terminated");
		jw_stringn(w, s, n);
		break;
	case JSON_ARRAY:
		jw_array_begin(w);
		for (size_t i = 0; i < json_count(v); i++)
			write_value(w, json_at(v, i));
		jw_array_end(w);
		break;
	case JSON_OBJECT:
		jw_object_begin(w);
		for (size_t i = 0; i < json_count(v); i++) {
			const char *k = json_key_at(v, i);

			if (!k)
				fuzz_die("object member %zu without a key", i);
			if (json_get(v, k) != json_at(v, i))
				fuzz_die("json_get(\"%s\") is not member %zu", k, i);
			jw_key(w, k);
			write_value(w, json_at(v, i));
		}
		jw_object_end(w);
		break;
	}
}

/* Parse text and write it back into out; 0, or -1 when it does not
 * parse. */
static int parse_write(const char *text, size_t len, struct buf *out, char *err,
		 size_t err_size)
{
	json_value *v = NULL;
	struct json_writer w;

	if (json_parse(text, len, &v, err, err_size) < 0) {
		if (v)
			fuzz_die("refusal with a value");
		return -1;
	}
	jw_init(&w, out);
	write_value(&w, v);
	json_free(v);
	if (w.error)
		fuzz_die("the writer failed: %d", w.error);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf first = { 0 }, second = { 0 };
	char err[256] = "";

	if (parse_write((const char *)data, size, &first, err, sizeof(err)) < 0) {
		if (strncmp(err, "line ", 5) != 0)
			fuzz_die("refusal without a position: '%s'", err);
		return 0;
	}
	if (parse_write((const char *)first.data, first.len, &second, err,
		  sizeof(err)) < 0)
		fuzz_die("own output does not parse: %s\n%.*s", err,
			 (int)first.len, (const char *)first.data);
	if (first.len != second.len || memcmp(first.data, second.data, first.len))
		fuzz_die("second write differs:\n%.*s\n%.*s", (int)first.len,
			 (const char *)first.data, (int)second.len,
			 (const char *)second.data);
	buf_free(&first);
	buf_free(&second);
	return 0;
}

void fuzz_seeds(void)
{
	static const char *const docs[] = {
		"{\"a\":[1,-2.5e-3,true,false,null],\"b\":{\"c\":\"d\"}}",
		"[\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\",\"\\u0000x\"]",
		"18446744073709551615",
		"-9223372036854775808",
		"[1e400, -0, 0.1, 123456789012345678901234567890]",
		" { \"features\" : [ 1 , 2 , \"3\" ] , \"record\" : { } } ",
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	struct buf b = { 0 };
	struct json_writer w;
	char name[32];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		snprintf(name, sizeof(name), "doc-%zu", i);
		fuzz_seed(name, docs[i], strlen(docs[i]));
	}
	/* What the writer makes of every kind of value. */
	jw_init(&w, &b);
	jw_object_begin(&w);
	jw_key(&w, "s");
	jw_stringn(&w, "a\0b\x01\x7f\xc3\xa9", 7);
	jw_key(&w, "d");
	jw_array_begin(&w);
	jw_double(&w, 0.1);
	jw_double(&w, -1e300);
	jw_double(&w, 1.0 / 0.0);
	jw_int(&w, INT64_MIN);
	jw_uint(&w, UINT64_MAX);
	jw_array_end(&w);
	jw_key(&w, "b64");
	jw_base64(&w, (const uint8_t *)"\x00\xff\x10", 3);
	jw_key(&w, "hex");
	jw_hex(&w, (const uint8_t *)"\x00\xff\x10", 3);
	jw_object_end(&w);
	fuzz_seed("writer", b.data, b.len);
	buf_free(&b);
}
