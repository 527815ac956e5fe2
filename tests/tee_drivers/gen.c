/* Test PKI, CBOR writer and evidence builders for SEV-SNP, Nitro and PSA
 * (see gen.h). Everything here aborts on OpenSSL failure: it only ever
 * runs in tests, fuzz seeding and benchmarks. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "dc_cose.h"

static void die(const char *what)
{
	fprintf(stderr, "generator: %s failed\n", what);
	exit(2);
}

EVP_PKEY *gen_ec_key(const char *group)
{
	EVP_PKEY *k = EVP_EC_gen(group);

	if (!k)
		die("EC key generation");
	return k;
}

EVP_PKEY *gen_ed25519_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (!k)
		die("Ed25519 key generation");
	return k;
}

EVP_PKEY *gen_rsa_key(int bits)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);

	if (!k)
		die("RSA key generation");
	return k;
}

static void add_ext_nid(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		die("extension");
	X509_EXTENSION_free(e);
}

X509 *gen_cert(const struct gen_cert_opts *o, EVP_PKEY *subject_key,
	       X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	size_t i;

	if (!x || !name)
		die("X509_new");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), o->serial);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"Atoll Test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)o->cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)o->not_before);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)o->not_after);
	X509_set_pubkey(x, subject_key);
	if (o->ca) {
		add_ext_nid(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext_nid(x, issuer, NID_key_usage,
			    "critical,keyCertSign,cRLSign");
	}
	add_ext_nid(x, issuer, NID_subject_key_identifier, "hash");
	for (i = 0; i < o->n_exts; i++) {
		ASN1_OBJECT *obj = OBJ_txt2obj(o->exts[i].oid, 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *e;

		if (!obj || !os ||
		    !ASN1_OCTET_STRING_set(os, o->exts[i].value,
					   (int)o->exts[i].len))
			die("custom extension");
		e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
		if (!e || !X509_add_ext(x, e, -1))
			die("custom extension");
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(os);
	}
	if (!issuer_key)
		issuer_key = subject_key;
	if (o->pss) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;

		if (!m ||
		    EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, issuer_key) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) != 1 ||
		    X509_sign_ctx(x, m) <= 0)
			die("PSS certificate signature");
		EVP_MD_CTX_free(m);
	} else if (EVP_PKEY_is_a(issuer_key, "ED25519")) {
		if (X509_sign(x, issuer_key, NULL) <= 0)
			die("certificate signature");
	} else if (X509_sign(x, issuer_key, EVP_sha384()) <= 0) {
		die("certificate signature");
	}
	return x;
}

uint8_t *gen_der(X509 *x, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	uint8_t *out;

	if (n <= 0)
		die("i2d_X509");
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*ret_len = (size_t)n;
	return out;
}

X509_CRL *gen_crl(X509 *issuer, EVP_PKEY *key, int64_t this_up,
		  int64_t next_up, long revoked_serial, int64_t revoked_at)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	ASN1_TIME_set(t, (time_t)this_up);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set(t, (time_t)next_up);
	X509_CRL_set1_nextUpdate(crl, t);
	if (revoked_serial) {
		X509_REVOKED *rev = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();

		ASN1_INTEGER_set(s, revoked_serial);
		X509_REVOKED_set_serialNumber(rev, s);
		ASN1_TIME_set(t, (time_t)revoked_at);
		X509_REVOKED_set_revocationDate(rev, t);
		X509_CRL_add0_revoked(crl, rev);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, key, EVP_sha256());
	ASN1_TIME_free(t);
	return crl;
}

uint8_t *gen_crl_der(X509_CRL *crl, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = i2d_X509_CRL(crl, &der);
	uint8_t *out;

	if (n <= 0)
		die("i2d_X509_CRL");
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*ret_len = (size_t)n;
	return out;
}

static char *bio_take(BIO *b, size_t *ret_len)
{
	char *p, *out;
	long n = BIO_get_mem_data(b, &p);

	out = malloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = 0;
	*ret_len = (size_t)n;
	BIO_free(b);
	return out;
}

char *gen_pem(X509 *x, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_X509(b, x))
		die("PEM_write_bio_X509");
	return bio_take(b, ret_len);
}

char *gen_pubkey_pem(EVP_PKEY *k, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_PUBKEY(b, k))
		die("PEM_write_bio_PUBKEY");
	return bio_take(b, ret_len);
}

void gen_fingerprint_hex(X509 *x, char out[65])
{
	static const char digits[] = "0123456789ABCDEF";
	uint8_t md[32];
	unsigned int n = 0, i;

	if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
		die("X509_digest");
	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = 0;
}

X509_CRL *gen_crl_list(X509 *issuer, EVP_PKEY *key, int64_t this_update,
		  int64_t next_update, const long *serials, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	size_t i;

	if (!crl || !t || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    !ASN1_TIME_set(t, (time_t)this_update) ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    !ASN1_TIME_set(t, (time_t)next_update) ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		die("CRL");
	for (i = 0; i < n; i++) {
		X509_REVOKED *rev = X509_REVOKED_new();
		ASN1_INTEGER *serial = ASN1_INTEGER_new();

		if (!rev || !serial || !ASN1_INTEGER_set(serial, serials[i]) ||
		    !X509_REVOKED_set_serialNumber(rev, serial) ||
		    !ASN1_TIME_set(t, (time_t)this_update) ||
		    !X509_REVOKED_set_revocationDate(rev, t) ||
		    !X509_CRL_add0_revoked(crl, rev))
			die("CRL entry");
		ASN1_INTEGER_free(serial);
	}
	X509_CRL_sort(crl);
	if (EVP_PKEY_is_a(key, "ED25519") ? X509_CRL_sign(crl, key, NULL) <= 0 :
					      X509_CRL_sign(crl, key, EVP_sha384()) <= 0)
		die("CRL signature");
	ASN1_TIME_free(t);
	return crl;
}

char *gen_crl_pem(X509_CRL *crl, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_X509_CRL(b, crl))
		die("PEM_write_bio_X509_CRL");
	return bio_take(b, ret_len);
}

void gen_ecdsa_raw(EVP_PKEY *k, const EVP_MD *md, const uint8_t *msg,
		   size_t len, size_t half, bool little_endian, uint8_t *out)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char der[256];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *s;
	const BIGNUM *r, *sv;

	if (!m || EVP_DigestSignInit(m, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(m, der, &der_len, msg, len) != 1)
		die("ECDSA sign");
	EVP_MD_CTX_free(m);
	s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!s)
		die("d2i_ECDSA_SIG");
	ECDSA_SIG_get0(s, &r, &sv);
	if (little_endian) {
		BN_bn2lebinpad(r, out, (int)half);
		BN_bn2lebinpad(sv, out + half, (int)half);
	} else {
		BN_bn2binpad(r, out, (int)half);
		BN_bn2binpad(sv, out + half, (int)half);
	}
	ECDSA_SIG_free(s);
}

void cw_head(struct buf *b, unsigned major, uint64_t v)
{
	uint8_t h[9];

	buf_append(b, h, dc_cbor_head(h, major, v));
}

void cw_uint(struct buf *b, uint64_t v)
{
	cw_head(b, 0, v);
}

void cw_int(struct buf *b, int64_t v)
{
	if (v >= 0)
		cw_head(b, 0, (uint64_t)v);
	else
		cw_head(b, 1, (uint64_t)(-1 - v));
}

void cw_bytes(struct buf *b, const void *p, size_t n)
{
	cw_head(b, 2, n);
	buf_append(b, p, n);
}

void cw_text(struct buf *b, const char *s)
{
	cw_head(b, 3, strlen(s));
	buf_append(b, s, strlen(s));
}

void cw_null(struct buf *b)
{
	buf_putc(b, (char)0xf6);
}

uint8_t *gen_cose_sign1(bool tagged, int64_t alg, const uint8_t *payload,
			size_t payload_len, EVP_PKEY *key, bool bad_sig,
			size_t *ret_len)
{
	struct buf prot = { 0 }, tbs = { 0 }, out = { 0 };
	uint8_t sig[132];
	size_t sig_len = 0;
	const EVP_MD *md = NULL;

	cw_head(&prot, 5, 1);
	cw_int(&prot, 1);
	cw_int(&prot, alg);
	cw_head(&tbs, 4, 4);
	cw_text(&tbs, "Signature1");
	cw_bytes(&tbs, prot.data, prot.len);
	cw_bytes(&tbs, "", 0);
	cw_bytes(&tbs, payload, payload_len);
	switch (alg) {
	case DC_COSE_ES256:
		md = EVP_sha256();
		sig_len = 64;
		break;
	case DC_COSE_ES384:
		md = EVP_sha384();
		sig_len = 96;
		break;
	case DC_COSE_ES512:
		md = EVP_sha512();
		sig_len = 132;
		break;
	default:
		sig_len = 64;
		break;
	}
	if (md) {
		gen_ecdsa_raw(key, md, tbs.data, tbs.len, sig_len / 2, false,
			      sig);
	} else {
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		if (!m || EVP_DigestSignInit(m, NULL, NULL, NULL, key) != 1 ||
		    EVP_DigestSign(m, sig, &sig_len, tbs.data, tbs.len) != 1)
			die("EdDSA sign");
		EVP_MD_CTX_free(m);
	}
	if (bad_sig)
		sig[sig_len / 3] ^= 0x01;
	if (tagged)
		cw_head(&out, 6, DC_COSE_TAG_SIGN1);
	cw_head(&out, 4, 4);
	cw_bytes(&out, prot.data, prot.len);
	cw_head(&out, 5, 0);
	cw_bytes(&out, payload, payload_len);
	cw_bytes(&out, sig, sig_len);
	buf_free(&prot);
	buf_free(&tbs);
	return buf_steal(&out, ret_len);
}

/* ---- SEV-SNP ---- */

