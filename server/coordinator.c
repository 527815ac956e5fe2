/* Coordinator assembly: services on the server, health, reflection,
 * start and orderly stop. */
#include "coordinator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "util/log.h"

void svc_unimplemented(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	rpc_call_finishf(call, GRPC_STATUS_UNIMPLEMENTED,
			 "%s is not implemented by this coordinator version",
			 rpc_call_path(call));
}

int coordinator_start(struct coord_config *cfg, const char *listen_override,
		      struct coordinator **ret, char *err, size_t err_size)
{
	struct coordinator *co = calloc(1, sizeof *co);
	int e;
	if (!co) {
		coord_config_free(cfg);
		return -ENOMEM;
	}
	co->cfg = cfg;
	struct rpc_server_opts opts = {
		.threads = (int)cfg->limits.threads,
		.max_message_bytes = (int)cfg->limits.max_message_bytes,
		.keepalive_time_ms = (int)cfg->limits.keepalive_time_ms,
		.keepalive_timeout_ms = (int)cfg->limits.keepalive_timeout_ms,
	};
	if ((e = rpc_server_new(&opts, &co->srv, err, err_size)) < 0)
		goto fail;
	if ((e = health_new(&co->health)) < 0 ||
	    (e = health_register(co->health, co->srv)) < 0) {
		snprintf(err, err_size, "cannot set up the health service");
		goto fail;
	}
	if ((e = reflection_new(&co->refl, err, err_size)) < 0)
		goto fail;
	if ((e = reflection_register(co->refl, co->srv)) < 0 ||
	    (e = svc_confidential_register(co)) < 0 ||
	    (e = svc_jobs_register(co)) < 0 ||
	    (e = svc_islands_register(co)) < 0) {
		snprintf(err, err_size, "cannot register services: %s", strerror(-e));
		goto fail;
	}
	if ((e = reflection_list_served(co->refl, co->srv)) < 0) {
		snprintf(err, err_size, "cannot index services: %s", strerror(-e));
		goto fail;
	}
	health_set(co->health, "", GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	for (size_t i = 0; i < reflection_service_count(co->refl); i++)
		health_set(co->health, reflection_service(co->refl, i),
			   GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	rpc_server_on_shutdown(co->srv, health_shutdown, co->health);
	const char *addr = listen_override ? listen_override : cfg->listen.address;
	if ((e = rpc_server_start(co->srv, addr, &co->port, err, err_size)) < 0)
		goto fail;
	*ret = co;
	return 0;
fail:
	coordinator_free(co);
	return e;
}

void coordinator_stop(struct coordinator *co)
{
	rpc_server_shutdown(co->srv, co->cfg->limits.drain_timeout_ms);
}

void coordinator_free(struct coordinator *co)
{
	if (!co)
		return;
	rpc_server_free(co->srv);
	health_free(co->health);
	reflection_free(co->refl);
	coord_config_free(co->cfg);
	free(co);
}
