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

/* The HTTP status the gateway and atoll-proxy answer for a gRPC status,
 * so that HTTP and gRPC clients see the same failure the same way:
 *   OK 200, INVALID_ARGUMENT 400, OUT_OF_RANGE 400, UNAUTHENTICATED 401,
 *   PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS 409, ABORTED 409,
 *   FAILED_PRECONDITION 412 (e.g. encrypt on a non-custodial coordinator),
 *   RESOURCE_EXHAUSTED 429, CANCELLED 499, INTERNAL/UNKNOWN/DATA_LOSS 500,
 *   UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504.
 * An oversized request body is the one HTTP-only case: 413 with code
 * RESOURCE_EXHAUSTED. */
unsigned rpc_http_status(grpc_status_code code);

#endif
