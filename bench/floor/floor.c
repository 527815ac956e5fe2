/* The floor: a bare unary echo server and client written directly on the
 * gRPC core C API (grpc_server, grpc_call_start_batch, completion queues),
 * with no Atoll code, so that Atoll's figures have a ceiling to be compared
 * with on the same machine.
 *
 *   atoll-bench-floor [--seconds S] [--warmup S] [--in-flight 1,8,32]
 *                     [--size BYTES] [--server-threads N] [--client-threads N]
 *                     [--channels N]
 *   atoll-bench-floor serve --port-file FILE [--threads N]
 *
 * Without `serve` it starts itself as the server (a separate process, as a
 * coordinator would be) and drives it with the pipelined load generator
 * (bench/load) at each in-flight level. Prints calls/s, p50, p99 and the
 * server's CPU time per call, and `figure` lines for bench/run-all. Asserts
 * nothing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "load.h"

#define METHOD "/bench.Echo/Echo"
/* Calls the server can hold at once: each context cycles between waiting
 * for a call and answering it. */
#define SERVER_CONTEXTS 256

/* ---- the server ---- */

enum phase { WAITING, ANSWERING };

struct server_call {
	enum phase phase;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	int cancelled;
};

struct server {
	grpc_server *srv;
	grpc_completion_queue *cq;
	void *method;
	atomic_bool stopping;
	int shutdown_tag;
};

static int wait_for_call(struct server *sv, struct server_call *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->phase = WAITING;
	grpc_metadata_array_init(&sc->md);
	grpc_call_error e = grpc_server_request_registered_call(sv->srv, sv->method, &sc->call,
								&sc->deadline, &sc->md, &sc->payload,
								sv->cq, sv->cq, sc);
	if (e != GRPC_CALL_OK) {
		grpc_metadata_array_destroy(&sc->md);
		return -EIO;
	}
	return 0;
}

static void release(struct server_call *sc)
{
	if (sc->payload)
		grpc_byte_buffer_destroy(sc->payload);
	grpc_metadata_array_destroy(&sc->md);
	if (sc->call)
		grpc_call_unref(sc->call);
	sc->payload = NULL;
	sc->call = NULL;
}

/* The whole answer in one batch: metadata, the request echoed back, OK. */
static int answer(struct server_call *sc)
{
	grpc_op ops[4];
	memset(ops, 0, sizeof ops);
	size_t n = 0;
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (sc->payload) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = sc->payload;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n++].data.send_status_from_server.status = GRPC_STATUS_OK;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &sc->cancelled;
	sc->phase = ANSWERING;
	return grpc_call_start_batch(sc->call, ops, n, sc, NULL) == GRPC_CALL_OK ? 0 : -EIO;
}

static void *serve_loop(void *arg)
{
	struct server *sv = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(sv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return NULL;
		if (ev.tag == &sv->shutdown_tag) {
			grpc_completion_queue_shutdown(sv->cq);
			continue;
		}
		struct server_call *sc = ev.tag;
		if (sc->phase == WAITING && ev.success && answer(sc) == 0)
			continue;
		/* Answered, failed, or the server is going away. */
		release(sc);
		if (!atomic_load(&sv->stopping) && (ev.success || sc->phase == ANSWERING))
			wait_for_call(sv, sc);
	}
}

static int write_port(const char *path, int port)
{
	char tmp[1100], text[32];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int n = snprintf(text, sizeof text, "%d\n", port);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	bool ok = write(fd, text, (size_t)n) == n;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		return -EIO;
	return 0;
}

static int run_server(const char *port_file, int threads)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	grpc_init();
	struct server sv = { 0 };
	sv.srv = grpc_server_create(NULL, NULL);
	sv.cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(sv.srv, sv.cq, NULL);
	sv.method = grpc_server_register_method(sv.srv, METHOD, NULL,
						GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	int port = grpc_server_add_http2_port(sv.srv, "127.0.0.1:0", creds);
	grpc_server_credentials_release(creds);
	if (port <= 0) {
		fprintf(stderr, "floor server: cannot listen on 127.0.0.1\n");
		return 1;
	}
	grpc_server_start(sv.srv);
	struct server_call *calls = calloc(SERVER_CONTEXTS, sizeof *calls);
	for (int i = 0; i < SERVER_CONTEXTS; i++)
		wait_for_call(&sv, &calls[i]);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, serve_loop, &sv);
	if (write_port(port_file, port) < 0) {
		fprintf(stderr, "floor server: cannot write %s\n", port_file);
		return 1;
	}
	int sig;
	sigwait(&set, &sig);
	atomic_store(&sv.stopping, true);
	grpc_server_shutdown_and_notify(sv.srv, sv.cq, &sv.shutdown_tag);
	grpc_server_cancel_all_calls(sv.srv);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	grpc_server_destroy(sv.srv);
	grpc_completion_queue_destroy(sv.cq);
	free(th);
	free(calls);
	grpc_shutdown();
	return 0;
}

/* ---- the client ---- */

struct echo {
	grpc_slice payload;
	size_t size;
};

static int echo_begin(struct load_slot *s, void *ud)
{
	struct echo *e = ud;
	return load_call_unary(s, 0, NULL, 0, e->payload) < 0 ? LOAD_FAIL : LOAD_MORE;
}

static int echo_step(struct load_slot *s, bool ok, void *ud)
{
	struct echo *e = ud;
	grpc_slice reply;
	if (!ok || !load_call_ok(s) || !load_call_take(s, &reply))
		return LOAD_FAIL;
	bool same = GRPC_SLICE_LENGTH(reply) == e->size;
	grpc_slice_unref(reply);
	return same ? LOAD_DONE : LOAD_FAIL;
}

