/* Writes the seed corpora of the driver fuzz targets: evidence made by the
 * generators, plus the real samples from $ATOLL_SHARED_DIR/evidence when
 * present. Usage: fuzz_seeds <dir>; creates <dir>/<target>/ for each
 * target and an empty <dir>/<target>.work/ for libFuzzer's output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dc_cose.h"
#include "gen.h"
#include "tdrv.h"
#include "util/fsutil.h"

static const char *root;
static int n_written;

static void put(const char *target, const char *name, const void *data,
		size_t len)
{
	char path[1024];

	if (!data)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	if (fs_write_atomic(path, data, len, 0644) < 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	n_written++;
}

static void mkdirs(const char *target)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s.work", root, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
}

/* Report followed by one collateral blob, the fuzz_snp_report layout. */
static void put_snp(const char *name, const uint8_t *rep, size_t rep_len,
		    const uint8_t *col, size_t col_len)
{
	uint8_t *buf;

	if (!rep || rep_len != 1184)
		return;
	buf = malloc(rep_len + col_len);
	memcpy(buf, rep, rep_len);
	if (col_len)
		memcpy(buf + rep_len, col, col_len);
	put("snp", name, buf, rep_len + col_len);
	free(buf);
}

static void seeds_snp(void)
{
	struct gen_snp_vcek_opts o = { 0 };
	struct gen_snp_pki p;
	struct gen_snp_report r;
	uint8_t rep[1184], chip[64], *ders[3], *table, *real, *cert;
	size_t lens[3], table_len, real_len, cert_len, pem_len;
	int kinds[3] = { 2, 1, 0 };
	char *pem;

	memset(chip, 0xc7, sizeof(chip));
	o.product = "Milan-B0";
	o.tcb = 0x7308000000000003ull;
	o.hwid = chip;
	o.hwid_len = 64;
	o.not_before = 1700000000;
	o.not_after = 1900000000;
	gen_snp_pki_make(&p, &o);
	gen_snp_report_defaults(&r);
	memcpy(r.chip_id, chip, 64);
	gen_snp_report_sign(&r, p.vcek_key, rep);
	ders[0] = gen_der(p.vcek, &lens[0]);
	ders[1] = gen_der(p.ask, &lens[1]);
	ders[2] = gen_der(p.ark, &lens[2]);
	table = gen_snp_cert_table((const uint8_t *const *)ders, lens, kinds, 3,
				   &table_len);
	put_snp("gen-table", rep, sizeof(rep), table, table_len);
	put_snp("gen-vcek", rep, sizeof(rep), ders[0], lens[0]);
	pem = gen_pem(p.ask, &pem_len);
	put_snp("gen-pem", rep, sizeof(rep), (uint8_t *)pem, pem_len);
	put_snp("gen-bare", rep, sizeof(rep), NULL, 0);
	free(pem);
	free(table);
	free(ders[0]);
	free(ders[1]);
	free(ders[2]);
	gen_snp_pki_free(&p);

	real = tdrv_read("sev-snp/go-sev-guest/attestation.bin", &real_len);
	cert = tdrv_read("sev-snp/go-sev-guest/vcek.testcer", &cert_len);
	put_snp("real-go-sev-guest", real, real_len, cert, cert_len);
	free(real);
	free(cert);
	real = tdrv_read_hex("sev-snp/virtee-sev/report_milan.hex", &real_len);
	cert = tdrv_read("sev-snp/go-sev-guest/ask_ark_milan.pem", &cert_len);
	put_snp("real-virtee-chain", real, real_len, cert, cert_len);
	free(real);
	free(cert);
}

static void seeds_nitro(void)
{
	struct gen_nitro_pki p;
	struct gen_nitro_doc d;
	uint8_t nonce[64], *doc;
	size_t len;

	gen_nitro_pki_make(&p, 1725719800, 1725729800);
	gen_nitro_doc_defaults(&d);
	memset(nonce, 0x42, sizeof(nonce));
	d.nonce = nonce;
	d.nonce_len = 64;
	doc = gen_nitro_doc_make(&d, &p, &len);
	put("nitro", "gen-doc", doc, len);
	free(doc);
	d.tagged = true;
	d.user_data = nonce;
	d.user_data_len = 16;
	doc = gen_nitro_doc_make(&d, &p, &len);
	put("nitro", "gen-doc-tagged", doc, len);
	free(doc);
	gen_nitro_pki_free(&p);

	doc = tdrv_read_b64("nitro/blocky-nitrite/nitro_attestation.b64", &len);
	put("nitro", "real-blocky", doc, len);
	free(doc);
	doc = tdrv_read_b64("nitro/blocky-nitrite/selfsigned_attestation.b64",
			    &len);
	put("nitro", "real-blocky-selfsigned", doc, len);
	free(doc);
	doc = tdrv_read("nitro/evervault/valid-attestation-doc-bytes", &len);
	put("nitro", "real-evervault", doc, len);
	free(doc);
}

