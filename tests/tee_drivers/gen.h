/* Evidence generators for the TEE verifier driver tests, fuzz seeds and
 * benchmarks: test CAs and keys made with OpenSSL, a CBOR writer, and
 * builders for SEV-SNP reports with their VCEK chain, Nitro attestation
 * documents and PSA tokens, each with knobs to produce broken variants. */
#ifndef ATOLL_TESTS_TEE_DRIVERS_GEN_H
#define ATOLL_TESTS_TEE_DRIVERS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/buf.h"

/* Keys. Exit the process on failure (tests only). */
EVP_PKEY *gen_ec_key(const char *group); /* "P-256", "P-384", "P-521" */
EVP_PKEY *gen_ed25519_key(void);
EVP_PKEY *gen_rsa_key(int bits);

struct gen_ext {
	const char *oid;
	const uint8_t *value; /* extnValue contents */
	size_t len;
};

struct gen_cert_opts {
	const char *cn;
	int64_t not_before;
	int64_t not_after;
	bool ca;
	/* Sign with RSASSA-PSS (SHA-384, salt 48) as AMD does; otherwise
	 * ECDSA with SHA-384 or the issuer key's default. */
	bool pss;
	const struct gen_ext *exts;
	size_t n_exts;
	long serial;
};

/* issuer NULL: self-signed with subject_key. */
X509 *gen_cert(const struct gen_cert_opts *o, EVP_PKEY *subject_key,
	       X509 *issuer, EVP_PKEY *issuer_key);
uint8_t *gen_der(X509 *x, size_t *ret_len);
/* A CRL of issuer signed with key (SHA-256), valid this_up..next_up,
 * revoking revoked_serial as of revoked_at when revoked_serial is not 0. */
X509_CRL *gen_crl(X509 *issuer, EVP_PKEY *key, int64_t this_up,
		  int64_t next_up, long revoked_serial, int64_t revoked_at);
uint8_t *gen_crl_der(X509_CRL *crl, size_t *ret_len);
char *gen_pem(X509 *x, size_t *ret_len);
char *gen_pubkey_pem(EVP_PKEY *k, size_t *ret_len);
/* Uppercase hex SHA-256 fingerprint (65 bytes with NUL). */
void gen_fingerprint_hex(X509 *x, char out[65]);

/* A CRL by issuer (signed with key) valid from this_update to
 * next_update, revoking the given serials; and its PEM. */
X509_CRL *gen_crl_list(X509 *issuer, EVP_PKEY *key, int64_t this_update,
		  int64_t next_update, const long *serials, size_t n);
char *gen_crl_pem(X509_CRL *crl, size_t *ret_len);

/* ECDSA with fixed-size r||s (half bytes each), big- or little-endian. */
void gen_ecdsa_raw(EVP_PKEY *k, const EVP_MD *md, const uint8_t *msg,
		   size_t len, size_t half, bool little_endian, uint8_t *out);

/* CBOR writer on struct buf. */
void cw_head(struct buf *b, unsigned major, uint64_t v);
void cw_uint(struct buf *b, uint64_t v);
void cw_int(struct buf *b, int64_t v);
void cw_bytes(struct buf *b, const void *p, size_t n);
void cw_text(struct buf *b, const char *s);
void cw_null(struct buf *b);

/* COSE_Sign1 with protected {1: alg}; EdDSA for Ed25519 keys. The
 * signature of a bad_sig message has one bit flipped. */
uint8_t *gen_cose_sign1(bool tagged, int64_t alg, const uint8_t *payload,
			size_t payload_len, EVP_PKEY *key, bool bad_sig,
			size_t *ret_len);

/* ---- SEV-SNP ---- */
struct gen_snp_pki {
	EVP_PKEY *ark_key, *ask_key, *vcek_key, *asvk_key, *vlek_key;
	X509 *ark, *ask, *vcek, *asvk, *vlek;
	char ark_fp[65];
};

struct gen_snp_vcek_opts {
	const char *product; /* "Milan-B0", "Turin", ... */
	uint64_t tcb;        /* TCB_VERSION as reported */
	bool turin;          /* TCB byte layout of the extensions */
	const uint8_t *hwid;
	size_t hwid_len;     /* 64 or 8 */
	bool hwid_der;       /* wrap in an OCTET STRING */
	int64_t not_before, not_after;
};

