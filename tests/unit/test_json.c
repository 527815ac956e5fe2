/* JSON parser and writer. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "json/json.h"

static json_value *parse(const char *s)
{
	json_value *v = NULL;
	char err[128];
	if (json_parse(s, strlen(s), &v, err, sizeof err) < 0) {
		fprintf(stderr, "parse %s: %s\n", s, err);
		return NULL;
	}
	return v;
}

static void expect_error(const char *s, const char *want)
{
	json_value *v = NULL;
	char err[128] = "";
	int r = json_parse(s, strlen(s), &v, err, sizeof err);
	CHECK_INT(r, -EINVAL);
	CHECK(v == NULL);
	CHECK_STR(err, want);
}

int main(void)
{
	json_value *v = parse("{\"workload_id\": 42, \"input\": {\"prompt\": \"Hi \\u00e9\\ud83d\\ude00\"},"
			      " \"list\": [1, -2.5e3, true, false, null], \"big\": 18446744073709551615}");
	CHECK(v != NULL);
	CHECK_INT(json_type_of(v), JSON_OBJECT);
	CHECK_INT(json_count(v), 4);
	uint64_t u;
	CHECK_INT(json_uint64(json_get(v, "workload_id"), &u), 0);
	CHECK_INT(u, 42);
	CHECK_INT(json_uint64(json_get(v, "big"), &u), 0);
	CHECK(u == UINT64_MAX);
	int64_t i64;
	CHECK_INT(json_int64(json_get(v, "big"), &i64), -ERANGE);
	size_t n;
	const char *s = json_string(json_get(json_get(v, "input"), "prompt"), &n);
	CHECK_STR(s, "Hi \xc3\xa9\xf0\x9f\x98\x80");
	CHECK_INT(n, 9);
	const json_value *list = json_get(v, "list");
	CHECK_INT(json_count(list), 5);
	CHECK(json_number(json_at(list, 1)) == -2500.0);
	CHECK_INT(json_int64(json_at(list, 1), &i64), -EINVAL);
	CHECK(json_bool(json_at(list, 2)));
	CHECK_INT(json_type_of(json_at(list, 4)), JSON_NULL);
	CHECK_STR(json_key_at(v, 1), "input");
	json_free(v);

	/* Negative zero is the integer 0 for both exact readers; other
	 * negatives do not fit an unsigned one. */
	v = parse("[-0, -1, -0.0]");
	CHECK(v != NULL);
	u = 7;
	CHECK_INT(json_uint64(json_at(v, 0), &u), 0);
	CHECK_INT(u, 0);
	CHECK_INT(json_int64(json_at(v, 0), &i64), 0);
	CHECK_INT(i64, 0);
	CHECK_INT(json_uint64(json_at(v, 1), &u), -EINVAL);
	CHECK_INT(json_uint64(json_at(v, 2), &u), -EINVAL);
	CHECK_INT(json_int64(json_at(v, 2), &i64), -EINVAL);
	json_free(v);

	expect_error("{\"a\":1,\"a\":2}", "line 1 column 8: duplicate key");
	expect_error("[1,2", "line 1 column 5: ',' or ']' expected");
	expect_error("{\n  \"a\": tru}", "line 2 column 8: unknown literal");
	expect_error("\"abc", "line 1 column 5: unterminated string");
	expect_error("1 2", "line 1 column 3: trailing characters after JSON value");
	expect_error("\"\\ud800\"", "line 1 column 8: unpaired surrogate");
	expect_error("\"\xff\"", "line 1 column 2: invalid UTF-8 in string");
	expect_error("01", "line 1 column 2: trailing characters after JSON value");
	expect_error("1.", "line 1 column 3: bad number: digit expected after '.'");
	expect_error("", "line 1 column 1: value expected");

	/* Deep nesting is refused, not a stack overflow. */
	char deep[2 * JSON_MAX_DEPTH + 10];
	memset(deep, '[', JSON_MAX_DEPTH + 1);
	memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	deep[2 * JSON_MAX_DEPTH + 2] = 0;
	json_value *dv = NULL;
	char err[128];
	CHECK_INT(json_parse(deep, strlen(deep), &dv, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "nesting too deep") != NULL);

	/* Writer round trip. */
	struct buf b = { 0 };
	struct json_writer w;
	jw_init(&w, &b);
	jw_object_begin(&w);
	jw_key(&w, "key_id");
	jw_string(&w, "ck_\"x\"\n");
	jw_key(&w, "n");
	jw_array_begin(&w);
	jw_double(&w, 0.1);
	jw_int(&w, -7);
	jw_uint(&w, UINT64_MAX);
	jw_double(&w, NAN);
	jw_array_end(&w);
	jw_key(&w, "b");
	jw_base64(&w, (const uint8_t *)"hello", 5);
	jw_key(&w, "h");
	jw_hex(&w, (const uint8_t *)"\x01\xab", 2);
	jw_key(&w, "t");
	jw_bool(&w, true);
	jw_object_end(&w);
	CHECK_INT(w.error, 0);
	CHECK_STR(buf_cstr(&b), "{\"key_id\":\"ck_\\\"x\\\"\\n\",\"n\":[0.1,-7,18446744073709551615,\"NaN\"],"
				"\"b\":\"aGVsbG8=\",\"h\":\"01ab\",\"t\":true}");
	v = parse(buf_cstr(&b));
	CHECK(v != NULL);
	CHECK_STR(json_string(json_get(v, "key_id"), NULL), "ck_\"x\"\n");
	json_free(v);
	buf_free(&b);
	CHECK_DONE();
}
