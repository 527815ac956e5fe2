/* libFuzzer target: collateral sorting by content (PEM, DER, PCS JSON,
 * bundles, bare bodies) and the TCB Info / QE Identity parsers on what it
 * finds. */
#include <stddef.h>
#include <stdint.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dcap_collateral c;
	atoll_blob b = { data, len };
	atoll_err err;

	if (dcap_collateral_load(NULL, &b, 1, &c, &err) != ATOLL_OK)
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
