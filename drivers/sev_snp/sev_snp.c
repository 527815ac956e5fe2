/* The AMD SEV-SNP TEE driver: configuration, and verification of
 * attestation reports (ECDSA P-384 by the VCEK or VLEK, chain to a pinned
 * ARK, VCEK TCB and hwID against the report) into normalized claims. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "snp.h"

/* AMD's ARK roots (KDS cert_chain), by SHA-256 of the DER certificate. */
static const char default_arks[] =
	/* ARK-Milan */
	"69D063B45344D26A2E94E1F4210DE49EF555308287D4C174445C95639A540BCD,"
	/* ARK-Genoa */
	"4C6598D19C18719C5DFD4A7D335F674E5BFE1D8F800CEA2CF270C10D103DB2F1,"
	/* ARK-Turin */
	"1F084161A44BB6D93778A904877D4819CAFA5D05EF4193B2DED9DD9C73DD3F6A";

#define OID_PRODUCT "1.3.6.1.4.1.3704.1.2"
#define OID_TCB_BL "1.3.6.1.4.1.3704.1.3.1"
#define OID_TCB_TEE "1.3.6.1.4.1.3704.1.3.2"
#define OID_TCB_SNP "1.3.6.1.4.1.3704.1.3.3"
#define OID_TCB_UCODE "1.3.6.1.4.1.3704.1.3.8"
#define OID_TCB_FMC "1.3.6.1.4.1.3704.1.3.9"
#define OID_HWID "1.3.6.1.4.1.3704.1.4"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void snp_fini(void *vctx)
{
	struct snp_ctx *ctx = vctx;

	if (!ctx)
		return;
	dc_chain_conf_clear(&ctx->chain);
	free(ctx);
}

/* The island-side keys. */
static int snp_key(void *vctx, const char *k, const char *v, atoll_err *err)
{
	struct snp_ctx *ctx = vctx;
	size_t vmpl;

	if (strcmp(k, "device") == 0) {
		snprintf(ctx->device, sizeof(ctx->device), "%s", v);
	} else if (strcmp(k, "tsm_dir") == 0) {
		snprintf(ctx->tsm_dir, sizeof(ctx->tsm_dir), "%s", v);
	} else if (strcmp(k, "vmpl") == 0) {
		if (dc_parse_size(v, 0, 3, &vmpl) < 0)
			return dc_err(err, ATOLL_E_CONFIG,
				      "vmpl: '%s' is not 0..3", v);
		ctx->vmpl = (uint32_t)vmpl;
	} else {
		return DC_CONFIG_UNKNOWN;
	}
	return ATOLL_OK;
}

static int snp_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct snp_ctx *ctx = calloc(1, sizeof(*ctx));
	int r;

	if (!ctx)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(ctx->device, sizeof(ctx->device), "/dev/sev-guest");
	snprintf(ctx->tsm_dir, sizeof(ctx->tsm_dir),
		 "/sys/kernel/config/tsm/report");
	r = dc_chain_conf_init(&ctx->chain, "ark_fingerprints", default_arks,
			       config, n_config, snp_key, ctx, err);
	if (r != ATOLL_OK) {
		snp_fini(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
}

/* A small non-negative DER INTEGER (the TCB extensions). */
static int der_small_uint(const uint8_t *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i, len;

	if (n < 3 || p[0] != 0x02 || p[1] == 0 || p[1] > 9 ||
	    (size_t)p[1] + 2 != n)
		return -EINVAL;
	len = p[1];
	if (p[2] & 0x80)
		return -EINVAL;
	if (len == 9 && p[2] != 0)
		return -EINVAL;
	for (i = 0; i < len; i++)
		v = v << 8 | p[2 + i];
	*ret = v;
	return 0;
}

enum snp_product { PRODUCT_UNKNOWN, PRODUCT_MILAN, PRODUCT_GENOA, PRODUCT_TURIN };

/* The VCEK's product name is an IA5String such as "Milan-B0" or "Turin". */
static enum snp_product cert_product(X509 *cert, char *name, size_t name_size)
{
	const uint8_t *p;
	size_t n, l;

	name[0] = '\0';
	if (dc_cert_ext(cert, OID_PRODUCT, &p, &n) != 1 || n < 2 ||
	    p[0] != 0x16 || p[1] != n - 2)
		return PRODUCT_UNKNOWN;
	l = n - 2 < name_size - 1 ? n - 2 : name_size - 1;
	memcpy(name, p + 2, l);
	name[l] = '\0';
	if (strncmp(name, "Milan", 5) == 0)
		return PRODUCT_MILAN;
	if (strncmp(name, "Genoa", 5) == 0)
		return PRODUCT_GENOA;
	if (strncmp(name, "Turin", 5) == 0)
		return PRODUCT_TURIN;
	return PRODUCT_UNKNOWN;
}

struct tcb_parts {
	uint64_t bl, tee, snp, ucode, fmc;
};

static void split_tcb(uint64_t tcb, bool turin, struct tcb_parts *t)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(tcb >> (8 * i));
	if (turin) {
		t->fmc = b[0];
		t->bl = b[1];
		t->tee = b[2];
		t->snp = b[3];
	} else {
		t->fmc = 0;
		t->bl = b[0];
		t->tee = b[1];
		t->snp = b[6];
	}
	t->ucode = b[7];
}

