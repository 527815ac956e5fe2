/* libFuzzer target: the island host's handling of what it reads: the
 * coordinator's messages (Welcome, Challenge, AttestationResult,
 * Assignment, Cancel) and the enclave's (Ready, AttestResult, JobOutput,
 * JobDone), in any order, without processes or sockets to a coordinator.
 *
 * island/island.c, session.c and link.c are compiled into this target as
 * they are (island.c's main renamed), and the gRPC client they call is
 * replaced below by one that checks and drops what the island sends. The
 * enclave end of the pipe is a socket pair whose frames are read back
 * after every message: each must be a HostMessage the enclave can parse.
 *
 * Input: steps, each a selector byte then a frame (4-byte length and
 * message): 0 a CoordinatorMessage, 1 an EnclaveMessage, 2 an
 * EnclaveMessage taken as the enclave's Ready (then a Hello is sent); 3
 * takes one more byte instead of a frame: the enclave exits (its jobs are
 * handed back), the enclave comes back, the island drains, or the session
 * ends (its jobs are cancelled). After every step what is due of the held
 * JobStarted and output is sent, and at the end all of it. */
#define main atoll_island_main
#include "island.c"
#undef main
#include "link.c"
#include "session.c"

#include <fcntl.h>

#include "fuzz.h"
#include "util/buf.h"

#define MAX_FRAME (64u * 1024)

/* The client stubs: a stream is a counter of what was sent on it. */
struct rpc_stream {
	unsigned sent;
};

int rpc_client_new(const char *target, const struct rpc_client_opts *opts,
		   rpc_client **ret)
{
	return -ENOTSUP;
}

void rpc_client_free(rpc_client *c)
{
}

int rpc_stream_open(rpc_client *c, const char *method, const ProtobufCMessage *req,
		    const struct rpc_md *md, size_t n_md, int64_t timeout_ms,
		    bool wait_for_ready, rpc_stream **ret)
{
	return -ENOTSUP;
}

/* What the coordinator would get must parse as an IslandMessage. */
int rpc_stream_send(rpc_stream *s, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *b = malloc(n + 1);
	ProtobufCMessage *back;

	if (!b)
		fuzz_die("out of memory");
	protobuf_c_message_pack(msg, b);
	back = protobuf_c_message_unpack(&atoll__v1__island_message__descriptor,
					 NULL, n, b);
	if (!back)
		fuzz_die("the island sent a message the coordinator cannot parse");
	protobuf_c_message_free_unpacked(back, NULL);
	free(b);
	s->sent++;
	return 0;
}

int rpc_stream_recv(rpc_stream *s, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret_msg)
{
	return 0;
}

void rpc_stream_cancel(rpc_stream *s)
{
}

void rpc_stream_finish(rpc_stream *s, struct rpc_status *st)
{
}

static struct island_config cfg;
static struct island is;
static struct rpc_stream stream;
static int enclave_end;
static uint8_t *ready_bytes;
static size_t ready_len;

