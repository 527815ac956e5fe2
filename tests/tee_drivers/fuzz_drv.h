/* Shared setup of the driver fuzz targets: one driver instance created on
 * first use from key/value config, verified against with fixed times. */
#ifndef ATOLL_TESTS_TEE_DRIVERS_FUZZ_DRV_H
#define ATOLL_TESTS_TEE_DRIVERS_FUZZ_DRV_H

#include <stdio.h>
#include <stdlib.h>

#include "atoll/tee_driver.h"
#include "tdrv.h"

/* Create the instance or abort: a fuzz run without one tests nothing. */
static void *fuzz_driver_ctx(const atoll_kv *kv, size_t n)
{
	const atoll_tee_driver *d = atoll_tee_driver_entry(
		ATOLL_TEE_DRIVER_ABI_MAJOR, ATOLL_TEE_DRIVER_ABI_MINOR);
	atoll_err err;
	void *ctx = NULL;

	if (!d || d->init(kv, n, &ctx, &err) != ATOLL_OK) {
		fprintf(stderr, "fuzz: driver init failed: %s\n",
			d ? err.msg : "no table");
		abort();
	}
	return ctx;
}

/* Verify and release; the verdict itself is not the point. */
static void fuzz_verify(void *ctx, const uint8_t *ev, size_t ev_len,
			const atoll_blob *col, size_t n_col, int64_t when)
{
	const atoll_tee_driver *d = atoll_tee_driver_entry(
		ATOLL_TEE_DRIVER_ABI_MAJOR, ATOLL_TEE_DRIVER_ABI_MINOR);
	atoll_verify_args a = tdrv_args(ev, ev_len, col, n_col, when);
	atoll_claims *c = NULL;
	atoll_err err;

	if (d->verify(ctx, &a, &c, &err) == ATOLL_OK)
		d->claims_free(ctx, c);
}

#endif
