/* Synthetic Intel DCAP evidence for tests, fuzz seeds and the benchmark:
 * a test PKI shaped like Intel's (root, PCK CA, PCK certificate with the
 * SGX extension, TCB Signing certificate), SGX and TDX quotes v3/v4/v5
 * signed like a quoting enclave signs them, TCB Info and QE Identity JSON
 * signed like Intel's PCS, and CRLs. All keys are fresh P-256 keys. */
#ifndef ATOLL_TESTS_DCAP_DRIVERS_GEN_H
#define ATOLL_TESTS_DCAP_DRIVERS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define GEN_T0 1748736000 /* 2025-06-01T00:00:00Z: the tests' "now" */

struct gen_pck_opts {
	uint8_t fmspc[6];
	uint8_t pceid[2];
	uint8_t comp_svn[16];
	uint16_t pcesvn;
	int64_t not_before;
	int64_t not_after;
	long serial;
	const char *cn;
	bool omit_sgx_ext;
};

struct gen_pki {
	EVP_PKEY *root_key, *ca_key, *pck_key, *tcb_key;
	X509 *root, *ca, *pck, *tcb;
	char root_fp_hex[65];
	struct gen_pck_opts pck_opts;
};

void gen_pck_defaults(struct gen_pck_opts *o);
/* root_cn lets tests make a look-alike PKI with another key. 0 or -1. */
int gen_pki_init(struct gen_pki *p, const struct gen_pck_opts *o,
		 const char *root_cn);
void gen_pki_free(struct gen_pki *p);

EVP_PKEY *gen_key(void);
/* A certificate signed by issuer (self-signed when issuer is NULL). */
X509 *gen_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
	       EVP_PKEY *issuer_key, long serial, int64_t nb, int64_t na,
	       bool ca, const struct gen_pck_opts *sgx_ext);
char *gen_pem(X509 *x);                                /* malloc'd */
uint8_t *gen_der(X509 *x, size_t *ret_len);            /* malloc'd */
int gen_sign_raw(EVP_PKEY *key, const void *msg, size_t n, uint8_t sig[64]);

struct gen_quote_opts {
	int version;       /* 3, 4 or 5 */
	uint32_t tee;      /* 0 (SGX) or 0x81 (TDX) */
	uint16_t body_type; /* 1, 2, 3 */
	uint8_t body[648];
	uint16_t qe_isvsvn;
	uint16_t qe_isvprodid;
	uint8_t qe_mrsigner[32];
	uint8_t qe_attributes[16];
	uint8_t qe_miscselect[4];
	size_t qe_auth_len;
	uint16_t cert_type;  /* 5, or e.g. 1 with PPID-like data */
	bool der_chain;
	bool root_first;
	bool omit_root;
	bool omit_ca;
	size_t trailing;
	X509 *pck_override;  /* another leaf, signed with pki->pck_key */
	EVP_PKEY *qe_key_override;
};

/* Field offsets of a generated quote, for tampering. */
struct gen_offsets {
	size_t body;
	size_t body_len;
	size_t sig_len;   /* the u32 signature data length */
	size_t signature;
	size_t attest_key;
	size_t outer_cert; /* v4/v5: type-6 header; 0 in v3 */
	size_t qe_report;
	size_t qe_report_sig;
	size_t qe_auth_len; /* the u16 */
	size_t cert_hdr;    /* inner type u16 + size u32 */
	size_t cert_data;
	size_t end;         /* end of the signature data */
};

/* Defaults: an SGX or TD report with recognizable contents. */
void gen_quote_defaults(struct gen_quote_opts *o, int version, uint32_t tee,
			uint16_t body_type);
int gen_quote(const struct gen_pki *p, const struct gen_quote_opts *o,
	      uint8_t **ret, size_t *ret_len, struct gen_offsets *ret_off);

struct gen_level {
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];
	const char *status;
	const char *advisories; /* comma-separated or NULL */
};

struct gen_isv_level {
	uint16_t isvsvn;
	const char *status;
	const char *advisories;
};

struct gen_module {
	const char *id;
	uint8_t mrsigner[48];
	struct gen_isv_level levels[4];
	size_t n_levels;
};

struct gen_tcb_info {
	int version;    /* 2 or 3 */
	const char *id; /* "SGX", "TDX"; NULL in v2 */
	uint8_t fmspc[6];
	uint8_t pceid[2];
	const char *issue;
	const char *next;
	uint32_t eval;
	struct gen_level levels[8];
	size_t n_levels;
	uint8_t module_mrsigner[48];
	struct gen_module modules[3];
	size_t n_modules;
};

struct gen_qe_identity {
	const char *id; /* "QE", "TD_QE" */
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	uint8_t attributes[16];
	uint8_t attributes_mask[16];
	uint8_t miscselect[4];
	uint8_t miscselect_mask[4];
	const char *issue;
	const char *next;
	uint32_t eval;
	struct gen_isv_level levels[4];
	size_t n_levels;
};

/* Defaults that fit gen_pck_defaults() and gen_quote_defaults(). */
void gen_tcb_info_defaults(struct gen_tcb_info *t, bool tdx);
void gen_qe_identity_defaults(struct gen_qe_identity *q, bool tdx);
char *gen_tcb_info_body(const struct gen_tcb_info *t);
char *gen_qe_identity_body(const struct gen_qe_identity *q);
/* {"<member>":<body>,"signature":"<hex r||s over body>"} */
char *gen_pcs_json(const char *member, const char *body, EVP_PKEY *key);

/* A CRL from issuer listing the serials. DER, malloc'd. */
uint8_t *gen_crl(X509 *issuer, EVP_PKEY *key, const long *serials, size_t n,
		 int64_t this_update, int64_t next_update, size_t *ret_len);

/* Full collateral for p in PCS form: TCB Info, QE Identity, TCB Signing
 * chain (PEM), PCK CRL and root CRL (DER). Blobs are malloc'd. */
struct gen_collateral {
	uint8_t *data[8];
	size_t len[8];
	size_t n;
};

int gen_collateral(const struct gen_pki *p, const struct gen_tcb_info *ti,
		   const struct gen_qe_identity *qi, struct gen_collateral *ret);
void gen_collateral_free(struct gen_collateral *c);
void gen_collateral_add(struct gen_collateral *c, void *data, size_t len);

#endif
