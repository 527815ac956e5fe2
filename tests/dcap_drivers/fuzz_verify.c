/* libFuzzer target: the whole verification of a quote (parse, chain
 * building over whatever certificates it carries, signatures) as of a
 * fixed time, with the default pins and without caches, so that every
 * input behaves the same on its own. */
#include <stddef.h>
#include <stdint.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct dcap_verifier v;
	static int ready;
	struct dcap_result r;
	atoll_err err;

	if (!ready) {
		static const atoll_kv cfg[] = { { "chain_cache", "false" } };
		if (dcap_verifier_init(&v, cfg, 1, NULL, &err) != ATOLL_OK)
			return 0;
		ready = 1;
	}
	atoll_verify_args a = { .struct_size = sizeof(a),
				.evidence = data,
				.evidence_len = len,
				.verify_time = 1750000000 };
	for (uint32_t tee = 0; tee <= DCAP_TEE_TDX; tee += DCAP_TEE_TDX)
		if (dcap_verify(&v, tee, &a, &r, &err) == ATOLL_OK)
			dcap_result_done(&r);
	return 0;
}
