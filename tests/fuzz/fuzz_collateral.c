/* libFuzzer target: the common parsers of the TEE drivers on arbitrary
 * blobs (FUZZ_SEP between them): collateral recognition (PEM, DER, JSON,
 * other), the CBOR screen and decoder, and COSE_Sign1. What they find is
 * then used: the first certificate is chained through the others, every
 * self-signed one pinned, with the CRLs found (dc_chain_verify and its CRL
 * checks), and each COSE_Sign1 is checked with each key found.
 *
 * The caches get the same blobs: parsed through a parse cache of two
 * entries, twice, the blobs must give the objects they give uncached, and
 * a chain verified twice through a chain cache the same answer. Both
 * caches are made for each input, so inputs do not share entries. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "dc_cose.h"
#include "dc_x509.h"
#include "fuzz.h"
#include "gen.h"

#define WHEN 1750000000

void fuzz_setup(void)
{
}

static void chain(struct dc_collateral *c)
{
	struct dc_pins pins = { 0 };
	struct dc_chain_result res, again;
	struct dc_chain_cache *cache;
	atoll_err err;
	int n = sk_X509_num(c->certs), r;

	if (n == 0)
		return;
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(c->certs, i);
		uint8_t fp[32];

		if (X509_check_issued(x, x) == X509_V_OK &&
		    dc_cert_fingerprint(x, fp) == 0 && dc_pins_add(&pins, fp) < 0)
			fuzz_die("out of memory");
	}
	r = dc_chain_verify(sk_X509_value(c->certs, 0), c->certs, c->crls, &pins,
			    WHEN, NULL, &res, &err);
	if (r == ATOLL_OK &&
	    (res.not_before > WHEN || res.not_after < WHEN || !res.root))
		fuzz_die("chain accepted outside its window");
	/* Through a chain cache: the second answer comes from it. */
	cache = dc_chain_cache_new(1);
	if (!cache)
		fuzz_die("out of memory");
	for (int pass = 0; pass < 2; pass++) {
		if (dc_chain_verify(sk_X509_value(c->certs, 0), c->certs, c->crls,
				    &pins, WHEN, cache, &again, &err) != r)
			fuzz_die("the chain cache changed the answer (pass %d)", pass);
		if (r == ATOLL_OK &&
		    (again.not_before != res.not_before ||
		     again.not_after != res.not_after || again.root != res.root ||
		     again.cached != (pass == 1)))
			fuzz_die("the chain cache changed the result (pass %d)", pass);
	}
	dc_chain_cache_free(cache);
	dc_pins_clear(&pins);
}

static void same_objects(const struct dc_collateral *a,
			 const struct dc_collateral *b)
{
	if (sk_X509_num(a->certs) != sk_X509_num(b->certs) ||
	    sk_X509_CRL_num(a->crls) != sk_X509_CRL_num(b->crls) ||
	    a->n_keys != b->n_keys || a->n_json != b->n_json ||
	    a->n_other != b->n_other)
		fuzz_die("cached parsing found other objects");
	for (int i = 0; i < sk_X509_num(a->certs); i++)
		if (X509_cmp(sk_X509_value(a->certs, i),
			     sk_X509_value(b->certs, i)) != 0)
			fuzz_die("cached parsing gave another certificate %d", i);
	for (int i = 0; i < sk_X509_CRL_num(a->crls); i++)
		if (X509_CRL_match(sk_X509_CRL_value(a->crls, i),
				   sk_X509_CRL_value(b->crls, i)) != 0)
			fuzz_die("cached parsing gave another CRL %d", i);
	for (size_t i = 0; i < a->n_keys; i++)
		if (EVP_PKEY_eq(a->keys[i], b->keys[i]) != 1)
			fuzz_die("cached parsing gave another key %zu", i);
}

/* The blobs through a parse cache of two entries, twice: the second pass
 * takes what the first left in it. Each blob, and each taken as one DER
 * certificate, must give what it gives without the cache. */
static void parse_cached(const atoll_blob *b, size_t n, const int *status,
			 const struct dc_collateral *plain)
{
	struct dc_parse_cache *pc = dc_parse_cache_new(2);
	atoll_err err;

	if (!pc)
		fuzz_die("out of memory");
	for (int pass = 0; pass < 2; pass++) {
		struct dc_collateral *c = dc_collateral_new_cached(pc);

		if (!c)
			fuzz_die("out of memory");
		for (size_t i = 0; i < n; i++)
			if (dc_collateral_add(c, b[i].data, b[i].len, &err) !=
			    status[i])
				fuzz_die("blob %zu parses otherwise through the "
					 "cache (pass %d)", i, pass);
		same_objects(c, plain);
		dc_collateral_free(c);
		for (size_t i = 0; i < n; i++) {
			X509 *x = dc_cert_from_der(pc, b[i].data, b[i].len);
			X509 *y = dc_cert_from_der(NULL, b[i].data, b[i].len);

			if (!x != !y || (x && X509_cmp(x, y) != 0))
				fuzz_die("blob %zu is another certificate through "
					 "the cache (pass %d)", i, pass);
			X509_free(x);
			X509_free(y);
		}
	}
	dc_parse_cache_free(pc);
}

