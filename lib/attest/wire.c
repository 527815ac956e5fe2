/* Evidence from protobuf fields to attest_input. */
#include "attest/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int attest_input_from_pb(const char *tee, const ProtobufCBinaryData *evidence,
			 ProtobufCBinaryData *const collateral, size_t n_collateral,
			 const ProtobufCBinaryData *nonce, const ProtobufCBinaryData *enclave_pub,
			 const ProtobufCBinaryData *manifest, struct attest_input *ret)
{
	atoll_blob *coll = calloc(n_collateral + 1, sizeof *coll);
	if (!coll)
		return -ENOMEM;
	for (size_t i = 0; i < n_collateral; i++)
		coll[i] = (atoll_blob){ collateral[i].data, collateral[i].len };
	*ret = (struct attest_input){
		.tee = tee,
		.evidence = evidence->data,
		.evidence_len = evidence->len,
		.collateral = coll,
		.n_collateral = n_collateral,
		.nonce = nonce->data,
		.nonce_len = nonce->len,
		.enclave_pub = enclave_pub->data,
		.enclave_pub_len = enclave_pub->len,
		.manifest = manifest->data,
		.manifest_len = manifest->len,
	};
	return 0;
}

void attest_input_release(struct attest_input *in)
{
	free((void *)in->collateral);
	in->collateral = NULL;
	in->n_collateral = 0;
}
