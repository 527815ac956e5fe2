/* libFuzzer target: cca verify() on a whole token. No CPAK is configured:
 * both tokens, their claims and the RAK are parsed before the key lookup
 * refuses. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *ctx;

	if (!ctx)
		ctx = fuzz_driver_ctx(NULL, 0);
	fuzz_verify(ctx, data, size, NULL, 0, 0);
	return 0;
}