static int check_one_tcb(X509 *cert, const char *who, const char *oid,
			 const char *what, uint64_t reported, atoll_err *err)
{
	const uint8_t *p;
	size_t n;
	uint64_t v;
	int r = dc_cert_ext(cert, oid, &p, &n);

	if (r == 0)
		return dc_err(err, ATOLL_E_TCB,
			      "%s has no %s TCB extension (%s)", who, what, oid);
	if (r < 0 || der_small_uint(p, n, &v) < 0)
		return dc_err(err, ATOLL_E_TCB,
			      "%s %s TCB extension does not parse", who, what);
	if (v != reported)
		return dc_err(err, ATOLL_E_TCB,
			      "%s TCB %s=%llu != reported_tcb %s=%llu", who, what,
			      (unsigned long long)v, what,
			      (unsigned long long)reported);
	return ATOLL_OK;
}

static int check_tcb(X509 *cert, const char *who, const struct tcb_parts *t,
		     bool turin, atoll_err *err)
{
	int r;

	r = check_one_tcb(cert, who, OID_TCB_BL, "bl", t->bl, err);
	if (r == ATOLL_OK)
		r = check_one_tcb(cert, who, OID_TCB_TEE, "tee", t->tee, err);
	if (r == ATOLL_OK)
		r = check_one_tcb(cert, who, OID_TCB_SNP, "snp", t->snp, err);
	if (r == ATOLL_OK)
		r = check_one_tcb(cert, who, OID_TCB_UCODE, "ucode", t->ucode,
				  err);
	if (r == ATOLL_OK && turin)
		r = check_one_tcb(cert, who, OID_TCB_FMC, "fmc", t->fmc, err);
	return r;
}

/* hwID is 64 bytes (Milan, Genoa) or 8 bytes (Turin), raw or wrapped in a
 * DER OCTET STRING depending on when KDS issued the certificate. */
static int check_hwid(X509 *cert, const uint8_t *chip_id, atoll_err *err)
{
	const uint8_t *p;
	size_t n;
	char a[40], b[40];
	int r = dc_cert_ext(cert, OID_HWID, &p, &n);

	if (r != 1)
		return dc_err(err, ATOLL_E_BINDING,
			      "VCEK has %s hwID extension (%s)",
			      r == 0 ? "no" : "more than one", OID_HWID);
	if ((n == 66 || n == 10) && p[0] == 0x04 && p[1] == n - 2) {
		p += 2;
		n -= 2;
	}
	if (n != 64 && n != 8)
		return dc_err(err, ATOLL_E_BINDING,
			      "VCEK hwID is %zu bytes, want 64 or 8", n);
	if (!dc_ct_equal(p, chip_id, n)) {
		dc_hex_short(p, n, 8, a, sizeof(a));
		dc_hex_short(chip_id, 64, 8, b, sizeof(b));
		return dc_err(err, ATOLL_E_BINDING,
			      "VCEK hwID %s != report chip_id %s", a, b);
	}
	return ATOLL_OK;
}

