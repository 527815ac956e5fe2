/* Generators of synthetic DCAP evidence and collateral (see gen.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gen.h"
#include "util/buf.h"
#include "util/enc.h"

#define T_2020 1577836800 /* 2020-01-01 */
#define T_2024 1704067200 /* 2024-01-01 */
#define T_2031 1924992000 /* 2031-01-01 */
#define T_2032 1956528000 /* 2032-01-01 */
#define T_2040 2208988800 /* 2040-01-01 */
#define T_2049 2524607999 /* 2049-12-31T23:59:59 */

static const uint8_t intel_qe_vendor[16] = {
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
	0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
};

void gen_pck_defaults(struct gen_pck_opts *o)
{
	static const uint8_t comp[16] = { 5, 5, 2, 2, 4, 1, 0, 3 };
	static const uint8_t fmspc[6] = { 0x00, 0x90, 0x6e, 0xa1, 0x00, 0x00 };

	memset(o, 0, sizeof(*o));
	memcpy(o->fmspc, fmspc, 6);
	memcpy(o->comp_svn, comp, 16);
	o->pcesvn = 11;
	o->not_before = T_2024;
	o->not_after = T_2031;
	o->serial = 0x1001;
	o->cn = "Atoll Test SGX PCK Certificate";
}

EVP_PKEY *gen_key(void)
{
	return EVP_EC_gen("P-256");
}

/* DER writer for the SGX extension. */
static void tlv(struct buf *out, uint8_t tag, const void *v, size_t n)
{
	uint8_t h[4];
	size_t hl = 0;

	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (uint8_t)n;
	} else if (n < 0x100) {
		h[hl++] = 0x81;
		h[hl++] = (uint8_t)n;
	} else {
		h[hl++] = 0x82;
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	}
	buf_append(out, h, hl);
	buf_append(out, v, n);
}

static void der_int(struct buf *out, unsigned v)
{
	uint8_t b[3];
	size_t n;

	if (v < 0x80) {
		b[0] = (uint8_t)v;
		n = 1;
	} else if (v < 0x8000) {
		b[0] = (uint8_t)(v >> 8);
		b[1] = (uint8_t)v;
		n = 2;
	} else {
		b[0] = 0;
		b[1] = (uint8_t)(v >> 8);
		b[2] = (uint8_t)v;
		n = 3;
	}
	tlv(out, 0x02, b, n);
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<arcs>, value } */
static void pair(struct buf *out, const uint8_t *arcs, size_t n_arcs,
		 const struct buf *value)
{
	static const uint8_t base[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8,
					0x4d, 0x01, 0x0d, 0x01 };
	struct buf oid = { 0 }, seq = { 0 };

	buf_append(&oid, base, sizeof(base));
	buf_append(&oid, arcs, n_arcs);
	tlv(&seq, 0x06, oid.data, oid.len);
	buf_append(&seq, value->data, value->len);
	tlv(out, 0x30, seq.data, seq.len);
	buf_free(&oid);
	buf_free(&seq);
}

