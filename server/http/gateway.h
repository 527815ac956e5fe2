/* The coordinator's HTTP/JSON gateway: the seed's paths (jobs, keys,
 * stats, encrypt/decrypt for custodial coordinators), job events as
 * Server-Sent Events, /healthz, /readyz and /metrics. A front end beside
 * the gRPC services: it serves the same operations (svc/ops.h) on the same
 * messages, read and written with the proto3 JSON mapping, and watches
 * jobs through struct watch_ops. */
#ifndef ATOLL_SERVER_HTTP_GATEWAY_H
#define ATOLL_SERVER_HTTP_GATEWAY_H

#include <stddef.h>

struct coordinator;
struct gateway;

/* Listen on cfg->http.address (or address_override). 0 with *ret and the
 * bound port, or -errno with err. */
int gw_start(struct coordinator *co, const char *address_override, struct gateway **ret,
	     int *ret_port, char *err, size_t err_size);
/* /readyz answers 503 from now on (the coordinator is draining). */
void gw_draining(struct gateway *g);
/* Stop listening and end open event streams. Accepts NULL. */
void gw_stop(struct gateway *g);

#endif
