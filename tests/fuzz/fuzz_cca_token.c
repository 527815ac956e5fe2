/* libFuzzer target: cca verify() on a CCA attestation token (platform and
 * realm tokens).
 *
 * A CPAK made with fixed randomness is configured under the instance id
 * derived from it and under the one Arm's example tokens carry, so that
 * generated and real tokens get past the key lookup; with the fuzz build's
 * signature switch, mutated tokens go on to the platform and realm
 * signature checks, the RAK binding and the claims builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tee.h"
#include "gen.h"
#include "tdrv.h"

/* The instance id of the TF-M example tokens (not derived from a key). */
#define ARM_EXAMPLE_ID \
	"0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"

static const atoll_tee_driver *drv;
static void *ctx;
static EVP_PKEY *cpak, *rak;

void fuzz_setup(void)
{
	static char list[8192];
	char *pem;
	size_t len;
	atoll_kv kv;

	fuzz_rand_fix("fuzz_cca_token keys");
	cpak = gen_ec_key("P-384");
	rak = gen_ec_key("P-384");
	fuzz_rand_restore();
	pem = gen_pubkey_pem(cpak, &len);
	const char *path = fuzz_tmpfile("cpak.pem", pem, len, 0644);
	snprintf(list, sizeof(list), "%s,%s=%s", path, ARM_EXAMPLE_ID, path);
	free(pem);
	kv = (atoll_kv){ "cpak_keys", list };
	drv = fuzz_tee_driver(atoll_tee_driver_entry);
	ctx = fuzz_tee_init(drv, &kv, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tee_verify(drv, ctx, data, size, 0);
	return 0;
}

static void put(const char *name, const struct gen_cca_token *t)
{
	size_t len;
	uint8_t *tok = gen_cca_token_make(t, &len);

	fuzz_seed(name, tok, len);
	free(tok);
}

void fuzz_seeds(void)
{
	static const char *const real[] = {
		"cca_example_token.cbor", "cca_example_token_legacy.cbor",
		"cca_token.cbor",
	};
	struct gen_cca_token t;
	char rel[128];

	fuzz_rand_fix("fuzz_cca_token seeds");
	gen_cca_token_defaults(&t, cpak, rak);
	put("gen-907", &t);
	t.legacy = true;
	put("gen-399", &t);
	t.legacy = false;
	t.lifecycle = 0x2000;
	put("gen-907-debug", &t);
	t.bad_binding = true;
	put("gen-907-bad-binding", &t);
	fuzz_rand_restore();
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		uint8_t *tok;
		size_t len = 0;

		snprintf(rel, sizeof(rel), "cca/tf-m-tools/%s", real[i]);
		tok = tdrv_read(rel, &len);
		fuzz_seed(real[i], tok, len);
		free(tok);
	}
}
