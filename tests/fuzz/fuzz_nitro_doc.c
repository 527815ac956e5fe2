/* libFuzzer target: nitro verify() on an attestation document and its
 * collateral.
 *
 * Input: the COSE_Sign1 document, then collateral blobs (roots,
 * intermediates, CRLs) separated by FUZZ_SEP. A test root made with fixed
 * randomness is pinned beside AWS's Root-G1, so generated documents chain;
 * with the fuzz build's signature switch, mutated documents go on to the
 * chain, CRL and claims code. Verified as of the blocky-nitrite sample's
 * timestamp, which the generated leaf covers too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tee.h"
#include "gen.h"
#include "tdrv.h"

#define WHEN 1725719859
#define AWS_ROOT_G1 "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"

static const atoll_tee_driver *drv;
static void *ctx;
static atoll_kv kv[1];
static struct gen_nitro_pki pki;

void fuzz_setup(void)
{
	static char pins[256];

	fuzz_rand_fix("fuzz_nitro_doc pki");
	gen_nitro_pki_make(&pki, 1725719800, 1725729800);
	fuzz_rand_restore();
	snprintf(pins, sizeof(pins), "%s,%s", AWS_ROOT_G1, pki.root_fp);
	kv[0] = (atoll_kv){ "root_fingerprints", pins };
	drv = fuzz_tee_driver(atoll_tee_driver_entry);
	ctx = fuzz_tee_init(drv, kv, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* With the chain and certificate caches on, as shipped. */
	ctx = fuzz_tee_renew(drv, ctx, kv, 1);
	fuzz_tee_verify(drv, ctx, data, size, WHEN);
	return 0;
}

/* ---- seeds ---- */

static void put_doc(const char *name, const struct gen_nitro_doc *d,
		    const void *col, size_t col_len)
{
	size_t len;
	uint8_t *doc = gen_nitro_doc_make(d, &pki, &len);
	atoll_blob b[2] = { { doc, len }, { col, col_len } };

	fuzz_seed_blobs(name, b, col ? 2 : 1);
	free(doc);
}

static void seeds_generated(void)
{
	struct gen_nitro_doc d;
	uint8_t nonce[64], pub[91];
	long revoked[] = { 99 };
	X509_CRL *crl;
	char *crl_pem, *root_pem, *both;
	size_t crl_len, root_len;

	memset(nonce, 0x42, sizeof(nonce));
	memset(pub, 0x5b, sizeof(pub));
	gen_nitro_doc_defaults(&d);
	d.nonce = nonce;
	d.nonce_len = 64;
	put_doc("gen-doc", &d, NULL, 0);
	d.tagged = true;
	d.user_data = nonce;
	d.user_data_len = 16;
	d.public_key = pub;
	d.public_key_len = sizeof(pub);
	put_doc("gen-doc-tagged-all-fields", &d, NULL, 0);

	/* Debug enclave: PCR0..2 all zero; no nonce. */
	gen_nitro_doc_defaults(&d);
	memset(d.pcrs[0], 0, 48);
	memset(d.pcrs[1], 0, 48);
	memset(d.pcrs[2], 0, 48);
	put_doc("gen-doc-debug", &d, NULL, 0);

	/* With collateral: the intermediate's CRL and the root again. */
	crl = gen_crl_list(pki.inter, pki.int_key, 1725000000, 1726000000, revoked, 1);
	crl_pem = gen_crl_pem(crl, &crl_len);
	root_pem = gen_pem(pki.root, &root_len);
	both = malloc(crl_len + root_len + 1);
	memcpy(both, crl_pem, crl_len);
	memcpy(both + crl_len, root_pem, root_len + 1);
	gen_nitro_doc_defaults(&d);
	d.nonce = nonce;
	d.nonce_len = 64;
	put_doc("gen-doc-crl", &d, both, crl_len + root_len);
	free(both);
	free(crl_pem);
	free(root_pem);
	X509_CRL_free(crl);
}

static void seeds_real(void)
{
	uint8_t *doc;
	size_t len = 0;

	doc = tdrv_read_b64("nitro/blocky-nitrite/nitro_attestation.b64", &len);
	fuzz_seed("real-blocky", doc, len);
	free(doc);
	doc = tdrv_read_b64("nitro/blocky-nitrite/selfsigned_attestation.b64",
			    &len);
	fuzz_seed("real-blocky-selfsigned", doc, len);
	free(doc);
	doc = tdrv_read("nitro/evervault/valid-attestation-doc-bytes", &len);
	fuzz_seed("real-evervault", doc, len);
	free(doc);
}

void fuzz_seeds(void)
{
	fuzz_rand_fix("fuzz_nitro_doc seeds");
	seeds_generated();
	fuzz_rand_restore();
	seeds_real();
}
