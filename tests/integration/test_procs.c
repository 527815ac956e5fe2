/* Plugin failures as processes see them: a coordinator configured with a
 * bad driver (or one that cannot verify) refuses to start with the
 * loader's exact message; processes log each plugin's version and ABI at
 * load; an island whose backend fails to load reports that workload
 * unavailable and keeps serving; an enclave runtime sent a garbage frame closes its pipe with a
 * clear error. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "check.h"
#include "cluster.h"
#include "frame.h"
#include "util/timeutil.h"

static const char *bad(const char *name)
{
	static char path[4][700];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s.so", BAD_MODULE_DIR, name);
	return path[k];
}

/* A coordinator with drivers[0] = this module must exit 1 with want. */
static void coordinator_refuses(const char *dir, const char *module, const char *name,
				const char *want)
{
	char yaml[2048], log[700];
	snprintf(yaml, sizeof yaml,
		 "listen: {address: 127.0.0.1:0}\nstore: {path: atoll.db}\n"
		 "tenants: [{name: d, api_key_sha256: [0000000000000000000000000000000000000000000000000000000000000000]}]\n"
		 "islands: {tokens: [{name: i, island_ids: [i], token_sha256: 0000000000000000000000000000000000000000000000000000000000000000}]}\n"
		 "drivers: [{name: %s, path: %s}]\n"
		 "workloads: [{id: 1, name: e, backend: echo}]\n",
		 name, bad(module));
	h_write(dir, "bad.yaml", yaml, NULL, 0);
	snprintf(log, sizeof log, "%s/bad-%s.log", dir, module);
	char cfg[700];
	snprintf(cfg, sizeof cfg, "%s/bad.yaml", dir);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg, NULL };
	struct proc p;
	CHECK_INT(h_spawn(argv, log, &p), 0);
	int st = 0;
	int64_t until = time_mono_ms() + 10000;
	while (h_alive(&p) && time_mono_ms() < until)
		time_sleep_ms(20);
	CHECK(h_stop(&p, SIGKILL, 100, &st) == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	if (!h_file_contains(log, want)) {
		fprintf(stderr, "want: %s\n", want);
		h_dump_log(log);
	}
	CHECK(h_file_contains(log, want));
}

static void test_coordinator_loader(const char *dir)
{
	char want[1024];
	snprintf(want, sizeof want, "driver 'initfail' in [%s]: init failed: ca_file: cannot read "
				    "/nonexistent/ca.pem", bad("init_fails"));
	coordinator_refuses(dir, "init_fails", "initfail", want);
	snprintf(want, sizeof want, "no entry point [atoll_tee_driver_entry] in [%s]", bad("no_entry"));
	coordinator_refuses(dir, "no_entry", "x", want);
	snprintf(want, sizeof want, "ABI 2.0, host 1.1");
	coordinator_refuses(dir, "abi2", "abi2", want);
	snprintf(want, sizeof want, "cannot open [%s/missing.so]", BAD_MODULE_DIR);
	coordinator_refuses(dir, "missing", "sim", want);
	snprintf(want, sizeof want, "driver 'collectonly' in [%s]: collect-only, a verifier "
				    "needs verify", bad("collect_only"));
	coordinator_refuses(dir, "collect_only", "collectonly", want);
}

