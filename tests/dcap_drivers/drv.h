/* Test and benchmark helpers for the sgx and tdx drivers: load a driver
 * .so from $ATOLL_MODULE_DIR through its one entry symbol, call verify,
 * look up claims, read sample files. */
#ifndef ATOLL_TESTS_DCAP_DRIVERS_DRV_H
#define ATOLL_TESTS_DCAP_DRIVERS_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"
#include "plugin/plugin.h"

struct drv {
	void *dl;
	const atoll_tee_driver *d;
	void *ctx;
};

/* dlopen $ATOLL_MODULE_DIR/<name>.so (or ./modules) and init it with
 * config. Returns the init status; ATOLL_E_IO when the .so is missing. */
int drv_open(struct drv *d, const char *name, const atoll_kv *config,
	     size_t n_config, atoll_err *err);
void drv_close(struct drv *d);

int drv_verify(struct drv *d, const uint8_t *ev, size_t len,
	       const atoll_blob *coll, size_t n_coll, int64_t t,
	       const uint8_t *expected_rd, size_t expected_rd_len,
	       atoll_claims **ret, atoll_err *err);

/* The instance as the loader sees it, for the loader's calls
 * (plugin_driver_detect() ...), which use only the table and ctx. */
struct loaded_driver drv_loaded(const struct drv *d);

const atoll_claim *claim_find(const atoll_claims *c, const char *name);
/* A string claim's text, or NULL when absent or of another type. */
const char *claim_s(const atoll_claims *c, const char *name);
/* A claim's number, or UINT64_MAX when absent. */
uint64_t claim_u(const atoll_claims *c, const char *name);
/* The bytes claim equals the hex string (prefix match when prefix). */
bool claim_hex(const atoll_claims *c, const char *name, const char *hex,
	       bool prefix);
bool bytes_hex(const uint8_t *p, size_t n, const char *hex, bool prefix);

/* Whole file, or NULL; *ret_len set. Hex files ("0x..." or plain hex)
 * are decoded when decode_hex is set. */
uint8_t *file_read(const char *path, size_t *ret_len, bool decode_hex);
/* $ATOLL_SHARED_DIR/evidence, or NULL when absent. */
const char *evidence_dir(void);
/* Unix seconds of an RFC 3339 time. */
int64_t ts(const char *rfc3339);

#endif
