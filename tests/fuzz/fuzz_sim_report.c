/* libFuzzer target: sim verify() on a sim report (drivers/sim): the
 * report's layout, the island certificate it embeds and its chain to the
 * configured sim CA, the report signature, its validity window and the
 * claims.
 *
 * The sim CA and an island key certified by it are made with fixed
 * randomness, so they are the same in every run; the CA is the driver's
 * ca_file. With the fuzz build's signature switch, mutated reports go on
 * past the certificate and report signatures. Verified as of
 * 2025-06-15. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tee.h"
#include "gen.h"
#include "report.h"

#define WHEN 1750000000

static const atoll_tee_driver *drv;
static void *ctx;
static atoll_kv kv;
static EVP_PKEY *ca_key, *island_key;
static X509 *ca, *island;

void fuzz_setup(void)
{
	struct gen_cert_opts o = { 0 };
	char *pem;
	size_t len;

	fuzz_rand_fix("fuzz_sim_report pki");
	ca_key = gen_ec_key("P-256");
	island_key = gen_ec_key("P-256");
	o.cn = "Atoll sim CA";
	o.not_before = 1700000000;
	o.not_after = 1900000000;
	o.ca = true;
	o.serial = 1;
	ca = gen_cert(&o, ca_key, NULL, NULL);
	o.cn = "island-1";
	o.ca = false;
	o.serial = 2;
	o.not_before = 1740000000;
	o.not_after = 1760000000;
	island = gen_cert(&o, island_key, ca, ca_key);
	fuzz_rand_restore();
	pem = gen_pem(ca, &len);
	kv = (atoll_kv){ "ca_file", fuzz_tmpfile("sim-ca.pem", pem, len, 0644) };
	free(pem);
	drv = fuzz_tee_driver(atoll_tee_driver_entry);
	ctx = fuzz_tee_init(drv, &kv, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The chain cache, always on, starts empty. */
	ctx = fuzz_tee_renew(drv, ctx, &kv, 1);
	fuzz_tee_verify(drv, ctx, data, size, WHEN);
	return 0;
}

/* ---- seeds: reports as an island signs them ---- */

static void put(const char *name, const struct sim_report *r)
{
	uint8_t *buf;
	size_t len;

	if (sim_report_encode_body(r, &buf, &len) < 0)
		fuzz_die("cannot encode a report");
	gen_ecdsa_raw(island_key, EVP_sha256(), buf, len, SIM_SIG_LEN / 2, false,
		      buf + len);
	fuzz_seed(name, buf, len + SIM_SIG_LEN);
	free(buf);
}

void fuzz_seeds(void)
{
	struct sim_report r = { 0 };
	uint8_t *der;
	size_t der_len;

	fuzz_rand_fix("fuzz_sim_report seeds");
	der = gen_der(island, &der_len);
	r.version = SIM_VERSION;
	r.svn = 3;
	memset(r.measurement, 0x4d, sizeof(r.measurement));
	for (size_t i = 0; i < sizeof(r.report_data); i++)
		r.report_data[i] = (uint8_t)i;
	r.issued_at_ms = (int64_t)WHEN * 1000 - 60000;
	r.expires_at_ms = (int64_t)WHEN * 1000 + 540000;
	r.cert = der;
	r.cert_len = der_len;
	put("report", &r);
	r.flags = SIM_FLAG_DEBUG;
	put("report-debug", &r);
	r.flags = 0;
	r.issued_at_ms = (int64_t)WHEN * 1000 + 1;
	put("report-future", &r);
	r.issued_at_ms = (int64_t)WHEN * 1000 - 700000;
	r.expires_at_ms = (int64_t)WHEN * 1000 - 100000;
	put("report-expired", &r);
	free(der);
	/* Signed with the CA's own certificate as the island's. */
	der = gen_der(ca, &der_len);
	r.cert = der;
	r.cert_len = der_len;
	r.issued_at_ms = (int64_t)WHEN * 1000;
	r.expires_at_ms = (int64_t)WHEN * 1000 + 1000;
	put("report-ca-cert", &r);
	free(der);
	fuzz_rand_restore();
}
