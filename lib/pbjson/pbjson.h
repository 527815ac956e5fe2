/* The proto3 JSON mapping for protobuf-c messages, driven by their
 * descriptors: any generated message can be written as JSON and read back
 * from JSON, so that the seed's JSON bodies, grpcurl and `buf curl`
 * requests and atollctl output all share one format.
 *
 * Supported: every scalar type, enums, repeated fields, maps (recognised by
 * the shape protoc gives map entries), oneofs, proto3 `optional`, and the
 * well-known type google.protobuf.Timestamp. Not supported: the other
 * well-known types (Duration, Struct, Value, wrappers, Any, FieldMask) and
 * the [json_name] option, which protobuf-c descriptors do not carry.
 *
 * Numbers are formatted and parsed with snprintf/strtod, so both
 * directions expect the "C" LC_NUMERIC locale (the default unless the
 * program calls setlocale). */
#ifndef ATOLL_PBJSON_H
#define ATOLL_PBJSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "util/buf.h"

enum {
	/* write: proto field names ("workload_id") instead of lowerCamelCase
	 * JSON names ("workloadId"). */
	PBJSON_ORIGINAL_NAMES = 1u << 0,
	/* write: also fields without presence that hold their default value,
	 * and empty repeated fields and maps. Unset message fields and unset
	 * oneof members are still left out. */
	PBJSON_EMIT_DEFAULTS = 1u << 1,
	/* write: two-space indentation and a newline at the end. */
	PBJSON_PRETTY = 1u << 2,
	/* read: skip members that name no field, and enum names the enum does
	 * not define (the field, element or map entry is then left out). */
	PBJSON_IGNORE_UNKNOWN = 1u << 3,
};

/* Messages nested deeper than this are refused by both directions. */
#define PBJSON_MAX_DEPTH 100

/* Append message m as JSON to out. 64-bit integers are written as quoted
 * decimal strings, bytes as padded standard base64, enums by value name,
 * floating point values in their shortest round-trip form, maps as JSON
 * objects, Timestamps as RFC 3339 UTC strings.
 *
 * Returns 0, -EINVAL when m is not a valid message or holds a value JSON
 * cannot carry (a Timestamp outside years 1..9999 or with nanos outside
 * 0..999999999), -EILSEQ for a string that is not valid UTF-8, -E2BIG
 * when messages nest deeper than PBJSON_MAX_DEPTH, -ENOMEM. On failure the
 * contents of out are as before the call. */
int pbjson_write(const ProtobufCMessage *m, unsigned flags, struct buf *out);

/* Parse json[0..len) as a message of type d. Members may use the proto
 * field name or the JSON name; null means the field is absent. Integers
 * may be JSON numbers or strings and are range-checked for their type
 * ("1.0" and "1e2" are integers, "1.5" is not); floating point fields also
 * take "NaN", "Infinity" and "-Infinity"; enums take a value name or an
 * int32 number; bytes take standard or URL-safe base64, padded or not;
 * Timestamps take RFC 3339 with any UTC offset.
 *
 * On success *ret is a message allocated by protobuf-c: free it with
 * protobuf_c_message_free_unpacked(*ret, NULL). Returns 0, -EINVAL with a
 * message in err naming the JSON path and the problem, e.g.
 * `input.features[3]: expected a number, found string`, or the position of
 * a JSON syntax error, e.g. `line 1 column 17: value expected`; -ENOMEM.
 * err may be NULL; messages longer than err_size are cut. *ret is
 * untouched on failure. */
int pbjson_read(const ProtobufCMessageDescriptor *d, const char *json,
		size_t len, unsigned flags, ProtobufCMessage **ret, char *err,
		size_t err_size);

/* Name of an enum value, e.g. "MODE_TEE", or NULL when value has none. */
const char *pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value);

/* Value of an enum given by name ("MODE_TEE") or decimal number ("2"), as
 * pbjson_read accepts them. 0, or -EINVAL for an unknown name or a number
 * outside int32. */
int pbjson_enum_value(const ProtobufCEnumDescriptor *d, const char *text,
		      int *ret_value);

#endif
