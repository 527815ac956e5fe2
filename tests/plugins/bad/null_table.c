/* A driver whose hand-written entry point refuses every host. */
#include "stub.h"

const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_major, uint32_t host_minor)
{
	return NULL;
}
