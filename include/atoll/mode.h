/* Job modes, shared by the backend ABI, the coordinator and the clients.
 *
 * The numbers equal atoll.v1.Mode on the wire and never change. The header
 * depends on <stdint.h> only, so the coordinator can use the modes without
 * including the backend ABI. */
#ifndef ATOLL_MODE_H
#define ATOLL_MODE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum atoll_mode {
	ATOLL_MODE_PLAIN = 1,
	ATOLL_MODE_TEE = 2,
	ATOLL_MODE_HOMOMORPHIC = 3,
};
#define ATOLL_MODE_BIT(m) (1u << (m))

/* "plain", "tee", "homomorphic" for a mode, "?" for anything else. */
static inline const char *atoll_mode_name(uint32_t mode)
{
	switch (mode) {
	case ATOLL_MODE_PLAIN: return "plain";
	case ATOLL_MODE_TEE: return "tee";
	case ATOLL_MODE_HOMOMORPHIC: return "homomorphic";
	}
	return "?";
}

#ifdef __cplusplus
}
#endif

#endif
