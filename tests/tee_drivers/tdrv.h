/* Test harness for the TEE verifier driver tests: load a driver module the
 * way the host does (dlopen + entry symbol), create instances from
 * key/value config, run verify(), and read sample files from the shared
 * evidence folder. */
#ifndef ATOLL_TESTS_TEE_DRIVERS_TDRV_H
#define ATOLL_TESTS_TEE_DRIVERS_TDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"

struct tdrv {
	void *handle;
	const atoll_tee_driver *drv;
};

/* Load $ATOLL_MODULE_DIR/<name>.so; exits the test on failure. */
void tdrv_load(struct tdrv *t, const char *name);
void tdrv_unload(struct tdrv *t);

/* init() from alternating key, value strings ending in NULL. Returns the
 * status; *ret_ctx is set on success. err receives the message. */
int tdrv_init(struct tdrv *t, void **ret_ctx, atoll_err *err, ...);

/* The arguments of verify() on evidence and collateral blobs, as of when,
 * with no expected report data. */
static inline atoll_verify_args tdrv_args(const uint8_t *ev, size_t ev_len,
					  const atoll_blob *col, size_t n_col,
					  int64_t when)
{
	atoll_verify_args a = { 0 };

	a.struct_size = sizeof(a);
	a.evidence = ev;
	a.evidence_len = ev_len;
	a.collateral = col;
	a.n_collateral = n_col;
	a.verify_time = when;
	return a;
}

/* verify() with evidence and collateral blobs, as of t. */
int tdrv_verify(struct tdrv *t, void *ctx, const uint8_t *ev, size_t ev_len,
		const atoll_blob *col, size_t n_col, int64_t when,
		atoll_claims **ret, atoll_err *err);

/* The checks the driver tests share. Each returns true when it holds and
 * otherwise prints why, naming the case, so that callers write
 * CHECK(tdrv_expect(...)). Claims from successful calls are released. */

/* verify() returns want and, on failure, a message containing msg_part
 * (when not NULL). what names the case. */
bool tdrv_expect(struct tdrv *t, void *ctx, const uint8_t *ev, size_t ev_len,
		 const atoll_blob *col, size_t n_col, int64_t when, int want,
		 const char *msg_part, const char *what);
/* verify() with expected report data accepts want, and refuses it with
 * ATOLL_E_BINDING once bit 0 of want[flip] is inverted. */
bool tdrv_binding_holds(struct tdrv *t, void *ctx, const uint8_t *ev,
			size_t ev_len, const atoll_blob *col, size_t n_col,
			int64_t when, const uint8_t *want, size_t want_len,
			size_t flip);
/* Every prefix of ev cut at 0, step, 2 * step ... below ev_len is
 * refused with ATOLL_E_FORMAT. */
bool tdrv_truncations_refused(struct tdrv *t, void *ctx, const uint8_t *ev,
			      size_t ev_len, size_t step, int64_t when);
/* On a machine without the TEE: detect() is ATOLL_E_UNAVAILABLE with a
 * message containing detect_part (when not NULL), collect() returns
 * collect_want and no evidence, and evidence_free() and claims_free()
 * take NULL. */
bool tdrv_absent(struct tdrv *t, void *ctx, const char *detect_part,
		 int collect_want);

/* The evidence folder ($ATOLL_SHARED_DIR/evidence), or NULL when absent. */
const char *tdrv_evidence_dir(void);
/* Read <evidence>/<rel> whole; NULL when missing. */
uint8_t *tdrv_read(const char *rel, size_t *ret_len);
/* Same, decoding ASCII hex (optional 0x, whitespace) or base64. */
uint8_t *tdrv_read_hex(const char *rel, size_t *ret_len);
uint8_t *tdrv_read_b64(const char *rel, size_t *ret_len);
/* Decode hex text into a malloc'd buffer (for expected values). */
uint8_t *tdrv_unhex(const char *hex, size_t *ret_len);

/* Unix seconds of "YYYY-MM-DDTHH:MM:SSZ". */
int64_t tdrv_time(const char *rfc3339);

/* Claims helpers. */
const atoll_claim *tdrv_claim(const atoll_claims *c, const char *name);
bool tdrv_bytes_eq_hex(const uint8_t *p, size_t n, const char *hex);

/* A temporary directory for files the test writes (removed at exit). */
const char *tdrv_tmpdir(void);
/* Write a file into the temporary directory; returns its path (static
 * storage rotated among a few slots). */
const char *tdrv_write_tmp(const char *name, const void *data, size_t len);

#endif