static void test_island_backend(struct cluster *cl)
{
	char wl[2048];
	snprintf(wl, sizeof wl,
		 "    - {id: 42, backend: echo, modes: [plain]}\n"
		 "    - {id: 43, backend: initfail, modes: [plain]}\n");
	/* The island config lists the failing backend next to echo. */
	char extra[1024];
	snprintf(extra, sizeof extra, ", {name: initfail, path: %s}", bad("backend_init_fails"));
	cl->extra_backends_yaml = extra;
	int i = cluster_add_island(cl, "b1", 1, wl, NULL, NULL);
	cl->extra_backends_yaml = NULL;
	CHECK(i >= 0);
	CHECK_INT(cluster_wait(cl, 1, 1, 15000), 0);
	time_sleep_ms(300);
	char want[1024];
	snprintf(want, sizeof want, "workload 43 unavailable: backend 'initfail' in [%s]: init "
				    "failed: model: cannot read /nonexistent/model.bin",
		 bad("backend_init_fails"));
	CHECK(h_file_contains(cl->islands[i].log, want));
	/* Each plugin's version and ABI, as loaded (the enclave logs through
	 * the island; the coordinator loaded sim at start). */
	snprintf(want, sizeof want, "driver sim %s (ABI 1.1) loaded from %s/sim.so", ATOLL_VERSION,
		 h_module_dir());
	CHECK(h_file_contains(cl->islands[i].log, want));
	CHECK(h_file_contains(cl->coord.log, want));
	snprintf(want, sizeof want, "backend echo %s (ABI 1.1) loaded from %s/echo.so", ATOLL_VERSION,
		 h_module_dir());
	CHECK(h_file_contains(cl->islands[i].log, want));
	snprintf(want, sizeof want, "backend initfail (ABI 1.1) loaded from %s",
		 bad("backend_init_fails"));
	CHECK(h_file_contains(cl->islands[i].log, want));
	/* The other workload still runs. */
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", "{\"workload_id\": 42, \"input\": {\"prompt\": \"ok\"}}", &j,
			   &st), 0);
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 10000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		if (f)
			protobuf_c_message_free_unpacked(&f->base, NULL);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
}

/* Start atoll-enclave on a socketpair as the host would; read Ready. */
static pid_t start_enclave(const char *config, int *ret_fd, const char *log)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(sv[1], 3);
		FILE *f = freopen(log, "w", stderr);
		(void)f;
		execl(h_build_path("island/atoll-enclave"), "atoll-enclave", "--config", config, "--fd",
		      "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ProtobufCMessage *m = NULL;
	int r = frame_read(sv[0], &atoll__enclave__v1__enclave_message__descriptor, 1 << 20, &m);
	CHECK_INT(r, 0);
	if (m) {
		CHECK_INT(((Atoll__Enclave__V1__EnclaveMessage *)m)->msg_case,
			  ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	*ret_fd = sv[0];
	return pid;
}

static void test_enclave_garbage(struct cluster *cl)
{
	char config[700], log[700];
	snprintf(config, sizeof config, "%s/island-b1.yaml", cl->dir);
	struct {
		const uint8_t *bytes;
		size_t len;
		const char *want;
	} cases[] = {
		/* Length 5, then bytes that are not a HostMessage. */
		{ (const uint8_t *)"\x00\x00\x00\x05\x0a\xff\xff\xff\xff", 9,
		  "bad frame from host: truncated or malformed message; closing the pipe" },
		/* A length far over the frame limit. */
		{ (const uint8_t *)"\x7f\xff\xff\xff", 4,
		  "bad frame from host: length over the frame limit; closing the pipe" },
		/* A valid empty message: no request in it. */
		{ (const uint8_t *)"\x00\x00\x00\x00", 4,
		  "bad frame from host: empty message; closing the pipe" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(log, sizeof log, "%s/enclave-%zu.log", cl->dir, i);
		int fd;
		pid_t pid = start_enclave(config, &fd, log);
		CHECK(pid > 0);
		if (pid <= 0)
			continue;
		CHECK(write(fd, cases[i].bytes, cases[i].len) == (ssize_t)cases[i].len);
		int st = 0;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
		CHECK(h_file_contains(log, cases[i].want));
		close(fd);
	}
	/* The island that runs this enclave configuration is unharmed. */
	CHECK_INT(cluster_wait(cl, 1, 1, 5000), 0);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "procs") < 0)
		return 1;
	grpc_init();
	test_coordinator_loader(cl.dir);
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	test_island_backend(&cl);
	test_enclave_garbage(&cl);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