static size_t der_small_int(uint8_t v, uint8_t *out)
{
	out[0] = 0x02;
	if (v & 0x80) {
		out[1] = 2;
		out[2] = 0;
		out[3] = v;
		return 4;
	}
	out[1] = 1;
	out[2] = v;
	return 3;
}

X509 *gen_snp_vcek(struct gen_snp_pki *p, const struct gen_snp_vcek_opts *o,
		   EVP_PKEY *key)
{
	static const char *const oids[] = {
		"1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2",
		"1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.8",
		"1.3.6.1.4.1.3704.1.3.9",
	};
	uint8_t tcb[5][4], prod[64], hw[80], b[8];
	struct gen_ext ext[8];
	struct gen_cert_opts co = { 0 };
	size_t n = 0, i, plen = strlen(o->product);
	uint8_t parts[5];

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(o->tcb >> (8 * i));
	if (o->turin) {
		parts[0] = b[1];
		parts[1] = b[2];
		parts[2] = b[3];
		parts[3] = b[7];
		parts[4] = b[0];
	} else {
		parts[0] = b[0];
		parts[1] = b[1];
		parts[2] = b[6];
		parts[3] = b[7];
		parts[4] = 0;
	}
	prod[0] = 0x16;
	prod[1] = (uint8_t)plen;
	memcpy(prod + 2, o->product, plen);
	ext[n++] = (struct gen_ext){ "1.3.6.1.4.1.3704.1.2", prod, plen + 2 };
	for (i = 0; i < (o->turin ? 5u : 4u); i++)
		ext[n++] = (struct gen_ext){ oids[i], tcb[i],
					     der_small_int(parts[i], tcb[i]) };
	if (o->hwid) {
		size_t off = 0;

		if (o->hwid_der) {
			hw[0] = 0x04;
			hw[1] = (uint8_t)o->hwid_len;
			off = 2;
		}
		memcpy(hw + off, o->hwid, o->hwid_len);
		ext[n++] = (struct gen_ext){ "1.3.6.1.4.1.3704.1.4", hw,
					     off + o->hwid_len };
	}
	co.cn = key == p->vlek_key ? "SEV-VLEK" : "SEV-VCEK";
	co.not_before = o->not_before;
	co.not_after = o->not_after;
	co.pss = true;
	co.exts = ext;
	co.n_exts = n;
	co.serial = 0;
	if (key == p->vlek_key)
		return gen_cert(&co, key, p->asvk, p->asvk_key);
	return gen_cert(&co, key, p->ask, p->ask_key);
}