static void cose(const atoll_blob *b, const struct dc_collateral *c)
{
	struct dc_cose_sign1 m;
	uint8_t *tbs;
	size_t n;
	atoll_err err;

	if (dc_cose_sign1_parse(b->data, b->len, &m, &err) != ATOLL_OK)
		return;
	if (dc_cose_sig_structure(&m, NULL, 0, &tbs, &n) == 0)
		free(tbs);
	for (size_t k = 0; k < c->n_keys; k++)
		dc_cose_sign1_verify(&m, c->keys[k], &err);
	dc_cose_sign1_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	atoll_blob b[FUZZ_MAX_BLOBS];
	size_t n = fuzz_split(data, size, b, FUZZ_MAX_BLOBS);
	struct dc_collateral *c = dc_collateral_new();
	cbor_item_t *item = NULL;
	atoll_err err;
	int status[FUZZ_MAX_BLOBS];

	if (!c)
		fuzz_die("out of memory");
	for (size_t i = 0; i < n; i++) {
		status[i] = dc_collateral_add(c, b[i].data, b[i].len, &err);
		if (dc_cbor_decode(b[i].data, b[i].len, &item, &err) == ATOLL_OK)
			cbor_decref(&item);
	}
	parse_cached(b, n, status, c);
	chain(c);
	for (size_t i = 0; i < n; i++)
		cose(&b[i], c);
	dc_collateral_free(c);
	return 0;
}

/* ---- seeds ---- */

static char *cat(const char *a, size_t al, const char *b, size_t bl,
		 size_t *ret_len)
{
	char *o = malloc(al + bl + 1);

	memcpy(o, a, al);
	memcpy(o + al, b, bl);
	o[al + bl] = '\0';
	*ret_len = al + bl;
	return o;
}

void fuzz_seeds(void)
{
	static const char *const real[] = {
		"sev-snp/go-sev-guest/ask_ark_milan.pem",
		"sev-snp/go-sev-guest/vcek.testcer",
		"nitro/AWS_NitroEnclaves_Root-G1.pem",
		"psa/veraison-psatoken/public.pem",
		"psa/veraison-psatoken/psa-2_0_0_sign1.bin",
	};
	EVP_PKEY *k = gen_ec_key("P-256"), *ik = gen_ec_key("P-256");
	struct gen_cert_opts o = { 0 };
	X509 *root, *inter, *leaf;
	X509_CRL *crl;
	long revoked[] = { 5 };
	uint8_t *d;
	char *pem, *pem2, *all, *crl_pem, *key_pem;
	size_t len, len2, all_len, crl_len, key_len;

	fuzz_rand_fix("fuzz_collateral seeds");
	o.cn = "root";
	o.not_before = 1700000000;
	o.not_after = 1800000000;
	o.ca = true;
	o.serial = 1;
	root = gen_cert(&o, k, NULL, NULL);
	o.cn = "intermediate";
	o.serial = 2;
	inter = gen_cert(&o, ik, root, k);
	o.cn = "leaf";
	o.ca = false;
	o.serial = 3;
	leaf = gen_cert(&o, ik, inter, ik);
	crl = gen_crl_list(root, k, 1740000000, 1760000000, revoked, 1);

	d = gen_der(root, &len);
	fuzz_seed("gen-der", d, len);
	free(d);
	pem = gen_pem(root, &len);
	fuzz_seed("gen-pem", pem, len);
	key_pem = gen_pubkey_pem(k, &key_len);
	fuzz_seed("gen-pubkey", key_pem, key_len);

	/* A chain in PEM (leaf first) and the root's CRL, as two blobs. */
	pem2 = gen_pem(leaf, &len2);
	all = cat(pem2, len2, pem, len, &all_len);
	free(pem2);
	pem2 = gen_pem(inter, &len2);
	free(pem);
	pem = cat(all, all_len, pem2, len2, &len);
	crl_pem = gen_crl_pem(crl, &crl_len);
	{
		atoll_blob b[2] = { { (uint8_t *)pem, len },
				    { (uint8_t *)crl_pem, crl_len } };

		fuzz_seed_blobs("gen-chain-crl", b, 2);
	}
	/* A COSE_Sign1 and the key that signed it. */
	{
		size_t cl;
		uint8_t *msg = gen_cose_sign1(true, DC_COSE_ES256,
					      (const uint8_t *)"payload", 7, k,
					      false, &cl);
		atoll_blob b[2] = { { msg, cl }, { (uint8_t *)key_pem, key_len } };

		fuzz_seed_blobs("gen-cose-key", b, 2);
		free(msg);
	}
	fuzz_seed("gen-json", "{\"tcbInfo\":{}}", 14);
	free(all);
	free(pem);
	free(pem2);
	free(crl_pem);
	free(key_pem);
	X509_CRL_free(crl);
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ik);
	fuzz_rand_restore();

	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		char name[32];

		d = fuzz_read_evidence(real[i], &len);
		snprintf(name, sizeof(name), "real-%zu", i);
		fuzz_seed(name, d, len);
		free(d);
	}
}
