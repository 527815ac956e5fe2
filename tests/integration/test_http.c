/* The HTTP side end to end: a coordinator with its HTTP gateway, a sim
 * island, and atoll-proxy on 127.0.0.1, driven by clients with no Atoll
 * code (tests/http): the seed's quick start with curl, from Python's
 * standard library and from Node's fetch, through the proxy, each with a
 * canary that must come back decrypted and be absent from the
 * coordinator's and the island host's memory, logs and store; a client
 * unaware of envelopes; homomorphic jobs with no client crypto; a sealed
 * error shown by the proxy and not by the gateway; SSE with
 * resumption by Last-Event-ID on both the proxy and the gateway; bad
 * input over HTTP; /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/rand.h>

#include "check.h"
#include "cluster.h"
#include "scan.h"
#include "util/enc.h"
#include "util/fsutil.h"

#ifndef ATOLL_SANITIZED
#define ATOLL_SANITIZED 0
#endif

static char gw_url[64], proxy_url[64];
static struct proc proxy;

/* A free port on 127.0.0.1 for the gateway (the coordinator's config
 * names it). */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* Run a client script; its stdout and stderr into out. Exit status. */
static int run(struct cluster *cl, const char *const argv[], const char *prompt, char *out,
	       size_t size)
{
	char path[700];
	snprintf(path, sizeof path, "%s/client.out", cl->dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("ATOLL_PROXY", proxy_url, 1);
		setenv("ATOLL_GATEWAY", gw_url, 1);
		setenv("ATOLL_API_KEY", "ak_demo", 1);
		setenv("ATOLL_TEST_DIR", cl->dir, 1);
		if (prompt)
			setenv("PROMPT", prompt, 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	uint8_t *data = NULL;
	size_t len = 0;
	out[0] = 0;
	if (fs_read_file(path, size - 1, &data, &len) == 0) {
		memcpy(out, data, len);
		out[len] = 0;
		free(data);
	}
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (rc)
		fprintf(stderr, "%s exited %d:\n%s\n", argv[1], rc, out);
	return rc;
}

static const char *script(const char *name)
{
	static char p[8][1024];
	static int i;
	char *s = p[i++ % 8];
	snprintf(s, 1024, "%s/tests/http/%s", ATOLL_SOURCE_DIR, name);
	return s;
}

static void make_canary(char out[65])
{
	uint8_t c[32];
	RAND_bytes(c, sizeof c);
	enc_hex_encode(c, sizeof c, out);
}

static bool files_contain(struct cluster *cl, const char *needle)
{
	const char *names[] = { "atoll.db", "atoll.db-wal", "coordinator.log", "island-i1.log" };
	bool any = false;
	for (size_t i = 0; i < 4; i++) {
		char p[700];
		snprintf(p, sizeof p, "%s/%s", cl->dir, names[i]);
		if (h_file_contains(p, needle)) {
			fprintf(stderr, "found in %s\n", names[i]);
			any = true;
		}
	}
	return any;
}

/* The canary went in through the proxy: nowhere on the coordinator or
 * the island host (memory is not scanned under the sanitizers, whose
 * shadow mappings are terabytes). */
static void check_absent(struct cluster *cl, const char *canary)
{
	if (!ATOLL_SANITIZED) {
		CHECK_INT(memory_contains(cl->coord.pid, canary), 0);
		CHECK_INT(memory_contains(cl->islands[0].pid, canary), 0);
	}
	CHECK(!files_contain(cl, canary));
}

static void test_quick_starts(struct cluster *cl)
{
	static char out[1 << 16];
	char canary[65], prompt[160];

	/* curl, the README's quick start. */
	make_canary(canary);
	snprintf(prompt, sizeof prompt, "curl patient record %s", canary);
	const char *sh[] = { "sh", script("quickstart.sh"), NULL };
	CHECK_INT(run(cl, sh, prompt, out, sizeof out), 0);
	CHECK(strstr(out, prompt) != NULL);
	check_absent(cl, canary);

	/* Python, standard library only. */
	make_canary(canary);
	snprintf(prompt, sizeof prompt, "python patient record %s", canary);
	const char *py[] = { "python3", script("quickstart.py"), NULL };
	CHECK_INT(run(cl, py, prompt, out, sizeof out), 0);
	CHECK(strstr(out, prompt) != NULL);
	check_absent(cl, canary);

	/* Node, built-in fetch only. */
	if (system("node --version > /dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: node is not installed\n");
		return;
	}
	make_canary(canary);
	snprintf(prompt, sizeof prompt, "node patient record %s", canary);
	const char *js[] = { "node", script("quickstart.mjs"), NULL };
	CHECK_INT(run(cl, js, prompt, out, sizeof out), 0);
	CHECK(strstr(out, prompt) != NULL);
	check_absent(cl, canary);
}

/* Plain input with confidential: true: the proxy seals and opens. */
static void test_transparent(struct cluster *cl)
{
	static char out[1 << 16];
	char canary[65], prompt[160];
	make_canary(canary);
	snprintf(prompt, sizeof prompt, "unaware client %s", canary);
	const char *py[] = { "python3", script("transparent.py"), NULL };
	CHECK_INT(run(cl, py, prompt, out, sizeof out), 0);
	CHECK(strstr(out, prompt) != NULL);
	check_absent(cl, canary);
}

static void test_script(struct cluster *cl, const char *name)
{
	static char out[1 << 16];
	const char *py[] = { "python3", script(name), NULL };
	CHECK_INT(run(cl, py, NULL, out, sizeof out), 0);
	fprintf(stderr, "%s", out);
}

static int start_proxy(struct cluster *cl)
{
	int e = cluster_start_proxy(cl, cl->coord.port, "proxy-keys",
				    "limits: {max_body_bytes: 65536, sse_keepalive: 500ms, "
				    "paillier_bits: 2048}\n",
				    &proxy);
	if (e == 0)
		snprintf(proxy_url, sizeof proxy_url, "http://127.0.0.1:%d", proxy.port);
	return e;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	struct cluster cl = { 0 };
	CHECK_INT(cluster_init(&cl, "http"), 0);
	int gw_port = free_port();
	char http_yaml[256], island_wl[2048], backends[600], workloads[1024];
	snprintf(http_yaml, sizeof http_yaml,
		 "http:\n  address: 127.0.0.1:%d\n  max_body_bytes: 65536\n  sse_keepalive: 500ms\n",
		 gw_port);
	snprintf(gw_url, sizeof gw_url, "http://127.0.0.1:%d", gw_port);
	const char *model = h_build_path("models/breast_cancer_logistic.model");
	snprintf(workloads, sizeof workloads,
		 "workloads:\n"
		 "  - {id: 42, name: echo, backend: echo, modes: [plain, tee], price_per_second: 0.5}\n"
		 "  - {id: 43, name: slow-echo, backend: echo, modes: [plain, tee]}\n"
		 "  - {id: 44, name: failing-echo, backend: echo, modes: [tee]}\n"
		 "  - {id: 7, name: breast-cancer, backend: linear, modes: [homomorphic]}\n");
	snprintf(island_wl, sizeof island_wl,
		 "    - {id: 42, backend: echo, modes: [plain, tee]}\n"
		 "    - {id: 43, backend: echo, modes: [plain, tee], options: {chunk_size: 4, "
		 "delay_ms: 150}}\n"
		 "    - {id: 44, backend: echo, modes: [tee], options: {fail_with: model exploded}}\n"
		 "    - {id: 7, backend: paillier, model: %s, modes: [homomorphic], options: {op: "
		 "classify}}\n",
		 model);
	snprintf(backends, sizeof backends, ", {name: paillier, path: %s/paillier.so}",
		 h_module_dir());
	cl.workloads_yaml = workloads;
	cl.extra_backends_yaml = backends;
	cl.extra_yaml = http_yaml;
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "i1", 4, island_wl, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);
	CHECK_INT(cluster_write_client_policy(&cl, "client-policy.yaml", "i1"), 0);
	CHECK_INT(start_proxy(&cl), 0);
	if (!check_failures) {
		test_quick_starts(&cl);
		test_transparent(&cl);
		test_script(&cl, "he.py");
		test_script(&cl, "sse.py");
		test_script(&cl, "failed.py");
		test_script(&cl, "bad_input.py");
		test_script(&cl, "metrics.py");
		if (getenv("ATOLL_HTTP_BENCH"))
			test_script(&cl, "bench.py");
	}
	int st;
	CHECK_INT(h_stop(&proxy, SIGTERM, 10000, &st), 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures) {
		cluster_dump_logs(&cl);
		char log[700];
		snprintf(log, sizeof log, "%s/proxy.log", cl.dir);
		h_dump_log(log);
	}
	grpc_shutdown();
	CHECK_DONE();
}