void gen_snp_pki_make(struct gen_snp_pki *p,
		      const struct gen_snp_vcek_opts *o)
{
	struct gen_cert_opts co = { 0 };
	struct gen_snp_vcek_opts vo = *o;

	memset(p, 0, sizeof(*p));
	p->ark_key = gen_rsa_key(2048);
	p->ask_key = gen_rsa_key(2048);
	p->asvk_key = gen_rsa_key(2048);
	p->vcek_key = gen_ec_key("P-384");
	p->vlek_key = gen_ec_key("P-384");
	co.not_before = 1577836800; /* 2020-01-01 */
	co.not_after = 2366841600;  /* 2045-01-01 */
	co.ca = true;
	co.pss = true;
	co.serial = 1;
	co.cn = "ARK-Test";
	p->ark = gen_cert(&co, p->ark_key, NULL, NULL);
	co.cn = "SEV-Test";
	co.serial = 2;
	p->ask = gen_cert(&co, p->ask_key, p->ark, p->ark_key);
	co.cn = "SEV-VLEK-Test";
	co.serial = 3;
	p->asvk = gen_cert(&co, p->asvk_key, p->ark, p->ark_key);
	p->vcek = gen_snp_vcek(p, o, p->vcek_key);
	vo.hwid = NULL;
	p->vlek = gen_snp_vcek(p, &vo, p->vlek_key);
	gen_fingerprint_hex(p->ark, p->ark_fp);
}