static X509_EXTENSION *sgx_extension(const struct gen_pck_opts *o)
{
	struct buf items = { 0 }, tcb = { 0 }, v = { 0 }, all = { 0 };
	uint8_t ppid[16], cpusvn[16];
	X509_EXTENSION *ext = NULL;

	for (int i = 0; i < 16; i++) {
		ppid[i] = (uint8_t)(0xa0 + i);
		cpusvn[i] = o->comp_svn[i];
	}
	tlv(&v, 0x04, ppid, 16);
	pair(&items, (const uint8_t[]){ 1 }, 1, &v);
	for (uint8_t k = 1; k <= 18; k++) {
		buf_reset(&v);
		if (k <= 16)
			der_int(&v, o->comp_svn[k - 1]);
		else if (k == 17)
			der_int(&v, o->pcesvn);
		else
			tlv(&v, 0x04, cpusvn, 16);
		pair(&tcb, (const uint8_t[]){ 2, k }, 2, &v);
	}
	buf_reset(&v);
	tlv(&v, 0x30, tcb.data, tcb.len);
	pair(&items, (const uint8_t[]){ 2 }, 1, &v);
	buf_reset(&v);
	tlv(&v, 0x04, o->pceid, 2);
	pair(&items, (const uint8_t[]){ 3 }, 1, &v);
	buf_reset(&v);
	tlv(&v, 0x04, o->fmspc, 6);
	pair(&items, (const uint8_t[]){ 4 }, 1, &v);
	buf_reset(&v);
	tlv(&v, 0x0a, (const uint8_t[]){ 0 }, 1);
	pair(&items, (const uint8_t[]){ 5 }, 1, &v);
	tlv(&all, 0x30, items.data, items.len);

	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	if (os && obj && ASN1_OCTET_STRING_set(os, all.data, (int)all.len))
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	buf_free(&items);
	buf_free(&tcb);
	buf_free(&v);
	buf_free(&all);
	return ext;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -1;
	int ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

X509 *gen_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
	       EVP_PKEY *issuer_key, long serial, int64_t nb, int64_t na,
	       bool ca, const struct gen_pck_opts *sgx_ext)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	bool ok = x && name;

	ok = ok && X509_set_version(x, 2) &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"Atoll Test",
					-1, -1, 0) &&
	     X509_set_subject_name(x, name) &&
	     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) :
					      name) &&
	     ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) &&
	     ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) &&
	     X509_set_pubkey(x, key);
	ok = ok && add_ext(x, issuer, NID_basic_constraints,
			   ca ? "critical,CA:TRUE" : "critical,CA:FALSE") == 0 &&
	     add_ext(x, issuer, NID_key_usage,
		     ca ? "critical,keyCertSign,cRLSign" :
			  "critical,digitalSignature,nonRepudiation") == 0 &&
	     add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, issuer, NID_authority_key_identifier,
		     "keyid:always") == 0;
	if (ok && sgx_ext && !sgx_ext->omit_sgx_ext) {
		X509_EXTENSION *e = sgx_extension(sgx_ext);
		ok = e && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	ok = ok && X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		ERR_print_errors_fp(stderr);
		X509_free(x);
		return NULL;
	}
	return x;
}

int gen_pki_init(struct gen_pki *p, const struct gen_pck_opts *o,
		 const char *root_cn)
{
	uint8_t fp[32];
	unsigned int n = 0;

	memset(p, 0, sizeof(*p));
	if (o)
		p->pck_opts = *o;
	else
		gen_pck_defaults(&p->pck_opts);
	p->root_key = gen_key();
	p->ca_key = gen_key();
	p->pck_key = gen_key();
	p->tcb_key = gen_key();
	if (!p->root_key || !p->ca_key || !p->pck_key || !p->tcb_key)
		return -1;
	p->root = gen_cert(p->root_key, root_cn ? root_cn : "Atoll Test SGX Root CA",
			   NULL, NULL, 1, T_2020, T_2049, true, NULL);
	if (!p->root)
		return -1;
	p->ca = gen_cert(p->ca_key, "Atoll Test SGX PCK Processor CA", p->root,
			 p->root_key, 2, T_2020, T_2040, true, NULL);
	p->tcb = gen_cert(p->tcb_key, "Atoll Test SGX TCB Signing", p->root,
			  p->root_key, 3, T_2024, T_2032, false, NULL);
	if (!p->ca || !p->tcb)
		return -1;
	p->pck = gen_cert(p->pck_key, p->pck_opts.cn, p->ca, p->ca_key,
			  p->pck_opts.serial, p->pck_opts.not_before,
			  p->pck_opts.not_after, false, &p->pck_opts);
	if (!p->pck || X509_digest(p->root, EVP_sha256(), fp, &n) != 1)
		return -1;
	enc_hex_encode(fp, 32, p->root_fp_hex);
	return 0;
}

void gen_pki_free(struct gen_pki *p)
{
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->pck_key);
	EVP_PKEY_free(p->tcb_key);
	X509_free(p->root);
	X509_free(p->ca);
	X509_free(p->pck);
	X509_free(p->tcb);
	memset(p, 0, sizeof(*p));
}

char *gen_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	long n;

	if (b && PEM_write_bio_X509(b, x)) {
		n = BIO_get_mem_data(b, &p);
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, p, (size_t)n);
			out[n] = 0;
		}
	}
	BIO_free(b);
	return out;
}

uint8_t *gen_der(X509 *x, size_t *ret_len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);
	uint8_t *out;

	if (n <= 0)
		return NULL;
	out = malloc((size_t)n);
	if (out)
		memcpy(out, d, (size_t)n);
	OPENSSL_free(d);
	*ret_len = (size_t)n;
	return out;
}

