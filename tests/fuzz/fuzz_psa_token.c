/* libFuzzer target: psa verify() on an initial attestation token.
 *
 * IAKs made with fixed randomness (P-256, P-384, P-521 and Ed25519) are
 * configured under the instance ids derived from them, and TF-M's
 * development IAK when the evidence folder is present, so that seeds
 * signed by them reach the signature check; with the fuzz build's
 * signature switch, mutated tokens go on to the claims code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc_cose.h"
#include "fuzz.h"
#include "fuzz_tee.h"
#include "gen.h"
#include "tdrv.h"

static const atoll_tee_driver *drv;
static void *ctx;
static EVP_PKEY *iak[4];
static const int64_t alg[4] = { DC_COSE_ES256, DC_COSE_ES384, DC_COSE_ES512,
				DC_COSE_EDDSA };

void fuzz_setup(void)
{
	static char list[8192];
	char name[32];
	size_t off = 0;
	uint8_t *real;
	size_t real_len;
	atoll_kv kv;

	fuzz_rand_fix("fuzz_psa_token keys");
	iak[0] = gen_ec_key("P-256");
	iak[1] = gen_ec_key("P-384");
	iak[2] = gen_ec_key("P-521");
	iak[3] = gen_ed25519_key();
	fuzz_rand_restore();
	for (int i = 0; i < 4; i++) {
		size_t len;
		char *pem = gen_pubkey_pem(iak[i], &len);

		snprintf(name, sizeof(name), "iak%d.pem", i);
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? "," : "",
					fuzz_tmpfile(name, pem, len, 0644));
		free(pem);
	}
	real = tdrv_read("psa/veraison-psatoken/public.pem", &real_len);
	if (real) {
		snprintf(list + off, sizeof(list) - off, ",%s",
			 fuzz_tmpfile("tfm.pem", real, real_len, 0644));
		free(real);
	}
	kv = (atoll_kv){ "iak_keys", list };
	drv = fuzz_tee_driver(atoll_tee_driver_entry);
	ctx = fuzz_tee_init(drv, &kv, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tee_verify(drv, ctx, data, size, 0);
	return 0;
}

static void put(const char *name, const struct gen_psa_token *t, int key,
		bool tagged)
{
	size_t cl, len;
	uint8_t *claims = gen_psa_claims(t, &cl);
	uint8_t *tok = gen_cose_sign1(tagged, alg[key], claims, cl, iak[key],
				      false, &len);

	fuzz_seed(name, tok, len);
	free(tok);
	free(claims);
}

void fuzz_seeds(void)
{
	static const char *const real[] = {
		"psa-2_0_0_sign1.bin", "psa-iot-1_sign1.bin",
		"psa-2_0_0_mac0.bin", "psa-iot-1_mac0.bin",
	};
	struct gen_psa_token t;
	char name[64], rel[128];

	fuzz_rand_fix("fuzz_psa_token seeds");
	for (int k = 0; k < 4; k++) {
		gen_psa_token_defaults(&t, iak[k]);
		snprintf(name, sizeof(name), "gen-v2-key%d", k);
		put(name, &t, k, true);
		t.iot1 = true;
		snprintf(name, sizeof(name), "gen-iot1-key%d", k);
		put(name, &t, k, false);
	}
	gen_psa_token_defaults(&t, iak[0]);
	t.profile = "tag:psacertified.org,2023:psa#tfm";
	t.nonce_len = 32;
	t.n_sw = 1;
	t.lifecycle = 0x1000;
	put("gen-tfm-profile-debug", &t, 0, true);
	t.profile = "tag:psacertified.org,2019:psa#legacy";
	t.nonce_len = 48;
	t.omit_sw_components = true;
	put("gen-legacy-no-sw", &t, 0, true);
	fuzz_rand_restore();
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		uint8_t *tok;
		size_t len = 0;

		snprintf(rel, sizeof(rel), "psa/veraison-psatoken/%s", real[i]);
		tok = tdrv_read(rel, &len);
		fuzz_seed(real[i], tok, len);
		free(tok);
	}
}
