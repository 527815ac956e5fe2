/* Certificates: loading PEM or DER bundles, building a chain from a pool up
 * to a root pinned by SHA-256 fingerprint, verifying it "as of" a time
 * with OpenSSL (memoized in the verifier's cache), and CRL checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dc_x509.h"
#include "dcap.h"
#include "util/enc.h"
#include "util/timeutil.h"

#define MAX_DEPTH 8

int64_t dcap_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	return (int64_t)timegm(&tm);
}

void dcap_cert_cn(X509 *x, char *out, size_t out_size)
{
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	size_t n = 0;

	if (out_size == 0)
		return;
	if (i >= 0) {
		const ASN1_STRING *s =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		const unsigned char *p = ASN1_STRING_get0_data(s);
		int len = ASN1_STRING_length(s);
		for (int j = 0; j < len && n + 1 < out_size; j++)
			out[n++] = (p[j] >= 0x20 && p[j] < 0x7f) ? (char)p[j] : '?';
	}
	if (n == 0 && out_size > 1)
		out[n++] = '?';
	out[n] = '\0';
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	time_rfc3339_format(t * 1000, out, n);
}

int dcap_certs_add(STACK_OF(X509) *out, X509 *x)
{
	for (int i = 0; i < sk_X509_num(out); i++)
		if (X509_cmp(sk_X509_value(out, i), x) == 0)
			return 0;
	if (!X509_up_ref(x))
		return -1;
	if (!sk_X509_push(out, x)) {
		X509_free(x);
		return -1;
	}
	return 0;
}

static bool is_pem(const uint8_t *d, size_t len)
{
	size_t i = 0;

	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' ||
			   d[i] == '\n'))
		i++;
	return len - i >= 10 && memcmp(d + i, "-----BEGIN", 10) == 0;
}

int dcap_pem_each(const uint8_t *data, size_t len, dcap_pem_fn fn,
		  void *userdata)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int r = 0;

	if (!bio)
		return -ENOMEM;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;

		if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
			unsigned long e = ERR_peek_last_error();
			/* Running out of PEM blocks is the normal end. */
			if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
				r = -EBADMSG;
			break;
		}
		r = fn(userdata, name, der, (size_t)der_len);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (r != 0)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

struct pem_certs {
	struct dcap_x509_cache *xc;
	STACK_OF(X509) *out;
	size_t *count;
};

static int pem_cert(void *userdata, const char *name, const uint8_t *der,
		    size_t len)
{
	struct pem_certs *pc = userdata;
	X509 *x;
	int r = 0;

	if (strcmp(name, "CERTIFICATE") != 0)
		return 0;
	x = dcap_x509_parse(pc->xc, der, len);
	if (!x || dcap_certs_add(pc->out, x) < 0)
		r = -EBADMSG;
	else
		(*pc->count)++;
	X509_free(x);
	return r;
}

static int load_pem(struct dcap_x509_cache *xc, const uint8_t *data,
		    size_t len, STACK_OF(X509) *out, size_t *count)
{
	struct pem_certs pc = { xc, out, count };

	return dcap_pem_each(data, len, pem_cert, &pc) != 0 ? -1 : 0;
}

static int load_der(struct dcap_x509_cache *xc, const uint8_t *data,
		    size_t len, STACK_OF(X509) *out, size_t *count)
{
	struct der in = { data, len };

	while (in.len > 0) {
		const uint8_t *start = in.p;
		struct der body;
		uint8_t tag;
		X509 *x = NULL;

		/* The outer SEQUENCE bounds each certificate. */
		if (der_read(&in, &tag, &body) == 0 && tag == 0x30)
			x = dcap_x509_parse(xc, start, (size_t)(in.p - start));
		if (!x) {
			/* Zero padding after the last certificate is fine. */
			for (const uint8_t *z = start; z < data + len; z++)
				if (*z != 0)
					return -1;
			break;
		}
		int r = dcap_certs_add(out, x);
		X509_free(x);
		if (r < 0)
			return -1;
		(*count)++;
	}
	return 0;
}

