/* gRPC status codes for Atoll's internal errors, in one table used by
 * every server-side service and every client that reports a status.
 * Library code returns negative errno values; a service that answers a
 * call with one maps it here, so the same failure always gets the same
 * code. */
#ifndef ATOLL_RPC_STATUS_H
#define ATOLL_RPC_STATUS_H

#include <grpc/status.h>

/* The mapping from internal errors to gRPC status codes:
 *   -EINVAL, -EBADMSG, -EDOM      INVALID_ARGUMENT (malformed or bad input)
 *   -ENOENT, -ESRCH               NOT_FOUND (unknown job, key, island)
 *   -EEXIST                       ALREADY_EXISTS
 *   -EACCES, -EKEYREJECTED        PERMISSION_DENIED (evidence or policy
 *                                 refused, not the tenant's)
 *   -ENOKEY, -EPERM               UNAUTHENTICATED (missing or unknown
 *                                 API key or island token)
 *   -EALREADY, -ENOTSUP           FAILED_PRECONDITION (job already final,
 *                                 operation off in this configuration)
 *   -ENOSYS                       UNIMPLEMENTED
 *   -E2BIG, -EMSGSIZE, -ENOMEM,
 *   -EDQUOT                       RESOURCE_EXHAUSTED
 *   -EAGAIN, -EBUSY, -ESHUTDOWN,
 *   -ENOTCONN, -ECONNRESET        UNAVAILABLE (retry later)
 *   -ETIMEDOUT                    DEADLINE_EXCEEDED
 *   -ECANCELED                    CANCELLED
 *   -ERANGE                       OUT_OF_RANGE
 *   -ECONNABORTED                 ABORTED (replaced by a newer stream)
 *   anything else                 INTERNAL
 */
grpc_status_code rpc_status_from_errno(int err);
const char *rpc_status_name(grpc_status_code code);

#endif