int gen_sign_raw(EVP_PKEY *key, const void *msg, size_t n, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t dl = sizeof(der);
	int r = -1;

	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &dl, msg, n) == 1) {
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
		if (es) {
			const BIGNUM *br, *bs;
			ECDSA_SIG_get0(es, &br, &bs);
			if (BN_bn2binpad(br, sig, 32) == 32 &&
			    BN_bn2binpad(bs, sig + 32, 32) == 32)
				r = 0;
			ECDSA_SIG_free(es);
		}
	}
	EVP_MD_CTX_free(md);
	return r;
}

static int raw_pub(EVP_PKEY *key, uint8_t out[64])
{
	uint8_t pt[65];
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt,
					    sizeof(pt), &n) != 1 ||
	    n != 65)
		return -1;
	memcpy(out, pt + 1, 64);
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

void gen_quote_defaults(struct gen_quote_opts *o, int version, uint32_t tee,
			uint16_t body_type)
{
	uint8_t *b = o->body;

	memset(o, 0, sizeof(*o));
	o->version = version;
	o->tee = tee;
	o->body_type = body_type ? body_type : (tee ? 2 : 1);
	o->qe_isvsvn = 8;
	o->qe_isvprodid = tee ? 2 : 1;
	memset(o->qe_mrsigner, 0x8c, 32);
	o->qe_attributes[0] = 0x11;
	o->qe_auth_len = 32;
	o->cert_type = 5;
	if (!tee) {
		memcpy(b, (const uint8_t[]){ 5, 5, 2, 2, 4, 1, 0, 3 }, 8);
		b[48] = 0x05;        /* INIT | MODE64 */
		b[56] = 0x07;        /* XFRM */
		memset(b + 64, 0x11, 32);  /* MRENCLAVE */
		memset(b + 128, 0x22, 32); /* MRSIGNER */
		put16(b + 256, 7);         /* ISVPRODID */
		put16(b + 258, 3);         /* ISVSVN */
		for (int i = 0; i < 64; i++)
			b[320 + i] = (uint8_t)i;
		return;
	}
	memcpy(b, (const uint8_t[]){ 4, 1, 2 }, 3); /* TEE_TCB_SVN */
	memset(b + 16, 0x44, 48);                    /* MRSEAM */
	b[120 + 3] = 0x10;                           /* SEPT_VE_DISABLE */
	b[128] = 0xe7;                               /* XFAM */
	b[129] = 0x02;
	memset(b + 136, 0x33, 48);                   /* MRTD */
	memset(b + 184, 0x55, 48);
	memset(b + 232, 0x66, 48);
	memset(b + 280, 0x77, 48);
	for (int r = 0; r < 4; r++)
		memset(b + 328 + 48 * r, 0xa0 + r, 48);
	for (int i = 0; i < 64; i++)
		b[520 + i] = (uint8_t)(0x80 + i);
	if (o->body_type == 3)
		memcpy(b + 584, (const uint8_t[]){ 4, 1, 2 }, 3);
}

static size_t body_len(uint16_t type)
{
	return type == 1 ? 384 : type == 2 ? 584 : 648;
}

static int chain_bytes(const struct gen_pki *p, const struct gen_quote_opts *o,
		       struct buf *out)
{
	X509 *certs[3];
	size_t n = 0;

	X509 *leaf = o->pck_override ? o->pck_override : p->pck;
	if (o->root_first && !o->omit_root)
		certs[n++] = p->root;
	certs[n++] = leaf;
	if (!o->omit_ca)
		certs[n++] = p->ca;
	if (!o->root_first && !o->omit_root)
		certs[n++] = p->root;
	for (size_t i = 0; i < n; i++) {
		if (o->der_chain) {
			size_t len;
			uint8_t *d = gen_der(certs[i], &len);
			if (!d)
				return -1;
			buf_append(out, d, len);
			free(d);
		} else {
			char *s = gen_pem(certs[i]);
			if (!s)
				return -1;
			buf_puts(out, s);
			free(s);
		}
	}
	/* Quoting libraries end the PEM list with a NUL. */
	if (!o->der_chain)
		buf_putc(out, 0);
	return 0;
}

