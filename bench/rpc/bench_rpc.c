/* Unary call throughput and latency over loopback: Health/Check and
 * Confidential/GetStats on a real coordinator, and a bare echo method on the
 * same server layer (no service logic), to show the framework's own cost.
 *
 *   atoll-bench-rpc [--seconds S] [--callers N,...] [--coordinator PATH]
 *
 * Each caller is a thread with its own connection making blocking calls
 * back to back. Figures: calls/s, p50 and p99 latency. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "atoll/v1/confidential.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/server.h"
#include "rpc/client.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

/* ---- the bare echo server (child process) ---- */

static void echo(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	rpc_call_reply(call, req);
}

static int run_echo_server(const char *port_file)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	grpc_init();
	rpc_server *s;
	char err[256];
	struct rpc_server_opts opts = { 0 };
	if (rpc_server_new(&opts, &s, err, sizeof err) < 0)
		return 1;
	rpc_method m = { .path = "/bench.Echo/Echo", .kind = RPC_UNARY,
			 .request = &grpc__health__v1__health_check_request__descriptor,
			 .on_start = echo };
	rpc_server_add_method(s, &m);
	int port;
	if (rpc_server_start(s, "127.0.0.1:0", &port, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%d\n", port);
	fs_write_atomic(port_file, buf, (size_t)n, 0644);
	int sig;
	sigwait(&set, &sig);
	rpc_server_shutdown(s, 1000);
	rpc_server_free(s);
	grpc_shutdown();
	return 0;
}

/* ---- load generation ---- */

/* The bench tenant's key ("ak_bench"); the echo server ignores it. */
static const struct rpc_md AUTH = { "authorization", "Bearer ak_bench" };

struct target {
	const char *label;
	const char *method;
	const ProtobufCMessage *req;
	const ProtobufCMessageDescriptor *resp;
};

struct worker {
	pthread_t th;
	const char *addr;
	const struct target *t;
	int64_t until_ns;
	int64_t *lat; /* ns */
	size_t n, cap;
	int errors;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	rpc_client *c;
	struct rpc_client_opts o = { .own_connection = true };
	if (rpc_client_new(w->addr, &o, &c) < 0)
		return NULL;
	/* Warm the connection up before measuring. */
	for (int i = 0; i < 20; i++) {
		ProtobufCMessage *resp = NULL;
		struct rpc_status st;
		rpc_unary(c, w->t->method, w->t->req, w->t->resp, &AUTH, 1, 5000, &resp, &st);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
	}
	while (time_mono_ns() < w->until_ns) {
		ProtobufCMessage *resp = NULL;
		struct rpc_status st;
		int64_t t0 = time_mono_ns();
		int r = rpc_unary(c, w->t->method, w->t->req, w->t->resp, &AUTH, 1, 5000, &resp, &st);
		int64_t dt = time_mono_ns() - t0;
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		if (r < 0 || st.code != GRPC_STATUS_OK) {
			w->errors++;
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
		}
		w->lat[w->n++] = dt;
	}
	rpc_client_free(c);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void measure(const char *addr, const struct target *t, int callers, double seconds)
{
	struct worker *ws = calloc((size_t)callers, sizeof *ws);
	int64_t start = time_mono_ns();
	int64_t until = start + (int64_t)(seconds * 1e9);
	for (int i = 0; i < callers; i++) {
		ws[i].addr = addr;
		ws[i].t = t;
		ws[i].until_ns = until;
		pthread_create(&ws[i].th, NULL, work, &ws[i]);
	}
	size_t total = 0;
	int errors = 0;
	for (int i = 0; i < callers; i++) {
		pthread_join(ws[i].th, NULL);
		total += ws[i].n;
		errors += ws[i].errors;
	}
	double elapsed = (double)(time_mono_ns() - start) / 1e9;
	int64_t *all = malloc((total + 1) * sizeof *all);
	size_t k = 0;
	for (int i = 0; i < callers; i++) {
		memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
		k += ws[i].n;
		free(ws[i].lat);
	}
	qsort(all, total, sizeof *all, cmp64);
	double p50 = total ? (double)all[total / 2] / 1000 : 0;
	double p99 = total ? (double)all[(size_t)((double)total * 0.99)] / 1000 : 0;
	printf("%-22s callers=%-3d %9.0f calls/s   p50 %7.1f us   p99 %7.1f us   errors %d\n",
	       t->label, callers, (double)total / elapsed, p50, p99, errors);
	fflush(stdout);
	free(all);
	free(ws);
}

static pid_t spawn(char *const argv[], const char *port_file, int *ret_port)
{
	unlink(port_file);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		uint8_t *d;
		size_t n;
		if (fs_read_file(port_file, 32, &d, &n) == 0) {
			*ret_port = atoi((char *)d);
			free(d);
			if (*ret_port > 0)
				return pid;
		}
		time_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--echo-server") == 0)
		return run_echo_server(argv[2]);
	double seconds = 3;
	char callers_s[64] = "1,8,32";
	const char *coord = NULL;
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "callers", required_argument, NULL, 'c' },
		{ "coordinator", required_argument, NULL, 'C' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': seconds = atof(optarg); break;
		case 'c': snprintf(callers_s, sizeof callers_s, "%s", optarg); break;
		case 'C': coord = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--seconds S] [--callers 1,8,32] [--coordinator PATH]\n",
				argv[0]);
			return 2;
		}
	}
	char self[1024], dir[] = "/tmp/atoll-bench-rpc-XXXXXX";
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl < 0 || !mkdtemp(dir))
		return 1;
	self[sl] = 0;
	char coord_path[1200];
	if (!coord) {
		/* Built next to this program: <build>/bench/rpc -> <build>/server. */
		snprintf(coord_path, sizeof coord_path, "%s", self);
		char *slash = strrchr(coord_path, '/');
		*slash = 0;
		strcat(coord_path, "/../../server/atoll-coordinator");
		coord = coord_path;
	}
	char cfg[1200], port_file[1200], echo_port_file[1200];
	snprintf(cfg, sizeof cfg, "%s/coordinator.yaml", dir);
	snprintf(port_file, sizeof port_file, "%s/port", dir);
	snprintf(echo_port_file, sizeof echo_port_file, "%s/echo.port", dir);
	const char *yaml =
		"listen: {address: 127.0.0.1:0}\nstore: {path: atoll.db}\n"
		"tenants: [{name: b, api_key_sha256: [353ac51ac37a29d0e436680683bae451cd671028e9dc0156410ca7953a9b0b6d]}]\n"
		"islands: {tokens: [{name: i, island_ids: [i], token_sha256: 0000000000000000000000000000000000000000000000000000000000000000}]}\n"
		"workloads: [{id: 1, name: echo, backend: echo}]\n";
	fs_write_atomic(cfg, yaml, strlen(yaml), 0644);

	int cport = 0, eport = 0;
	char *cargv[] = { (char *)coord, "--config", cfg, "--port-file", port_file, NULL };
	char *eargv[] = { self, "--echo-server", echo_port_file, NULL };
	pid_t cpid = spawn(cargv, port_file, &cport);
	pid_t epid = spawn(eargv, echo_port_file, &eport);
	if (cpid < 0 || epid < 0) {
		fprintf(stderr, "cannot start the servers (coordinator: %s)\n", coord);
		return 1;
	}
	grpc_init();
	char caddr[64], eaddr[64];
	snprintf(caddr, sizeof caddr, "127.0.0.1:%d", cport);
	snprintf(eaddr, sizeof eaddr, "127.0.0.1:%d", eport);

	Grpc__Health__V1__HealthCheckRequest hreq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	hreq.service = "";
	Atoll__V1__GetStatsRequest sreq = ATOLL__V1__GET_STATS_REQUEST__INIT;
	const struct target targets[] = {
		{ "echo (framework only)", "/bench.Echo/Echo", &hreq.base,
		  &grpc__health__v1__health_check_request__descriptor },
		{ "Health/Check", "/grpc.health.v1.Health/Check", &hreq.base,
		  &grpc__health__v1__health_check_response__descriptor },
		{ "Confidential/GetStats", "/atoll.v1.Confidential/GetStats", &sreq.base,
		  &atoll__v1__stats__descriptor },
	};
	printf("unary calls over loopback, %.1f s per row, server: 1 completion-queue thread\n",
	       seconds);
	for (char *tok = strtok(callers_s, ","); tok; tok = strtok(NULL, ",")) {
		int n = atoi(tok);
		for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
			measure(i == 0 ? eaddr : caddr, &targets[i], n, seconds);
	}
	grpc_shutdown();
	kill(cpid, SIGTERM);
	kill(epid, SIGTERM);
	waitpid(cpid, NULL, 0);
	waitpid(epid, NULL, 0);
	return 0;
}