void gen_snp_pki_free(struct gen_snp_pki *p)
{
	EVP_PKEY_free(p->ark_key);
	EVP_PKEY_free(p->ask_key);
	EVP_PKEY_free(p->vcek_key);
	EVP_PKEY_free(p->asvk_key);
	EVP_PKEY_free(p->vlek_key);
	X509_free(p->ark);
	X509_free(p->ask);
	X509_free(p->vcek);
	X509_free(p->asvk);
	X509_free(p->vlek);
	memset(p, 0, sizeof(*p));
}

void gen_snp_report_defaults(struct gen_snp_report *r)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->version = 3;
	r->guest_svn = 7;
	r->policy = 0x30000;
	r->sig_algo = 1;
	r->cpuid_fam = 0x19;
	/* Milan layout: bl 3, tee 0, snp 8, ucode 115. */
	r->reported_tcb = 0x7308000000000003ull;
	for (i = 0; i < 64; i++) {
		r->report_data[i] = (uint8_t)i;
		r->chip_id[i] = (uint8_t)(0xc0 + i);
	}
	for (i = 0; i < 48; i++) {
		r->measurement[i] = (uint8_t)(0x40 + i);
		r->id_key_digest[i] = (uint8_t)(0x80 + i);
	}
	memset(r->host_data, 0x5a, sizeof(r->host_data));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void gen_snp_report_sign(const struct gen_snp_report *r, EVP_PKEY *key,
			 uint8_t out[1184])
{
	memset(out, 0, 1184);
	put32(out + 0x00, r->version);
	put32(out + 0x04, r->guest_svn);
	put64(out + 0x08, r->policy);
	put32(out + 0x30, r->vmpl);
	put32(out + 0x34, r->sig_algo);
	put64(out + 0x38, r->reported_tcb);
	put32(out + 0x48, r->key_info);
	memcpy(out + 0x50, r->report_data, 64);
	memcpy(out + 0x90, r->measurement, 48);
	memcpy(out + 0xc0, r->host_data, 32);
	memcpy(out + 0xe0, r->id_key_digest, 48);
	put64(out + 0x180, r->reported_tcb);
	if (r->version >= 3)
		out[0x188] = r->cpuid_fam;
	memcpy(out + 0x1a0, r->chip_id, 64);
	put64(out + 0x1e0, r->reported_tcb);
	out[0x1e8] = 4;
	out[0x1e9] = 52;
	out[0x1ea] = 1;
	put64(out + 0x1f0, r->reported_tcb);
	gen_ecdsa_raw(key, EVP_sha384(), out, 0x2a0, 72, true, out + 0x2a0);
}