int gen_quote(const struct gen_pki *p, const struct gen_quote_opts *o,
	      uint8_t **ret, size_t *ret_len, struct gen_offsets *ret_off)
{
	struct buf q = { 0 }, cert = { 0 }, qe = { 0 };
	struct gen_offsets off = { 0 };
	uint8_t hdr[48] = { 0 }, ak[64], rep[384] = { 0 }, sig[64], h[32];
	uint8_t auth[512];
	EVP_PKEY *akey = gen_key();
	size_t blen = body_len(o->body_type);
	int r = -1;

	if (!akey || raw_pub(akey, ak) < 0 || o->qe_auth_len > sizeof(auth))
		goto out;
	put16(hdr, (uint16_t)o->version);
	put16(hdr + 2, 2);
	put32(hdr + 4, o->tee);
	put16(hdr + 8, o->qe_isvsvn);
	put16(hdr + 10, p->pck_opts.pcesvn);
	memcpy(hdr + 12, intel_qe_vendor, 16);
	for (int i = 0; i < 20; i++)
		hdr[28 + i] = (uint8_t)(i + 1);
	buf_append(&q, hdr, 48);
	if (o->version == 5) {
		uint8_t d[6];
		put16(d, o->body_type);
		put32(d + 2, (uint32_t)blen);
		buf_append(&q, d, 6);
	}
	off.body = q.len;
	off.body_len = blen;
	buf_append(&q, o->body, blen);
	if (gen_sign_raw(akey, q.data, q.len, sig) < 0)
		goto out;

	for (size_t i = 0; i < o->qe_auth_len; i++)
		auth[i] = (uint8_t)(0x30 + i);
	memcpy(rep, p->pck_opts.comp_svn, 16);
	memcpy(rep + 16, o->qe_miscselect, 4);
	memcpy(rep + 48, o->qe_attributes, 16);
	memset(rep + 64, 0x99, 32);
	memcpy(rep + 128, o->qe_mrsigner, 32);
	put16(rep + 256, o->qe_isvprodid);
	put16(rep + 258, o->qe_isvsvn);
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int hl = 0;
		int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestUpdate(md, ak, 64) == 1 &&
			 EVP_DigestUpdate(md, auth, o->qe_auth_len) == 1 &&
			 EVP_DigestFinal_ex(md, h, &hl) == 1;
		EVP_MD_CTX_free(md);
		if (!ok)
			goto out;
	}
	memcpy(rep + 320, h, 32);
	uint8_t qsig[64];
	if (gen_sign_raw(o->qe_key_override ? o->qe_key_override : p->pck_key,
			 rep, 384, qsig) < 0)
		goto out;

	if (o->cert_type == 5) {
		if (chain_bytes(p, o, &cert) < 0)
			goto out;
	} else {
		/* PPID-style data: the verifier needs the PCK elsewhere. */
		for (int i = 0; i < 36; i++)
			buf_putc(&cert, (char)(0xc0 + i));
	}
	/* QE report, its signature, auth data, certification data. */
	buf_append(&qe, rep, 384);
	buf_append(&qe, qsig, 64);
	uint8_t l2[2], l6[6];
	put16(l2, (uint16_t)o->qe_auth_len);
	buf_append(&qe, l2, 2);
	buf_append(&qe, auth, o->qe_auth_len);
	put16(l6, o->cert_type);
	put32(l6 + 2, (uint32_t)cert.len);
	buf_append(&qe, l6, 6);
	buf_append(&qe, cert.data, cert.len);

	size_t sig_len = 128 + (o->version == 3 ? 0 : 6) + qe.len;
	uint8_t l4[4];
	off.sig_len = q.len;
	put32(l4, (uint32_t)sig_len);
	buf_append(&q, l4, 4);
	off.signature = q.len;
	buf_append(&q, sig, 64);
	off.attest_key = q.len;
	buf_append(&q, ak, 64);
	if (o->version != 3) {
		off.outer_cert = q.len;
		put16(l6, 6);
		put32(l6 + 2, (uint32_t)qe.len);
		buf_append(&q, l6, 6);
	}
	off.qe_report = q.len;
	off.qe_report_sig = q.len + 384;
	off.qe_auth_len = q.len + 448;
	off.cert_hdr = q.len + 450 + o->qe_auth_len;
	off.cert_data = off.cert_hdr + 6;
	buf_append(&q, qe.data, qe.len);
	off.end = q.len;
	for (size_t i = 0; i < o->trailing; i++)
		buf_putc(&q, 0);
	if (!q.data)
		goto out;
	*ret_len = q.len;
	*ret = buf_steal(&q, NULL);
	if (ret_off)
		*ret_off = off;
	r = 0;
