/* Intel DCAP quote verification shared by the sgx and tdx drivers: the
 * quote parser (v3, v4, v5), the PCK certificate and its SGX extension,
 * chains to a pinned Intel root with a bounded cache of verified chains,
 * collateral recognized by content (certificates, CRLs, TCB Info, QE
 * Identity) and Intel's TCB level matching.
 *
 * Functions returning int return an atoll_status and, on failure, write a
 * message into err with dc_err() (drivers/common). Out-parameters are
 * written only on success. Pointers in struct dcap_quote borrow the
 * evidence buffer. */
#ifndef ATOLL_DCAP_H
#define ATOLL_DCAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_util.h"

/* Header tee_type values. */
#define DCAP_TEE_SGX 0x00000000u
#define DCAP_TEE_TDX 0x00000081u

/* v5 body types. */
#define DCAP_BODY_SGX 1
#define DCAP_BODY_TD10 2
#define DCAP_BODY_TD15 3

#define DCAP_HEADER_LEN 48
#define DCAP_SGX_REPORT_LEN 384
#define DCAP_TD10_REPORT_LEN 584
#define DCAP_TD15_REPORT_LEN 648
#define DCAP_ATT_KEY_ECDSA_P256 2
#define DCAP_CERT_PCK_CHAIN 5
#define DCAP_CERT_QE_REPORT 6

/* SGX report body (also the QE report) offsets. */
#define SGXR_CPUSVN 0
#define SGXR_MISCSELECT 16
#define SGXR_ISV_EXT_PROD_ID 32
#define SGXR_ATTRIBUTES 48
#define SGXR_MRENCLAVE 64
#define SGXR_MRSIGNER 128
#define SGXR_CONFIG_ID 192
#define SGXR_ISV_PROD_ID 256
#define SGXR_ISV_SVN 258
#define SGXR_CONFIG_SVN 260
#define SGXR_ISV_FAMILY_ID 304
#define SGXR_REPORT_DATA 320
/* Attribute flags bit 1: the enclave is debuggable. */
#define SGX_FLAGS_DEBUG 0x02

/* TD report body offsets (TD 1.0; TD 1.5 appends two fields). */
#define TDR_TEE_TCB_SVN 0
#define TDR_MRSEAM 16
#define TDR_MRSIGNERSEAM 64
#define TDR_SEAM_ATTRIBUTES 112
#define TDR_TD_ATTRIBUTES 120
#define TDR_XFAM 128
#define TDR_MRTD 136
#define TDR_MRCONFIGID 184
#define TDR_MROWNER 232
#define TDR_MROWNERCONFIG 280
#define TDR_RTMR0 328
#define TDR_REPORT_DATA 520
#define TDR_TEE_TCB_SVN2 584
#define TDR_MRSERVICETD 600
/* TD attributes: bit 0 DEBUG, bit 28 SEPT_VE_DISABLE. */
#define TD_ATTR_DEBUG 0x1ull
#define TD_ATTR_SEPT_VE_DISABLE (1ull << 28)

/* Intel's quoting enclave vendor id. */
extern const uint8_t dcap_intel_qe_vendor_id[16];
/* SHA-256 of the DER of CN=Intel SGX Root CA (2018-05-21 -> 2049-12-31). */
extern const uint8_t dcap_intel_root_sha256[32];

static inline uint16_t dcap_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t dcap_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t dcap_le64(const uint8_t *p)
{
	return (uint64_t)dcap_le32(p) | (uint64_t)dcap_le32(p + 4) << 32;
}

/* ---- quote ---------------------------------------------------------- */

struct dcap_quote {
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type;
	uint16_t qe_svn;
	uint16_t pce_svn;
	const uint8_t *qe_vendor_id; /* 16 */
	const uint8_t *user_data;    /* 20 */
	uint16_t body_type;          /* DCAP_BODY_*, also for v3/v4 */
	const uint8_t *body;
	size_t body_len;
	/* Header and body as signed by the attestation key. */
	const uint8_t *signed_data;
	size_t signed_len;
	const uint8_t *signature;     /* 64: r || s */
	const uint8_t *attest_key;    /* 64: x || y */
	const uint8_t *qe_report;     /* 384 */
	const uint8_t *qe_report_sig; /* 64 */
	const uint8_t *qe_auth;
	size_t qe_auth_len;
	/* Innermost certification data (type 5: the PCK chain). */
	uint16_t cert_type;
	const uint8_t *cert_data;
	size_t cert_len;
	/* Bytes after the signature data (configfs pads quotes). */
	size_t trailing;
};

