/* The one adapter from evidence as the atoll.v1 messages carry it
 * (Islands/Connect's Evidence, ListAttestedIslands' AttestedIsland) to the
 * input of attest_judge: bytes fields become borrowed pointers, the
 * repeated collateral an array of atoll_blob. */
#ifndef ATOLL_ATTEST_WIRE_H
#define ATOLL_ATTEST_WIRE_H

#include <protobuf-c/protobuf-c.h>

#include "attest/verifier.h"

/* Fill *ret (at_ms left 0 for the caller) from the message fields, all
 * borrowed; the collateral array is allocated. 0 or -ENOMEM. */
int attest_input_from_pb(const char *tee, const ProtobufCBinaryData *evidence,
			 ProtobufCBinaryData *const collateral, size_t n_collateral,
			 const ProtobufCBinaryData *nonce, const ProtobufCBinaryData *enclave_pub,
			 const ProtobufCBinaryData *manifest, struct attest_input *ret);
/* Release what attest_input_from_pb allocated. */
void attest_input_release(struct attest_input *in);

#endif