out:
	EVP_PKEY_free(akey);
	buf_free(&q);
	buf_free(&cert);
	buf_free(&qe);
	return r;
}

void gen_tcb_info_defaults(struct gen_tcb_info *t, bool tdx)
{
	static const uint8_t fmspc[6] = { 0x00, 0x90, 0x6e, 0xa1, 0x00, 0x00 };

	memset(t, 0, sizeof(*t));
	t->version = 3;
	t->id = tdx ? "TDX" : "SGX";
	memcpy(t->fmspc, fmspc, 6);
	t->issue = "2025-05-20T00:00:00Z";
	t->next = "2025-06-20T00:00:00Z";
	t->eval = 17;
	struct gen_level *l = t->levels;
	if (!tdx) {
		memcpy(l[0].sgx, (const uint8_t[]){ 6, 6, 2, 2, 4, 1, 0, 3 }, 8);
		l[0].pcesvn = 11;
		l[0].status = "UpToDate";
		memcpy(l[1].sgx, (const uint8_t[]){ 5, 5, 2, 2, 4, 1, 0, 3 }, 8);
		l[1].pcesvn = 11;
		l[1].status = "SWHardeningNeeded";
		l[1].advisories = "INTEL-SA-00615";
		memcpy(l[2].sgx, (const uint8_t[]){ 5, 5, 2, 2, 4, 1, 0, 0 }, 8);
		l[2].pcesvn = 10;
		l[2].status = "OutOfDate";
		l[2].advisories = "INTEL-SA-00289,INTEL-SA-00615";
		t->n_levels = 3;
		return;
	}
	memcpy(l[0].sgx, (const uint8_t[]){ 5, 5, 2, 2, 4, 1, 0, 3 }, 8);
	l[0].pcesvn = 11;
	memcpy(l[0].tdx, (const uint8_t[]){ 4, 0, 2 }, 3);
	l[0].status = "UpToDate";
	memcpy(l[1].sgx, (const uint8_t[]){ 5, 5, 2, 2, 4, 1, 0, 3 }, 8);
	l[1].pcesvn = 11;
	memcpy(l[1].tdx, (const uint8_t[]){ 2, 0, 1 }, 3);
	l[1].status = "OutOfDate";
	l[1].advisories = "INTEL-SA-01036";
	t->n_levels = 2;
	t->modules[0].id = "TDX_01";
	t->modules[0].levels[0] = (struct gen_isv_level){ 4, "UpToDate", NULL };
	t->modules[0].levels[1] =
		(struct gen_isv_level){ 2, "OutOfDate", "INTEL-SA-01099" };
	t->modules[0].n_levels = 2;
	t->n_modules = 1;
}

void gen_qe_identity_defaults(struct gen_qe_identity *q, bool tdx)
{
	memset(q, 0, sizeof(*q));
	q->id = tdx ? "TD_QE" : "QE";
	memset(q->mrsigner, 0x8c, 32);
	q->isvprodid = tdx ? 2 : 1;
	q->attributes[0] = 0x11;
	memset(q->attributes_mask, 0xff, 8);
	q->attributes_mask[0] = 0xfb;
	memset(q->miscselect_mask, 0xff, 4);
	q->issue = "2025-05-20T00:00:00Z";
	q->next = "2025-06-20T00:00:00Z";
	q->eval = 17;
	q->levels[0] = (struct gen_isv_level){ 8, "UpToDate", NULL };
	q->levels[1] = (struct gen_isv_level){ 6, "OutOfDate", "INTEL-SA-00615" };
	q->n_levels = 2;
}

static void hex_field(struct buf *b, const char *key, const uint8_t *p, size_t n,
		      bool comma)
{
	char *h = enc_hex_dup(p, n);

	for (char *c = h; c && *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	buf_printf(b, "%s\"%s\":\"%s\"", comma ? "," : "", key, h ? h : "");
	free(h);
}

static void advisories(struct buf *b, const char *list)
{
	if (!list)
		return;
	buf_puts(b, ",\"advisoryIDs\":[");
	const char *p = list;
	for (bool first = true; *p; first = false) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		buf_printf(b, "%s\"%.*s\"", first ? "" : ",", (int)n, p);
		p += n + (c ? 1 : 0);
	}
	buf_putc(b, ']');
}