/* Parse by the length fields; ATOLL_E_FORMAT on anything inconsistent. */
int dcap_quote_parse(const uint8_t *data, size_t len, struct dcap_quote *ret,
		     atoll_err *err);

/* ---- DER and the PCK certificate's SGX extension -------------------- */

struct der {
	const uint8_t *p;
	size_t len;
};

/* Read one tag-length-value off the front of in. 0 or -EBADMSG. */
int der_read(struct der *in, uint8_t *ret_tag, struct der *ret_val);

/* OID 1.2.840.113741.1.13.1 and its parts. */
struct dcap_pck_ext {
	uint8_t ppid[16];
	bool has_ppid;
	uint8_t comp_svn[16];
	uint16_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t pceid[2];
	uint8_t fmspc[6];
	int sgx_type; /* 0 standard, 1 scalable, ...; -1 when absent */
};

/* Parse the extension's value (the DER inside the extension's OCTET
 * STRING). ATOLL_E_FORMAT when a required part is missing or malformed. */
int dcap_pck_ext_parse(const uint8_t *der, size_t len,
		       struct dcap_pck_ext *ret, atoll_err *err);
/* Find and parse the extension in a certificate. */
int dcap_pck_ext_from_cert(X509 *cert, struct dcap_pck_ext *ret,
			   atoll_err *err);

/* ---- ECDSA P-256 ---------------------------------------------------- */

/* Public key from raw x || y. NULL when the point is not on the curve. */
EVP_PKEY *dcap_p256_from_raw(const uint8_t xy[64]);
/* Verify a raw r || s ECDSA-SHA256 signature. 1 valid, 0 invalid. */
int dcap_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
		      const uint8_t sig[64]);

/* ---- verified-chain cache ------------------------------------------- */

/* The slots of a bounded cache: SHA-256 keys, a value of val_size bytes
 * each (zeroed at first), and when each was last used; one mutex, as
 * verify() runs on many threads. find, touch, claim and the values need
 * the lock held. */
struct dcap_lru {
	pthread_mutex_t lock;
	uint8_t (*keys)[32];
	uint64_t *used;
	void *vals;
	size_t val_size;
	size_t n;
	size_t cap;
	uint64_t tick;
};

/* 0, -EINVAL when capacity is 0, or -ENOMEM. */
int dcap_lru_init(struct dcap_lru *l, size_t capacity, size_t val_size);
void dcap_lru_done(struct dcap_lru *l);
/* The value of a slot. */
void *dcap_lru_val(const struct dcap_lru *l, size_t slot);
/* The slot holding key, or -1. */
long dcap_lru_find(const struct dcap_lru *l, const uint8_t key[32]);
/* Mark a slot as just used. */
void dcap_lru_touch(struct dcap_lru *l, size_t slot);
/* A slot for a key not in the table, given the key and marked used: a
 * free one, else the least recently used, in which case *ret_evicted is
 * true and the caller releases what its value held. */
size_t dcap_lru_claim(struct dcap_lru *l, const uint8_t key[32],
		      bool *ret_evicted);

struct dcap_cache;

struct dcap_cache *dcap_cache_new(size_t capacity);
struct dcap_cache *dcap_cache_free(struct dcap_cache *c);
/* True when key was verified and t lies in its window. */
bool dcap_cache_check(struct dcap_cache *c, const uint8_t key[32], int64_t t);
void dcap_cache_put(struct dcap_cache *c, const uint8_t key[32],
		    int64_t not_before, int64_t not_after);
void dcap_cache_stats(struct dcap_cache *c, uint64_t *ret_hits,
		      uint64_t *ret_misses, size_t *ret_entries);

/* Parsed certificates by SHA-256 of their DER (bounded, LRU). */
struct dcap_x509_cache;

struct dcap_x509_cache *dcap_x509_cache_new(size_t capacity);
struct dcap_x509_cache *dcap_x509_cache_free(struct dcap_x509_cache *c);
/* A new reference to the certificate of exactly these DER bytes, from the
 * cache when c has it; NULL when they do not parse. c may be NULL. */
X509 *dcap_x509_parse(struct dcap_x509_cache *c, const uint8_t *der,
		      size_t len);

