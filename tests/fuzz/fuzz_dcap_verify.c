/* libFuzzer target: the sgx and tdx drivers' verify() on a quote and its
 * collateral, as of 2025-06-01, with the caches on as shipped but fresh
 * instances for every input, so that every input behaves the same on its
 * own.
 *
 * Input: the quote, then collateral blobs (TCB Info, QE Identity, TCB
 * Signing chain, CRLs, bundles) separated by FUZZ_SEP. The test root of
 * fuzz_dcap.h is pinned beside Intel's, so generated quotes and collateral
 * verify; with the fuzz build's signature switch, mutated ones go on to
 * the CRL checks, the collateral signatures, the QE Identity and TCB level
 * matching and the claims. An input accepted as is is verified again with
 * require_collateral set.
 *
 * Both drivers are compiled in, each with its entry point renamed. */
#define atoll_tee_driver_entry fuzz_sgx_entry
#include "sgx.c"
#undef atoll_tee_driver_entry
#undef MAX_QUOTE /* each driver bounds its own quote file */
#define atoll_tee_driver_entry fuzz_tdx_entry
#include "tdx.c"
#undef atoll_tee_driver_entry

#include "fuzz_dcap.h"
#include "fuzz_tee.h"
#include "util/enc.h"

#define WHEN GEN_T0

static const atoll_tee_driver *sgx_drv, *tdx_drv;
static void *sgx_ctx, *tdx_ctx, *sgx_strict, *tdx_strict;
static atoll_kv kv[2];

