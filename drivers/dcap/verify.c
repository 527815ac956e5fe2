/* The DCAP verification flow shared by the sgx and tdx drivers, in the
 * order that makes each tampering show up as its own error class:
 * parse (FORMAT), PCK chain and CRLs (CHAIN/EXPIRED), QE report signature
 * (SIGNATURE), QE binding of the attestation key (BINDING), quote
 * signature (SIGNATURE), collateral signatures and dates
 * (SIGNATURE/CHAIN/EXPIRED), TCB status (TCB), expected report data
 * (BINDING). */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "dcap.h"
#include "util/enc.h"
#include "util/timeutil.h"

static bool cn_has(X509 *x, const char *needle)
{
	char cn[128];

	dcap_cert_cn(x, cn, sizeof(cn));
	return strstr(cn, needle) != NULL;
}

static void narrow(int64_t *nb, int64_t *na, int64_t b, int64_t a)
{
	if (b > *nb)
		*nb = b;
	if (a < *na)
		*na = a;
}

static bool sha256(const void *a, size_t alen, const void *b, size_t blen,
		   const void *c, size_t clen, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(md, a, alen) == 1 &&
		  EVP_DigestUpdate(md, b, blen) == 1 &&
		  EVP_DigestUpdate(md, c, clen) == 1 &&
		  EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32;

	EVP_MD_CTX_free(md);
	return ok;
}

/* Does sig over body verify with x's key? Memoized: the answer never
 * changes for the same bytes. */
static bool json_sig_ok(const struct dcap_verifier *v, X509 *x,
			const struct dcap_json_item *it, const uint8_t sig[64])
{
	static const char domain[] = "atoll-dcap-json";
	uint8_t fp[32], key[32], h[32];
	unsigned int n = 0;
	bool keyed = X509_digest(x, EVP_sha256(), fp, &n) == 1 &&
		     sha256(it->body, it->body_len, sig, 64, fp, 32, h) &&
		     sha256(domain, sizeof(domain), h, 32, NULL, 0, key);

	if (keyed && dcap_cache_check(v->cache, key, 0))
		return true;
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (!pk || dcap_ecdsa_verify(pk, (const uint8_t *)it->body,
				     it->body_len, sig) != 1)
		return false;
	if (keyed)
		dcap_cache_put(v->cache, key, INT64_MIN, INT64_MAX);
	return true;
}

/* Check a TCB Info or QE Identity signature: by a "TCB Signing"
 * certificate of the collateral whose chain leads to a pinned root and is
 * not revoked. */
static int verify_signed_json(const struct dcap_verifier *v,
			      const struct dcap_collateral *c,
			      const struct dcap_json_item *it, int64_t t,
			      const char *what, int64_t *nb, int64_t *na,
			      unsigned *ret_crl_ok, atoll_err *err)
{
	int signers = 0, chain_err = ATOLL_OK;
	bool sig_seen = false;
	atoll_err chain_msg = { { 0 } };

	for (int i = 0; i < sk_X509_num(c->certs); i++) {
		X509 *x = sk_X509_value(c->certs, i);
		bool ok = false;

		if (!cn_has(x, "TCB Signing"))
			continue;
		signers++;
		if (it->has_sig)
			ok = json_sig_ok(v, x, it, it->sig);
		for (size_t s = 0; !it->has_sig && !ok && s < c->n_sigs; s++)
			ok = json_sig_ok(v, x, it, c->sigs[s]);
		if (!ok)
			continue;
		sig_seen = true;

		struct dcap_chain ch;
		int r = dcap_chain_verify(v, x, c->certs, t, what, &ch,
					  &chain_msg);
		if (r != ATOLL_OK) {
			chain_err = r;
			continue;
		}
		int64_t b = ch.not_before, a = ch.not_after;
		unsigned covered = 0;
		r = dcap_crl_check(v, c->crls, &ch, t, &b, &a, &covered, err);
		int n = sk_X509_num(ch.certs);
		dcap_chain_done(&ch);
		if (r != ATOLL_OK)
			return r;
		narrow(nb, na, b, a);
		*ret_crl_ok = covered == (1u << (n - 1)) - 1;
		return ATOLL_OK;
	}
	if (signers == 0)
		return dc_err(err, ATOLL_E_CHAIN,
			      "%s: no Intel SGX TCB Signing certificate in the collateral",
			      what);
	if (!sig_seen)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "%s signature does not verify with any TCB Signing certificate",
			      what);
	if (err)
		*err = chain_msg;
	return chain_err;
}

