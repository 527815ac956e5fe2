/* libFuzzer target: the DCAP quote parser, then the certificate list it
 * carries and the PCK extension of its leaf. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_dcap.h"

void fuzz_setup(void)
{
	fuzz_dcap_pki_make();
}

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
		fuzz_die("quote field outside the input");
	if (q.cert_type != DCAP_CERT_PCK_CHAIN)
		return 0;
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (certs && dcap_certs_load(NULL, q.cert_data, q.cert_len, certs, &err) ==
			     ATOLL_OK)
		dcap_pck_ext_from_cert(sk_X509_value(certs, 0), &e, &err);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

void fuzz_seeds(void)
{
	char name[64];

	fuzz_rand_fix("fuzz_dcap_quote seeds");
	for (size_t i = 0; i < FUZZ_DCAP_N_KINDS; i++) {
		size_t len;
		uint8_t *q = fuzz_dcap_quote(i, &len);

		snprintf(name, sizeof(name), "gen-v%d-type%u-%zu",
			 fuzz_dcap_kinds[i].version, fuzz_dcap_kinds[i].body_type,
			 i);
		fuzz_seed(name, q, len);
		free(q);
	}
	fuzz_rand_restore();
	for (size_t i = 0; i < FUZZ_DCAP_N_SHARED; i++) {
		size_t len;
		uint8_t *q;

		if (!fuzz_dcap_is_quote(i))
			continue;
		q = fuzz_dcap_read_shared(i, &len);
		snprintf(name, sizeof(name), "shared-%zu", i);
		fuzz_seed(name, q, len);
		free(q);
	}
}
