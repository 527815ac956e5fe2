/* The host <-> enclave protocol over every transport: a child runtime on a
 * socketpair, a runtime listening on a Unix socket or on TCP at 127.0.0.1,
 * and one listening on vsock through the kernel's vsock loopback when this
 * machine has it.
 * Each gets the same suite (Ready, an attestation whose report data binds
 * the nonce, key and manifest, a job, a frame over the limit) and a
 * listening runtime must serve a second host with a fresh key. Then whole
 * islands reach their runtime over the Unix socket (and vsock): a job
 * runs through the coordinator, and a runtime with another frame limit is
 * refused, as are transport keys that do not belong to the transport. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <linux/vm_sockets.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "attest/manifest.h"
#include "check.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "frame.h"
#include "simtool.h"
#include "transport.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define SIM_REPORT_DATA_OFF 68
#define MAX_FRAME (64u << 20)

static Atoll__Enclave__V1__EnclaveMessage *recv_msg(int fd)
{
	ProtobufCMessage *m = NULL;
	struct timeval tv = { 20, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int r = frame_read(fd, &atoll__enclave__v1__enclave_message__descriptor, MAX_FRAME, &m);
	return r == 0 ? (Atoll__Enclave__V1__EnclaveMessage *)m : NULL;
}

static void send_host(int fd, Atoll__Enclave__V1__HostMessage *hm)
{
	CHECK_INT(frame_write(fd, &hm->base), 0);
}

/* Ready, an attestation, a job. The enclave key goes to pub. */
static void suite(const char *what, int fd, uint8_t pub[32])
{
	fprintf(stderr, "suite over %s\n", what);
	Atoll__Enclave__V1__EnclaveMessage *em = recv_msg(fd);
	CHECK(em && em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY);
	if (!em || em->msg_case != ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY)
		return;
	Atoll__Enclave__V1__Ready *rd = em->ready;
	CHECK_STR(rd->tee_type, "sim");
	CHECK_INT(rd->max_frame_bytes, MAX_FRAME);
	CHECK_INT(rd->enclave_public_key.len, 32);
	CHECK_INT(rd->n_workloads, 1);
	CHECK(rd->n_workloads == 1 && rd->workloads[0]->available);
	if (rd->enclave_public_key.len == 32)
		memcpy(pub, rd->enclave_public_key.data, 32);
	protobuf_c_message_free_unpacked(&em->base, NULL);

	/* Attestation: the sim report carries SHA-512(tag || nonce || key ||
	 * SHA-256(manifest)). */
	uint8_t nonce[32];
	for (int i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(i * 7 + 1);
	Atoll__Enclave__V1__AttestRequest ar = ATOLL__ENCLAVE__V1__ATTEST_REQUEST__INIT;
	ar.nonce.data = nonce;
	ar.nonce.len = sizeof nonce;
	Atoll__Enclave__V1__HostMessage hm = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST;
	hm.attest = &ar;
	send_host(fd, &hm);
	em = recv_msg(fd);
	CHECK(em && em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST);
	if (em && em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST) {
		Atoll__Enclave__V1__AttestResult *res = em->attest;
		CHECK(res->ok);
		CHECK_STR(res->tee_type, "sim");
		uint8_t md[MANIFEST_SHA256_LEN], rdata[ENV_REPORT_DATA_LEN];
		manifest_digest(res->manifest.data, res->manifest.len, md);
		CHECK_INT(env_report_data(nonce, sizeof nonce, pub, md, rdata), ENV_OK);
		CHECK(res->evidence.len > SIM_REPORT_DATA_OFF + sizeof rdata);
		if (res->evidence.len > SIM_REPORT_DATA_OFF + sizeof rdata)
			CHECK(memcmp(res->evidence.data + SIM_REPORT_DATA_OFF, rdata,
				     sizeof rdata) == 0);
	}
	if (em)
		protobuf_c_message_free_unpacked(&em->base, NULL);

	/* A cancel for a job the enclave does not run is ignored; a plain
	 * echo job streams its input back. */
	Atoll__Enclave__V1__CancelJob cj = ATOLL__ENCLAVE__V1__CANCEL_JOB__INIT;
	cj.job_id = "no-such-job";
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL;
	hm.cancel = &cj;
	send_host(fd, &hm);
	char input[160];
	snprintf(input, sizeof input, "a plain job over the %s transport, in chunks", what);
	Atoll__Enclave__V1__RunJob rj = ATOLL__ENCLAVE__V1__RUN_JOB__INIT;
	rj.job_id = "job-1";
	rj.attempt = 1;
	rj.workload_id = 42;
	rj.mode = ATOLL__V1__MODE__MODE_PLAIN;
	rj.input.data = (uint8_t *)input;
	rj.input.len = strlen(input);
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN;
	hm.run = &rj;
	send_host(fd, &hm);
	struct buf out = { 0 };
	bool done = false;
	uint64_t chunks = 0;
	while (!done && (em = recv_msg(fd))) {
		if (em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT) {
			CHECK_STR(em->output->job_id, "job-1");
			CHECK_INT(em->output->seq, chunks);
			chunks++;
			buf_append(&out, em->output->data.data, em->output->data.len);
		} else if (em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE) {
			CHECK(em->done->ok);
			CHECK_INT(em->done->chunks, chunks);
			done = true;
		} else {
			CHECK(!"unexpected message");
		}
		protobuf_c_message_free_unpacked(&em->base, NULL);
	}
	CHECK(done);
	CHECK(chunks > 1);
	CHECK_INT(out.len, strlen(input));
	CHECK(out.len == strlen(input) && memcmp(out.data, input, out.len) == 0);
	buf_free(&out);

	/* A length over max_frame_bytes: the runtime closes the pipe. */
	CHECK(send(fd, "\x7f\xff\xff\xff", 4, MSG_NOSIGNAL) == 4);
	ProtobufCMessage *m = NULL;
	CHECK_INT(frame_read(fd, &atoll__enclave__v1__enclave_message__descriptor, MAX_FRAME, &m),
		  -EPIPE);
}

static void write_enclave_config(const char *dir, const char *frame_line)
{
	char y[4096];
	snprintf(y, sizeof y,
		 "# a standalone runtime's file: the enclave section alone\n"
		 "enclave:\n"
		 "%s"
		 "  driver: {name: sim, path: %s/sim.so, config: {key_file: keys/t1.key,"
		 " cert_file: keys/t1.pem}}\n"
		 "  backends: [{name: echo, path: %s/echo.so}]\n"
		 "  workloads:\n"
		 "    - {id: 42, backend: echo, modes: [plain, tee], options: {chunk_size: 8}}\n",
		 frame_line, h_module_dir(), h_module_dir());
	h_write(dir, frame_line[0] ? "enclave-small.yaml" : "enclave.yaml", y, NULL, 0);
}

static void test_child(const char *dir)
{
	char cfg[700], log[700];
	snprintf(cfg, sizeof cfg, "%s/enclave.yaml", dir);
	snprintf(log, sizeof log, "%s/child.log", dir);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(sv[1], 3);
		if (!freopen(log, "w", stderr))
			_exit(126);
		execl(h_build_path("island/atoll-enclave"), "atoll-enclave", "--config", cfg, "--fd",
		      "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	uint8_t pub[32];
	suite("child", sv[0], pub);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	CHECK(h_file_contains(log, "bad frame from host: length over the frame limit"));
	close(sv[0]);
}

/* A listening runtime: the suite, then a second host gets a fresh key
 * from a fresh process, and SIGTERM stops the listener. */
static void test_listener(const char *dir, const char *what, const char *spec,
			  const struct transport_addr *a)
{
	char cfg[700], log[700], err[512];
	snprintf(cfg, sizeof cfg, "%s/enclave.yaml", dir);
	snprintf(log, sizeof log, "%s/listen-%s.log", dir, what);
	char *argv[] = { (char *)h_build_path("island/atoll-enclave"), "--config", cfg, "--listen",
			 (char *)spec, NULL };
	struct proc p;
	CHECK_INT(h_spawn(argv, log, &p), 0);
	int fd = -1;
	CHECK_INT(transport_connect(a, 10000, &fd, err, sizeof err), 0);
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		h_dump_log(log);
		h_stop(&p, SIGKILL, 100, NULL);
		return;
	}
	uint8_t pub1[32] = { 0 }, pub2[32] = { 0 };
	suite(what, fd, pub1);
	close(fd);
	CHECK_INT(transport_connect(a, 10000, &fd, err, sizeof err), 0);
	Atoll__Enclave__V1__EnclaveMessage *em = fd >= 0 ? recv_msg(fd) : NULL;
	CHECK(em && em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY);
	if (em && em->msg_case == ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY &&
	    em->ready->enclave_public_key.len == 32)
		memcpy(pub2, em->ready->enclave_public_key.data, 32);
	CHECK(memcmp(pub1, pub2, 32) != 0);
	if (em)
		protobuf_c_message_free_unpacked(&em->base, NULL);
	if (fd >= 0)
		close(fd);
	CHECK(h_file_contains(log, "bad frame from host: length over the frame limit"));
	int st = 0;
	CHECK_INT(h_stop(&p, SIGTERM, 10000, &st), 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (a->kind == TRANSPORT_UNIX)
		CHECK(access(a->path, F_OK) != 0);
}

/* Can two local processes talk over vsock here? The vsock_loopback
 * transport carries CID 1; without it a connect never completes. */
static bool vsock_loopback(uint32_t port, char *why, size_t n)
{
	struct transport_addr a = { .kind = TRANSPORT_VSOCK, .cid = VMADDR_CID_ANY, .port = port };
	int lfd, fd;
	char err[256];
	if (transport_listen(&a, &lfd, err, sizeof err) < 0) {
		snprintf(why, n, "%s", err);
		return false;
	}
	a.cid = VMADDR_CID_LOCAL;
	int r = transport_connect(&a, 1500, &fd, err, sizeof err);
	close(lfd);
	if (r < 0) {
		snprintf(why, n, "%s (load the vsock_loopback module: modprobe vsock_loopback)", err);
		return false;
	}
	close(fd);
	return true;
}

/* A whole island whose runtime listens on spec: a job runs through the
 * coordinator, with the host connecting over the transport. */
static void test_island(struct cluster *cl, const char *id, const char *spec,
			const char *transport_yaml, struct proc *rt)
{
	char cfg[700], log[700];
	snprintf(cfg, sizeof cfg, "%s/enclave.yaml", cl->dir);
	snprintf(log, sizeof log, "%s/runtime-%s.log", cl->dir, id);
	char *argv[] = { (char *)h_build_path("island/atoll-enclave"), "--config", cfg, "--listen",
			 (char *)spec, NULL };
	CHECK_INT(h_spawn(argv, log, rt), 0);
	/* The host's file has no path, driver or backends: they are the
	 * runtime's business. */
	cl->enclave_path = "";
	int i = cluster_add_island(cl, id, 1, "", transport_yaml, NULL);
	cl->enclave_path = NULL;
	CHECK(i >= 0);
	CHECK_INT(cluster_wait(cl, (uint32_t)cl->n_islands, (uint32_t)cl->n_islands, 20000), 0);
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", "{\"workload_id\": 42, \"input\": {\"prompt\": "
					  "\"over a socket\"}}", &j, &st), 0);
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 15000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		if (f)
			protobuf_c_message_free_unpacked(&f->base, NULL);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	if (i >= 0) {
		char want[300];
		snprintf(want, sizeof want, "enclave ready (%s, tee sim)", spec);
		CHECK(h_file_contains(cl->islands[i].log, want));
		if (!h_file_contains(cl->islands[i].log, want))
			h_dump_log(cl->islands[i].log);
	}
	CHECK(h_file_contains(log, "host connected"));
}

/* A runtime with another frame limit than its host is refused by name. */
static void test_frame_mismatch(const char *dir)
{
	char cfg[700], log[700], host[700], err[512];
	snprintf(cfg, sizeof cfg, "%s/enclave-small.yaml", dir);
	snprintf(log, sizeof log, "%s/listen-small.log", dir);
	char spec[700];
	snprintf(spec, sizeof spec, "unix:%s/small.sock", dir);
	char *argv[] = { (char *)h_build_path("island/atoll-enclave"), "--config", cfg, "--listen",
			 spec, NULL };
	struct proc rt;
	CHECK_INT(h_spawn(argv, log, &rt), 0);
	char y[2048];
	snprintf(y, sizeof y,
		 "island: {id: small, slots: 1}\n"
		 "coordinator: {address: 127.0.0.1:1, token: x}\n"
		 "enclave: {transport: unix, socket: small.sock, start_timeout: 5s}\n");
	h_write(dir, "host-small.yaml", y, host, sizeof host);
	/* --detect goes through the same start as the daemon. */
	char out[700];
	snprintf(out, sizeof out, "%s/detect-small.out", dir);
	char *dargv[] = { (char *)h_build_path("island/atoll-island"), "--detect", "--config", host,
			  NULL };
	struct proc d;
	CHECK_INT(h_spawn(dargv, out, &d), 0);
	int st = 0;
	CHECK_INT(h_stop(&d, 0, 15000, &st), 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	snprintf(err, sizeof err, "uses max_frame_bytes 65536, this host %u: set the same "
				  "enclave.max_frame_bytes on both", MAX_FRAME);
	CHECK(h_file_contains(out, err));
	if (!h_file_contains(out, err))
		h_dump_log(out);
	h_stop(&rt, SIGTERM, 5000, NULL);
}

int main(void)
{
	struct cluster cl;
	char err[512], why[512];
	if (cluster_init(&cl, "transport") < 0)
		return 1;
	grpc_init();
	char keys[700];
	snprintf(keys, sizeof keys, "%s/keys", cl.dir);
	CHECK_INT(simtool_make_island_key(cl.ca_dir, "t1", 30, keys, err, sizeof err), 0);
	write_enclave_config(cl.dir, "");
	write_enclave_config(cl.dir, "  max_frame_bytes: 65536\n");

	test_child(cl.dir);

	char spec[700];
	struct transport_addr ua;
	snprintf(spec, sizeof spec, "unix:%s/enclave.sock", cl.dir);
	CHECK_INT(transport_parse(spec, &ua, err, sizeof err), 0);
	test_listener(cl.dir, "unix", spec, &ua);

	uint32_t port = 20000 + (uint32_t)getpid() % 20000;
	struct transport_addr ta;
	snprintf(spec, sizeof spec, "tcp:127.0.0.1:%u", port + 3);
	CHECK_INT(transport_parse(spec, &ta, err, sizeof err), 0);
	test_listener(cl.dir, "tcp", spec, &ta);

	bool vsock = vsock_loopback(port, why, sizeof why);
	if (vsock) {
		struct transport_addr va = { .kind = TRANSPORT_VSOCK, .cid = VMADDR_CID_LOCAL,
					     .port = port + 1 };
		snprintf(spec, sizeof spec, "vsock:%u", port + 1);
		test_listener(cl.dir, "vsock", spec, &va);
	} else {
		printf("skipped: vsock transport: %s\n", why);
	}

	test_frame_mismatch(cl.dir);

	CHECK_INT(cluster_start_coordinator(&cl), 0);
	char yaml[1024];
	snprintf(spec, sizeof spec, "unix:%s/island.sock", cl.dir);
	snprintf(yaml, sizeof yaml, "  transport: unix\n  socket: island.sock\n");
	struct proc rts[3] = { 0 };
	test_island(&cl, "u1", spec, yaml, &rts[0]);
	snprintf(spec, sizeof spec, "tcp:127.0.0.1:%u", port + 4);
	snprintf(yaml, sizeof yaml, "  transport: tcp\n  address: 127.0.0.1\n  port: %u\n", port + 4);
	test_island(&cl, "t1", spec, yaml, &rts[2]);
	if (vsock) {
		snprintf(spec, sizeof spec, "vsock:%u", port + 2);
		snprintf(yaml, sizeof yaml, "  transport: vsock\n  cid: 1\n  port: %u\n", port + 2);
		test_island(&cl, "v1", spec, yaml, &rts[1]);
	}
	if (check_failures) {
		cluster_dump_logs(&cl);
	}
	cluster_stop(&cl);
	for (int i = 0; i < 3; i++)
		if (rts[i].pid > 0)
			CHECK_INT(h_stop(&rts[i], SIGTERM, 10000, NULL), 0);
	grpc_shutdown();
	CHECK_DONE();
}
