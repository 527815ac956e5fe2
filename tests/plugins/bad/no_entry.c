/* A driver module whose entry point is misspelled. */
#include "stub.h"

static const atoll_tee_driver table = {
	STUB_DRIVER_HEAD,
	.name = "noentry",
	STUB_DRIVER_FIELDS,
};

ATOLL_ABI_EXPORT const atoll_tee_driver *atoll_tee_driver_entri(uint32_t host_major,
								uint32_t host_minor);

const atoll_tee_driver *atoll_tee_driver_entri(uint32_t host_major, uint32_t host_minor)
{
	return &table;
}
