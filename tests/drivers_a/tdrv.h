/* Test harness for the TEE verifier driver tests: load a driver module the
 * way the host does (dlopen + entry symbol), create instances from
 * key/value config, run verify(), and read sample files from the shared
 * evidence folder. */
#ifndef ATOLL_TESTS_DRIVERS_A_TDRV_H
#define ATOLL_TESTS_DRIVERS_A_TDRV_H

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

/* verify() with evidence and collateral blobs, as of t. */
int tdrv_verify(struct tdrv *t, void *ctx, const uint8_t *ev, size_t ev_len,
		const atoll_blob *col, size_t n_col, int64_t when,
		atoll_claims **ret, atoll_err *err);

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