void fuzz_setup(void)
{
	int sv[2], big = 1 << 20;
	uint8_t key[32];
	Atoll__V1__Mode modes[1] = { ATOLL__V1__MODE__MODE_PLAIN };
	Atoll__Enclave__V1__Workload w = ATOLL__ENCLAVE__V1__WORKLOAD__INIT;
	Atoll__Enclave__V1__Workload *wp[1] = { &w };
	Atoll__Enclave__V1__Ready rd = ATOLL__ENCLAVE__V1__READY__INIT;

	log_init("island", LOG_ERROR);
	cfg.id = "fuzz-island";
	cfg.slots = 2;
	cfg.coordinator.address = "127.0.0.1:1";
	cfg.coordinator.token = "token";
	cfg.enclave.max_frame_bytes = MAX_FRAME;
	is.cfg = &cfg;
	is.config_path = "island.yaml";
	pthread_mutex_init(&is.mu, NULL);
	pthread_cond_init(&is.cond, NULL);
	pthread_mutex_init(&is.send_mu, NULL);
	pthread_mutex_init(&is.enclave_wmu, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_die("socketpair: %s", strerror(errno));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		fuzz_die("fcntl: %s", strerror(errno));
	is.enclave_fd = sv[0];
	enclave_end = sv[1];
	is.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (is.wake_fd < 0)
		fuzz_die("eventfd: %s", strerror(errno));

	/* The Ready the island starts from in each input. */
	memset(key, 0x44, sizeof(key));
	w.workload_id = 7;
	w.backend = "linear";
	w.available = true;
	w.error = "";
	w.n_modes = 1;
	w.modes = modes;
	rd.tee_type = "sim";
	rd.tee_error = "";
	rd.enclave_public_key = (ProtobufCBinaryData){ sizeof(key), key };
	rd.version = "0.1.0";
	rd.max_frame_bytes = MAX_FRAME;
	rd.n_workloads = 1;
	rd.workloads = wp;
	ready_len = protobuf_c_message_get_packed_size(&rd.base);
	ready_bytes = malloc(ready_len);
	if (!ready_bytes)
		fuzz_die("out of memory");
	protobuf_c_message_pack(&rd.base, ready_bytes);
}

static void set_ready(Atoll__Enclave__V1__Ready *rd)
{
	if (is.ready)
		protobuf_c_message_free_unpacked(&is.ready->base, NULL);
	is.ready = rd;
}

static void reset(void)
{
	struct ijob *jobs = take_all_jobs(&is);

	while (jobs) {
		struct ijob *j = jobs;

		jobs = j->next;
		ijob_free(j);
	}
	set_ready(atoll__enclave__v1__ready__unpack(NULL, ready_len, ready_bytes));
	if (!is.ready)
		fuzz_die("the default Ready does not parse");
	is.stream = &stream;
	is.welcomed = false;
	is.heartbeat_ms = 5000;
	is.enclave_alive = true;
	atomic_store(&is.draining, false);
}

/* Read back what the island sent the enclave. */
static void drain_enclave(void)
{
	for (;;) {
		ProtobufCMessage *m = NULL;
		int r = frame_read(enclave_end,
				   &atoll__enclave__v1__host_message__descriptor,
				   MAX_FRAME * 2, &m);

		if (r == -EAGAIN)
			return;
		if (r < 0)
			fuzz_die("the island sent the enclave a bad frame: %s",
				 strerror(-r));
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void control(uint8_t op)
{
	switch (op % 4) {
	case 0:
		pthread_mutex_lock(&is.mu);
		is.enclave_alive = false;
		pthread_mutex_unlock(&is.mu);
		hand_back_all(&is, "the island's enclave exited");
		break;
	case 1:
		pthread_mutex_lock(&is.mu);
		is.enclave_alive = true;
		pthread_mutex_unlock(&is.mu);
		break;
	case 2:
		atomic_store(&is.draining, true);
		hand_back_all(&is, "the island is shutting down");
		break;
	case 3: {
		struct ijob *jobs = take_all_jobs(&is);

		while (jobs) {
			struct ijob *j = jobs;

			jobs = j->next;
			enclave_cancel(&is, j->id, j->attempt);
			ijob_free(j);
		}
		break;
	}
	}
}

static void check_jobs(void)
{
	uint32_t n = 0;

	for (struct ijob *j = is.jobs; j; j = j->next) {
		n++;
		/* Held output goes once it reaches the bound (held.h). */
		if (j->bytes >= HELD_MAX_BYTES)
			fuzz_die("job %s holds %zu bytes of output", j->id, j->bytes);
	}
	if (n != is.running || n > cfg.slots)
		fuzz_die("%u jobs listed, %u running, %u slots", n, is.running,
			 cfg.slots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_memfd(data, size);

	reset();
	for (;;) {
		uint8_t sel, op;
		ProtobufCMessage *pm = NULL;
		int r;

		if (read(fd, &sel, 1) != 1)
			break;
		if (sel % 4 == 3) {
			if (read(fd, &op, 1) != 1)
				break;
			control(op);
		} else {
			r = frame_read(fd, sel % 4 == 0 ?
					   &atoll__v1__coordinator_message__descriptor :
					   &atoll__enclave__v1__enclave_message__descriptor,
				       MAX_FRAME, &pm);
			if (r < 0)
				break;
			if (sel % 4 == 0) {
				on_coordinator_msg(&is, &stream, (void *)pm);
			} else if (sel % 4 == 1) {
				on_enclave_msg(&is, (void *)pm);
			} else {
				Atoll__Enclave__V1__EnclaveMessage *em = (void *)pm;

				/* As start_enclave() keeps it. */
				if (em->msg_case ==
				    ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY) {
					set_ready(em->ready);
					em->ready = NULL;
					em->msg_case =
						ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG__NOT_SET;
				}
				if (send_hello(&is, &stream) < 0)
					fuzz_die("send_hello failed");
			}
			protobuf_c_message_free_unpacked(pm, NULL);
		}
		/* As the enclave thread does between messages. */
		flush_held(&is, time_mono_ms(), false);
		drain_enclave();
		check_jobs();
	}
	/* What is still held goes, JobStarted before output. */
	flush_held(&is, time_mono_ms(), true);
	check_jobs();
	return 0;
}

/* ---- seeds: sessions as a coordinator and an enclave would drive them ---- */

static void step(struct buf *b, uint8_t sel, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t hdr[5] = { sel, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
			   (uint8_t)(n >> 8), (uint8_t)n };
	uint8_t *p = malloc(n + 1);

	protobuf_c_message_pack(m, p);
	buf_append(b, hdr, 5);
	buf_append(b, p, n);
	free(p);
}

static void ctl(struct buf *b, uint8_t op)
{
	uint8_t s[2] = { 3, op };

	buf_append(b, s, 2);
}

void fuzz_seeds(void)
{
	static const char manifest[] = "{\"version\":1}";
	uint8_t nonce[32], input[16];
	Atoll__V1__CoordinatorMessage cm = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	Atoll__V1__Welcome wel = ATOLL__V1__WELCOME__INIT;
	Atoll__V1__WorkloadVerdict acc = ATOLL__V1__WORKLOAD_VERDICT__INIT;
	Atoll__V1__WorkloadVerdict *accp[1] = { &acc };
	Atoll__V1__Challenge ch = ATOLL__V1__CHALLENGE__INIT;
	Atoll__V1__AttestationResult res = ATOLL__V1__ATTESTATION_RESULT__INIT;
	Atoll__V1__Assignment as = ATOLL__V1__ASSIGNMENT__INIT;
	Google__Protobuf__Timestamp deadline = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Atoll__V1__Cancel can = ATOLL__V1__CANCEL__INIT;
	Atoll__Enclave__V1__EnclaveMessage em = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT;
	Atoll__Enclave__V1__AttestResult ar = ATOLL__ENCLAVE__V1__ATTEST_RESULT__INIT;
	Atoll__Enclave__V1__JobOutput out = ATOLL__ENCLAVE__V1__JOB_OUTPUT__INIT;
	Atoll__Enclave__V1__JobDone done = ATOLL__ENCLAVE__V1__JOB_DONE__INIT;
	Atoll__Enclave__V1__EnclaveMessage *ready;
	struct buf b = { 0 };

	memset(nonce, 0x11, sizeof(nonce));
	memset(input, 0x22, sizeof(input));
	wel.session_id = "sess_1";
	wel.heartbeat_interval_ms = 1000;
	acc.workload_id = 9;
	acc.accepted = false;
	acc.reason = "unknown workload";
	wel.n_workloads = 1;
	wel.workloads = accp;
	ch.nonce = (ProtobufCBinaryData){ sizeof(nonce), nonce };
	res.state = ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED;
	as.job_id = "job_a";
	as.attempt = 1;
	as.workload_id = 7;
	as.mode = ATOLL__V1__MODE__MODE_PLAIN;
	as.input = (ProtobufCBinaryData){ sizeof(input), input };
	deadline.seconds = 1750000000;
	as.deadline = &deadline;
	can.job_id = "job_a";
	can.attempt = 1;
	can.reason = "client cancelled";

	/* Welcome, challenge, evidence, attested; two jobs, output, done. */
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME;
	cm.welcome = &wel;
	step(&b, 0, &cm.base);
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE;
	cm.challenge = &ch;
	step(&b, 0, &cm.base);
	ar.ok = true;
	ar.nonce = ch.nonce;
	ar.tee_type = "sim";
	ar.evidence = (ProtobufCBinaryData){ sizeof(input), input };
	ar.manifest = (ProtobufCBinaryData){ sizeof(manifest) - 1,
					     (uint8_t *)manifest };
	em.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST;
	em.attest = &ar;
	step(&b, 1, &em.base);
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION;
	cm.attestation = &res;
	step(&b, 0, &cm.base);
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ASSIGNMENT;
	cm.assignment = &as;
	step(&b, 0, &cm.base);
	as.job_id = "job_b";
	step(&b, 0, &cm.base);
	as.job_id = "job_c";
	step(&b, 0, &cm.base);
	out.job_id = "job_a";
	out.attempt = 1;
	out.data = (ProtobufCBinaryData){ sizeof(input), input };
	em.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT;
	em.output = &out;
	step(&b, 1, &em.base);
	done.job_id = "job_a";
	done.attempt = 1;
	done.ok = true;
	done.error = "";
	done.chunks = 1;
	em.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE;
	em.done = &done;
	step(&b, 1, &em.base);
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL;
	cm.cancel = &can;
	can.job_id = "job_b";
	step(&b, 0, &cm.base);
	fuzz_seed("session", b.data, b.len);

	/* The enclave restarts with a new Ready; the island says Hello. */
	ready = atoll__enclave__v1__enclave_message__unpack(NULL, 0, NULL);
	if (!ready)
		fuzz_die("cannot make an EnclaveMessage");
	ready->msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY;
	ready->ready = atoll__enclave__v1__ready__unpack(NULL, ready_len, ready_bytes);
	ctl(&b, 0);
	ctl(&b, 1);
	step(&b, 2, &ready->base);
	ctl(&b, 2);
	cm.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ASSIGNMENT;
	step(&b, 0, &cm.base);
	ctl(&b, 3);
	fuzz_seed("session-restart-drain", b.data, b.len);
	protobuf_c_message_free_unpacked(&ready->base, NULL);
	buf_free(&b);
}
