/* The Nitro Security Module's request and response encoding, and the
 * kernel's raw NSM ioctl (include/uapi/linux/nsm.h): what collect() sends
 * through /dev/nsm. Kept apart from the driver so that tests check the
 * exact bytes and the struct layout without an enclave. */
#ifndef ATOLL_DRIVERS_NITRO_NSM_H
#define ATOLL_DRIVERS_NITRO_NSM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <cbor.h>

#include "atoll/tee_driver.h"

struct nsm_iovec {
	uint64_t addr;
	uint64_t len;
};

/* The request goes in, the response buffer comes back with its length
 * set to what the NSM wrote. */
struct nsm_raw {
	struct nsm_iovec request;
	struct nsm_iovec response;
};

#define NSM_MAGIC 0x0a
#define NSM_IOCTL_RAW _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)
/* The NSM's own limits on a request and a response. */
#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000

/* Size of the request nsm_attestation_request() writes. */
#define NSM_ATTESTATION_REQUEST_LEN 109

/* The NSM API's Request::Attestation, as CBOR:
 *   {"Attestation": {"user_data": null, "nonce": h'<report data>',
 *                    "public_key": null}}
 * Atoll's report data (already binding the enclave key and manifest) is
 * the nonce, which the nitro verifier compares with the report data it
 * expects. out holds NSM_ATTESTATION_REQUEST_LEN bytes; returns that. */
size_t nsm_attestation_request(const uint8_t report_data[ATOLL_REPORT_DATA_LEN],
			       uint8_t *out);

/* The document of a Response::Attestation {"Attestation": {"document":
 * bstr}}. ATOLL_OK with *ret_doc borrowed from *ret_item (release with
 * cbor_decref); ATOLL_E_IO naming an {"Error": "..."} response or any
 * other shape. */
int nsm_attestation_response(const uint8_t *resp, size_t len,
			     cbor_item_t **ret_item, const uint8_t **ret_doc,
			     size_t *ret_doc_len, atoll_err *err);

#endif