/* utime + stime of a process, in clock ticks. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long long ut = -1, st = -1;
	if (fgets(line, sizeof line, f)) {
		/* Fields after the command name, which may hold spaces. */
		char *p = strrchr(line, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut,
				&st) != 2)
			ut = st = -1;
	}
	fclose(f);
	return ut < 0 ? -1 : ut + st;
}

static pid_t start_server(const char *port_file, int threads, int *ret_port)
{
	char nthreads[16];
	snprintf(nthreads, sizeof nthreads, "%d", threads);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { "atoll-bench-floor", "serve", "--port-file", (char *)port_file,
				 "--threads", nthreads, NULL };
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (int i = 0; i < 1000 && pid > 0; i++) {
		FILE *f = fopen(port_file, "r");
		if (f) {
			int ok = fscanf(f, "%d", ret_port);
			fclose(f);
			if (ok == 1)
				return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	if (pid > 0)
		kill(pid, SIGKILL);
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: atoll-bench-floor [--seconds S] [--warmup S] [--in-flight 1,8,32]"
			" [--size BYTES]\n"
			"         [--server-threads N] [--client-threads N] [--channels N]\n"
			"       atoll-bench-floor serve --port-file FILE [--threads N]\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "serve")) {
		const char *port_file = NULL;
		int threads = 1;
		for (int i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--port-file"))
				port_file = argv[i + 1];
			else if (!strcmp(argv[i], "--threads"))
				threads = atoi(argv[i + 1]);
		}
		if (!port_file || threads < 1) {
			usage();
			return 2;
		}
		return run_server(port_file, threads);
	}
	double seconds = 4, warmup = 1;
	const char *levels = "1,8,32";
	int size = 1024, server_threads = 1, client_threads = 1, channels = 1;
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "in-flight", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 'b' },
		{ "server-threads", required_argument, NULL, 'S' },
		{ "client-threads", required_argument, NULL, 'C' },
		{ "channels", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'i': levels = optarg; break;
		case 'b': size = atoi(optarg); break;
		case 'S': server_threads = atoi(optarg); break;
		case 'C': client_threads = atoi(optarg); break;
		case 'c': channels = atoi(optarg); break;
		default: usage(); return 2;
		}
	}
	if (seconds <= 0 || size < 0 || server_threads < 1 || client_threads < 1 || channels < 1) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char dir[] = "/tmp/atoll-floor-XXXXXX", port_file[64];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(port_file, sizeof port_file, "%s/port", dir);
	int port;
	pid_t server = start_server(port_file, server_threads, &port);
	if (server < 0) {
		fprintf(stderr, "the floor server did not start\n");
		return 1;
	}
	grpc_init();
	char target[32];
	snprintf(target, sizeof target, "127.0.0.1:%d", port);
	struct echo e = { .size = (size_t)size };
	char *bytes = malloc((size_t)size + 1);
	for (int i = 0; i < size; i++)
		bytes[i] = (char)('a' + i % 26);
	e.payload = grpc_slice_from_copied_buffer(bytes, (size_t)size);
	free(bytes);
	struct load_kind kind = { .methods = { METHOD }, .begin = echo_begin, .step = echo_step,
				  .ud = &e };
	long hz = sysconf(_SC_CLK_TCK);
	printf("bare gRPC-core unary echo (the floor): %d-byte messages; server %d thread(s), client "
	       "%d thread(s) on %d channel(s), pipelined; %.1f s per level after %.1f s warm-up\n",
	       size, server_threads, client_threads, channels, seconds, warmup);
	printf("%-10s %10s %10s %10s %16s\n", "in flight", "calls/s", "p50 ms", "p99 ms",
	       "server CPU/call");
	int rc = 0;
	static char figs[4096];
	char *list = strdup(levels), *save = NULL;
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);
		if (n < 1)
			continue;
		struct load_opts o = { .target = target, .in_flight = n, .channels = channels,
				       .threads = client_threads, .seconds = seconds,
				       .warmup_seconds = warmup };
		struct load_result r;
		char err[256];
		long long c0 = cpu_ticks(server);
		if (load_run(&o, &kind, &r, err, sizeof err) < 0) {
			fprintf(stderr, "in flight %d: %s\n", n, err);
			rc = 1;
			load_result_free(&r);
			continue;
		}
		long long c1 = cpu_ticks(server);
		/* The server's CPU over warm-up and window, per call counted. */
		double total_s = warmup + seconds;
		double cpu_us = c0 >= 0 && c1 >= 0 && r.done
					? (double)(c1 - c0) / (double)hz * 1e6 / (r.per_s * total_s)
					: 0;
		printf("%-10d %10.0f %10.3f %10.3f %13.1f us%s\n", n, r.per_s, load_pct_ms(&r, 0.5),
		       load_pct_ms(&r, 0.99), cpu_us, r.failed ? "  (failures)" : "");
		/* `figure` lines for bench/run-all, after the table. */
		size_t used = strlen(figs);
		snprintf(figs + used, sizeof figs - used,
			 "figure floor.%d.calls_per_s %.1f\nfigure floor.%d.p50_ms %.4f\n"
			 "figure floor.%d.p99_ms %.4f\nfigure floor.%d.server_cpu_us %.1f\n",
			 n, r.per_s, n, load_pct_ms(&r, 0.5), n, load_pct_ms(&r, 0.99), n, cpu_us);
		fflush(stdout);
		load_result_free(&r);
	}
	free(list);
	fputs(figs, stdout);
	grpc_slice_unref(e.payload);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	unlink(port_file);
	rmdir(dir);
	grpc_shutdown();
	return rc;
}
