/* The one mapping from internal errors (negative errno) to gRPC status
 * codes, status names for messages, and gRPC codes to HTTP statuses. */
#include "rpc/status.h"

#include <errno.h>

grpc_status_code rpc_status_from_errno(int err)
{
	switch (-err) {
	case 0: return GRPC_STATUS_OK;
	case EINVAL: case EBADMSG: case EDOM: return GRPC_STATUS_INVALID_ARGUMENT;
	case ENOENT: case ESRCH: return GRPC_STATUS_NOT_FOUND;
	case EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
	case EACCES: case EKEYREJECTED: return GRPC_STATUS_PERMISSION_DENIED;
	case ENOKEY: case EPERM: return GRPC_STATUS_UNAUTHENTICATED;
	case EALREADY: case ENOTSUP: return GRPC_STATUS_FAILED_PRECONDITION;
	case ENOSYS: return GRPC_STATUS_UNIMPLEMENTED;
	case E2BIG: case EMSGSIZE: case ENOMEM: case EDQUOT:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case EAGAIN: case EBUSY: case ESHUTDOWN: case ENOTCONN: case ECONNRESET:
		return GRPC_STATUS_UNAVAILABLE;
	case ETIMEDOUT: return GRPC_STATUS_DEADLINE_EXCEEDED;
	case ECANCELED: return GRPC_STATUS_CANCELLED;
	case ERANGE: return GRPC_STATUS_OUT_OF_RANGE;
	case ECONNABORTED: return GRPC_STATUS_ABORTED;
	default: return GRPC_STATUS_INTERNAL;
	}
}

const char *rpc_status_name(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK: return "OK";
	case GRPC_STATUS_CANCELLED: return "CANCELLED";
	case GRPC_STATUS_UNKNOWN: return "UNKNOWN";
	case GRPC_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
	case GRPC_STATUS_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
	case GRPC_STATUS_NOT_FOUND: return "NOT_FOUND";
	case GRPC_STATUS_ALREADY_EXISTS: return "ALREADY_EXISTS";
	case GRPC_STATUS_PERMISSION_DENIED: return "PERMISSION_DENIED";
	case GRPC_STATUS_UNAUTHENTICATED: return "UNAUTHENTICATED";
	case GRPC_STATUS_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
	case GRPC_STATUS_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
	case GRPC_STATUS_ABORTED: return "ABORTED";
	case GRPC_STATUS_OUT_OF_RANGE: return "OUT_OF_RANGE";
	case GRPC_STATUS_UNIMPLEMENTED: return "UNIMPLEMENTED";
	case GRPC_STATUS_INTERNAL: return "INTERNAL";
	case GRPC_STATUS_UNAVAILABLE: return "UNAVAILABLE";
	case GRPC_STATUS_DATA_LOSS: return "DATA_LOSS";
	case GRPC_STATUS__DO_NOT_USE: break;
	}
	return "?";
}

unsigned rpc_http_status(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK: return 200;
	case GRPC_STATUS_INVALID_ARGUMENT: return 400;
	case GRPC_STATUS_OUT_OF_RANGE: return 400;
	case GRPC_STATUS_UNAUTHENTICATED: return 401;
	case GRPC_STATUS_PERMISSION_DENIED: return 403;
	case GRPC_STATUS_NOT_FOUND: return 404;
	case GRPC_STATUS_ALREADY_EXISTS: return 409;
	case GRPC_STATUS_ABORTED: return 409;
	case GRPC_STATUS_FAILED_PRECONDITION: return 412;
	case GRPC_STATUS_RESOURCE_EXHAUSTED: return 429;
	case GRPC_STATUS_CANCELLED: return 499;
	case GRPC_STATUS_UNIMPLEMENTED: return 501;
	case GRPC_STATUS_UNAVAILABLE: return 503;
	case GRPC_STATUS_DEADLINE_EXCEEDED: return 504;
	case GRPC_STATUS_UNKNOWN: return 500;
	case GRPC_STATUS_INTERNAL: return 500;
	case GRPC_STATUS_DATA_LOSS: return 500;
	case GRPC_STATUS__DO_NOT_USE: break;
	}
	return 500;
}
