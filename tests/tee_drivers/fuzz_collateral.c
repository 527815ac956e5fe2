/* libFuzzer target: the common parsers on arbitrary bytes: collateral
 * recognition (PEM/DER/JSON), the CBOR screen and decoder, COSE_Sign1. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dc_cose.h"
#include "dc_x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dc_collateral *c = dc_collateral_new();
	struct dc_cose_sign1 m;
	cbor_item_t *item = NULL;
	atoll_err err;

	if (c) {
		dc_collateral_add(c, data, size, &err);
		dc_collateral_free(c);
	}
	if (dc_cbor_decode(data, size, &item, &err) == ATOLL_OK)
		cbor_decref(&item);
	if (dc_cose_sign1_parse(data, size, &m, &err) == ATOLL_OK) {
		uint8_t *tbs;
		size_t n;

		if (dc_cose_sig_structure(&m, NULL, 0, &tbs, &n) == 0)
			free(tbs);
		dc_cose_sign1_clear(&m);
	}
	return 0;
}