void fuzz_setup(void)
{
	static char pins[200];
	char intel[65];

	fuzz_dcap_pki_make();
	enc_hex_encode(dcap_intel_root_sha256, 32, intel);
	snprintf(pins, sizeof(pins), "%s,%s", intel, fuzz_dcap_pki.root_fp_hex);
	kv[0] = (atoll_kv){ "root_fingerprint", pins };
	kv[1] = (atoll_kv){ "require_collateral", "true" };
	sgx_drv = fuzz_tee_driver(fuzz_sgx_entry);
	tdx_drv = fuzz_tee_driver(fuzz_tdx_entry);
	sgx_ctx = fuzz_tee_init(sgx_drv, kv, 1);
	tdx_ctx = fuzz_tee_init(tdx_drv, kv, 1);
	sgx_strict = fuzz_tee_init(sgx_drv, kv, 2);
	tdx_strict = fuzz_tee_init(tdx_drv, kv, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The header's tee_type says which driver the quote is for. */
	bool is_tdx = size >= 8 && dcap_le32(data + 4) == DCAP_TEE_TDX;
	const atoll_tee_driver *d = is_tdx ? tdx_drv : sgx_drv;
	void **lax = is_tdx ? &tdx_ctx : &sgx_ctx;
	void **strict = is_tdx ? &tdx_strict : &sgx_strict;

	/* Chain and certificate caches start empty for every input. */
	*lax = fuzz_tee_renew(d, *lax, kv, 1);
	if (fuzz_tee_verify(d, *lax, data, size, WHEN) == ATOLL_OK) {
		*strict = fuzz_tee_renew(d, *strict, kv, 2);
		fuzz_tee_verify(d, *strict, data, size, WHEN);
	}
	return 0;
}

/* ---- seeds ---- */

static void put(const char *name, const uint8_t *q, size_t len,
		const struct gen_collateral *c, size_t skip)
{
	atoll_blob b[1 + 8];
	size_t n = 0;

	b[n++] = (atoll_blob){ q, len };
	for (size_t i = 0; c && i < c->n; i++)
		if (i != skip)
			b[n++] = (atoll_blob){ c->data[i], c->len[i] };
	fuzz_seed_blobs(name, b, n);
}

static void collateral(bool tdx, const char *status, const char *qe_status,
		       struct gen_collateral *ret)
{
	struct gen_tcb_info ti;
	struct gen_qe_identity qi;

	gen_tcb_info_defaults(&ti, tdx);
	gen_qe_identity_defaults(&qi, tdx);
	if (status)
		ti.levels[0].status = status;
	if (qe_status)
		qi.levels[0].status = qe_status;
	if (gen_collateral(&fuzz_dcap_pki, &ti, &qi, ret) < 0)
		fuzz_die("cannot generate collateral");
}

static void seeds_generated(void)
{
	struct gen_collateral col[2], revoked, hardening;
	char name[80];

	collateral(false, NULL, NULL, &col[0]);
	collateral(true, NULL, NULL, &col[1]);
	collateral(false, "Revoked", NULL, &revoked);
	collateral(false, "ConfigurationAndSWHardeningNeeded", "OutOfDate",
		   &hardening);
	for (size_t i = 0; i < FUZZ_DCAP_N_KINDS; i++) {
		size_t len;
		uint8_t *q = fuzz_dcap_quote(i, &len);
		const struct gen_collateral *c = &col[fuzz_dcap_kinds[i].tee != 0];

		if (!q)
			continue;
		snprintf(name, sizeof(name), "gen-%zu-bare", i);
		put(name, q, len, NULL, 0);
		snprintf(name, sizeof(name), "gen-%zu-collateral", i);
		put(name, q, len, c, SIZE_MAX);
		if (i == 0) {
			/* Without the QE Identity; without the root CRL. */
			put("gen-0-no-qe-identity", q, len, c, 1);
			put("gen-0-no-root-crl", q, len, c, c->n - 1);
			put("gen-0-revoked", q, len, &revoked, SIZE_MAX);
			put("gen-0-hardening", q, len, &hardening, SIZE_MAX);
		}
		free(q);
	}
	/* Certification data of type 1: the PCK certificate comes with the
	 * collateral. */
	{
		size_t len, pem_len;
		uint8_t *q = fuzz_dcap_quote(FUZZ_DCAP_N_KINDS - 1, &len);
		char *pck = gen_pem(fuzz_dcap_pki.pck), *ca = gen_pem(fuzz_dcap_pki.ca);
		char *both = malloc(strlen(pck) + strlen(ca) + 1);
		atoll_blob b[1 + 8];
		size_t n = 0;

		strcpy(both, pck);
		strcat(both, ca);
		pem_len = strlen(both);
		b[n++] = (atoll_blob){ q, len };
		b[n++] = (atoll_blob){ (uint8_t *)both, pem_len };
		for (size_t i = 0; i < col[0].n; i++)
			b[n++] = (atoll_blob){ col[0].data[i], col[0].len[i] };
		fuzz_seed_blobs("gen-type1-pck-in-collateral", b, n);
		free(q);
		free(pck);
		free(ca);
		free(both);
	}
	gen_collateral_free(&col[0]);
	gen_collateral_free(&col[1]);
	gen_collateral_free(&revoked);
	gen_collateral_free(&hardening);
}

/* Each sample quote with the collateral of its group. */
static void seeds_shared(void)
{
	char name[64];

	for (size_t i = 0; i < FUZZ_DCAP_N_SHARED; i++) {
		atoll_blob b[8];
		uint8_t *own[8];
		size_t n = 0, len;

		if (!fuzz_dcap_is_quote(i) || !(own[0] = fuzz_dcap_read_shared(i, &len)))
			continue;
		b[n++] = (atoll_blob){ own[0], len };
		for (size_t j = i + 1; j < FUZZ_DCAP_N_SHARED && n < 8; j++) {
			if (fuzz_dcap_shared[i].group == 0 ||
			    fuzz_dcap_shared[j].group != fuzz_dcap_shared[i].group ||
			    fuzz_dcap_is_quote(j) ||
			    !(own[n] = fuzz_dcap_read_shared(j, &len)))
				continue;
			b[n] = (atoll_blob){ own[n], len };
			n++;
		}
		snprintf(name, sizeof(name), "shared-%zu", i);
		fuzz_seed_blobs(name, b, n);
		for (size_t k = 0; k < n; k++)
			free(own[k]);
	}
}

void fuzz_seeds(void)
{
	fuzz_rand_fix("fuzz_dcap_verify seeds");
	seeds_generated();
	fuzz_rand_restore();
	seeds_shared();
}
