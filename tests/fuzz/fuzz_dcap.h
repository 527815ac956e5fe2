/* What the DCAP fuzz targets share: a test PKI shaped like Intel's, made
 * with fixed randomness so that it is the same in every run, the quotes
 * and collateral the generators make under it, and the public samples of
 * the evidence folder. */
#ifndef ATOLL_TESTS_FUZZ_FUZZ_DCAP_H
#define ATOLL_TESTS_FUZZ_FUZZ_DCAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "drv.h"
#include "fuzz.h"
#include "gen.h"

static struct gen_pki fuzz_dcap_pki;

static inline void fuzz_dcap_pki_make(void)
{
	fuzz_rand_fix("fuzz_dcap pki");
	if (gen_pki_init(&fuzz_dcap_pki, NULL, NULL) < 0)
		fuzz_die("cannot generate the DCAP test PKI");
	fuzz_rand_restore();
}

/* The kinds of quote the generator makes: versions, TEEs, body types,
 * PEM or DER chains, and certification data of type 1 (no chain). */
static const struct {
	int version;
	uint32_t tee;
	uint16_t body_type;
	bool der;
	uint16_t cert_type;
} fuzz_dcap_kinds[] = {
	{ 3, 0, 1, false, 5 },    { 4, 0, 1, false, 5 },
	{ 5, 0, 1, false, 5 },    { 4, 0x81, 2, false, 5 },
	{ 5, 0x81, 2, false, 5 }, { 5, 0x81, 3, false, 5 },
	{ 3, 0, 1, true, 5 },     { 3, 0, 1, false, 1 },
};
#define FUZZ_DCAP_N_KINDS (sizeof(fuzz_dcap_kinds) / sizeof(fuzz_dcap_kinds[0]))

/* Quote of kind i, malloc'd; NULL when the generator fails. */
static inline uint8_t *fuzz_dcap_quote(size_t i, size_t *ret_len)
{
	struct gen_quote_opts o;
	uint8_t *d;

	gen_quote_defaults(&o, fuzz_dcap_kinds[i].version,
			   fuzz_dcap_kinds[i].tee, fuzz_dcap_kinds[i].body_type);
	o.der_chain = fuzz_dcap_kinds[i].der;
	o.cert_type = fuzz_dcap_kinds[i].cert_type;
	if (gen_quote(&fuzz_dcap_pki, &o, &d, ret_len, NULL) < 0)
		return NULL;
	return d;
}

/* Public samples: quotes and collateral by path under the evidence
 * folder. kind is "quote", "hexquote" or "collateral"; group ties a
 * quote to the collateral that goes with it (0: none). */
static const struct {
	const char *path;
	const char *kind;
	int group;
} fuzz_dcap_shared[] = {
	{ "sgx/phala-dcap-qvl/sgx_quote", "quote", 1 },
	{ "sgx/phala-dcap-qvl/sgx_quote_collateral.json", "collateral", 1 },
	{ "tdx/phala-dcap-qvl/tdx_quote", "quote", 2 },
	{ "tdx/phala-dcap-qvl/tdx_quote_collateral.json", "collateral", 2 },
	{ "tdx/phala-dcap-qvl/tdx_quote_outdated", "quote", 3 },
	{ "tdx/phala-dcap-qvl/tdx_quote_outdated_collateral.json", "collateral", 3 },
	{ "sgx/intel-qvl-sampledata/quote.dat", "quote", 4 },
	{ "sgx/intel-qvl-sampledata/tcbInfo.json", "collateral", 4 },
	{ "sgx/intel-qvl-sampledata/qeIdentity.json", "collateral", 4 },
	{ "sgx/intel-qvl-sampledata/tcbSignChain.pem", "collateral", 4 },
	{ "sgx/intel-qvl-sampledata/rootCaCrl.der", "collateral", 4 },
	{ "sgx/intel-qvl-sampledata/intermediateCaCrl.der", "collateral", 4 },
	{ "tdx/intel-qvl-sampledata/quote.dat", "quote", 5 },
	{ "tdx/intel-qvl-sampledata/tcbInfo.json", "collateral", 5 },
	{ "tdx/intel-qvl-sampledata/qeIdentity.json", "collateral", 5 },
	{ "tdx/intel-qvl-sampledata/tcbSignChain.pem", "collateral", 5 },
	{ "tdx/intel-qvl-sampledata/rootCaCrl.der", "collateral", 5 },
	{ "tdx/phala-dcap-qvl/tdx-quote.hex", "hexquote", 0 },
	{ "tdx/phala-dcap-qvl/quote-from-tappd.hex", "hexquote", 0 },
	{ "sgx/intel-qvl-sampledata/pckSignChain.pem", "collateral", 0 },
	{ "tdx/phala-dcap-qvl/derived/tdx_quote_collateral/tcb_info.signed.json",
	  "collateral", 0 },
	{ "tdx/phala-dcap-qvl/derived/tdx_quote_collateral/pck_crl.der",
	  "collateral", 0 },
};
#define FUZZ_DCAP_N_SHARED (sizeof(fuzz_dcap_shared) / sizeof(fuzz_dcap_shared[0]))

/* Sample i of the evidence folder, malloc'd, or NULL when absent. */
static inline uint8_t *fuzz_dcap_read_shared(size_t i, size_t *ret_len)
{
	const char *ev = evidence_dir();
	char path[1024];

	if (!ev)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", ev, fuzz_dcap_shared[i].path);
	return file_read(path, ret_len,
			 strcmp(fuzz_dcap_shared[i].kind, "hexquote") == 0);
}

static inline bool fuzz_dcap_is_quote(size_t i)
{
	return strcmp(fuzz_dcap_shared[i].kind, "collateral") != 0;
}

#endif