int dcap_certs_load(struct dcap_x509_cache *xc, const uint8_t *data,
		    size_t len, STACK_OF(X509) *out, atoll_err *err)
{
	size_t count = 0;
	int r;

	if (len > INT32_MAX)
		return dc_err(err, ATOLL_E_FORMAT, "certificate data too large");
	if (is_pem(data, len))
		r = load_pem(xc, data, len, out, &count);
	else
		r = load_der(xc, data, len, out, &count);
	if (r < 0 || count == 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "certificate data (%zu bytes) is not a PEM or DER certificate list",
			      len);
	return ATOLL_OK;
}

static bool fingerprint(X509 *x, uint8_t out[32])
{
	unsigned int n = 0;

	return X509_digest(x, EVP_sha256(), out, &n) == 1 && n == 32;
}

static bool pinned(const struct dcap_verifier *v, const uint8_t fp[32])
{
	for (size_t i = 0; i < v->n_pins; i++)
		if (memcmp(v->pins[i], fp, 32) == 0)
			return true;
	return false;
}

static bool in_stack(STACK_OF(X509) *s, X509 *x)
{
	for (int i = 0; i < sk_X509_num(s); i++)
		if (sk_X509_value(s, i) == x)
			return true;
	return false;
}

static bool valid_at(X509 *x, int64_t t)
{
	int64_t nb = dcap_asn1_time(X509_get0_notBefore(x));
	int64_t na = dcap_asn1_time(X509_get0_notAfter(x));

	return nb >= 0 && na >= 0 && t >= nb && t <= na;
}

/* The issuer of cur from pool, preferring one valid at t (Intel has
 * reissued certificates under the same name and key). */
static X509 *find_issuer(STACK_OF(X509) *pool, STACK_OF(X509) *chain,
			 X509 *cur, int64_t t)
{
	X509 *fallback = NULL;

	for (int i = 0; i < sk_X509_num(pool); i++) {
		X509 *x = sk_X509_value(pool, i);
		if (x == cur || in_stack(chain, x) ||
		    X509_check_issued(x, cur) != X509_V_OK)
			continue;
		if (valid_at(x, t))
			return x;
		if (!fallback)
			fallback = x;
	}
	return fallback;
}

static int openssl_verify(STACK_OF(X509) *chain, int64_t t, const char *what,
			  atoll_err *err)
{
	int n = sk_X509_num(chain), r = ATOLL_E_INTERNAL;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *leaf = sk_X509_value(chain, 0), *anchor = sk_X509_value(chain, n - 1);

	if (!store || !ctx || !untrusted) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 1; i < n - 1; i++)
		if (!sk_X509_push(untrusted, sk_X509_value(chain, i))) {
			r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
			goto out;
		}
	if (!X509_STORE_add_cert(store, anchor) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
		r = dc_err(err, ATOLL_E_INTERNAL, "cannot set up chain verification");
		goto out;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)t);
	/* The anchor is whatever the fingerprint pins, self-signed or not. */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN |
						   X509_V_FLAG_X509_STRICT);
	dc_fuzz_accept_cert_signatures(ctx);
	if (X509_verify_cert(ctx) == 1) {
		r = ATOLL_OK;
		goto out;
	}
	int e = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	char cn[96], when[40], bound[40] = "?";
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	dcap_cert_cn(cur, cn, sizeof(cn));
	fmt_time(t, when, sizeof(when));
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID: {
		/* Name the certificate's own date, not the verification time. */
		bool expired = e == X509_V_ERR_CERT_HAS_EXPIRED;
		int64_t lim = cur ? dcap_asn1_time(expired ? X509_get0_notAfter(cur)
							  : X509_get0_notBefore(cur))
				  : -1;
		if (lim >= 0)
			fmt_time(lim, bound, sizeof(bound));
		r = dc_err(err, ATOLL_E_EXPIRED,
			   "%s chain: certificate CN=%s %s %s; verification time %s", what, cn,
			   expired ? "expired at" : "is not valid before", bound, when);
		break;
	}
	default:
		r = dc_err(err, ATOLL_E_CHAIN, "%s chain: %s (depth %d, CN=%s)",
			   what, X509_verify_cert_error_string(e), depth, cn);
	}
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}