/* ---- verifier configuration ----------------------------------------- */

#define DCAP_MAX_PINS 8
#define DCAP_CACHE_DEFAULT 128
#define DCAP_CACHE_MAX 4096

struct dcap_verifier {
	uint8_t pins[DCAP_MAX_PINS][32];
	size_t n_pins;
	/* Refuse evidence lacking TCB Info, QE Identity and both CRLs. */
	bool require_collateral;
	/* Both NULL when chain_cache is false. */
	struct dcap_cache *cache;
	struct dcap_x509_cache *certs;
};

/* Configuration keys: root_fingerprint (comma-separated SHA-256 hex,
 * colons allowed; default the Intel SGX Root CA), chain_cache (true|false,
 * default true: verified chains, CRL and collateral signatures, parsed
 * certificates), chain_cache_size (1..4096 entries each, default 128),
 * require_collateral (true|false, default false). Keys in extra_keys are
 * skipped so a driver can add its own. ATOLL_E_CONFIG naming the key. */
int dcap_verifier_init(struct dcap_verifier *v, const atoll_kv *config,
		       size_t n_config, const char *const *extra_keys,
		       atoll_err *err);
void dcap_verifier_done(struct dcap_verifier *v);
/* The same on the heap, for a driver instance. */
int dcap_verifier_new(const atoll_kv *config, size_t n_config,
		      const char *const *extra_keys, struct dcap_verifier **ret,
		      atoll_err *err);
/* Accepts NULL. */
void dcap_verifier_free(struct dcap_verifier *v);

/* ---- certificates and chains ---------------------------------------- */

/* Append the certificates of a PEM bundle or of concatenated DER to out
 * (duplicates skipped), parsed through xc (may be NULL). ATOLL_E_FORMAT
 * when nothing parses. */
int dcap_certs_load(struct dcap_x509_cache *xc, const uint8_t *data,
		    size_t len, STACK_OF(X509) *out, atoll_err *err);
/* Takes one PEM block (name and DER borrowed for the call): 0 to go on,
 * anything else to stop with that value. */
typedef int (*dcap_pem_fn)(void *userdata, const char *name,
			   const uint8_t *der, size_t der_len);
/* Hand each PEM block of data to fn, in order. 0 at the end of the text,
 * the first non-zero value of fn, -EBADMSG when a block does not decode,
 * -ENOMEM. */
int dcap_pem_each(const uint8_t *data, size_t len, dcap_pem_fn fn,
		  void *userdata);
/* Push x unless an equal certificate is already there (takes a ref). */
int dcap_certs_add(STACK_OF(X509) *out, X509 *x);

struct dcap_chain {
	STACK_OF(X509) *certs; /* leaf first, pinned anchor last */
	int64_t not_before;
	int64_t not_after;
};

/* Build leaf's chain from pool up to a pinned root and verify it at t.
 * what names the chain in messages ("PCK"). ATOLL_E_CHAIN, or
 * ATOLL_E_EXPIRED when a certificate is outside its validity. */
int dcap_chain_verify(const struct dcap_verifier *v, X509 *leaf,
		      STACK_OF(X509) *pool, int64_t t, const char *what,
		      struct dcap_chain *ret, atoll_err *err);
void dcap_chain_done(struct dcap_chain *c);

/* Check every CRL issued by a certificate of chain: signature, validity at
 * t, and whether it revokes the certificate below its issuer. Bit i of
 * *ret_covered is set when chain certificate i was checked against a CRL;
 * the window [*not_before, *not_after] narrows to the CRLs' dates.
 * Revocation is ATOLL_E_CHAIN; a stale CRL ATOLL_E_EXPIRED. */
int dcap_crl_check(const struct dcap_verifier *v, STACK_OF(X509_CRL) *crls,
		   const struct dcap_chain *chain, int64_t t,
		   int64_t *not_before, int64_t *not_after,
		   unsigned *ret_covered, atoll_err *err);

/* Seconds since the epoch of an ASN1_TIME; -1 when malformed. */
int64_t dcap_asn1_time(const ASN1_TIME *t);
/* Subject CN into out ("?" when none). */
void dcap_cert_cn(X509 *x, char *out, size_t out_size);

/* ---- collateral ----------------------------------------------------- */

enum dcap_json_kind {
	DCAP_JSON_TCB_INFO = 1,
	DCAP_JSON_IDENTITY = 2,
};

