/* libFuzzer target: sev_snp verify() on a report and its collateral.
 *
 * Input: the 1184-byte report, then collateral blobs (certificates, PEM
 * bundles, CRLs, certificate tables), separated by FUZZ_SEP. A test ARK,
 * made with fixed randomness so that it is the same in every run, is
 * pinned beside AMD's, so generated chains verify; with the fuzz build's
 * signature switch, mutated reports and certificates go on to the chain,
 * CRL, TCB, hwID and claims code. Verified as of 2025-06-01. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tee.h"
#include "gen.h"
#include "tdrv.h"

#define WHEN 1748736000

/* AMD's ARK-Milan, -Genoa and -Turin, as the driver pins them. */
#define AMD_ARKS                                                            \
	"69D063B45344D26A2E94E1F4210DE49EF555308287D4C174445C95639A540BCD," \
	"4C6598D19C18719C5DFD4A7D335F674E5BFE1D8F800CEA2CF270C10D103DB2F1," \
	"1F084161A44BB6D93778A904877D4819CAFA5D05EF4193B2DED9DD9C73DD3F6A"

static const atoll_tee_driver *drv;
static void *ctx;
static atoll_kv kv[1];
static struct gen_snp_pki pki;
static struct gen_snp_vcek_opts vopts;
static uint8_t chip[64];

void fuzz_setup(void)
{
	static char pins[512];

	fuzz_rand_fix("fuzz_snp_report pki");
	memset(chip, 0xc7, sizeof(chip));
	vopts.product = "Milan-B0";
	vopts.tcb = 0x7308000000000003ull;
	vopts.hwid = chip;
	vopts.hwid_len = 64;
	vopts.not_before = 1700000000;
	vopts.not_after = 1900000000;
	gen_snp_pki_make(&pki, &vopts);
	fuzz_rand_restore();
	snprintf(pins, sizeof(pins), "%s,%s", AMD_ARKS, pki.ark_fp);
	kv[0] = (atoll_kv){ "ark_fingerprints", pins };
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

static char *pem_join(X509 *const *certs, size_t n, X509_CRL *const *crls,
		      size_t n_crls, size_t *ret_len)
{
	char *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n + n_crls; i++) {
		size_t l;
		char *p = i < n ? gen_pem(certs[i], &l) :
				  gen_crl_pem(crls[i - n], &l);

		out = realloc(out, len + l + 1);
		memcpy(out + len, p, l + 1);
		len += l;
		free(p);
	}
	*ret_len = len;
	return out;
}

static void put(const char *name, const uint8_t rep[1184], const void *col,
		size_t col_len, const void *col2, size_t col2_len)
{
	atoll_blob b[3] = { { rep, 1184 }, { col, col_len }, { col2, col2_len } };

	fuzz_seed_blobs(name, b, col2 ? 3 : col ? 2 : 1);
}

static void seeds_generated(void)
{
	struct gen_snp_report r;
	uint8_t rep[1184], *ders[3], *table;
	size_t lens[3], table_len, pem_len, crl_len, i;
	int kinds[3] = { 2, 1, 0 };
	X509 *chain[3] = { pki.vcek, pki.ask, pki.ark };
	X509_CRL *crls[2];
	long revoked[] = { 77, 78 };
	char *pem, *crl_pem;

	gen_snp_report_defaults(&r);
	memcpy(r.chip_id, chip, 64);
	gen_snp_report_sign(&r, pki.vcek_key, rep);

	for (i = 0; i < 3; i++)
		ders[i] = gen_der(chain[i], &lens[i]);
	table = gen_snp_cert_table((const uint8_t *const *)ders, lens, kinds, 3,
				   &table_len);
	put("gen-table", rep, table, table_len, NULL, 0);
	put("gen-vcek-der", rep, ders[0], lens[0], NULL, 0);
	put("gen-bare", rep, NULL, 0, NULL, 0);

	/* The chain as PEM with CRLs of the ARK and the ASK, so that the
	 * CRL checks run. */
	crls[0] = gen_crl_list(pki.ark, pki.ark_key, 1740000000, 1760000000, revoked, 2);
	crls[1] = gen_crl_list(pki.ask, pki.ask_key, 1740000000, 1760000000, revoked, 1);
	pem = pem_join(chain, 3, NULL, 0, &pem_len);
	crl_pem = pem_join(NULL, 0, crls, 2, &crl_len);
	put("gen-pem-crls", rep, pem, pem_len, crl_pem, crl_len);
	put("gen-table-crls", rep, table, table_len, crl_pem, crl_len);
	free(pem);
	free(crl_pem);
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);

	/* Version 2, no CPUID family; a masked chip id; a debug policy. */
	r.version = 2;
	gen_snp_report_sign(&r, pki.vcek_key, rep);
	put("gen-v2", rep, table, table_len, NULL, 0);
	r.version = 5;
	memset(r.chip_id, 0, 64);
	r.policy |= 1ull << 19;
	gen_snp_report_sign(&r, pki.vcek_key, rep);
	put("gen-v5-masked-debug", rep, table, table_len, NULL, 0);
	free(table);
	for (i = 0; i < 3; i++)
		free(ders[i]);

	/* Signed by the VLEK, chained through the ASVK. */
	{
		X509 *vl[3] = { pki.vlek, pki.asvk, pki.ark };

		gen_snp_report_defaults(&r);
		r.key_info = 1u << 2;
		gen_snp_report_sign(&r, pki.vlek_key, rep);
		pem = pem_join(vl, 3, NULL, 0, &pem_len);
		put("gen-vlek", rep, pem, pem_len, NULL, 0);
		free(pem);
	}

	/* A Turin VCEK (8-byte hwID in an OCTET STRING, FMC in the TCB). */
	{
		struct gen_snp_vcek_opts o = vopts;
		X509 *turin, *tc[3];

		o.product = "Turin";
		o.turin = true;
		o.tcb = 0x4800000000020301ull;
		o.hwid_len = 8;
		o.hwid_der = true;
		turin = gen_snp_vcek(&pki, &o, pki.vcek_key);
		tc[0] = turin;
		tc[1] = pki.ask;
		tc[2] = pki.ark;
		gen_snp_report_defaults(&r);
		memset(r.chip_id, 0, 64);
		memcpy(r.chip_id, chip, 8);
		r.cpuid_fam = 0x1a;
		r.reported_tcb = o.tcb;
		gen_snp_report_sign(&r, pki.vcek_key, rep);
		pem = pem_join(tc, 3, NULL, 0, &pem_len);
		put("gen-turin", rep, pem, pem_len, NULL, 0);
		free(pem);
		X509_free(turin);
	}
}

static void seeds_real(void)
{
	uint8_t *rep, *cert;
	size_t rep_len = 0, cert_len = 0;

	rep = tdrv_read("sev-snp/go-sev-guest/attestation.bin", &rep_len);
	cert = tdrv_read("sev-snp/go-sev-guest/vcek.testcer", &cert_len);
	if (rep && rep_len == 1184)
		put("real-go-sev-guest", rep, cert, cert_len, NULL, 0);
	free(rep);
	free(cert);
	rep = tdrv_read_hex("sev-snp/virtee-sev/report_milan.hex", &rep_len);
	cert = tdrv_read("sev-snp/go-sev-guest/ask_ark_milan.pem", &cert_len);
	if (rep && rep_len == 1184)
		put("real-virtee-chain", rep, cert, cert_len, NULL, 0);
	free(rep);
	free(cert);
}

void fuzz_seeds(void)
{
	fuzz_rand_fix("fuzz_snp_report seeds");
	seeds_generated();
	fuzz_rand_restore();
	seeds_real();
}