static void isv_levels(struct buf *b, const struct gen_isv_level *l, size_t n)
{
	buf_puts(b, "\"tcbLevels\":[");
	for (size_t i = 0; i < n; i++) {
		buf_printf(b,
			   "%s{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"",
			   i ? "," : "", l[i].isvsvn, l[i].status);
		advisories(b, l[i].advisories);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

static void components(struct buf *b, const char *key, const uint8_t *svn)
{
	buf_printf(b, "\"%s\":[", key);
	for (int i = 0; i < 16; i++)
		buf_printf(b, "%s{\"svn\":%u%s}", i ? "," : "", svn[i],
			   i == 0 ? ",\"category\":\"BIOS\"" : "");
	buf_putc(b, ']');
}

char *gen_tcb_info_body(const struct gen_tcb_info *t)
{
	struct buf b = { 0 };
	static const uint8_t zero8[8] = { 0 };
	static const uint8_t ff8[8] = { 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff };
	bool tdx = t->id && strcmp(t->id, "TDX") == 0;

	buf_putc(&b, '{');
	if (t->id)
		buf_printf(&b, "\"id\":\"%s\",", t->id);
	buf_printf(&b, "\"version\":%d,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\"",
		   t->version, t->issue, t->next);
	hex_field(&b, "fmspc", t->fmspc, 6, true);
	hex_field(&b, "pceId", t->pceid, 2, true);
	buf_printf(&b, ",\"tcbType\":0,\"tcbEvaluationDataNumber\":%u", t->eval);
	if (tdx) {
		buf_puts(&b, ",\"tdxModule\":{");
		hex_field(&b, "mrsigner", t->module_mrsigner, 48, false);
		hex_field(&b, "attributes", zero8, 8, true);
		hex_field(&b, "attributesMask", ff8, 8, true);
		buf_puts(&b, "},\"tdxModuleIdentities\":[");
		for (size_t i = 0; i < t->n_modules; i++) {
			const struct gen_module *m = &t->modules[i];
			buf_printf(&b, "%s{\"id\":\"%s\"", i ? "," : "", m->id);
			hex_field(&b, "mrsigner", m->mrsigner, 48, true);
			hex_field(&b, "attributes", zero8, 8, true);
			hex_field(&b, "attributesMask", ff8, 8, true);
			buf_putc(&b, ',');
			isv_levels(&b, m->levels, m->n_levels);
			buf_putc(&b, '}');
		}
		buf_putc(&b, ']');
	}
	buf_puts(&b, ",\"tcbLevels\":[");
	for (size_t i = 0; i < t->n_levels; i++) {
		const struct gen_level *l = &t->levels[i];
		buf_printf(&b, "%s{\"tcb\":{", i ? "," : "");
		if (t->version == 2) {
			for (int k = 0; k < 16; k++)
				buf_printf(&b, "\"sgxtcbcomp%02dsvn\":%u,", k + 1,
					   l->sgx[k]);
		} else {
			components(&b, "sgxtcbcomponents", l->sgx);
			buf_putc(&b, ',');
		}
		buf_printf(&b, "\"pcesvn\":%u", l->pcesvn);
		if (tdx) {
			buf_putc(&b, ',');
			components(&b, "tdxtcbcomponents", l->tdx);
		}
		buf_printf(&b, "},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"",
			   l->status);
		advisories(&b, l->advisories);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	return buf_cstr(&b) ? (char *)buf_steal(&b, NULL) : NULL;
}

char *gen_qe_identity_body(const struct gen_qe_identity *q)
{
	struct buf b = { 0 };

	buf_printf(&b, "{\"id\":\"%s\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\",\"tcbEvaluationDataNumber\":%u",
		   q->id, q->issue, q->next, q->eval);
	hex_field(&b, "miscselect", q->miscselect, 4, true);
	hex_field(&b, "miscselectMask", q->miscselect_mask, 4, true);
	hex_field(&b, "attributes", q->attributes, 16, true);
	hex_field(&b, "attributesMask", q->attributes_mask, 16, true);
	hex_field(&b, "mrsigner", q->mrsigner, 32, true);
	buf_printf(&b, ",\"isvprodid\":%u,", q->isvprodid);
	isv_levels(&b, q->levels, q->n_levels);
	buf_putc(&b, '}');
	return buf_cstr(&b) ? (char *)buf_steal(&b, NULL) : NULL;
}

char *gen_pcs_json(const char *member, const char *body, EVP_PKEY *key)
{
	uint8_t sig[64];
	char hex[129];
	struct buf b = { 0 };

	if (gen_sign_raw(key, body, strlen(body), sig) < 0)
		return NULL;
	enc_hex_encode(sig, 64, hex);
	buf_printf(&b, "{\"%s\":%s,\"signature\":\"%s\"}", member, body, hex);
	return buf_cstr(&b) ? (char *)buf_steal(&b, NULL) : NULL;
}

uint8_t *gen_crl(X509 *issuer, EVP_PKEY *key, const long *serials, size_t n,
		 int64_t this_update, int64_t next_update, size_t *ret_len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)this_update);
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)next_update);
	unsigned char *der = NULL;
	uint8_t *out = NULL;
	bool ok = crl && tu && nu && X509_CRL_set_version(crl, 1) &&
		  X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
		  X509_CRL_set1_lastUpdate(crl, tu) &&
		  X509_CRL_set1_nextUpdate(crl, nu);

	for (size_t i = 0; ok && i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ok = r && s && ASN1_INTEGER_set(s, serials[i]) &&
		     X509_REVOKED_set_serialNumber(r, s) &&
		     X509_REVOKED_set_revocationDate(r, tu) &&
		     X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
		if (!ok)
			X509_REVOKED_free(r);
	}
	ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
	int len = ok ? i2d_X509_CRL(crl, &der) : -1;
	if (len > 0) {
		out = malloc((size_t)len);
		if (out) {
			memcpy(out, der, (size_t)len);
			*ret_len = (size_t)len;
		}
	}
	OPENSSL_free(der);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	return out;
}

