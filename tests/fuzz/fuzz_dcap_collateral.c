/* libFuzzer target: collateral sorting by content (PEM, DER, PCS JSON,
 * bundles, bare bodies, detached signatures; blobs separated by FUZZ_SEP)
 * and the TCB Info / QE Identity parsers on what it finds. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_dcap.h"

void fuzz_setup(void)
{
	fuzz_dcap_pki_make();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	atoll_blob b[FUZZ_MAX_BLOBS];
	size_t n = fuzz_split(data, len, b, FUZZ_MAX_BLOBS);
	struct dcap_collateral c;
	atoll_err err;

	if (dcap_collateral_load(NULL, b, n, &c, &err) != ATOLL_OK)
		return 0;
	for (size_t i = 0; i < c.n_items; i++) {
		const struct dcap_json_item *it = &c.items[i];
		if (it->kind == DCAP_JSON_TCB_INFO) {
			struct dcap_tcb_info ti;
			if (dcap_tcb_info_parse(it->body, it->body_len, &ti,
						&err) == ATOLL_OK)
				dcap_tcb_info_done(&ti);
		} else {
			struct dcap_qe_identity qi;
			if (dcap_qe_identity_parse(it->body, it->body_len, &qi,
						   &err) == ATOLL_OK)
				dcap_qe_identity_done(&qi);
		}
	}
	dcap_collateral_done(&c);
	return 0;
}

void fuzz_seeds(void)
{
	char name[64];

	fuzz_rand_fix("fuzz_dcap_collateral seeds");
	for (int tdx = 0; tdx < 2; tdx++) {
		struct gen_tcb_info ti;
		struct gen_qe_identity qi;
		struct gen_collateral c;
		atoll_blob b[8];

		gen_tcb_info_defaults(&ti, tdx);
		gen_qe_identity_defaults(&qi, tdx);
		if (gen_collateral(&fuzz_dcap_pki, &ti, &qi, &c) < 0)
			fuzz_die("cannot generate collateral");
		for (size_t i = 0; i < c.n; i++) {
			snprintf(name, sizeof(name), "gen-%s-%zu",
				 tdx ? "tdx" : "sgx", i);
			fuzz_seed(name, c.data[i], c.len[i]);
			b[i] = (atoll_blob){ c.data[i], c.len[i] };
		}
		snprintf(name, sizeof(name), "gen-%s-all", tdx ? "tdx" : "sgx");
		fuzz_seed_blobs(name, b, c.n);
		gen_collateral_free(&c);
		char *body = gen_tcb_info_body(&ti);
		snprintf(name, sizeof(name), "gen-%s-tcb-body", tdx ? "tdx" : "sgx");
		fuzz_seed(name, body, body ? strlen(body) : 0);
		free(body);
		body = gen_qe_identity_body(&qi);
		snprintf(name, sizeof(name), "gen-%s-qe-body", tdx ? "tdx" : "sgx");
		fuzz_seed(name, body, body ? strlen(body) : 0);
		free(body);
		if (!tdx) {
			ti.version = 2;
			ti.id = NULL;
			body = gen_tcb_info_body(&ti);
			fuzz_seed("gen-sgx-tcb-v2-body", body,
				  body ? strlen(body) : 0);
			free(body);
		}
	}
	fuzz_rand_restore();
	for (size_t i = 0; i < FUZZ_DCAP_N_SHARED; i++) {
		size_t len;
		uint8_t *d;

		if (fuzz_dcap_is_quote(i))
			continue;
		d = fuzz_dcap_read_shared(i, &len);
		snprintf(name, sizeof(name), "shared-%zu", i);
		fuzz_seed(name, d, len);
		free(d);
	}
}
