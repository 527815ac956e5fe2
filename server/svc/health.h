/* grpc.health.v1.Health: Check and Watch over a table of service states. */
#ifndef ATOLL_SERVER_HEALTH_H
#define ATOLL_SERVER_HEALTH_H

#include "rpc/server.h"

struct health;

int health_new(struct health **ret);
/* After every Watch call is done (the server shut down). Accepts NULL. */
void health_free(struct health *h);
int health_register(struct health *h, rpc_server *s);
/* Set a service's status (values of HealthCheckResponse.ServingStatus);
 * "" is the server as a whole. Watchers of that service hear of it. */
int health_set(struct health *h, const char *service, int status);
/* Everything NOT_SERVING, and Watch streams end with UNAVAILABLE. Meant as
 * an rpc_server_on_shutdown hook. */
void health_shutdown(void *h);

#endif