static void seeds_psa(void)
{
	EVP_PKEY *k256 = gen_ec_key("P-256"), *ked = gen_ed25519_key();
	struct gen_psa_token t;
	uint8_t *claims, *tok;
	size_t cl, len;
	static const char *const real[] = {
		"psa-2_0_0_sign1.bin", "psa-iot-1_sign1.bin",
		"psa-2_0_0_mac0.bin", "psa-iot-1_mac0.bin",
	};
	char rel[256];
	size_t i;

	gen_psa_token_defaults(&t, k256);
	claims = gen_psa_claims(&t, &cl);
	tok = gen_cose_sign1(true, DC_COSE_ES256, claims, cl, k256, false, &len);
	put("psa", "gen-v2", tok, len);
	free(tok);
	free(claims);
	t.iot1 = true;
	claims = gen_psa_claims(&t, &cl);
	tok = gen_cose_sign1(false, DC_COSE_ES256, claims, cl, k256, false, &len);
	put("psa", "gen-iot1", tok, len);
	free(tok);
	free(claims);
	gen_psa_token_defaults(&t, ked);
	claims = gen_psa_claims(&t, &cl);
	tok = gen_cose_sign1(true, DC_COSE_EDDSA, claims, cl, ked, false, &len);
	put("psa", "gen-eddsa", tok, len);
	free(tok);
	free(claims);
	EVP_PKEY_free(k256);
	EVP_PKEY_free(ked);
	for (i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		snprintf(rel, sizeof(rel), "psa/veraison-psatoken/%s", real[i]);
		tok = tdrv_read(rel, &len);
		put("psa", real[i], tok, len);
		free(tok);
	}
}

static void seeds_cca(void)
{
	EVP_PKEY *cpak = gen_ec_key("P-384"), *rak = gen_ec_key("P-384");
	struct gen_cca_token t;
	static const char *const real[] = {
		"cca_example_token.cbor", "cca_example_token_legacy.cbor",
		"cca_token.cbor",
	};
	char rel[256];
	uint8_t *tok;
	size_t len, i;

	gen_cca_token_defaults(&t, cpak, rak);
	tok = gen_cca_token_make(&t, &len);
	put("cca", "gen-907", tok, len);
	free(tok);
	t.legacy = true;
	tok = gen_cca_token_make(&t, &len);
	put("cca", "gen-399", tok, len);
	free(tok);
	EVP_PKEY_free(cpak);
	EVP_PKEY_free(rak);
	for (i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		snprintf(rel, sizeof(rel), "cca/tf-m-tools/%s", real[i]);
		tok = tdrv_read(rel, &len);
		put("cca", real[i], tok, len);
		free(tok);
	}
}

static void seeds_collateral(void)
{
	static const char *const real[] = {
		"sev-snp/go-sev-guest/ask_ark_milan.pem",
		"sev-snp/go-sev-guest/vcek.testcer",
		"nitro/AWS_NitroEnclaves_Root-G1.pem",
		"psa/veraison-psatoken/public.pem",
		"psa/veraison-psatoken/psa-2_0_0_sign1.bin",
	};
	EVP_PKEY *k = gen_ec_key("P-256");
	struct gen_cert_opts o = { 0 };
	X509 *x;
	uint8_t *d;
	char *pem, name[32];
	size_t len, i;

	o.cn = "seed";
	o.not_before = 1700000000;
	o.not_after = 1800000000;
	o.ca = true;
	x = gen_cert(&o, k, NULL, NULL);
	d = gen_der(x, &len);
	put("collateral", "gen-der", d, len);
	free(d);
	pem = gen_pem(x, &len);
	put("collateral", "gen-pem", pem, len);
	free(pem);
	pem = gen_pubkey_pem(k, &len);
	put("collateral", "gen-pubkey", pem, len);
	free(pem);
	X509_free(x);
	EVP_PKEY_free(k);
	for (i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		d = tdrv_read(real[i], &len);
		snprintf(name, sizeof(name), "real-%zu", i);
		put("collateral", name, d, len);
		free(d);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds <dir>\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) < 0 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	mkdirs("snp");
	mkdirs("nitro");
	mkdirs("psa");
	mkdirs("collateral");
	mkdirs("cca");
	seeds_snp();
	seeds_nitro();
	seeds_psa();
	seeds_collateral();
	seeds_cca();
	printf("%d seeds written to %s%s\n", n_written, root,
	       tdrv_evidence_dir() ? "" : " (no evidence dir: generated only)");
	return 0;
}
