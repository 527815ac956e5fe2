/* Small pieces every TEE verifier driver needs: error messages into an
 * atoll_err, a builder for driver-owned atoll_claims, and parsers for the
 * scalar config values drivers accept (booleans, sizes, hex lists). */
#ifndef ATOLL_DRVCOMMON_DC_UTIL_H
#define ATOLL_DRVCOMMON_DC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format a message into err (may be NULL) and return status, so that
 * callers can write `return dc_err(err, ATOLL_E_FORMAT, "...")`. */
int dc_err(atoll_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "what: <old message>". Returns status. */
int dc_err_prefix(atoll_err *err, int status, const char *what);

/* Claims under construction. The public struct comes first so that the
 * pointer handed to the host is the pointer dc_claims_free() takes back. */
struct dc_claims;

struct dc_claims *dc_claims_new(const char *tee_type);
atoll_claims *dc_claims_pub(struct dc_claims *c);
/* Copy bytes into storage owned by the claims; *ret points at the copy.
 * 0 or -ENOMEM. A zero-length copy yields a non-NULL pointer. */
int dc_claims_keep(struct dc_claims *c, const void *data, size_t len,
		   const uint8_t **ret);
int dc_claims_set_measurement(struct dc_claims *c, const void *d, size_t n);
int dc_claims_set_signer(struct dc_claims *c, const void *d, size_t n);
int dc_claims_set_report_data(struct dc_claims *c, const void *d, size_t n);
int dc_claims_set_tcb_status(struct dc_claims *c, const char *status);
/* Extra claims; the name and value are copied. 0 or -ENOMEM. */
int dc_claims_add_bytes(struct dc_claims *c, const char *name,
			const void *data, size_t len);
int dc_claims_add_string(struct dc_claims *c, const char *name,
			 const char *s, size_t len);
int dc_claims_add_uint(struct dc_claims *c, const char *name, uint64_t v);
int dc_claims_add_bool(struct dc_claims *c, const char *name, bool v);
/* Look an extra claim up by name (tests, tools); NULL when absent. */
const atoll_claim *dc_claims_find(const atoll_claims *pub, const char *name);
/* Free claims built here, given the public pointer. Accepts NULL. */
void dc_claims_free(atoll_claims *pub);

/* "true"/"false"/"yes"/"no"/"1"/"0". 0 or -EINVAL. */
int dc_parse_bool(const char *s, bool *ret);
/* A decimal size in [min, max]. 0 or -EINVAL / -ERANGE. */
int dc_parse_size(const char *s, size_t min, size_t max, size_t *ret);
/* Decode one hex string of exactly want_len bytes; ':' and whitespace
 * between digit pairs are ignored ("AB:CD" and "abcd" both work).
 * 0 or -EINVAL. */
int dc_parse_hex_exact(const char *s, size_t slen, uint8_t *out,
		       size_t want_len);

/* Split a comma-joined config list: calls fn for each trimmed, non-empty
 * element (pointer into s, with length). Stops at the first non-zero
 * return and returns it. */
int dc_split_list(const char *s,
		  int (*fn)(const char *item, size_t len, void *userdata),
		  void *userdata);

/* Constant-time comparison of equal-length byte strings: 1 if equal. */
bool dc_ct_equal(const void *a, const void *b, size_t n);
/* 1 when all n bytes are zero. */
bool dc_all_zero(const void *p, size_t n);

/* Fuzz builds only: the copies of the drivers linked into the fuzz
 * targets (tests/fuzz) are compiled with ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES
 * so that mutated evidence reaches the code after its signature checks. A
 * signature that does not verify then counts as one that does; the check
 * still runs, and everything else (lengths, key types, pins, dates,
 * bindings) is refused as in a release build. Modules and programs are
 * never built with it: a test fails when one of them holds
 * DC_FUZZ_UNSAFE_MARKER, which only such a build contains. */
#define DC_FUZZ_UNSAFE_MARKER "atoll-fuzz-unsafe: every signature verifies"
#ifdef ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES is for fuzz builds only"
#endif
/* True: treat a signature that failed to verify as verified. */
bool dc_fuzz_accept_signature(void);
#else
static inline bool dc_fuzz_accept_signature(void)
{
	return false;
}
#endif

/* Unix seconds as "2025-06-01T00:00:00Z" into out (>= 24 bytes). */
void dc_format_time(int64_t t, char *out, size_t out_size);
/* Lowercase hex of at most max_bytes of data, with "..." when cut, into
 * out (>= 2*max_bytes+4). For messages only. */
void dc_hex_short(const uint8_t *data, size_t n, size_t max_bytes, char *out,
		  size_t out_size);

#ifdef __cplusplus
}
#endif

#endif
