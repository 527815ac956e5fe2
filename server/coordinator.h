/* The coordinator process: configuration, the gRPC server and the
 * services on it, and their shared state. */
#ifndef ATOLL_SERVER_COORDINATOR_H
#define ATOLL_SERVER_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "attest/verifier.h"
#include "config.h"
#include "core/core.h"
#include "http/gateway.h"
#include "rpc/server.h"
#include "store/store.h"
#include "svc/health.h"
#include "svc/ops.h"
#include "svc/reflection.h"

struct coordinator {
	struct coord_config *cfg;
	/* Configs loaded by SIGHUP, whose policies took over; freed at exit. */
	struct coord_config **reloaded;
	size_t n_reloaded;
	rpc_server *srv;
	struct health *health;
	struct reflection *refl;
	struct store *store;
	struct attest_verifier verifier;
	struct core *core;
	int port;
	/* The HTTP/JSON gateway and /metrics (http.address), or NULL. */
	struct gateway *gw;
	int http_port;
	/* The unary gRPC methods and the operations serving them. */
	struct svc_binding bindings[16];
	size_t n_bindings;
};

/* Load nothing, start nothing: build the services on cfg (taken over) and
 * listen on listen_override or the configured address. */
int coordinator_start(struct coord_config *cfg, const char *listen_override,
		      struct coordinator **ret, char *err, size_t err_size);
/* SIGHUP: re-read the config file; its policy section replaces the
 * current one. 0, or -errno with err (the old policy stays). */
int coordinator_reload(struct coordinator *co, char *err, size_t err_size);
/* Drain and stop (graceful up to the configured drain timeout). */
void coordinator_stop(struct coordinator *co);
void coordinator_free(struct coordinator *co);

/* Registration of the atoll.v1 services (svc/). */
int svc_confidential_register(struct coordinator *co);
int svc_jobs_register(struct coordinator *co);
int svc_islands_register(struct coordinator *co);

/* Handler for RPCs whose logic a later version brings. */
void svc_unimplemented(rpc_call *call, const ProtobufCMessage *req, void *ud);

#endif
