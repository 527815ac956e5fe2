/* A backend built for a future ABI version 2. */
#include "stub.h"

static const atoll_backend table = {
	.abi_version = 2,
	.struct_size = sizeof(atoll_backend),
	.name = "abi2",
	.init = stub_init,
	.fini = stub_fini,
	.run = stub_run,
};

EXPORT const atoll_backend *atoll_backend_entry(uint32_t host_abi)
{
	return &table;
}