uint8_t *gen_snp_cert_table(const uint8_t *const *ders, const size_t *lens,
			    const int *kinds, size_t n, size_t *ret_len)
{
	static const uint8_t guids[4][16] = {
		{ 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43,
		  0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae },
		{ 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f,
		  0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 },
		{ 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5,
		  0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd },
		{ 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6,
		  0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 },
	};
	size_t total = (n + 1) * 24, i, off;
	uint8_t *t;

	for (i = 0; i < n; i++)
		total += lens[i];
	t = calloc(1, total);
	off = (n + 1) * 24;
	for (i = 0; i < n; i++) {
		memcpy(t + i * 24, guids[kinds[i]], 16);
		put32(t + i * 24 + 16, (uint32_t)off);
		put32(t + i * 24 + 20, (uint32_t)lens[i]);
		memcpy(t + off, ders[i], lens[i]);
		off += lens[i];
	}
	*ret_len = total;
	return t;
}

/* ---- Nitro ---- */

void gen_nitro_pki_make(struct gen_nitro_pki *p, int64_t not_before,
			int64_t not_after)
{
	struct gen_cert_opts co = { 0 };

	memset(p, 0, sizeof(*p));
	p->root_key = gen_ec_key("P-384");
	p->int_key = gen_ec_key("P-384");
	p->leaf_key = gen_ec_key("P-384");
	co.not_before = 1572220800; /* 2019-10-28 */
	co.not_after = 2519424000;  /* 2049-11-01 */
	co.ca = true;
	co.serial = 1;
	co.cn = "aws.nitro-enclaves.test";
	p->root = gen_cert(&co, p->root_key, NULL, NULL);
	co.cn = "zonal.test";
	co.serial = 2;
	co.not_before = not_before - 86400;
	co.not_after = not_after + 86400;
	p->inter = gen_cert(&co, p->int_key, p->root, p->root_key);
	co.cn = "i-0123456789abcdef0-enc0123456789abcdef.test";
	co.ca = false;
	co.serial = 3;
	co.not_before = not_before;
	co.not_after = not_after;
	p->leaf = gen_cert(&co, p->leaf_key, p->inter, p->int_key);
	gen_fingerprint_hex(p->root, p->root_fp);
}

void gen_nitro_pki_free(struct gen_nitro_pki *p)
{
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->int_key);
	EVP_PKEY_free(p->leaf_key);
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
	memset(p, 0, sizeof(*p));
}

void gen_nitro_doc_defaults(struct gen_nitro_doc *d)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	d->module_id = "i-0123456789abcdef0-enc0123456789abcdef";
	d->digest = "SHA384";
	d->timestamp_ms = 1725719859545ull;
	d->pcr_len = 48;
	d->n_pcrs = 16;
	for (i = 0; i < 16; i++)
		if (i < 5 || i == 8)
			memset(d->pcrs[i], (int)(0x10 * (i + 1)), 48);
}

