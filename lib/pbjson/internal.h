/* What the pbjson writer and reader share: recognising maps and
 * Timestamps from descriptors, JSON field names, Timestamp text. */
#ifndef ATOLL_PBJSON_INTERNAL_H
#define ATOLL_PBJSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Timestamp range of the proto3 JSON mapping: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999999Z. */
#define PBJSON_TS_MIN_SECONDS INT64_C(-62135596800)
#define PBJSON_TS_MAX_SECONDS INT64_C(253402300799)
/* Longest Timestamp text: "9999-12-31T23:59:59.999999999Z" and a NUL. */
#define PBJSON_TS_TEXT_MAX 31

bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *d);

/* Whether field f of message type parent is a map: protobuf-c has no map
 * flag, so this matches what protoc generates for map<K, V> name: a
 * repeated field whose type is parent's nested "NameEntry" message with
 * exactly key = 1 and value = 2, K a valid map key type. */
bool pbjson_is_map(const ProtobufCMessageDescriptor *parent,
		   const ProtobufCFieldDescriptor *f);

/* Whether key is the lowerCamelCase JSON name protoc derives from the
 * proto field name (underscores dropped, the letter after one upper-cased). */
bool pbjson_json_name_is(const char *proto_name, const char *key);
/* Write that JSON name to out, which holds strlen(proto_name) + 1 bytes. */
void pbjson_json_name(const char *proto_name, char *out);

/* Format a Timestamp with 0, 3, 6 or 9 fraction digits into out
 * (PBJSON_TS_TEXT_MAX bytes). 0, or -EINVAL when out of range. */
int pbjson_ts_format(int64_t seconds, int32_t nanos, char *out);
/* Parse RFC 3339 "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" from
 * s[0..n). 0, -EINVAL for bad syntax or an impossible date or time,
 * -ERANGE when the instant is outside the Timestamp range. */
int pbjson_ts_parse(const char *s, size_t n, int64_t *ret_seconds,
		    int32_t *ret_nanos);

#endif