static int add_claims(struct dc_claims *c, const uint8_t *rep,
		      uint32_t version, int key_sel, bool turin,
		      const char *product, bool chip_masked)
{
	uint64_t policy = le64(rep + SNP_OFF_POLICY);
	uint64_t tcb = le64(rep + SNP_OFF_REPORTED_TCB);
	struct tcb_parts t;
	int r = 0;

	split_tcb(tcb, turin, &t);
	r |= dc_claims_add_uint(c, "report_version", version);
	r |= dc_claims_add_uint(c, "guest_svn", le32(rep + SNP_OFF_GUEST_SVN));
	r |= dc_claims_add_uint(c, "policy", policy);
	r |= dc_claims_add_bool(c, "policy_debug", policy & SNP_POLICY_DEBUG);
	r |= dc_claims_add_bool(c, "policy_smt", policy & SNP_POLICY_SMT);
	r |= dc_claims_add_bool(c, "policy_migrate_ma",
				policy & SNP_POLICY_MIGRATE_MA);
	r |= dc_claims_add_bool(c, "policy_single_socket",
				policy & SNP_POLICY_SINGLE_SOCKET);
	r |= dc_claims_add_uint(c, "policy_abi_major", (policy >> 8) & 0xff);
	r |= dc_claims_add_uint(c, "policy_abi_minor", policy & 0xff);
	r |= dc_claims_add_bytes(c, "family_id", rep + SNP_OFF_FAMILY_ID, 16);
	r |= dc_claims_add_bytes(c, "image_id", rep + SNP_OFF_IMAGE_ID, 16);
	r |= dc_claims_add_uint(c, "vmpl", le32(rep + SNP_OFF_VMPL));
	r |= dc_claims_add_uint(c, "current_tcb",
				le64(rep + SNP_OFF_CURRENT_TCB));
	r |= dc_claims_add_uint(c, "platform_info",
				le64(rep + SNP_OFF_PLATFORM_INFO));
	r |= dc_claims_add_string(c, "signing_key",
				  key_sel == SNP_KEY_VCEK ? "vcek" : "vlek", 4);
	r |= dc_claims_add_bool(c, "author_key_en",
				le32(rep + SNP_OFF_KEY_INFO) & 1);
	r |= dc_claims_add_bytes(c, "measurement", rep + SNP_OFF_MEASUREMENT,
				 48);
	r |= dc_claims_add_bytes(c, "host_data", rep + SNP_OFF_HOST_DATA, 32);
	r |= dc_claims_add_bytes(c, "id_key_digest",
				 rep + SNP_OFF_ID_KEY_DIGEST, 48);
	r |= dc_claims_add_bytes(c, "author_key_digest",
				 rep + SNP_OFF_AUTHOR_KEY_DIGEST, 48);
	r |= dc_claims_add_bytes(c, "report_id", rep + SNP_OFF_REPORT_ID, 32);
	r |= dc_claims_add_bytes(c, "report_id_ma", rep + SNP_OFF_REPORT_ID_MA,
				 32);
	r |= dc_claims_add_uint(c, "reported_tcb", tcb);
	r |= dc_claims_add_uint(c, "reported_tcb_bootloader", t.bl);
	r |= dc_claims_add_uint(c, "reported_tcb_tee", t.tee);
	r |= dc_claims_add_uint(c, "reported_tcb_snp", t.snp);
	r |= dc_claims_add_uint(c, "reported_tcb_microcode", t.ucode);
	if (turin)
		r |= dc_claims_add_uint(c, "reported_tcb_fmc", t.fmc);
	r |= dc_claims_add_bytes(c, "chip_id", rep + SNP_OFF_CHIP_ID, 64);
	r |= dc_claims_add_bool(c, "chip_id_masked", chip_masked);
	r |= dc_claims_add_uint(c, "committed_tcb",
				le64(rep + SNP_OFF_COMMITTED_TCB));
	r |= dc_claims_add_uint(c, "launch_tcb", le64(rep + SNP_OFF_LAUNCH_TCB));
	r |= dc_claims_add_uint(c, "current_build", rep[SNP_OFF_CURRENT_BUILD]);
	r |= dc_claims_add_uint(c, "current_minor",
				rep[SNP_OFF_CURRENT_BUILD + 1]);
	r |= dc_claims_add_uint(c, "current_major",
				rep[SNP_OFF_CURRENT_BUILD + 2]);
	r |= dc_claims_add_uint(c, "committed_build",
				rep[SNP_OFF_COMMITTED_BUILD]);
	r |= dc_claims_add_uint(c, "committed_minor",
				rep[SNP_OFF_COMMITTED_BUILD + 1]);
	r |= dc_claims_add_uint(c, "committed_major",
				rep[SNP_OFF_COMMITTED_BUILD + 2]);
	if (version >= 3) {
		r |= dc_claims_add_uint(c, "cpuid_fam_id",
					rep[SNP_OFF_CPUID_FAM]);
		r |= dc_claims_add_uint(c, "cpuid_mod_id",
					rep[SNP_OFF_CPUID_MOD]);
		r |= dc_claims_add_uint(c, "cpuid_step",
					rep[SNP_OFF_CPUID_STEP]);
	}
	if (product[0])
		r |= dc_claims_add_string(c, "product", product,
					  strlen(product));
	return r ? -ENOMEM : 0;
}

