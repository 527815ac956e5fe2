/* The sim TEE report: its byte layout (docs/tee/sim.md), encoding of the
 * signed body and structural parsing. Signing and verification live in
 * the driver; this file only knows where the bytes go. */
#ifndef ATOLL_SIM_REPORT_H
#define ATOLL_SIM_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* All integers are little-endian. The magic names the format, the version
 * field its revision; a parser refuses versions it does not know. */
#define SIM_MAGIC "ATOLLSIM"
#define SIM_MAGIC_LEN 8
#define SIM_VERSION 1

#define SIM_FLAG_DEBUG 0x00000001u
/* Flags a version-1 parser understands; any other bit set is refused. */
#define SIM_FLAGS_KNOWN SIM_FLAG_DEBUG

#define SIM_MEASUREMENT_LEN 48 /* SHA-384 */
#define SIM_REPORT_DATA_LEN 64
/* ECDSA P-256 signature as r || s, each 32 bytes big-endian. */
#define SIM_SIG_LEN 64
/* Upper bound on the embedded island certificate. */
#define SIM_CERT_MAX 8192

#define SIM_OFF_MAGIC 0
#define SIM_OFF_VERSION 8       /* u16 */
#define SIM_OFF_RESERVED 10     /* u16, zero */
#define SIM_OFF_FLAGS 12        /* u32 */
#define SIM_OFF_SVN 16          /* u32 */
#define SIM_OFF_MEASUREMENT 20  /* 48 bytes */
#define SIM_OFF_REPORT_DATA 68  /* 64 bytes */
#define SIM_OFF_ISSUED_AT 132   /* i64, unix ms */
#define SIM_OFF_EXPIRES_AT 140  /* i64, unix ms */
#define SIM_OFF_CERT_LEN 148    /* u32 */
#define SIM_OFF_CERT 152        /* cert_len bytes of DER */
#define SIM_HEADER_LEN SIM_OFF_CERT
/* Smallest and largest possible reports. */
#define SIM_REPORT_MIN (SIM_HEADER_LEN + 1 + SIM_SIG_LEN)
#define SIM_REPORT_MAX (SIM_HEADER_LEN + SIM_CERT_MAX + SIM_SIG_LEN)

struct sim_report {
	uint16_t version;
	uint32_t flags;
	uint32_t svn;
	uint8_t measurement[SIM_MEASUREMENT_LEN];
	uint8_t report_data[SIM_REPORT_DATA_LEN];
	int64_t issued_at_ms;
	int64_t expires_at_ms;
	/* Borrowed: from the caller on encode, from the parsed bytes on
	 * parse. */
	const uint8_t *cert;
	size_t cert_len;
	/* Set by parse: the signed prefix is data[0..signed_len) and the
	 * signature follows it. */
	size_t signed_len;
	const uint8_t *sig;
};

/* Encode everything the signature covers into a new buffer that has
 * SIM_SIG_LEN bytes of room after it (*ret_body_len excludes them).
 * 0, -EINVAL (cert length out of range) or -ENOMEM. */
int sim_report_encode_body(const struct sim_report *r, uint8_t **ret_buf,
			   size_t *ret_body_len);

/* Check the structure of data[0..len): magic, version, reserved bits,
 * certificate length and total length. No signature or time checks.
 * 0, or -EBADMSG with a message in err. */
int sim_report_parse(const uint8_t *data, size_t len, struct sim_report *ret,
		     char *err, size_t err_size);

#endif
