/* atoll.v1.Islands/Connect: the island stream. */
#include "atoll/v1/islands.pb-c.h"
#include "coordinator.h"

static void connect_start(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	svc_unimplemented(call, req, ud);
}

int svc_islands_register(struct coordinator *co)
{
	const rpc_method m = { "/atoll.v1.Islands/Connect", RPC_BIDI,
			       &atoll__v1__island_message__descriptor, connect_start, NULL, NULL,
			       NULL, co };
	return rpc_server_add_method(co->srv, &m);
}