struct dcap_json_item {
	enum dcap_json_kind kind;
	/* The exact signed bytes. */
	const char *body;
	size_t body_len;
	char *owned; /* backing store of body when it was unescaped */
	uint8_t sig[64];
	bool has_sig;
	size_t index; /* collateral blob it came from */
};

struct dcap_collateral {
	STACK_OF(X509) *certs;
	STACK_OF(X509_CRL) *crls;
	struct dcap_json_item *items;
	size_t n_items;
	/* Detached raw r || s signatures for bare JSON bodies. */
	uint8_t (*sigs)[64];
	size_t n_sigs;
};

/* Sort blobs by content: PEM (certificates, CRLs; other PEM types are
 * ignored), DER certificate or CRL, Intel PCS JSON ({"tcbInfo":..,
 * "signature":..} or {"enclaveIdentity":..}), bare TCB Info / identity
 * bodies, 64-byte detached signatures, and bundles of hex/PEM fields
 * (tcb_info, tcb_info_signature, qe_identity, pck_crl, root_ca_crl,
 * *_issuer_chain). ATOLL_E_FORMAT naming the blob otherwise. */
int dcap_collateral_load(struct dcap_x509_cache *xc, const atoll_blob *blobs,
			 size_t n, struct dcap_collateral *ret, atoll_err *err);
void dcap_collateral_done(struct dcap_collateral *c);

/* ---- TCB Info, QE Identity and TCB status --------------------------- */

enum dcap_tcb_status {
	DCAP_TCB_UP_TO_DATE,
	DCAP_TCB_SW_HARDENING_NEEDED,
	DCAP_TCB_CONFIGURATION_NEEDED,
	DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	DCAP_TCB_OUT_OF_DATE,
	DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	DCAP_TCB_REVOKED,
	DCAP_TCB_TD_RELAUNCH_ADVISED,
	DCAP_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
};

const char *dcap_tcb_status_name(enum dcap_tcb_status s);
int dcap_tcb_status_parse(const char *s, enum dcap_tcb_status *ret);

struct json_value;

struct dcap_tcb_level {
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];
	enum dcap_tcb_status status;
	int64_t tcb_date;
	const struct json_value *advisories; /* array or NULL */
	size_t order; /* position in the document */
};

struct dcap_isv_level {
	uint16_t isvsvn;
	enum dcap_tcb_status status;
	int64_t tcb_date;
	const struct json_value *advisories;
};

struct dcap_module_identity {
	char id[16];
	uint8_t mrsigner[48];
	uint8_t attributes[8];
	uint8_t attributes_mask[8];
	struct dcap_isv_level *levels;
	size_t n_levels;
};

struct dcap_tcb_info {
	struct json_value *doc;
	int version;
	char id[8]; /* "SGX", "TDX"; "" in version 2 */
	uint8_t fmspc[6];
	uint8_t pceid[2];
	int64_t issue_date;
	int64_t next_update;
	uint64_t eval_num;
	struct dcap_tcb_level *levels; /* sorted as Intel does: highest first */
	size_t n_levels;
	bool has_tdx_module;
	uint8_t module_mrsigner[48];
	uint8_t module_attributes[8];
	uint8_t module_attributes_mask[8];
	struct dcap_module_identity *modules;
	size_t n_modules;
};

struct dcap_qe_identity {
	struct json_value *doc;
	char id[8]; /* "QE", "TD_QE", "QVE" */
	int version;
	int64_t issue_date;
	int64_t next_update;
	uint64_t eval_num;
	uint8_t miscselect[4];
	uint8_t miscselect_mask[4];
	uint8_t attributes[16];
	uint8_t attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct dcap_isv_level *levels;
	size_t n_levels;
};

int dcap_tcb_info_parse(const char *body, size_t len,
			struct dcap_tcb_info *ret, atoll_err *err);
void dcap_tcb_info_done(struct dcap_tcb_info *ti);
int dcap_qe_identity_parse(const char *body, size_t len,
			   struct dcap_qe_identity *ret, atoll_err *err);
void dcap_qe_identity_done(struct dcap_qe_identity *qi);

struct dcap_tcb_eval {
	enum dcap_tcb_status status; /* the converged status */
	enum dcap_tcb_status platform_status;
	bool has_qe;
	enum dcap_tcb_status qe_status;
	bool has_module;
	enum dcap_tcb_status module_status;
	int64_t tcb_date;
	uint64_t eval_num;
	char *advisories; /* malloc'd, comma-separated, "" when none */
};

