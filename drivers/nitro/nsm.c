/* NSM attestation requests and responses. */
#include "nsm.h"

#include <string.h>

#include "dc_cose.h"
#include "dc_util.h"

static uint8_t *text(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	p += dc_cbor_head(p, 3, n);
	memcpy(p, s, n);
	return p + n;
}

size_t nsm_attestation_request(const uint8_t report_data[ATOLL_REPORT_DATA_LEN],
			       uint8_t *out)
{
	uint8_t *p = out;

	p += dc_cbor_head(p, 5, 1);
	p = text(p, "Attestation");
	p += dc_cbor_head(p, 5, 3);
	p = text(p, "user_data");
	*p++ = 0xf6;
	p = text(p, "nonce");
	p += dc_cbor_head(p, 2, ATOLL_REPORT_DATA_LEN);
	memcpy(p, report_data, ATOLL_REPORT_DATA_LEN);
	p += ATOLL_REPORT_DATA_LEN;
	p = text(p, "public_key");
	*p++ = 0xf6;
	return (size_t)(p - out);
}

int nsm_attestation_response(const uint8_t *resp, size_t len,
			     cbor_item_t **ret_item, const uint8_t **ret_doc,
			     size_t *ret_doc_len, atoll_err *err)
{
	cbor_item_t *item = NULL;
	const cbor_item_t *e, *att, *doc;
	const uint8_t *p;
	const char *msg;
	size_t n, mlen;
	int status;

	status = dc_cbor_decode(resp, len, &item, err);
	if (status != ATOLL_OK)
		return dc_err_prefix(err, ATOLL_E_IO, "NSM response");
	if (!cbor_isa_map(item)) {
		cbor_decref(&item);
		return dc_err(err, ATOLL_E_IO, "NSM response is not a map");
	}
	e = dc_cbor_map_str(item, "Error", NULL);
	if (e) {
		if (!dc_cbor_text(e, &msg, &mlen)) {
			msg = "?";
			mlen = 1;
		}
		status = dc_err(err, ATOLL_E_IO, "NSM error %.*s",
				(int)(mlen > 64 ? 64 : mlen), msg);
		cbor_decref(&item);
		return status;
	}
	att = dc_cbor_map_str(item, "Attestation", NULL);
	doc = att && cbor_isa_map(att) ?
		      dc_cbor_map_str(att, "document", NULL) : NULL;
	if (!doc || !dc_cbor_bytes(doc, &p, &n) || n == 0) {
		cbor_decref(&item);
		return dc_err(err, ATOLL_E_IO,
			      "NSM response has no attestation document");
	}
	*ret_item = item;
	*ret_doc = p;
	*ret_doc_len = n;
	return ATOLL_OK;
}
