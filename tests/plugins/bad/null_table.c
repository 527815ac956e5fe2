/* A driver whose entry point refuses every host. */
#include "stub.h"

EXPORT const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_abi)
{
	return NULL;
}
