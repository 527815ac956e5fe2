/* libFuzzer target: psa verify() on a whole token. When the evidence
 * folder is present, TF-M's development IAK is configured so that seeds
 * signed with it reach the signature check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *ctx;

	if (!ctx) {
		const char *shared = getenv("ATOLL_SHARED_DIR");
		static char path[1024];
		atoll_kv kv = { "iak_keys", path };

		snprintf(path, sizeof(path),
			 "%s/evidence/psa/veraison-psatoken/public.pem",
			 shared ? shared : "../shared");
		ctx = fuzz_driver_ctx(&kv, access(path, R_OK) == 0 ? 1 : 0);
	}
	fuzz_verify(ctx, data, size, NULL, 0, 0);
	return 0;
}
