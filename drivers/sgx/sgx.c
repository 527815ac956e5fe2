/* The sgx TEE driver: verifies Intel SGX DCAP ECDSA quotes (v3, and SGX
 * bodies in v4/v5) and reports the enclave's identity as claims. It does
 * not produce quotes: that needs the quoting enclave behind AESM and an
 * SGX runtime inside the enclave, which Atoll does not ship, so the
 * driver has no collect side (detect, collect, evidence_free). */
#include "dcap.h"

static int sgx_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct dcap_verifier *v;
	int r = dcap_verifier_new(config, n_config, NULL, &v, err);

	if (r == ATOLL_OK)
		*ret_ctx = v;
	return r;
}

static void sgx_fini(void *ctx)
{
	dcap_verifier_free(ctx);
}

/* The enclave's identity from the SGX report body. */
static void sgx_claims(struct dcap_claims *cl, const struct dcap_result *res)
{
	const uint8_t *b = res->quote.body;
	bool debug = b[SGXR_ATTRIBUTES] & SGX_FLAGS_DEBUG;
	atoll_claims *pub = dcap_claims_pub(cl);

	dcap_claims_set(cl, b + SGXR_MRENCLAVE, 32, b + SGXR_MRSIGNER, 32,
			b + SGXR_REPORT_DATA, 64);
	pub->debug = debug;
	pub->svn = dcap_le16(b + SGXR_ISV_SVN);
	dcap_claims_bytes(cl, "mrenclave", b + SGXR_MRENCLAVE, 32);
	dcap_claims_bytes(cl, "mrsigner", b + SGXR_MRSIGNER, 32);
	dcap_claims_uint(cl, "isv_prod_id", dcap_le16(b + SGXR_ISV_PROD_ID));
	dcap_claims_uint(cl, "isv_svn", dcap_le16(b + SGXR_ISV_SVN));
	dcap_claims_bytes(cl, "attributes", b + SGXR_ATTRIBUTES, 16);
	dcap_claims_bool(cl, "debug", debug);
	dcap_claims_uint(cl, "miscselect", dcap_le32(b + SGXR_MISCSELECT));
	dcap_claims_bytes(cl, "cpusvn", b + SGXR_CPUSVN, 16);
	dcap_claims_bytes(cl, "config_id", b + SGXR_CONFIG_ID, 64);
	dcap_claims_uint(cl, "config_svn", dcap_le16(b + SGXR_CONFIG_SVN));
	dcap_claims_bytes(cl, "isv_ext_prod_id", b + SGXR_ISV_EXT_PROD_ID, 16);
	dcap_claims_bytes(cl, "isv_family_id", b + SGXR_ISV_FAMILY_ID, 16);
	dcap_claims_bytes(cl, "report_data", b + SGXR_REPORT_DATA, 64);
}

static int sgx_verify(void *ctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	return dcap_driver_verify(ctx, DCAP_TEE_SGX, "sgx", sgx_claims, args,
				  ret_claims, err);
}

static const atoll_tee_driver sgx_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "sgx",
	.description = "Intel SGX DCAP ECDSA quotes (v3; v4/v5 SGX bodies), verify only",
	.init = sgx_init,
	.fini = sgx_fini,
	.verify = sgx_verify,
	.claims_free = dcap_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(sgx_driver)
