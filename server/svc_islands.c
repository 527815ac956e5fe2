/* atoll.v1.Islands/Connect: authenticate the island's token, then hand
 * every message to the core. */
#include <errno.h>

#include "atoll/v1/islands.pb-c.h"
#include "auth.h"
#include "coordinator.h"
#include "util/log.h"

static void connect_start(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const struct island_token_cfg *tok;
	char err[256];
	if (auth_island(co->cfg, call, &tok, err, sizeof err) < 0) {
		log_warn("island stream from %s refused: %s", rpc_call_peer(call), err);
		rpc_call_fail(call, -ENOKEY, err);
		return;
	}
	struct island *is = core_island_open(co->core, call, tok->name);
	if (!is) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		return;
	}
	rpc_call_set_user(call, is);
}

static void connect_message(rpc_call *call, const ProtobufCMessage *msg, void *ud)
{
	struct coordinator *co = ud;
	struct island *is = rpc_call_user(call);
	if (is)
		core_island_message(co->core, is, (const Atoll__V1__IslandMessage *)msg);
}

static void connect_half_close(rpc_call *call, void *ud)
{
	rpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void connect_done(rpc_call *call, bool cancelled, void *ud)
{
	struct coordinator *co = ud;
	struct island *is = rpc_call_user(call);
	if (is)
		core_island_close(co->core, is);
}

int svc_islands_register(struct coordinator *co)
{
	const rpc_method m = { "/atoll.v1.Islands/Connect", RPC_BIDI,
			       &atoll__v1__island_message__descriptor, connect_start,
			       connect_message, connect_half_close, connect_done, co };
	return rpc_server_add_method(co->srv, &m);
}
