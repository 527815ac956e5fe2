/* Encoding and structural parsing of sim TEE reports. */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int sim_report_encode_body(const struct sim_report *r, uint8_t **ret_buf,
			   size_t *ret_body_len)
{
	size_t body_len;
	uint8_t *b;

	if (!r->cert || r->cert_len == 0 || r->cert_len > SIM_CERT_MAX)
		return -EINVAL;
	body_len = SIM_HEADER_LEN + r->cert_len;
	b = calloc(1, body_len + SIM_SIG_LEN);
	if (!b)
		return -ENOMEM;
	memcpy(b + SIM_OFF_MAGIC, SIM_MAGIC, SIM_MAGIC_LEN);
	put_u16(b + SIM_OFF_VERSION, r->version);
	put_u16(b + SIM_OFF_RESERVED, 0);
	put_u32(b + SIM_OFF_FLAGS, r->flags);
	put_u32(b + SIM_OFF_SVN, r->svn);
	memcpy(b + SIM_OFF_MEASUREMENT, r->measurement, SIM_MEASUREMENT_LEN);
	memcpy(b + SIM_OFF_REPORT_DATA, r->report_data, SIM_REPORT_DATA_LEN);
	put_u64(b + SIM_OFF_ISSUED_AT, (uint64_t)r->issued_at_ms);
	put_u64(b + SIM_OFF_EXPIRES_AT, (uint64_t)r->expires_at_ms);
	put_u32(b + SIM_OFF_CERT_LEN, (uint32_t)r->cert_len);
	memcpy(b + SIM_OFF_CERT, r->cert, r->cert_len);
	*ret_buf = b;
	*ret_body_len = body_len;
	return 0;
}

int sim_report_parse(const uint8_t *data, size_t len, struct sim_report *ret,
		     char *err, size_t err_size)
{
	struct sim_report r = { 0 };
	uint32_t cert_len;

	if (!data || len < SIM_HEADER_LEN) {
		snprintf(err, err_size,
			 "report of %zu bytes is shorter than its %d-byte header",
			 data ? len : 0, SIM_HEADER_LEN);
		return -EBADMSG;
	}
	if (memcmp(data + SIM_OFF_MAGIC, SIM_MAGIC, SIM_MAGIC_LEN) != 0) {
		snprintf(err, err_size, "not a sim report (bad magic)");
		return -EBADMSG;
	}
	r.version = get_u16(data + SIM_OFF_VERSION);
	if (r.version != SIM_VERSION) {
		snprintf(err, err_size, "report version %u, this driver reads %u",
			 r.version, SIM_VERSION);
		return -EBADMSG;
	}
	if (get_u16(data + SIM_OFF_RESERVED) != 0) {
		snprintf(err, err_size, "reserved field is not zero");
		return -EBADMSG;
	}
	r.flags = get_u32(data + SIM_OFF_FLAGS);
	if (r.flags & ~SIM_FLAGS_KNOWN) {
		snprintf(err, err_size, "unknown flags 0x%08x",
			 r.flags & ~SIM_FLAGS_KNOWN);
		return -EBADMSG;
	}
	r.svn = get_u32(data + SIM_OFF_SVN);
	memcpy(r.measurement, data + SIM_OFF_MEASUREMENT, SIM_MEASUREMENT_LEN);
	memcpy(r.report_data, data + SIM_OFF_REPORT_DATA, SIM_REPORT_DATA_LEN);
	r.issued_at_ms = (int64_t)get_u64(data + SIM_OFF_ISSUED_AT);
	r.expires_at_ms = (int64_t)get_u64(data + SIM_OFF_EXPIRES_AT);
	cert_len = get_u32(data + SIM_OFF_CERT_LEN);
	if (cert_len == 0 || cert_len > SIM_CERT_MAX) {
		snprintf(err, err_size,
			 "certificate length %u outside 1..%d", cert_len,
			 SIM_CERT_MAX);
		return -EBADMSG;
	}
	/* Both terms are bounded above, so the sum cannot wrap. */
	if (len != SIM_HEADER_LEN + (size_t)cert_len + SIM_SIG_LEN) {
		snprintf(err, err_size,
			 "report is %zu bytes, its certificate length says %zu",
			 len, SIM_HEADER_LEN + (size_t)cert_len + SIM_SIG_LEN);
		return -EBADMSG;
	}
	r.cert = data + SIM_OFF_CERT;
	r.cert_len = cert_len;
	r.signed_len = SIM_HEADER_LEN + cert_len;
	r.sig = data + r.signed_len;
	*ret = r;
	return 0;
}
