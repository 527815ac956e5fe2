/* A driver built for a future ABI 2.0 whose entry point hands its table
 * to any host, as a hand-written entry might: the host's own major check
 * must refuse it. (ATOLL_TEE_DRIVER_EXPORT would have refused the host.) */
#include "stub.h"

static const atoll_tee_driver table = {
	.abi_major = 2,
	.abi_minor = 0,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "abi2",
	STUB_DRIVER_FIELDS,
};

const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_major, uint32_t host_minor)
{
	return &table;
}