static int check_dates(const char *what, int64_t issue, int64_t next,
		       int64_t t, int64_t *nb, int64_t *na, atoll_err *err)
{
	char a[40], b[40];

	if (t < issue || t > next) {
		time_rfc3339_format(t * 1000, a, sizeof(a));
		time_rfc3339_format((t < issue ? issue : next) * 1000, b, sizeof(b));
		return dc_err(err, ATOLL_E_EXPIRED, "%s %s at %s (%s %s)",
			      what, t < issue ? "not yet issued" : "expired", a,
			      t < issue ? "issueDate" : "nextUpdate", b);
	}
	narrow(nb, na, issue, next);
	return ATOLL_OK;
}

/* The QE Identity for this quote's enclave: "QE" for SGX, "TD_QE" for TDX;
 * others (QVE) are ignored. The newest evaluation number wins. */
static int pick_identity(const struct dcap_collateral *c, bool tdx,
			 struct dcap_qe_identity *ret, size_t *ret_item,
			 bool *found, atoll_err *err)
{
	const char *want = tdx ? "TD_QE" : "QE";

	*found = false;
	for (size_t i = 0; i < c->n_items; i++) {
		struct dcap_qe_identity qi;
		if (c->items[i].kind != DCAP_JSON_IDENTITY)
			continue;
		int r = dcap_qe_identity_parse(c->items[i].body,
					       c->items[i].body_len, &qi, err);
		if (r != ATOLL_OK)
			return r;
		if (strcmp(qi.id, want) != 0 ||
		    (*found && qi.eval_num <= ret->eval_num)) {
			dcap_qe_identity_done(&qi);
			continue;
		}
		if (*found)
			dcap_qe_identity_done(ret);
		*ret = qi;
		*ret_item = i;
		*found = true;
	}
	return ATOLL_OK;
}

/* The TCB Info for this platform: same TEE, FMSPC and PCE-ID, newest
 * evaluation number. When none fits, the first one is returned so that
 * the evaluation names the mismatch. */
static int pick_tcb_info(const struct dcap_collateral *c, bool tdx,
			 const struct dcap_pck_ext *pck,
			 struct dcap_tcb_info *ret, size_t *ret_item,
			 bool *found, atoll_err *err)
{
	bool fits_found = false;

	*found = false;
	for (size_t i = 0; i < c->n_items; i++) {
		struct dcap_tcb_info ti;
		if (c->items[i].kind != DCAP_JSON_TCB_INFO)
			continue;
		int r = dcap_tcb_info_parse(c->items[i].body,
					    c->items[i].body_len, &ti, err);
		if (r != ATOLL_OK)
			return r;
		bool fits = (tdx ? strcmp(ti.id, "TDX") == 0 :
				   strcmp(ti.id, "TDX") != 0) &&
			    memcmp(ti.fmspc, pck->fmspc, 6) == 0 &&
			    memcmp(ti.pceid, pck->pceid, 2) == 0;
		bool take = !*found || (fits && !fits_found) ||
			    (fits && ti.eval_num > ret->eval_num);
		if (!take) {
			dcap_tcb_info_done(&ti);
			continue;
		}
		if (*found)
			dcap_tcb_info_done(ret);
		*ret = ti;
		*ret_item = i;
		*found = true;
		fits_found = fits_found || fits;
	}
	return ATOLL_OK;
}

/* The PCK certificate when the quote does not carry its chain (types 1-4):
 * a "SGX PCK Certificate" of the collateral whose key signed the QE
 * report. */
static int pck_from_collateral(const struct dcap_collateral *c,
			       const struct dcap_quote *q, X509 **ret,
			       atoll_err *err)
{
	int candidates = 0;

	for (int i = 0; i < sk_X509_num(c->certs); i++) {
		X509 *x = sk_X509_value(c->certs, i);
		EVP_PKEY *pk = X509_get0_pubkey(x);
		if (!cn_has(x, "SGX PCK Certificate") || !pk)
			continue;
		candidates++;
		if (dcap_ecdsa_verify(pk, q->qe_report, DCAP_SGX_REPORT_LEN,
				      q->qe_report_sig) == 1) {
			*ret = x;
			return ATOLL_OK;
		}
	}
	if (candidates == 0)
		return dc_err(err, ATOLL_E_CHAIN,
			      "quote carries certification data type %u, not a PCK chain (type 5), and the collateral has no PCK certificate",
			      q->cert_type);
	return dc_err(err, ATOLL_E_SIGNATURE,
		      "QE report signature does not verify with any PCK certificate of the collateral");
}

