/* libFuzzer target: the PCK certificate's SGX extension (DER). */
#include <stddef.h>
#include <stdint.h>

#include <openssl/objects.h>

#include "fuzz_dcap.h"

void fuzz_setup(void)
{
	fuzz_dcap_pki_make();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dcap_pck_ext e;
	atoll_err err;

	dcap_pck_ext_parse(data, len, &e, &err);
	return 0;
}

/* The extension's value in x, as a seed. */
static void put_ext(const char *name, X509 *x)
{
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int i = X509_get_ext_by_OBJ(x, oid, -1);

	ASN1_OBJECT_free(oid);
	if (i < 0)
		return;
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, i));
	fuzz_seed(name, ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os));
}

void fuzz_seeds(void)
{
	char name[64];

	put_ext("gen-pck", fuzz_dcap_pki.pck);
	for (size_t i = 0; i < FUZZ_DCAP_N_SHARED; i++) {
		struct dcap_quote q;
		atoll_err err;
		size_t len;
		uint8_t *d;

		if (!fuzz_dcap_is_quote(i) || !(d = fuzz_dcap_read_shared(i, &len)))
			continue;
		STACK_OF(X509) *certs = sk_X509_new_null();
		if (certs && dcap_quote_parse(d, len, &q, &err) == ATOLL_OK &&
		    q.cert_type == DCAP_CERT_PCK_CHAIN &&
		    dcap_certs_load(NULL, q.cert_data, q.cert_len, certs, &err) ==
			    ATOLL_OK) {
			snprintf(name, sizeof(name), "shared-%zu", i);
			put_ext(name, sk_X509_value(certs, 0));
		}
		sk_X509_pop_free(certs, X509_free);
		free(d);
	}
}