int dcap_chain_verify(const struct dcap_verifier *v, X509 *leaf,
		      STACK_OF(X509) *pool, int64_t t, const char *what,
		      struct dcap_chain *ret, atoll_err *err)
{
	static const char domain[] = "atoll-dcap-chain";
	struct dcap_chain c = { .not_before = INT64_MIN, .not_after = INT64_MAX };
	uint8_t fp[32], key[32];
	unsigned int klen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	X509 *cur = leaf;
	bool anchored = false;
	char cn[96], hex[65];
	int r;

	c.certs = sk_X509_new_null();
	if (!md || !c.certs || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, domain, sizeof(domain)) != 1) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto fail;
	}
	for (int depth = 0; depth < MAX_DEPTH && !anchored; depth++) {
		if (!X509_up_ref(cur) || !sk_X509_push(c.certs, cur)) {
			r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
			goto fail;
		}
		int64_t nb = dcap_asn1_time(X509_get0_notBefore(cur));
		int64_t na = dcap_asn1_time(X509_get0_notAfter(cur));
		if (nb < 0 || na < 0 || !fingerprint(cur, fp)) {
			dcap_cert_cn(cur, cn, sizeof(cn));
			r = dc_err(err, ATOLL_E_CHAIN,
				   "%s chain: certificate CN=%s has unreadable validity",
				   what, cn);
			goto fail;
		}
		if (nb > c.not_before)
			c.not_before = nb;
		if (na < c.not_after)
			c.not_after = na;
		/* The hash of every certificate's DER: the key is the exact
		 * chain. */
		if (EVP_DigestUpdate(md, fp, sizeof(fp)) != 1) {
			r = dc_err(err, ATOLL_E_INTERNAL, "digest failed");
			goto fail;
		}
		if (pinned(v, fp)) {
			anchored = true;
			break;
		}
		X509 *issuer = find_issuer(pool, c.certs, cur, t);
		if (!issuer) {
			dcap_cert_cn(cur, cn, sizeof(cn));
			if (X509_check_issued(cur, cur) == X509_V_OK) {
				enc_hex_encode(fp, sizeof(fp), hex);
				r = dc_err(err, ATOLL_E_CHAIN,
					   "%s chain ends at self-signed CN=%s (SHA-256 %s), not a pinned root",
					   what, cn, hex);
			} else {
				r = dc_err(err, ATOLL_E_CHAIN,
					   "%s chain: no issuer of CN=%s in the evidence or collateral",
					   what, cn);
			}
			goto fail;
		}
		cur = issuer;
	}
	if (!anchored) {
		r = dc_err(err, ATOLL_E_CHAIN,
			   "%s chain longer than %d certificates", what,
			   MAX_DEPTH);
		goto fail;
	}
	if (EVP_DigestFinal_ex(md, key, &klen) != 1) {
		r = dc_err(err, ATOLL_E_INTERNAL, "digest failed");
		goto fail;
	}
	if (!dcap_cache_check(v->cache, key, t)) {
		r = openssl_verify(c.certs, t, what, err);
		if (r != ATOLL_OK)
			goto fail;
		dcap_cache_put(v->cache, key, c.not_before, c.not_after);
	}
	EVP_MD_CTX_free(md);
	*ret = c;
	return ATOLL_OK;
fail:
	EVP_MD_CTX_free(md);
	dcap_chain_done(&c);
	return r;
}

void dcap_chain_done(struct dcap_chain *c)
{
	if (!c)
		return;
	sk_X509_pop_free(c->certs, X509_free);
	c->certs = NULL;
}