static int snp_verify(void *vctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	struct snp_ctx *ctx = vctx;
	struct dc_collateral *col = NULL;
	struct dc_claims *claims = NULL;
	struct dc_chain_result chain;
	const uint8_t *rep;
	X509 *signer = NULL;
	uint32_t version, sig_algo, key_info;
	int key_sel, i, n_candidates = 0, status;
	enum snp_product product = PRODUCT_UNKNOWN;
	char product_name[32] = "", name[160];
	bool turin, chip_masked;
	struct tcb_parts tcb;
	size_t j;

	status = dc_verify_args_check(args, ret_claims, err);
	if (status != ATOLL_OK)
		return status;
	if (args->evidence_len != SNP_REPORT_SIZE)
		return dc_err(err, ATOLL_E_FORMAT,
			      "attestation report is %zu bytes, want %u",
			      args->evidence_len, SNP_REPORT_SIZE);
	rep = args->evidence;
	version = le32(rep + SNP_OFF_VERSION);
	if (version < SNP_VERSION_MIN || version > SNP_VERSION_MAX)
		return dc_err(err, ATOLL_E_FORMAT,
			      "report version %u not supported (%d..%d)",
			      version, SNP_VERSION_MIN, SNP_VERSION_MAX);
	sig_algo = le32(rep + SNP_OFF_SIG_ALGO);
	if (sig_algo != 1)
		return dc_err(err, ATOLL_E_FORMAT,
			      "signature algorithm %u is not ECDSA P-384 (1)",
			      sig_algo);
	key_info = le32(rep + SNP_OFF_KEY_INFO);
	key_sel = (int)((key_info >> 2) & 7);
	if (key_sel == SNP_KEY_NONE)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "report is not signed (key_info signing key 7 = "
			      "none)");
	if (key_sel != SNP_KEY_VCEK && key_sel != SNP_KEY_VLEK)
		return dc_err(err, ATOLL_E_FORMAT,
			      "key_info signing key %d is reserved", key_sel);
	if (key_info & 2)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "report signature is masked (MASK_CHIP_KEY)");

	col = dc_collateral_new_cached(ctx->chain.parsed);
	if (!col ||
	    dc_collateral_merge_certs(col, ctx->chain.extra) != ATOLL_OK) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = dc_collateral_add_all(col, args->collateral,
				       args->n_collateral, err);
	if (status != ATOLL_OK)
		goto out_free;
	/* Blobs not recognized as certificates may be certificate tables
	 * from an extended report. Others are left alone. */
	for (j = 0; j < col->n_other; j++) {
		int r = snp_cert_table_add(col, col->other[j].data,
					   col->other[j].len, err);

		if (r != ATOLL_OK && r != 1) {
			status = dc_err_prefix(err, r, "certificate table");
			goto out_free;
		}
	}

	/* The signing certificate is whichever VCEK (or VLEK) in the pool
	 * verifies the report: collateral may carry several. */
	for (i = 0; i < sk_X509_num(col->certs); i++) {
		X509 *x = sk_X509_value(col->certs, i);
		EVP_PKEY *k = X509_get0_pubkey(x);

		if (!dc_cert_cn_is(x, key_sel == SNP_KEY_VCEK ? "SEV-VCEK" :
								"SEV-VLEK") ||
		    !dc_key_is_ec(k, "secp384r1"))
			continue;
		n_candidates++;
		status = dc_ecdsa_verify_raw(k, EVP_sha384(), rep,
					     SNP_SIGNED_SIZE,
					     rep + SNP_OFF_SIGNATURE, 144, true,
					     err);
		if (status == ATOLL_OK) {
			signer = x;
			break;
		}
		if (status != ATOLL_E_SIGNATURE)
			goto out_free;
	}
	if (n_candidates == 0) {
		status = dc_err(err, ATOLL_E_CHAIN,
				"no %s certificate (P-384) among %d collateral "
				"certificates",
				key_sel == SNP_KEY_VCEK ? "VCEK" : "VLEK",
				sk_X509_num(col->certs));
		goto out_free;
	}
	if (!signer) {
		status = dc_err(err, ATOLL_E_SIGNATURE,
				"report signature does not verify with the %s "
				"(%d candidate%s)",
				key_sel == SNP_KEY_VCEK ? "VCEK" : "VLEK",
				n_candidates, n_candidates == 1 ? "" : "s");
		goto out_free;
	}

	status = dc_chain_verify(signer, col->certs, col->crls,
				 &ctx->chain.pins, args->verify_time,
				 ctx->chain.cache, &chain, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status,
			      key_sel == SNP_KEY_VCEK ? "VCEK chain" :
							"VLEK chain");
		goto out_free;
	}

	product = cert_product(signer, product_name, sizeof(product_name));
	turin = product == PRODUCT_TURIN;
	if (version >= 3 && rep[SNP_OFF_CPUID_FAM] != 0) {
		/* Family 0x1A is Zen 5 (Turin); 0x19 is Milan or Genoa. */
		bool fam_turin = rep[SNP_OFF_CPUID_FAM] == 0x1a;

		if (product == PRODUCT_UNKNOWN) {
			turin = fam_turin;
		} else if (fam_turin != turin) {
			dc_cert_name(signer, name, sizeof(name));
			status = dc_err(err, ATOLL_E_BINDING,
					"%s is for %s but the report's CPUID "
					"family is 0x%02x",
					name, product_name,
					rep[SNP_OFF_CPUID_FAM]);
			goto out_free;
		}
	}
	split_tcb(le64(rep + SNP_OFF_REPORTED_TCB), turin, &tcb);
	status = check_tcb(signer, key_sel == SNP_KEY_VCEK ? "VCEK" : "VLEK",
			   &tcb, turin, err);
	if (status != ATOLL_OK)
		goto out_free;
	/* A VLEK belongs to a cloud provider, not a chip: no hwID. A report
	 * with MASK_CHIP_ID carries zeros and cannot be matched either. */
	chip_masked = dc_all_zero(rep + SNP_OFF_CHIP_ID, 64);
	if (key_sel == SNP_KEY_VCEK && !chip_masked) {
		status = check_hwid(signer, rep + SNP_OFF_CHIP_ID, err);
		if (status != ATOLL_OK)
			goto out_free;
	}
	if (args->expected_report_data &&
	    (args->expected_report_data_len != 64 ||
	     !dc_ct_equal(args->expected_report_data,
			  rep + SNP_OFF_REPORT_DATA, 64))) {
		status = dc_err(err, ATOLL_E_BINDING,
				"report_data differs from the expected value");
		goto out_free;
	}

	claims = dc_claims_new("sev_snp");
	if (!claims ||
	    dc_claims_set_measurement(claims, rep + SNP_OFF_MEASUREMENT, 48) ||
	    dc_claims_set_signer(claims, rep + SNP_OFF_ID_KEY_DIGEST, 48) ||
	    dc_claims_set_report_data(claims, rep + SNP_OFF_REPORT_DATA, 64) ||
	    add_claims(claims, rep, version, key_sel, turin, product_name,
		       chip_masked)) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	{
		atoll_claims *pub = dc_claims_pub(claims);

		pub->debug = (le64(rep + SNP_OFF_POLICY) & SNP_POLICY_DEBUG) ? 1 : 0;
		pub->svn = le32(rep + SNP_OFF_GUEST_SVN);
		pub->tcb = le64(rep + SNP_OFF_REPORTED_TCB);
		pub->issued_at = 0;
		pub->not_before = chain.not_before;
		pub->not_after = chain.not_after;
		*ret_claims = pub;
	}
	claims = NULL;
	status = ATOLL_OK;
out_free:
	if (claims)
		dc_claims_free(dc_claims_pub(claims));
	dc_collateral_free(col);
	return status;
}

static const atoll_tee_driver snp_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "sev_snp",
	.description = "AMD SEV-SNP attestation reports (VCEK/VLEK, ARK-pinned)",
	.init = snp_init,
	.fini = snp_fini,
	.detect = snp_detect,
	.collect = snp_collect,
	.evidence_free = snp_evidence_free,
	.verify = snp_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(snp_driver)
