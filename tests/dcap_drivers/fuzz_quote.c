/* libFuzzer target: the DCAP quote parser, then the certificate list it
 * carries and the PCK extension of its first certificate. */
#include <stddef.h>
#include <stdint.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dcap_quote q;
	struct dcap_pck_ext e;
	atoll_err err;

	if (dcap_quote_parse(data, len, &q, &err) != ATOLL_OK)
		return 0;
	/* Everything the parser points at lies inside the input. */
	if (q.body < data || q.body + q.body_len > data + len ||
	    q.cert_data + q.cert_len > data + len ||
	    q.qe_auth + q.qe_auth_len > data + len)
		__builtin_trap();
	if (q.cert_type != DCAP_CERT_PCK_CHAIN)
		return 0;
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (certs && dcap_certs_load(NULL, q.cert_data, q.cert_len, certs, &err) ==
			     ATOLL_OK)
		dcap_pck_ext_from_cert(sk_X509_value(certs, 0), &e, &err);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}
