/* Jobs/s of one coordinator on SQLite against 1, 2 and 3 coordinators on
 * one PostgreSQL, on this machine: 4 islands (4 slots each, the echo
 * backend without delay) spread over the coordinators, client threads
 * submitting plain jobs round-robin with wait: true (the answer is the
 * final job), for a fixed time per setup. PostgreSQL is started here
 * (initdb + pg_ctl, tests/integration/pgtest.c), with fsync on.
 *
 *   atoll-bench-fleet [--seconds S] [--clients N]
 *
 * Prints a table; asserts nothing. On a machine with few cores every
 * process shares them: the figures show the cost of the shared store,
 * not how a fleet of machines scales. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "cluster.h"
#include "pbjson/pbjson.h"
#include "pgtest.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define MAX_COORDS 3
#define N_ISLANDS 4

static const char *WORKLOADS =
	"workloads:\n  - {id: 42, name: echo, backend: echo, modes: [plain], price_per_second: 1}\n";
static const char *ISLAND_WL = "    - {id: 42, backend: echo, modes: [plain]}\n";

struct setup {
	struct cluster cl;
	struct proc coords[MAX_COORDS];
	rpc_client *clients[MAX_COORDS];
	int n;
};

static int start_extra(struct setup *su, int i)
{
	char cfg[700], log[700], portfile[700];
	snprintf(cfg, sizeof cfg, "%s/coordinator.yaml", su->cl.dir);
	snprintf(log, sizeof log, "%s/coordinator-%d.log", su->cl.dir, i);
	snprintf(portfile, sizeof portfile, "%s/coordinator-%d.port", su->cl.dir, i);
	if (strlen(portfile) >= sizeof su->coords[i].portfile)
		return -ENAMETOOLONG;
	memcpy(su->coords[i].portfile, portfile, strlen(portfile) + 1);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg,
			 "--listen", "127.0.0.1:0", "--port-file", portfile, NULL };
	int e = h_spawn(argv, log, &su->coords[i]);
	if (e < 0)
		return e;
	for (int t = 0; t < 300; t++) {
		uint8_t *data;
		size_t len;
		if (fs_read_file(portfile, 64, &data, &len) == 0) {
			su->coords[i].port = atoi((char *)data);
			free(data);
			if (su->coords[i].port > 0)
				return 0;
		}
		time_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

struct load {
	struct setup *su;
	int index;
	int64_t until;
	atomic_long *done;
	atomic_long *failed;
};

static void *client(void *arg)
{
	struct load *l = arg;
	ProtobufCMessage *req;
	char err[256];
	const char *body = "{\"workload_id\": 42, \"wait\": true, \"input\": {\"prompt\": \"bench\"}}";
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0, &req,
			err, sizeof err) < 0)
		return NULL;
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	int k = l->index;
	while (time_mono_ms() < l->until) {
		rpc_client *c = l->su->clients[k++ % l->su->n];
		Atoll__V1__Job *j = NULL;
		struct rpc_status st;
		int e = rpc_unary(c, "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor, &md,
				  1, 30000, (ProtobufCMessage **)&j, &st);
		if (e == 0 && st.code == GRPC_STATUS_OK && j &&
		    j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
			atomic_fetch_add(l->done, 1);
		else
			atomic_fetch_add(l->failed, 1);
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	protobuf_c_message_free_unpacked(req, NULL);
	return NULL;
}

static double run_load(struct setup *su, double seconds, int clients, long *ret_failed)
{
	atomic_long done = 0, failed = 0;
	pthread_t th[64];
	struct load ls[64];
	int64_t t0 = time_mono_ms();
	int64_t until = t0 + (int64_t)(seconds * 1000);
	for (int i = 0; i < clients; i++) {
		ls[i] = (struct load){ su, i, until, &done, &failed };
		pthread_create(&th[i], NULL, client, &ls[i]);
	}
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	double el = (double)(time_mono_ms() - t0) / 1000.0;
	*ret_failed = failed;
	return (double)done / el;
}

static int bench_one(const char *label, const char *dsn, int n, double seconds, int clients)
{
	struct setup su;
	memset(&su, 0, sizeof su);
	if (cluster_init(&su.cl, "fleet") < 0)
		return -1;
	char store[400];
	if (dsn)
		snprintf(store, sizeof store, "store: {driver: postgres, dsn: '%s', lease: 5s}\n", dsn);
	else
		snprintf(store, sizeof store, "store: {path: atoll.db, synchronous: full}\n");
	su.cl.store_yaml = store;
	su.cl.workloads_yaml = WORKLOADS;
	su.cl.limits_yaml = "limits: {drain_timeout: 2s}\n";
	int e = cluster_start_coordinator(&su.cl);
	su.coords[0] = su.cl.coord;
	for (int i = 1; e == 0 && i < n; i++)
		e = start_extra(&su, i);
	su.n = n;
	for (int i = 0; e == 0 && i < n; i++)
		e = rpc_client_new(h_target(&su.coords[i]), NULL, &su.clients[i]);
	for (int i = 0; e == 0 && i < N_ISLANDS; i++) {
		char addrs[64], id[8];
		snprintf(addrs, sizeof addrs, "[127.0.0.1:%d]", su.coords[i % n].port);
		snprintf(id, sizeof id, "b%d", i);
		su.cl.island_addresses = addrs;
		if (cluster_add_island(&su.cl, id, 4, ISLAND_WL, NULL, NULL) < 0)
			e = -EIO;
	}
	if (e == 0)
		e = cluster_wait(&su.cl, N_ISLANDS, N_ISLANDS, 30000);
	if (e == 0) {
		long failed;
		run_load(&su, 1.0, clients, &failed); /* warm-up */
		double rate = run_load(&su, seconds, clients, &failed);
		printf("| %-22s | %12d | %8.0f | %6ld |\n", label, n, rate, failed);
		fflush(stdout);
	} else {
		fprintf(stderr, "%s: setup failed (%d)\n", label, e);
		cluster_dump_logs(&su.cl);
	}
	for (int i = 1; i < n; i++)
		if (su.coords[i].pid > 0)
			h_stop(&su.coords[i], SIGTERM, 8000, NULL);
	su.cl.coord = su.coords[0];
	cluster_stop(&su.cl);
	for (int i = 0; i < n; i++)
		rpc_client_free(su.clients[i]);
	return e;
}