void gen_collateral_add(struct gen_collateral *c, void *data, size_t len)
{
	if (c->n < sizeof(c->data) / sizeof(*c->data) && data) {
		c->data[c->n] = data;
		c->len[c->n] = len;
		c->n++;
	} else {
		free(data);
	}
}

int gen_collateral(const struct gen_pki *p, const struct gen_tcb_info *ti,
		   const struct gen_qe_identity *qi, struct gen_collateral *ret)
{
	struct gen_collateral c = { 0 };
	char *body, *doc, *a, *b;
	size_t len;

	if (ti) {
		body = gen_tcb_info_body(ti);
		doc = body ? gen_pcs_json("tcbInfo", body, p->tcb_key) : NULL;
		free(body);
		if (!doc)
			goto fail;
		gen_collateral_add(&c, doc, strlen(doc));
	}
	if (qi) {
		body = gen_qe_identity_body(qi);
		doc = body ? gen_pcs_json("enclaveIdentity", body, p->tcb_key) :
			     NULL;
		free(body);
		if (!doc)
			goto fail;
		gen_collateral_add(&c, doc, strlen(doc));
	}
	a = gen_pem(p->tcb);
	b = gen_pem(p->root);
	if (!a || !b) {
		free(a);
		free(b);
		goto fail;
	}
	doc = malloc(strlen(a) + strlen(b) + 1);
	if (doc) {
		strcpy(doc, a);
		strcat(doc, b);
		gen_collateral_add(&c, doc, strlen(doc));
	}
	free(a);
	free(b);
	uint8_t *crl = gen_crl(p->ca, p->ca_key, NULL, 0, GEN_T0 - 86400 * 10,
			       GEN_T0 + 86400 * 20, &len);
	gen_collateral_add(&c, crl, len);
	crl = gen_crl(p->root, p->root_key, NULL, 0, GEN_T0 - 86400 * 10,
		      GEN_T0 + 86400 * 300, &len);
	gen_collateral_add(&c, crl, len);
	if (c.n != (ti ? 1u : 0u) + (qi ? 1u : 0u) + 3u)
		goto fail;
	*ret = c;
	return 0;
fail:
	gen_collateral_free(&c);
	return -1;
}

void gen_collateral_free(struct gen_collateral *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	memset(c, 0, sizeof(*c));
}
