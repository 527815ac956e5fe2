/* gRPC server reflection (v1 and v1alpha) over the embedded descriptor
 * set. */
#ifndef ATOLL_SERVER_REFLECTION_H
#define ATOLL_SERVER_REFLECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/server.h"

struct reflection;

/* Parse and index the embedded descriptor set. */
int reflection_new(struct reflection **ret, char *err, size_t err_size);
void reflection_free(struct reflection *r);
/* Add the two ServerReflectionInfo methods to the server. */
int reflection_register(struct reflection *r, rpc_server *s);
/* After every service is registered, before start: list as services those
 * of the set that have a method on the server. */
int reflection_list_served(struct reflection *r, const rpc_server *s);
size_t reflection_service_count(const struct reflection *r);
const char *reflection_service(const struct reflection *r, size_t i);
bool reflection_has_symbol(const struct reflection *r, const char *name);

#endif