static void serial_hex(X509 *x, char *out, size_t n)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, n, "%s", h ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
}

int dcap_crl_check(const struct dcap_verifier *v, STACK_OF(X509_CRL) *crls,
		   const struct dcap_chain *chain, int64_t t,
		   int64_t *not_before, int64_t *not_after,
		   unsigned *ret_covered, atoll_err *err)
{
	static const char domain[] = "atoll-dcap-crl";
	int n = sk_X509_num(chain->certs);
	unsigned covered = 0;
	int64_t nb = *not_before, na = *not_after;
	char cn[96], sub[96], when[40], serial[80];

	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		X509_NAME *iname = X509_CRL_get_issuer(crl);
		int k;

		for (k = 1; k < n; k++)
			if (X509_NAME_cmp(iname, X509_get_subject_name(
						  sk_X509_value(chain->certs, k))) == 0)
				break;
		if (k >= n)
			continue; /* about another chain */
		X509 *issuer = sk_X509_value(chain->certs, k);
		X509 *subject = sk_X509_value(chain->certs, k - 1);
		dcap_cert_cn(issuer, cn, sizeof(cn));

		uint8_t key[32], d[64];
		unsigned int dl = 0;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		bool keyed = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			     EVP_DigestUpdate(md, domain, sizeof(domain)) == 1 &&
			     X509_CRL_digest(crl, EVP_sha256(), d, &dl) == 1 &&
			     EVP_DigestUpdate(md, d, dl) == 1 &&
			     fingerprint(issuer, d) &&
			     EVP_DigestUpdate(md, d, 32) == 1 &&
			     EVP_DigestFinal_ex(md, key, &dl) == 1;
		EVP_MD_CTX_free(md);
		if (!keyed || !dcap_cache_check(v->cache, key, t)) {
			EVP_PKEY *pk = X509_get0_pubkey(issuer);
			if (!pk || (X509_CRL_verify(crl, pk) != 1 &&
				    !dc_fuzz_accept_signature())) {
				ERR_clear_error();
				return dc_err(err, ATOLL_E_CHAIN,
					      "CRL issued by CN=%s: signature does not verify",
					      cn);
			}
			/* The signature holds at any time; the dates are
			 * checked on every call below. */
			if (keyed)
				dcap_cache_put(v->cache, key, INT64_MIN, INT64_MAX);
		}
		int64_t this_up = dcap_asn1_time(X509_CRL_get0_lastUpdate(crl));
		const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
		int64_t next_up = nu ? dcap_asn1_time(nu) : INT64_MAX;
		if (this_up < 0 || next_up < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "CRL issued by CN=%s has unreadable dates", cn);
		if (t < this_up || t > next_up) {
			char bound[40];
			fmt_time(t, when, sizeof(when));
			fmt_time(t < this_up ? this_up : next_up, bound, sizeof(bound));
			return dc_err(err, ATOLL_E_EXPIRED,
				      "CRL issued by CN=%s is %s %s; verification time %s", cn,
				      t < this_up ? "not yet issued: thisUpdate" : "past its nextUpdate",
				      bound, when);
		}
		if (this_up > nb)
			nb = this_up;
		if (next_up < na)
			na = next_up;

		X509_REVOKED *rev = NULL;
		if (X509_CRL_get0_by_serial(crl, &rev,
					    X509_get0_serialNumber(subject)) == 1) {
			dcap_cert_cn(subject, sub, sizeof(sub));
			serial_hex(subject, serial, sizeof(serial));
			return dc_err(err, ATOLL_E_CHAIN,
				      "certificate CN=%s serial %s is revoked by the CRL of CN=%s",
				      sub, serial, cn);
		}
		covered |= 1u << (k - 1);
	}
	ERR_clear_error();
	*not_before = nb;
	*not_after = na;
	*ret_covered = covered;
	return ATOLL_OK;
}