int dcap_verify(const struct dcap_verifier *v, uint32_t tee,
		const atoll_verify_args *args, struct dcap_result *ret,
		atoll_err *err)
{
	struct dcap_result res = { .not_before = INT64_MIN,
				   .not_after = INT64_MAX };
	struct dcap_quote *q = &res.quote;
	struct dcap_collateral coll = { 0 };
	struct dcap_chain pck_chain = { 0 };
	struct dcap_tcb_info ti = { 0 };
	struct dcap_qe_identity qi = { 0 };
	struct dcap_isv_level qe_level;
	STACK_OF(X509) *pool = NULL;
	EVP_PKEY *ak = NULL;
	X509 *leaf = NULL;
	bool have_ti = false, have_qi = false, crl_qi = false, crl_ti = false;
	unsigned covered = 0, crl_ok;
	size_t item = 0;
	uint8_t h[32], zero[32] = { 0 };
	char a[80];
	int64_t t;
	int r;

	if (!v || !args || args->struct_size < sizeof(atoll_verify_args) ||
	    (!args->evidence && args->evidence_len) ||
	    (!args->collateral && args->n_collateral))
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "verify: bad arguments");
	t = args->verify_time ? args->verify_time : (int64_t)time(NULL);

	r = dcap_quote_parse(args->evidence, args->evidence_len, q, err);
	if (r != ATOLL_OK)
		return r;
	if (q->tee_type != tee)
		return dc_err(err, ATOLL_E_FORMAT,
			      "this is a%s quote (tee_type 0x%x); this driver verifies %s quotes",
			      q->tee_type == DCAP_TEE_TDX ? " TDX" : "n SGX",
			      q->tee_type, tee == DCAP_TEE_TDX ? "TDX" : "SGX");
	if (memcmp(q->qe_vendor_id, dcap_intel_qe_vendor_id, 16) != 0) {
		enc_hex_encode(q->qe_vendor_id, 16, a);
		return dc_err(err, ATOLL_E_FORMAT,
			      "QE vendor id %s is not Intel's quoting enclave",
			      a);
	}
	r = dcap_collateral_load(v->certs, args->collateral,
				 args->n_collateral, &coll, err);
	if (r != ATOLL_OK)
		return r;

	pool = sk_X509_new_null();
	if (!pool) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	if (q->cert_type == DCAP_CERT_PCK_CHAIN) {
		r = dcap_certs_load(v->certs, q->cert_data, q->cert_len, pool,
				    err);
		if (r != ATOLL_OK) {
			r = dc_err(err, ATOLL_E_FORMAT,
				   "PCK chain in the quote (%zu bytes) is not a PEM or DER certificate list",
				   q->cert_len);
			goto out;
		}
		/* Usually the first, but some tools write the root first. */
		leaf = sk_X509_value(pool, 0);
		for (int i = 0; i < sk_X509_num(pool); i++)
			if (cn_has(sk_X509_value(pool, i), "SGX PCK Certificate")) {
				leaf = sk_X509_value(pool, i);
				break;
			}
	} else {
		r = pck_from_collateral(&coll, q, &leaf, err);
		if (r != ATOLL_OK)
			goto out;
	}
	for (int i = 0; i < sk_X509_num(coll.certs); i++)
		if (dcap_certs_add(pool, sk_X509_value(coll.certs, i)) < 0) {
			r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
			goto out;
		}
	if (!cn_has(leaf, "SGX PCK Certificate")) {
		dcap_cert_cn(leaf, a, sizeof(a));
		r = dc_err(err, ATOLL_E_CHAIN,
			   "leaf certificate CN=%s is not an Intel SGX PCK Certificate",
			   a);
		goto out;
	}
	r = dcap_chain_verify(v, leaf, pool, t, "PCK", &pck_chain, err);
	if (r != ATOLL_OK)
		goto out;
	narrow(&res.not_before, &res.not_after, pck_chain.not_before,
	       pck_chain.not_after);
	r = dcap_crl_check(v, coll.crls, &pck_chain, t, &res.not_before,
			   &res.not_after, &covered, err);
	if (r != ATOLL_OK)
		goto out;
	r = dcap_pck_ext_from_cert(leaf, &res.pck, err);
	if (r != ATOLL_OK)
		goto out;

	if (dcap_ecdsa_verify(X509_get0_pubkey(leaf), q->qe_report,
			      DCAP_SGX_REPORT_LEN, q->qe_report_sig) != 1) {
		r = dc_err(err, ATOLL_E_SIGNATURE,
			   "QE report signature does not verify with the PCK certificate's key");
		goto out;
	}
	if (!sha256(q->attest_key, 64, q->qe_auth, q->qe_auth_len, NULL, 0, h)) {
		r = dc_err(err, ATOLL_E_INTERNAL, "SHA-256 failed");
		goto out;
	}
	if (CRYPTO_memcmp(h, q->qe_report + SGXR_REPORT_DATA, 32) != 0 ||
	    CRYPTO_memcmp(zero, q->qe_report + SGXR_REPORT_DATA + 32, 32) != 0) {
		r = dc_err(err, ATOLL_E_BINDING,
			   "QE report data is not SHA-256(attestation key || QE auth data) followed by zeros");
		goto out;
	}
	ak = dcap_p256_from_raw(q->attest_key);
	if (!ak) {
		ERR_clear_error();
		r = dc_err(err, ATOLL_E_SIGNATURE,
			   "attestation key is not a P-256 point");
		goto out;
	}
	if (dcap_ecdsa_verify(ak, q->signed_data, q->signed_len,
			      q->signature) != 1) {
		r = dc_err(err, ATOLL_E_SIGNATURE,
			   "quote signature does not verify with the attestation key");
		goto out;
	}

	bool tdx = tee == DCAP_TEE_TDX;
	r = pick_identity(&coll, tdx, &qi, &item, &have_qi, err);
	if (r != ATOLL_OK)
		goto out;
	if (have_qi) {
		const char *what = tdx ? "TD_QE Identity" : "QE Identity";
		if ((r = verify_signed_json(v, &coll, &coll.items[item], t, what,
					    &res.not_before, &res.not_after,
					    &crl_ok, err)) != ATOLL_OK ||
		    (r = check_dates(what, qi.issue_date, qi.next_update, t,
				     &res.not_before, &res.not_after, err)) !=
			    ATOLL_OK ||
		    (r = dcap_qe_identity_check(&qi, q->qe_report, &qe_level,
						err)) != ATOLL_OK)
			goto out;
		crl_qi = crl_ok;
		res.has_qe_status = true;
		res.qe_status = qe_level.status;
	}
	r = pick_tcb_info(&coll, tdx, &res.pck, &ti, &item, &have_ti, err);
	if (r != ATOLL_OK)
		goto out;
	if (have_ti) {
		if ((r = verify_signed_json(v, &coll, &coll.items[item], t,
					    "TCB Info", &res.not_before,
					    &res.not_after, &crl_ok, err)) !=
			    ATOLL_OK ||
		    (r = check_dates("TCB Info", ti.issue_date, ti.next_update,
				     t, &res.not_before, &res.not_after, err)) !=
			    ATOLL_OK ||
		    (r = dcap_tcb_evaluate(&ti, have_qi ? &qe_level : NULL, q,
					   &res.pck, &res.tcb, err)) != ATOLL_OK)
			goto out;
		crl_ti = crl_ok;
		res.has_tcb = true;
		if (res.tcb.status == DCAP_TCB_REVOKED) {
			r = dc_err(err, ATOLL_E_TCB,
				   "TCB status Revoked (platform %s%s%s; advisories %s)",
				   dcap_tcb_status_name(res.tcb.platform_status),
				   have_qi ? ", QE " : "",
				   have_qi ? dcap_tcb_status_name(qe_level.status) : "",
				   res.tcb.advisories[0] ? res.tcb.advisories : "none");
			goto out;
		}
	}
	if (have_qi && qe_level.status == DCAP_TCB_REVOKED) {
		r = dc_err(err, ATOLL_E_TCB, "QE TCB level is Revoked");
		goto out;
	}

	if (v->require_collateral) {
		int n = sk_X509_num(pck_chain.certs);
		const char *missing =
			!have_ti ? "TCB Info" :
			!have_qi ? "QE Identity" :
			!(covered & 1u) ? "a PCK CRL covering the PCK certificate" :
			covered != (1u << (n - 1)) - 1 ?
				      "a root CA CRL covering the PCK CA" :
			!crl_ti || !crl_qi ?
				      "a root CA CRL covering the TCB Signing certificate" :
				      NULL;
		if (missing) {
			r = dc_err(err, ATOLL_E_POLICY,
				   "require_collateral is set but the collateral lacks %s",
				   missing);
			goto out;
		}
	}

	if (args->expected_report_data) {
		const uint8_t *rd = q->body + (tdx ? TDR_REPORT_DATA :
						     SGXR_REPORT_DATA);
		if (args->expected_report_data_len != ATOLL_REPORT_DATA_LEN ||
		    CRYPTO_memcmp(rd, args->expected_report_data,
				  ATOLL_REPORT_DATA_LEN) != 0) {
			r = dc_err(err, ATOLL_E_BINDING,
				   "report data differs from the expected %zu bytes",
				   args->expected_report_data_len);
			goto out;
		}
	}
	*ret = res;
	res.tcb.advisories = NULL;
	r = ATOLL_OK;
out:
	dcap_tcb_eval_done(&res.tcb);
	dcap_tcb_info_done(&ti);
	dcap_qe_identity_done(&qi);
	EVP_PKEY_free(ak);
	dcap_chain_done(&pck_chain);
	sk_X509_pop_free(pool, X509_free);
	dcap_collateral_done(&coll);
	ERR_clear_error();
	return r;
}

void dcap_result_done(struct dcap_result *r)
{
	if (!r)
		return;
	dcap_tcb_eval_done(&r->tcb);
}