/* ARK, ASK and VCEK (and ASVK/VLEK) for the given VCEK options. */
void gen_snp_pki_make(struct gen_snp_pki *p,
		      const struct gen_snp_vcek_opts *o);
void gen_snp_pki_free(struct gen_snp_pki *p);
/* A VCEK for other options under the same ASK. */
X509 *gen_snp_vcek(struct gen_snp_pki *p, const struct gen_snp_vcek_opts *o,
		   EVP_PKEY *key);

struct gen_snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint32_t vmpl;
	uint32_t sig_algo;
	uint32_t key_info;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint64_t reported_tcb;
	uint8_t cpuid_fam;
	uint8_t chip_id[64];
};

void gen_snp_report_defaults(struct gen_snp_report *r);
/* Serialize and sign with key (1184 bytes into out). */
void gen_snp_report_sign(const struct gen_snp_report *r, EVP_PKEY *key,
			 uint8_t out[1184]);
/* A GHCB certificate table holding the given DER blobs with the given
 * GUID indexes (0 ARK, 1 ASK, 2 VCEK, 3 VLEK). malloc'd. */
uint8_t *gen_snp_cert_table(const uint8_t *const *ders, const size_t *lens,
			    const int *kinds, size_t n, size_t *ret_len);

/* ---- Nitro ---- */
struct gen_nitro_pki {
	EVP_PKEY *root_key, *int_key, *leaf_key;
	X509 *root, *inter, *leaf;
	char root_fp[65];
};

void gen_nitro_pki_make(struct gen_nitro_pki *p, int64_t not_before,
			int64_t not_after);
void gen_nitro_pki_free(struct gen_nitro_pki *p);

struct gen_nitro_doc {
	const char *module_id;
	const char *digest;
	uint64_t timestamp_ms;
	uint8_t pcrs[16][48];
	size_t pcr_len;    /* 48 normally; other values for bad docs */
	size_t n_pcrs;     /* 16 normally */
	const uint8_t *nonce;
	size_t nonce_len;  /* 0: field absent */
	const uint8_t *user_data;
	size_t user_data_len;
	const uint8_t *public_key;
	size_t public_key_len;
	bool cabundle_null;
	bool omit_certificate;
	bool tagged;
	bool bad_sig;
};

void gen_nitro_doc_defaults(struct gen_nitro_doc *d);
/* The COSE_Sign1 document signed by p->leaf_key, chain leaf <- inter <-
 * root in the cabundle (root first). malloc'd. */
uint8_t *gen_nitro_doc_make(const struct gen_nitro_doc *d,
			    const struct gen_nitro_pki *p, size_t *ret_len);

/* ---- PSA ---- */
struct gen_psa_token {
	bool iot1;             /* PSA_IOT_PROFILE_1 keys instead of 2.0 */
	const char *profile;   /* NULL: the profile's default name */
	uint8_t nonce[64];
	size_t nonce_len;
	uint8_t instance_id[33];
	uint8_t impl_id[32];
	uint64_t lifecycle;
	int64_t client_id;
	bool omit_sw_components;
	bool omit_instance_id;
	size_t n_sw;           /* up to 2 */
};

void gen_psa_token_defaults(struct gen_psa_token *t, EVP_PKEY *iak);
/* 0x01 || SHA-256(uncompressed public point), TF-M's instance id. */
void gen_psa_instance_id(EVP_PKEY *iak, uint8_t out[33]);
/* The claims map (payload) only. malloc'd. */
uint8_t *gen_psa_claims(const struct gen_psa_token *t, size_t *ret_len);

/* ---- Arm CCA ---- */
struct gen_cca_token {
	bool legacy;          /* tag 399, raw-point RAK, no realm profile */
	EVP_PKEY *cpak, *rak; /* P-384 */
	uint8_t realm_challenge[64];
	uint64_t lifecycle;
	bool bad_binding;     /* platform challenge not the RAK hash */
	bool platform_bad_sig, realm_bad_sig;
};

void gen_cca_token_defaults(struct gen_cca_token *t, EVP_PKEY *cpak,
			    EVP_PKEY *rak);
uint8_t *gen_cca_token_make(const struct gen_cca_token *t, size_t *ret_len);

#endif
