/* libFuzzer target: sev_snp verify(). The first 1184 bytes are the report,
 * the rest one collateral blob (certificates, PEM, a certificate table).
 * Runs with the real AMD ARK pins, as of 2025-06-01. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *ctx;
	atoll_blob col;

	if (!ctx)
		ctx = fuzz_driver_ctx(NULL, 0);
	if (size > 1184) {
		col.data = data + 1184;
		col.len = size - 1184;
		fuzz_verify(ctx, data, 1184, &col, 1, 1748736000);
	} else {
		fuzz_verify(ctx, data, size, NULL, 0, 1748736000);
	}
	return 0;
}
