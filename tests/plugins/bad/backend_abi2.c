/* A backend built for a future ABI 2.0 whose hand-written entry point
 * hands its table to any host: the host's major check must refuse it. */
#include "stub.h"

static const atoll_backend table = {
	.abi_major = 2,
	.abi_minor = 0,
	.struct_size = sizeof(atoll_backend),
	.name = "abi2",
	.init = stub_init,
	.fini = stub_fini,
	.run = stub_run,
};

const atoll_backend *atoll_backend_entry(uint32_t host_major, uint32_t host_minor)
{
	return &table;
}
