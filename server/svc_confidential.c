/* atoll.v1.Confidential: keys, custodial encrypt/decrypt, attested
 * islands, statistics. */
#include <stdlib.h>

#include "atoll/v1/confidential.pb-c.h"
#include "coordinator.h"

static void get_stats(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	Atoll__V1__Stats stats = ATOLL__V1__STATS__INIT;
	/* No island registry yet: every count is zero. */
	rpc_call_reply(call, &stats.base);
}

int svc_confidential_register(struct coordinator *co)
{
	const rpc_method methods[] = {
		{ "/atoll.v1.Confidential/CreateKey", RPC_UNARY,
		  &atoll__v1__create_key_request__descriptor, svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/Encrypt", RPC_UNARY,
		  &atoll__v1__encrypt_request__descriptor, svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/Decrypt", RPC_UNARY,
		  &atoll__v1__decrypt_request__descriptor, svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/GetStats", RPC_UNARY,
		  &atoll__v1__get_stats_request__descriptor, get_stats, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/ListAttestedIslands", RPC_UNARY,
		  &atoll__v1__list_attested_islands_request__descriptor, svc_unimplemented, NULL,
		  NULL, NULL, co },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		int e = rpc_server_add_method(co->srv, &methods[i]);
		if (e < 0)
			return e;
	}
	return 0;
}
