/* Coordinator assembly: store, drivers, core, services on the server,
 * health, reflection, the HTTP gateway and metrics; start, reload and
 * orderly stop. */
#include "coordinator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "grpc/health/v1/health.pb-c.h"
#include "metrics.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/log.h"

void svc_unimplemented(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	rpc_call_finishf(call, GRPC_STATUS_UNIMPLEMENTED,
			 "%s is not implemented by this coordinator version",
			 rpc_call_path(call));
}

/* The gRPC layer's limits are counted and logged with the core's. */
static void on_limit(const char *what, const char *method, void *ud)
{
	struct coordinator *co = ud;
	if (co->core)
		core_limit_report(co->core, what, method);
}

static int load_drivers(struct coordinator *co, char *err, size_t err_size)
{
	const struct attest_config *ac = &co->cfg->attest;
	int e = attest_verifier_load(ac->drivers, ac->n_drivers, &co->verifier, err, err_size);
	if (e < 0)
		return e;
	for (size_t i = 0; i < co->verifier.drivers.n; i++) {
		char line[1200];
		plugin_driver_describe(&co->verifier.drivers.d[i], line, sizeof line);
		log_info("%s", line);
	}
	return 0;
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
	char owner[40];
	if ((e = enc_random_id("co_", owner, sizeof owner)) < 0) {
		snprintf(err, err_size, "no randomness for the coordinator's id");
		goto fail;
	}
	struct store_options so = {
		.driver = cfg->store.driver ? STORE_POSTGRES : STORE_SQLITE,
		.path = cfg->store.path,
		.synchronous_full = cfg->store.synchronous_full,
		.dsn = cfg->store.dsn,
		.owner = owner,
	};
	if ((e = load_drivers(co, err, err_size)) < 0 ||
	    (e = store_open(&so, &co->store, err, err_size)) < 0 ||
	    (e = core_new(cfg, co->store, &co->verifier, &co->core, err, err_size)) < 0)
		goto fail;
	store_on_commit(co->store, metrics_store_commit);
	struct rpc_server_opts opts = {
		.threads = (int)cfg->limits.threads,
		.max_message_bytes = (int)cfg->limits.max_message_bytes,
		.keepalive_time_ms = (int)cfg->limits.keepalive_time_ms,
		.keepalive_timeout_ms = (int)cfg->limits.keepalive_timeout_ms,
		.max_queued_bytes = (size_t)cfg->limits.max_send_backlog,
		.max_streams_per_connection = (int)cfg->limits.max_streams_per_connection,
		.memory_quota_bytes = (long)cfg->limits.memory_quota,
		.on_limit = on_limit,
		.limit_ud = co,
	};
	char *pem[3] = { NULL, NULL, NULL };
	const char *paths[3] = { cfg->listen.tls_cert, cfg->listen.tls_key,
				 cfg->listen.tls_client_ca };
	for (int i = 0; i < 3; i++) {
		size_t len;
		if (paths[i] && fs_read_file(paths[i], 1 << 20, (uint8_t **)&pem[i], &len) < 0) {
			snprintf(err, err_size, "cannot read %s (listen.tls)", paths[i]);
			for (int k = 0; k < 3; k++)
				free(pem[k]);
			e = -EIO;
			goto fail;
		}
	}
	opts.tls_cert_pem = pem[0];
	opts.tls_key_pem = pem[1];
	opts.tls_client_ca_pem = pem[2];
	e = rpc_server_new(&opts, &co->srv, err, err_size);
	if (pem[1])
		OPENSSL_cleanse(pem[1], strlen(pem[1]));
	for (int k = 0; k < 3; k++)
		free(pem[k]);
	if (e < 0)
		goto fail;
	rpc_server_observe(co->srv, metrics_rpc);
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
	rpc_server_on_shutdown(co->srv, core_shutdown, co->core);
	const char *addr = listen_override ? listen_override : cfg->listen.address;
	if ((e = rpc_server_start(co->srv, addr, &co->port, err, err_size)) < 0)
		goto fail;
	if ((e = core_start(co->core)) < 0) {
		snprintf(err, err_size, "cannot start the timer thread");
		goto fail;
	}
	if (cfg->http.address) {
		char herr[512];
		if ((e = gw_start(co, NULL, &co->gw, &co->http_port, herr, sizeof herr)) < 0) {
			snprintf(err, err_size, "http: %s", herr);
			goto fail;
		}
	}
	*ret = co;
	return 0;
fail:
	coordinator_free(co);
	return e;
}

int coordinator_reload(struct coordinator *co, char *err, size_t err_size)
{
	struct coord_config *cfg;
	int e = coord_config_load(co->cfg->file, &cfg, err, err_size);
	if (e < 0)
		return e;
	/* Policies may only name drivers that are loaded. */
	const struct attest_policy *pol = &cfg->attest.policy;
	for (size_t i = 0; i < pol->n_tees; i++) {
		if (!attest_verifier_driver(&co->verifier, pol->tees[i].tee)) {
			snprintf(err, err_size,
				 "policy.tee.%s: driver '%s' is not loaded (drivers change only on "
				 "restart)",
				 pol->tees[i].tee, pol->tees[i].tee);
			coord_config_free(cfg);
			return -EINVAL;
		}
	}
	struct coord_config **list = realloc(co->reloaded, (co->n_reloaded + 1) * sizeof *list);
	if (!list) {
		coord_config_free(cfg);
		return -ENOMEM;
	}
	co->reloaded = list;
	list[co->n_reloaded++] = cfg;
	core_reload_policy(co->core, &cfg->attest.policy);
	return 0;
}

void coordinator_stop(struct coordinator *co)
{
	/* HTTP first: /readyz turns 503, open event streams end. */
	gw_draining(co->gw);
	gw_stop(co->gw);
	co->gw = NULL;
	rpc_server_shutdown(co->srv, co->cfg->limits.drain_timeout_ms);
}

void coordinator_free(struct coordinator *co)
{
	if (!co)
		return;
	gw_stop(co->gw);
	/* Land the job writes still queued (their SubmitJob calls answer)
	 * before the server goes. */
	core_stop(co->core, co->cfg->limits.drain_timeout_ms);
	rpc_server_free(co->srv);
	core_free(co->core);
	health_free(co->health);
	reflection_free(co->refl);
	store_close(co->store);
	attest_verifier_unload(&co->verifier);
	for (size_t i = 0; i < co->n_reloaded; i++)
		coord_config_free(co->reloaded[i]);
	free(co->reloaded);
	coord_config_free(co->cfg);
	free(co);
}
