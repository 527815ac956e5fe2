/* Helpers on one certificate or key: SHA-256 fingerprint, validity times,
 * subject names, extension lookup, EC group check, and raw ECDSA signature
 * checks (dc_x509.h). Collateral parsing is in dc_collateral.c, pinned
 * chain verification in dc_chain.c. */
#include "dc_x509.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "dc_util.h"

int dc_cert_fingerprint(X509 *cert, uint8_t out[32])
{
	unsigned int n = 0;

	if (!X509_digest(cert, EVP_sha256(), out, &n) || n != 32)
		return -EINVAL;
	return 0;
}

int dc_asn1_time_to_unix(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

void dc_cert_name(X509 *cert, char *out, size_t out_size)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

	if (idx >= 0) {
		ASN1_STRING *s =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
		int n = ASN1_STRING_length(s);

		snprintf(out, out_size, "CN=%.*s", n > 64 ? 64 : n,
			 (const char *)ASN1_STRING_get0_data(s));
		return;
	}
	X509_NAME_oneline(name, out, (int)out_size);
}

bool dc_cert_cn_is(X509 *cert, const char *cn)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s;

	if (idx < 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return (size_t)ASN1_STRING_length(s) == strlen(cn) &&
	       memcmp(ASN1_STRING_get0_data(s), cn, strlen(cn)) == 0;
}

bool dc_key_is_ec(EVP_PKEY *k, const char *group)
{
	char name[64];
	size_t n = 0;

	return k && EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
					      name, sizeof(name), &n) &&
	       strcmp(name, group) == 0;
}

int dc_cert_ext(X509 *cert, const char *oid, const uint8_t **ret_data,
		size_t *ret_len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx, again;
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *v;

	if (!obj)
		return 0;
	idx = X509_get_ext_by_OBJ(cert, obj, -1);
	again = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return 0;
	if (again >= 0)
		return -EEXIST;
	ext = X509_get_ext(cert, idx);
	v = X509_EXTENSION_get_data(ext);
	*ret_data = ASN1_STRING_get0_data(v);
	*ret_len = (size_t)ASN1_STRING_length(v);
	return 1;
}

int dc_ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg,
			size_t msg_len, const uint8_t *sig, size_t sig_len,
			bool little_endian, atoll_err *err)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *mctx = NULL;
	size_t half = sig_len / 2;
	int der_len, ok, status;

	if (sig_len == 0 || sig_len % 2)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "ECDSA signature of odd length %zu", sig_len);
	if (little_endian) {
		r = BN_lebin2bn(sig, (int)half, NULL);
		s = BN_lebin2bn(sig + half, (int)half, NULL);
	} else {
		r = BN_bin2bn(sig, (int)half, NULL);
		s = BN_bin2bn(sig + half, (int)half, NULL);
	}
	es = ECDSA_SIG_new();
	if (!r || !s || !es) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	if (!ECDSA_SIG_set0(es, r, s)) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	r = s = NULL;
	der_len = i2d_ECDSA_SIG(es, &der);
	mctx = EVP_MD_CTX_new();
	if (der_len <= 0 || !mctx) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	ok = EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1 &&
	     EVP_DigestVerify(mctx, der, (size_t)der_len, msg, msg_len) == 1;
	status = ok || dc_fuzz_accept_signature() ? ATOLL_OK :
		      dc_err(err, ATOLL_E_SIGNATURE,
			     "ECDSA signature does not verify");
out_free:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return status;
}