/* Match the QE report against a QE Identity: MRSIGNER, ISVPRODID,
 * MISCSELECT and ATTRIBUTES under their masks (ATOLL_E_TCB on mismatch),
 * then the ISVSVN level. */
int dcap_qe_identity_check(const struct dcap_qe_identity *qi,
			   const uint8_t *qe_report, struct dcap_isv_level *ret,
			   atoll_err *err);

/* Intel's TCB evaluation: FMSPC/PCEID/TEE agreement, level matching by
 * the PCK's component SVNs and PCESVN (and for TDX the TEE_TCB_SVN and the
 * TDX module identity), convergence with the QE level (qe may be NULL).
 * ATOLL_E_TCB when no level matches or the collateral does not fit. */
int dcap_tcb_evaluate(const struct dcap_tcb_info *ti,
		      const struct dcap_isv_level *qe,
		      const struct dcap_quote *q,
		      const struct dcap_pck_ext *pck, struct dcap_tcb_eval *ret,
		      atoll_err *err);
void dcap_tcb_eval_done(struct dcap_tcb_eval *e);

/* ---- the whole verification ----------------------------------------- */

struct dcap_result {
	struct dcap_quote quote; /* borrows args->evidence */
	struct dcap_pck_ext pck;
	int64_t not_before;
	int64_t not_after;
	bool has_tcb;
	struct dcap_tcb_eval tcb;
	bool has_qe_status;
	enum dcap_tcb_status qe_status;
};

/* Verify a quote for the given TEE (DCAP_TEE_SGX or DCAP_TEE_TDX):
 * parse, PCK chain to a pinned root, CRLs, QE report signature and its
 * binding of the attestation key, the quote signature, collateral and TCB
 * status, and args->expected_report_data. */
int dcap_verify(const struct dcap_verifier *v, uint32_t tee,
		const atoll_verify_args *args, struct dcap_result *ret,
		atoll_err *err);
void dcap_result_done(struct dcap_result *r);

/* ---- claims --------------------------------------------------------- */

struct dcap_claims;

struct dcap_claims *dcap_claims_new(const char *tee_type);
/* Copies of the bytes are kept. Errors are sticky and reported by
 * dcap_claims_finish(). */
void dcap_claims_bytes(struct dcap_claims *c, const char *name,
		       const uint8_t *p, size_t n);
void dcap_claims_string(struct dcap_claims *c, const char *name,
			const char *s);
void dcap_claims_uint(struct dcap_claims *c, const char *name, uint64_t v);
void dcap_claims_bool(struct dcap_claims *c, const char *name, bool v);
/* Normalized fields; pointers are copied. */
void dcap_claims_set(struct dcap_claims *c, const uint8_t *measurement,
		     size_t measurement_len, const uint8_t *signer,
		     size_t signer_len, const uint8_t *report_data,
		     size_t report_data_len);
atoll_claims *dcap_claims_pub(struct dcap_claims *c);
/* The claims common to SGX and TDX: header, PCK, TCB status. */
void dcap_claims_common(struct dcap_claims *c, const struct dcap_result *r);
/* ATOLL_OK and *ret, or ATOLL_E_NOMEM (c is freed either way). */
int dcap_claims_finish(struct dcap_claims *c, atoll_claims **ret,
		       atoll_err *err);
void dcap_claims_free(atoll_claims *claims);

/* ---- the drivers ---------------------------------------------------- */

/* Adds the claims of one body type (the TEE's identity) to c. */
typedef void (*dcap_body_claims_fn)(struct dcap_claims *c,
				    const struct dcap_result *r);

/* verify() of the sgx and tdx drivers: dcap_verify() for tee, then claims
 * named tee_type holding body's claims followed by dcap_claims_common().
 * ATOLL_E_INVALID_ARGUMENT when v or ret_claims is NULL. */
int dcap_driver_verify(const struct dcap_verifier *v, uint32_t tee,
		       const char *tee_type, dcap_body_claims_fn body,
		       const atoll_verify_args *args, atoll_claims **ret_claims,
		       atoll_err *err);
/* claims_free() of the sgx and tdx drivers. */
void dcap_driver_claims_free(void *ctx, atoll_claims *claims);

#endif