static void opt_bytes(struct buf *b, const char *key, const uint8_t *p,
		      size_t n)
{
	cw_text(b, key);
	if (n)
		cw_bytes(b, p, n);
	else
		cw_null(b);
}

uint8_t *gen_nitro_doc_make(const struct gen_nitro_doc *d,
			    const struct gen_nitro_pki *p, size_t *ret_len)
{
	struct buf pl = { 0 };
	uint8_t *leaf, *inter, *root, *doc;
	size_t leaf_len, inter_len, root_len, i;

	leaf = gen_der(p->leaf, &leaf_len);
	inter = gen_der(p->inter, &inter_len);
	root = gen_der(p->root, &root_len);
	cw_head(&pl, 5, d->omit_certificate ? 8 : 9);
	cw_text(&pl, "module_id");
	cw_text(&pl, d->module_id);
	cw_text(&pl, "digest");
	cw_text(&pl, d->digest);
	cw_text(&pl, "timestamp");
	cw_uint(&pl, d->timestamp_ms);
	cw_text(&pl, "pcrs");
	cw_head(&pl, 5, d->n_pcrs);
	for (i = 0; i < d->n_pcrs; i++) {
		uint8_t v[64] = { 0 };

		memcpy(v, d->pcrs[i % 16], 48);
		cw_uint(&pl, i);
		cw_bytes(&pl, v, d->pcr_len);
	}
	if (!d->omit_certificate) {
		cw_text(&pl, "certificate");
		cw_bytes(&pl, leaf, leaf_len);
	}
	cw_text(&pl, "cabundle");
	if (d->cabundle_null) {
		cw_null(&pl);
	} else {
		cw_head(&pl, 4, 2);
		cw_bytes(&pl, root, root_len);
		cw_bytes(&pl, inter, inter_len);
	}
	opt_bytes(&pl, "public_key", d->public_key, d->public_key_len);
	opt_bytes(&pl, "user_data", d->user_data, d->user_data_len);
	opt_bytes(&pl, "nonce", d->nonce, d->nonce_len);
	doc = gen_cose_sign1(d->tagged, DC_COSE_ES384, pl.data, pl.len,
			     p->leaf_key, d->bad_sig, ret_len);
	buf_free(&pl);
	free(leaf);
	free(inter);
	free(root);
	return doc;
}

/* ---- PSA ---- */

void gen_psa_instance_id(EVP_PKEY *iak, uint8_t out[33])
{
	uint8_t pt[200];
	size_t n = 0;
	unsigned int md_len = 32;

	if (!EVP_PKEY_get_octet_string_param(iak, OSSL_PKEY_PARAM_PUB_KEY, pt,
					     sizeof(pt), &n))
		die("public point");
	out[0] = 0x01;
	EVP_Digest(pt, n, out + 1, &md_len, EVP_sha256(), NULL);
}

void gen_psa_token_defaults(struct gen_psa_token *t, EVP_PKEY *iak)
{
	memset(t, 0, sizeof(*t));
	t->nonce_len = 64;
	memset(t->nonce, 0x3c, 64);
	gen_psa_instance_id(iak, t->instance_id);
	memset(t->impl_id, 0xaa, 8);
	memset(t->impl_id + 8, 0xbb, 8);
	memset(t->impl_id + 16, 0xcc, 8);
	memset(t->impl_id + 24, 0xdd, 8);
	t->lifecycle = 0x3000;
	t->client_id = 3002;
	t->n_sw = 2;
}

