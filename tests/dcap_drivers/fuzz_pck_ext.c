/* libFuzzer target: the PCK certificate's SGX extension (DER). */
#include <stddef.h>
#include <stdint.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dcap_pck_ext e;
	atoll_err err;

	dcap_pck_ext_parse(data, len, &e, &err);
	return 0;
}
