/* libFuzzer target: nitro verify() on a whole attestation document, with
 * the real Root-G1 pin, as of the blocky-nitrite sample's timestamp. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *ctx;

	if (!ctx)
		ctx = fuzz_driver_ctx(NULL, 0);
	fuzz_verify(ctx, data, size, NULL, 0, 1725719859);
	return 0;
}