int main(int argc, char **argv)
{
	double seconds = 5;
	int clients = 16;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--clients"))
			clients = atoi(argv[i + 1]);
	}
	if (clients < 1 || clients > 64)
		clients = 16;
	if (!getenv("ATOLL_BUILD_DIR")) {
		/* Run from a build tree: the programs are next to this one's
		 * folder (build/tests/integration -> build). */
		char self[600], dir[600];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n > 0) {
			self[n] = 0;
			snprintf(dir, sizeof dir, "%s", self);
			for (int k = 0; k < 3; k++) {
				char *slash = strrchr(dir, '/');
				if (slash)
					*slash = 0;
			}
			setenv("ATOLL_BUILD_DIR", dir, 0);
		}
	}
	grpc_init();
	printf("%d client threads, %.0f s per setup, %d islands x 4 slots, echo, SubmitJob wait: true\n\n",
	       clients, seconds, N_ISLANDS);
	printf("| %-22s | %12s | %8s | %6s |\n", "store", "coordinators", "jobs/s", "failed");
	printf("|------------------------|--------------|----------|--------|\n");
	bench_one("SQLite (sync full)", NULL, 1, seconds, clients);
	for (int n = 1; n <= MAX_COORDS; n++) {
		struct pgtest pg;
		char why[512];
		if (pgt_start(&pg, true, why, sizeof why) < 0) {
			fprintf(stderr, "PostgreSQL: %s\n", why);
			break;
		}
		bench_one("PostgreSQL (one server)", pg.dsn, n, seconds, clients);
		pgt_destroy(&pg);
	}
	grpc_shutdown();
	return 0;
}