uint8_t *gen_psa_claims(const struct gen_psa_token *t, size_t *ret_len)
{
	static const uint8_t seed[32] = { 0xa0, 0xa1, 0xa2, 0xa3 };
	struct buf b = { 0 };
	size_t n = 9, i;
	int64_t k_prof = t->iot1 ? -75000 : 265;
	int64_t k_nonce = t->iot1 ? -75008 : 10;
	int64_t k_inst = t->iot1 ? -75009 : 256;
	int64_t k_impl = t->iot1 ? -75003 : 2396;
	int64_t k_life = t->iot1 ? -75002 : 2395;
	int64_t k_client = t->iot1 ? -75001 : 2394;
	int64_t k_seed = t->iot1 ? -75004 : 2397;
	int64_t k_sw = t->iot1 ? -75006 : 2399;
	int64_t k_vs = t->iot1 ? -75010 : 2400;

	if (t->omit_sw_components)
		n--;
	if (t->omit_instance_id)
		n--;
	cw_head(&b, 5, n);
	cw_int(&b, k_prof);
	cw_text(&b, t->profile ? t->profile :
		    t->iot1 ? "PSA_IOT_PROFILE_1" : "http://arm.com/psa/2.0.0");
	cw_int(&b, k_nonce);
	cw_bytes(&b, t->nonce, t->nonce_len);
	if (!t->omit_instance_id) {
		cw_int(&b, k_inst);
		cw_bytes(&b, t->instance_id, 33);
	}
	cw_int(&b, k_impl);
	cw_bytes(&b, t->impl_id, 32);
	cw_int(&b, k_life);
	cw_uint(&b, t->lifecycle);
	cw_int(&b, k_client);
	cw_int(&b, t->client_id);
	cw_int(&b, k_seed);
	cw_bytes(&b, seed, sizeof(seed));
	if (!t->omit_sw_components) {
		cw_int(&b, k_sw);
		cw_head(&b, 4, t->n_sw);
		for (i = 0; i < t->n_sw; i++) {
			uint8_t m[32], s[32];

			memset(m, (int)(0x96 + i), sizeof(m));
			memset(s, (int)(0xbf - i), sizeof(s));
			cw_head(&b, 5, 5);
			cw_uint(&b, 1);
			cw_text(&b, i == 0 ? "SPE" : "NSPE");
			cw_uint(&b, 2);
			cw_bytes(&b, m, sizeof(m));
			cw_uint(&b, 4);
			cw_text(&b, "1.6.0");
			cw_uint(&b, 5);
			cw_bytes(&b, s, sizeof(s));
			cw_uint(&b, 6);
			cw_text(&b, "SHA256");
		}
	}
	cw_int(&b, k_vs);
	cw_text(&b, "www.trustedfirmware.org");
	return buf_steal(&b, ret_len);
}

/* ---- Arm CCA ---- */

void gen_cca_token_defaults(struct gen_cca_token *t, EVP_PKEY *cpak,
			    EVP_PKEY *rak)
{
	memset(t, 0, sizeof(*t));
	t->cpak = cpak;
	t->rak = rak;
	memset(t->realm_challenge, 0x6e, sizeof(t->realm_challenge));
	t->lifecycle = 0x3003;
}

