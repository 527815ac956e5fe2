/* Writes the seed corpora of the fuzz targets into <dir>/{quote,verify,
 * collateral,pck_ext}: generated quotes and collateral of every kind, and
 * the public samples of $ATOLL_SHARED_DIR/evidence when present. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/objects.h>

#include "dcap.h"
#include "drv.h"
#include "gen.h"
#include "util/fsutil.h"

static const char *root;
static int n_written;

static void put(const char *sub, const char *name, const void *d, size_t len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	if (fs_write_atomic(path, d, len, 0644) < 0)
		fprintf(stderr, "cannot write %s\n", path);
	else
		n_written++;
}

static void put_ext(const char *name, X509 *x)
{
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int i = X509_get_ext_by_OBJ(x, oid, -1);

	ASN1_OBJECT_free(oid);
	if (i < 0)
		return;
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, i));
	put("pck_ext", name, ASN1_STRING_get0_data(os),
	    (size_t)ASN1_STRING_length(os));
}

static void put_quote(const char *name, const uint8_t *d, size_t len)
{
	struct dcap_quote q;
	atoll_err err;
	char ext[256];

	put("quote", name, d, len);
	put("verify", name, d, len);
	if (dcap_quote_parse(d, len, &q, &err) != ATOLL_OK ||
	    q.cert_type != DCAP_CERT_PCK_CHAIN)
		return;
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (certs && dcap_certs_load(NULL, q.cert_data, q.cert_len, certs, &err) ==
			     ATOLL_OK)
		for (int i = 0; i < sk_X509_num(certs); i++) {
			snprintf(ext, sizeof(ext), "%s.ext%d", name, i);
			put_ext(ext, sk_X509_value(certs, i));
		}
	sk_X509_pop_free(certs, X509_free);
}

static void generated(void)
{
	static const struct {
		int v;
		uint32_t tee;
		uint16_t type;
		bool der;
		uint16_t cert_type;
	} kinds[] = {
		{ 3, 0, 1, false, 5 },    { 4, 0, 1, false, 5 },
		{ 5, 0, 1, false, 5 },    { 4, 0x81, 2, false, 5 },
		{ 5, 0x81, 2, false, 5 }, { 5, 0x81, 3, false, 5 },
		{ 3, 0, 1, true, 5 },     { 3, 0, 1, false, 1 },
	};
	struct gen_pki p;
	char name[64];

	if (gen_pki_init(&p, NULL, NULL) < 0) {
		fprintf(stderr, "cannot generate a PKI\n");
		exit(1);
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		struct gen_quote_opts o;
		uint8_t *d;
		size_t len;
		gen_quote_defaults(&o, kinds[i].v, kinds[i].tee, kinds[i].type);
		o.der_chain = kinds[i].der;
		o.cert_type = kinds[i].cert_type;
		if (gen_quote(&p, &o, &d, &len, NULL) < 0)
			continue;
		snprintf(name, sizeof(name), "gen-v%d-type%u-%zu", kinds[i].v,
			 kinds[i].type, i);
		put_quote(name, d, len);
		free(d);
	}
	for (int tdx = 0; tdx < 2; tdx++) {
		struct gen_tcb_info ti;
		struct gen_qe_identity qi;
		struct gen_collateral c;
		gen_tcb_info_defaults(&ti, tdx);
		gen_qe_identity_defaults(&qi, tdx);
		if (gen_collateral(&p, &ti, &qi, &c) < 0)
			continue;
		for (size_t i = 0; i < c.n; i++) {
			snprintf(name, sizeof(name), "gen-%s-%zu",
				 tdx ? "tdx" : "sgx", i);
			put("collateral", name, c.data[i], c.len[i]);
		}
		gen_collateral_free(&c);
		char *b = gen_tcb_info_body(&ti);
		if (b) {
			snprintf(name, sizeof(name), "gen-%s-tcb-body",
				 tdx ? "tdx" : "sgx");
			put("collateral", name, b, strlen(b));
			free(b);
		}
		ti.version = 2;
		ti.id = NULL;
		b = tdx ? NULL : gen_tcb_info_body(&ti);
		if (b) {
			put("collateral", "gen-sgx-tcb-v2-body", b, strlen(b));
			free(b);
		}
	}
	put_ext("gen-pck", p.pck);
	gen_pki_free(&p);
}

static void shared(const char *ev)
{
	static const struct {
		const char *path;
		const char *kind; /* quote, hexquote, collateral */
	} files[] = {
		{ "sgx/phala-dcap-qvl/sgx_quote", "quote" },
		{ "sgx/intel-qvl-sampledata/quote.dat", "quote" },
		{ "tdx/phala-dcap-qvl/tdx_quote", "quote" },
		{ "tdx/phala-dcap-qvl/tdx_quote_outdated", "quote" },
		{ "tdx/intel-qvl-sampledata/quote.dat", "quote" },
		{ "tdx/phala-dcap-qvl/tdx-quote.hex", "hexquote" },
		{ "tdx/phala-dcap-qvl/quote-from-tappd.hex", "hexquote" },
		{ "sgx/phala-dcap-qvl/sgx_quote_collateral.json", "collateral" },
		{ "tdx/phala-dcap-qvl/tdx_quote_collateral.json", "collateral" },
		{ "sgx/intel-qvl-sampledata/tcbInfo.json", "collateral" },
		{ "sgx/intel-qvl-sampledata/qeIdentity.json", "collateral" },
		{ "sgx/intel-qvl-sampledata/pckSignChain.pem", "collateral" },
		{ "sgx/intel-qvl-sampledata/rootCaCrl.der", "collateral" },
		{ "tdx/intel-qvl-sampledata/tcbInfo.json", "collateral" },
		{ "tdx/phala-dcap-qvl/derived/tdx_quote_collateral/tcb_info.signed.json",
		  "collateral" },
		{ "tdx/phala-dcap-qvl/derived/tdx_quote_collateral/pck_crl.der",
		  "collateral" },
	};
	char path[1024], name[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		size_t len;
		bool hex = strcmp(files[i].kind, "hexquote") == 0;
		snprintf(path, sizeof(path), "%s/%s", ev, files[i].path);
		uint8_t *d = file_read(path, &len, hex);
		if (!d)
			continue;
		snprintf(name, sizeof(name), "shared-%zu", i);
		if (strcmp(files[i].kind, "collateral") == 0)
			put("collateral", name, d, len);
		else
			put_quote(name, d, len);
		free(d);
	}
}

int main(int argc, char **argv)
{
	static const char *const subs[] = { "quote", "verify", "collateral",
					    "pck_ext" };
	char path[1024];

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	root = argv[1];
	mkdir(root, 0755);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, subs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			perror(path);
			return 1;
		}
	}
	generated();
	const char *ev = evidence_dir();
	if (ev)
		shared(ev);
	else
		printf("no evidence dir: generated seeds only\n");
	printf("%d seeds in %s\n", n_written, root);
	return 0;
}
