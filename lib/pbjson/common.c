/* Descriptor shapes (maps, Timestamp), JSON names, Timestamp text and the
 * enum helpers of pbjson. */
#include "pbjson/internal.h"
#include "pbjson/pbjson.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *d)
{
	return d && strcmp(d->name, "google.protobuf.Timestamp") == 0;
}

static bool valid_map_key_type(ProtobufCType t)
{
	switch (t) {
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
	case PROTOBUF_C_TYPE_BOOL:
	case PROTOBUF_C_TYPE_STRING:
		return true;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return false;
	}
	return false;
}

/* The next character of the proto3 JSON spelling of a field name
 * (underscores dropped, the letter after each one capitalised), advancing
 * *p; NUL at the end. *cap set on entry capitalises the first letter. */
static char camel_next(const char **p, bool *cap)
{
	while (**p == '_') {
		*cap = true;
		(*p)++;
	}
	char c = **p;
	if (!c)
		return '\0';
	(*p)++;
	if (*cap && c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	*cap = false;
	return c;
}

/* Match that spelling (with the first letter capitalised when upper_first)
 * against the start of s. Returns the rest of s, or NULL on a mismatch. */
static const char *camel_prefix(const char *field_name, const char *s, bool upper_first)
{
	bool cap = upper_first;
	for (char c; (c = camel_next(&field_name, &cap)) != '\0';)
		if (*s++ != c)
			return NULL;
	return s;
}

/* protoc names the entry type of map field "tee_types" "TeeTypesEntry". */
static bool is_entry_name(const char *field_name, const char *short_name)
{
	const char *rest = camel_prefix(field_name, short_name, true);
	return rest && strcmp(rest, "Entry") == 0;
}

bool pbjson_is_map(const ProtobufCMessageDescriptor *parent,
		   const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED ||
	    f->type != PROTOBUF_C_TYPE_MESSAGE || !f->descriptor)
		return false;
	const ProtobufCMessageDescriptor *e = f->descriptor;
	if (e->n_fields != 2)
		return false;
	const ProtobufCFieldDescriptor *k = &e->fields[0], *v = &e->fields[1];
	if (k->id != 1 || strcmp(k->name, "key") != 0 || v->id != 2 ||
	    strcmp(v->name, "value") != 0 ||
	    k->label == PROTOBUF_C_LABEL_REPEATED ||
	    v->label == PROTOBUF_C_LABEL_REPEATED || !valid_map_key_type(k->type))
		return false;
	if (!is_entry_name(f->name, e->short_name))
		return false;
	/* Nested in parent: "<parent full name>.<entry short name>". */
	size_t pl = strlen(parent->name);
	return strncmp(e->name, parent->name, pl) == 0 && e->name[pl] == '.' &&
	       strcmp(e->name + pl + 1, e->short_name) == 0;
}

bool pbjson_json_name_is(const char *proto_name, const char *key)
{
	const char *rest = camel_prefix(proto_name, key, false);
	return rest && *rest == '\0';
}

void pbjson_json_name(const char *proto_name, char *out)
{
	bool cap = false;
	for (char c; (c = camel_next(&proto_name, &cap)) != '\0';)
		*out++ = c;
	*out = '\0';
}

/* Proleptic Gregorian calendar: days since 1970-01-01 and back, exact for
 * every year the Timestamp range allows. Years are shifted to start in
 * March so that the leap day ends a year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = m;
	*ret_y = yoe + era * 400 + (m <= 2);
}

int pbjson_ts_format(int64_t seconds, int32_t nanos, char *out)
{
	if (seconds < PBJSON_TS_MIN_SECONDS || seconds > PBJSON_TS_MAX_SECONDS ||
	    nanos < 0 || nanos > 999999999)
		return -EINVAL;
	/* Floor division: the range reaches before the epoch. */
	int64_t days = seconds / 86400, sod = seconds % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	int n = snprintf(out, PBJSON_TS_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02d",
			 (int)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
			 (int)(sod % 60));
	char *p = out + n;
	if (nanos == 0)
		snprintf(p, (size_t)(PBJSON_TS_TEXT_MAX - n), "Z");
	else if (nanos % 1000000 == 0)
		snprintf(p, (size_t)(PBJSON_TS_TEXT_MAX - n), ".%03dZ", (int)(nanos / 1000000));
	else if (nanos % 1000 == 0)
		snprintf(p, (size_t)(PBJSON_TS_TEXT_MAX - n), ".%06dZ", (int)(nanos / 1000));
	else
		snprintf(p, (size_t)(PBJSON_TS_TEXT_MAX - n), ".%09dZ", (int)nanos);
	return 0;
}

/* n decimal digits at s[*i]; advances *i. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *ret)
{
	int v = 0;
	if (len - *i < (size_t)n)
		return false;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	*ret = v;
	return true;
}

static bool lit(const char *s, size_t len, size_t *i, char a, char b)
{
	if (*i >= len || (s[*i] != a && s[*i] != b))
		return false;
	(*i)++;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int DAYS[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : DAYS[m - 1];
}

int pbjson_ts_parse(const char *s, size_t n, int64_t *ret_seconds,
		    int32_t *ret_nanos)
{
	size_t i = 0;
	int Y, M, D, h, mi, sec, nanos = 0;
	/* RFC 3339 allows lowercase 't' and 'z' (section 5.6). */
	if (!digits(s, n, &i, 4, &Y) || !lit(s, n, &i, '-', '-') ||
	    !digits(s, n, &i, 2, &M) || !lit(s, n, &i, '-', '-') ||
	    !digits(s, n, &i, 2, &D) || !lit(s, n, &i, 'T', 't') ||
	    !digits(s, n, &i, 2, &h) || !lit(s, n, &i, ':', ':') ||
	    !digits(s, n, &i, 2, &mi) || !lit(s, n, &i, ':', ':') ||
	    !digits(s, n, &i, 2, &sec))
		return -EINVAL;
	/* No leap seconds: Timestamp counts a day as 86400 seconds. */
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	if (i < n && s[i] == '.') {
		int nd = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd == 9)
				return -EINVAL;
			nanos = nanos * 10 + (s[i] - '0');
		}
		if (nd == 0)
			return -EINVAL;
		for (; nd < 9; nd++)
			nanos *= 10;
	}
	int64_t offset = 0;
	if (lit(s, n, &i, 'Z', 'z')) {
		/* UTC */
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1, oh, om;
		i++;
		if (!digits(s, n, &i, 2, &oh) || !lit(s, n, &i, ':', ':') ||
		    !digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (i != n)
		return -EINVAL;
	int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 +
		       sec - offset;
	if (secs < PBJSON_TS_MIN_SECONDS || secs > PBJSON_TS_MAX_SECONDS)
		return -ERANGE;
	*ret_seconds = secs;
	*ret_nanos = nanos;
	return 0;
}

const char *pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
	return v ? v->name : NULL;
}

int pbjson_enum_value(const ProtobufCEnumDescriptor *d, const char *text,
		      int *ret_value)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value_by_name(d, text);
	if (v) {
		*ret_value = v->value;
		return 0;
	}
	/* A number: optional '-' and digits, within int32. */
	const char *p = text + (text[0] == '-');
	long long x = 0;
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		x = x * 10 + (*p - '0');
		if (x > (long long)INT32_MAX + 1)
			return -EINVAL;
	}
	if (text[0] == '-')
		x = -x;
	if (x > INT32_MAX)
		return -EINVAL;
	*ret_value = (int)x;
	return 0;
}