uint8_t *gen_cca_token_make(const struct gen_cca_token *t, size_t *ret_len)
{
	struct buf rk = { 0 }, rc = { 0 }, pc = { 0 }, out = { 0 };
	uint8_t pt[97], fill[64], inst[33], hash[32], *rtok, *ptok;
	size_t n = 0, rlen, plen, i;
	unsigned int hl = 32;

	if (!EVP_PKEY_get_octet_string_param(t->rak, OSSL_PKEY_PARAM_PUB_KEY,
					     pt, sizeof(pt), &n) || n != 97)
		die("RAK point");
	if (t->legacy) {
		buf_append(&rk, pt, sizeof(pt));
	} else {
		cw_head(&rk, 5, 4);
		cw_int(&rk, 1);
		cw_int(&rk, 2);
		cw_int(&rk, -1);
		cw_int(&rk, 2);
		cw_int(&rk, -2);
		cw_bytes(&rk, pt + 1, 48);
		cw_int(&rk, -3);
		cw_bytes(&rk, pt + 49, 48);
	}
	cw_head(&rc, 5, t->legacy ? 8 : 10);
	if (!t->legacy) {
		cw_uint(&rc, 265);
		cw_text(&rc, "tag:arm.com,2024:realm#2.0.0");
	}
	cw_uint(&rc, 10);
	cw_bytes(&rc, t->realm_challenge, 64);
	memset(fill, 0x52, sizeof(fill));
	cw_uint(&rc, 44235);
	cw_bytes(&rc, fill, 64);
	cw_uint(&rc, 44236);
	cw_text(&rc, "sha-256");
	cw_uint(&rc, 44240);
	cw_text(&rc, "sha-256");
	cw_uint(&rc, 44237);
	cw_bytes(&rc, rk.data, rk.len);
	memset(fill, 0x31, sizeof(fill));
	cw_uint(&rc, 44238);
	cw_bytes(&rc, fill, 32);
	cw_uint(&rc, 44239);
	cw_head(&rc, 4, 4);
	for (i = 0; i < 4; i++) {
		memset(fill, (int)(0xe0 + i), 32);
		cw_bytes(&rc, fill, 32);
	}
	if (!t->legacy) {
		cw_uint(&rc, 44243);
		cw_uint(&rc, 1);
	}
	cw_uint(&rc, 256);
	memset(inst, 0x01, sizeof(inst));
	cw_bytes(&rc, inst, 33);

	EVP_Digest(rk.data, rk.len, hash, &hl, EVP_sha256(), NULL);
	if (t->bad_binding)
		hash[0] ^= 1;
	gen_psa_instance_id(t->cpak, inst);
	cw_head(&pc, 5, 9);
	cw_uint(&pc, 265);
	cw_text(&pc, t->legacy ? "http://arm.com/CCA-SSD/1.0.0" :
				 "tag:arm.com,2023:cca_platform#1.0.0");
	cw_uint(&pc, 10);
	cw_bytes(&pc, hash, 32);
	memset(fill, 0x7f, sizeof(fill));
	cw_uint(&pc, 2396);
	cw_bytes(&pc, fill, 32);
	cw_uint(&pc, 256);
	cw_bytes(&pc, inst, 33);
	cw_uint(&pc, 2401);
	cw_bytes(&pc, "\xcf\xe5\x00\x00", 4);
	cw_uint(&pc, 2395);
	cw_uint(&pc, t->lifecycle);
	cw_uint(&pc, 2402);
	cw_text(&pc, "sha-256");
	cw_uint(&pc, 2400);
	cw_text(&pc, "https://veraison.example/");
	cw_uint(&pc, 2399);
	cw_head(&pc, 4, 1);
	cw_head(&pc, 5, 3);
	cw_uint(&pc, 1);
	cw_text(&pc, "BL");
	cw_uint(&pc, 2);
	memset(fill, 0x9a, 32);
	cw_bytes(&pc, fill, 32);
	cw_uint(&pc, 5);
	cw_bytes(&pc, fill, 32);

	rtok = gen_cose_sign1(true, DC_COSE_ES384, rc.data, rc.len, t->rak,
			      t->realm_bad_sig, &rlen);
	ptok = gen_cose_sign1(true, DC_COSE_ES384, pc.data, pc.len, t->cpak,
			      t->platform_bad_sig, &plen);
	cw_head(&out, 6, t->legacy ? 399 : 907);
	cw_head(&out, 5, 2);
	cw_uint(&out, 44234);
	if (!t->legacy) {
		cw_head(&out, 4, 2);
		cw_uint(&out, 263);
	}
	cw_bytes(&out, ptok, plen);
	cw_uint(&out, 44241);
	if (!t->legacy) {
		cw_head(&out, 4, 2);
		cw_uint(&out, 263);
	}
	cw_bytes(&out, rtok, rlen);
	free(rtok);
	free(ptok);
	buf_free(&rk);
	buf_free(&rc);
	buf_free(&pc);
	return buf_steal(&out, ret_len);
}
