/* libFuzzer target: the enclave runtime's handling of what the host sends
 * it (island/enclave.c): attestation requests, jobs in every mode (a TEE
 * job's input envelope is opened and its output sealed to the client) and
 * cancellations, each job on its own thread as in the program.
 *
 * island/enclave.c is compiled into this target as is (its main renamed).
 * In place of loaded modules it gets a TEE driver whose evidence is the
 * report data, and two workloads: 7, served by a backend that echoes its
 * input back (and fails, quoting a canary, on input that starts with
 * "fail"), and 8, whose backend did not load. Its manifest is built by
 * the enclave's own code from a config naming those. Keys are fixed.
 *
 * Input: the pipe as the host writes it, HostMessage frames read with
 * frame_read() and dispatched as serve() does, up to the first bad frame.
 * Every running job is then waited for. What the enclave wrote back must
 * be EnclaveMessage frames with one JobDone per job started, as many
 * JobOutput frames as the JobDones count, evidence that binds the nonce,
 * the enclave key and the manifest sent with it, and, for each TEE job of
 * a known client, an output stream (format v2, from the enclave key) that
 * opens to the plaintext of its input when the job succeeded, or to a
 * sealed error when it failed after its stream began; the error the host
 * sees is then the code alone, never the backend's message. */
#define main atoll_enclave_main
#include "enclave.c"
#undef main

#include <fcntl.h>
#include <sys/socket.h>

#include "fuzz.h"

#define MAX_FRAME (64u * 1024)
#define MAX_TRACKED 64
/* In the fake backend's error messages: it must reach the client sealed
 * and never the host in clear. */
#define CANARY "canary-backend-message-5d1f"

static struct island_config cfg;
static struct enclave e;
static int host_end;
static uint8_t client_priv[ENV_KEY_LEN], client_pub[ENV_KEY_LEN];

/* ---- the stand-in modules ---- */

static int echo_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		     atoll_err *err)
{
	*ret_ctx = NULL;
	return ATOLL_OK;
}

static void echo_fini(void *ctx)
{
}

/* The input back in two chunks; input that starts with "fail" fails
 * after the first, with a message that quotes it as backends may. */
static int echo_run(void *ctx, const atoll_backend_job *job,
		    const atoll_backend_io *io, atoll_err *err)
{
	size_t half = job->input_len / 2;
	int r = ATOLL_OK;

	if (half)
		r = io->emit(io->host, job->input, half);
	if (r == ATOLL_OK && job->input_len >= 4 &&
	    memcmp(job->input, "fail", 4) == 0) {
		snprintf(err->msg, sizeof(err->msg), CANARY ": %.*s",
			 (int)(job->input_len < 64 ? job->input_len : 64),
			 (const char *)job->input);
		return ATOLL_E_FORMAT;
	}
	if (r == ATOLL_OK && job->input_len > half)
		r = io->emit(io->host, job->input + half, job->input_len - half);
	return r;
}

static const atoll_backend echo = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "echo",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = echo_init,
	.fini = echo_fini,
	.run = echo_run,
};

static int evidence_detect(void *ctx, atoll_err *err)
{
	return ATOLL_OK;
}

static int evidence_collect(void *ctx, const uint8_t *report_data,
			    atoll_evidence **ret, atoll_err *err)
{
	atoll_evidence *ev = calloc(1, sizeof(*ev));

	if (!ev || !(ev->data = malloc(ATOLL_REPORT_DATA_LEN)))
		fuzz_die("out of memory");
	ev->struct_size = sizeof(*ev);
	memcpy(ev->data, report_data, ATOLL_REPORT_DATA_LEN);
	ev->len = ATOLL_REPORT_DATA_LEN;
	*ret = ev;
	return ATOLL_OK;
}

static void evidence_free(void *ctx, atoll_evidence *ev)
{
	if (ev)
		free(ev->data);
	free(ev);
}

static const atoll_tee_driver fake_tee = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "fuzz",
	.detect = evidence_detect,
	.collect = evidence_collect,
	.evidence_free = evidence_free,
};

static struct loaded_driver loaded_tee = { .d = &fake_tee, .name = "fuzz" };
static struct loaded_backend loaded_echo = { .b = &echo };
static struct loaded_backend loaded_none;
static struct ewl workloads[2];
static struct plugin_cfg backend_cfg[2];
static struct island_workload workload_cfg[2];

void fuzz_setup(void)
{
	static const uint8_t enclave_ikm[32] = "atoll fuzz enclave key material";
	static const uint8_t client_ikm[32] = "atoll fuzz client key material.";
	int sv[2], big = 1 << 20;

	log_init("enclave", LOG_ERROR);
	if (hpke_derive_keypair(enclave_ikm, sizeof(enclave_ikm), e.priv, e.pub) < 0 ||
	    hpke_derive_keypair(client_ikm, sizeof(client_ikm), client_priv,
				client_pub) < 0)
		fuzz_die("cannot derive the keys");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_die("socketpair: %s", strerror(errno));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		fuzz_die("fcntl: %s", strerror(errno));
	host_end = sv[1];
	cfg.enclave.max_frame_bytes = MAX_FRAME;
	/* What build_manifest() hashes: the backends' and the driver's
	 * files, named as a config would. */
	backend_cfg[0] = (struct plugin_cfg){
		.name = "echo",
		.path = strdup(fuzz_tmpfile("echo.so", "echo", 4, 0644)) };
	backend_cfg[1] = (struct plugin_cfg){
		.name = "missing",
		.path = strdup(fuzz_tmpfile("missing.so", "none", 4, 0644)) };
	loaded_tee.path = strdup(fuzz_tmpfile("fuzz.so", "tee", 3, 0644));
	workload_cfg[0] = (struct island_workload){
		.id = 7, .backend = "echo",
		.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) |
			 ATOLL_MODE_BIT(ATOLL_MODE_TEE) };
	workload_cfg[1] = (struct island_workload){
		.id = 8, .backend = "missing",
		.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) };
	cfg.enclave.backends = backend_cfg;
	cfg.enclave.n_backends = 2;
	cfg.enclave.workloads = workload_cfg;
	cfg.enclave.n_workloads = 2;
	e.cfg = &cfg;
	e.fd = sv[0];
	pthread_mutex_init(&e.wmu, NULL);
	pthread_mutex_init(&e.jmu, NULL);
	pthread_cond_init(&e.jcond, NULL);
	e.has_tee = true;
	e.drv = &loaded_tee;
	workloads[0] = (struct ewl){ .id = 7, .lb = &loaded_echo, .available = true,
				     .modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) |
					      ATOLL_MODE_BIT(ATOLL_MODE_TEE) };
	workloads[1] = (struct ewl){ .id = 8, .lb = &loaded_none,
				     .modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) };
	snprintf(workloads[1].error, sizeof(workloads[1].error),
		 "backend unavailable: not loaded");
	e.wls = workloads;
	e.n_wls = 2;
	if (build_manifest(&e) < 0 || !e.has_tee || !e.manifest.len)
		fuzz_die("cannot build the manifest: %s", e.tee_error);
}

/* ---- what the enclave sends back ---- */

/* A TEE job of the known client, whose output stream is checked. */
struct tracked {
	char job_id[ENV_MAX_JOB_ID_LEN + 1];
	uint32_t attempt;
	struct env_input_info info;
	struct buf plaintext, stream;
	uint64_t next_seq;
	bool done, ok;
	/* Not checked: shares its id and attempt with another job, or is
	 * not a TEE job of the known client. */
	bool unchecked;
	char *error; /* JobDone.error, as the host sees it */
};

static struct {
	struct buf in; /* bytes read from the pipe, not yet a whole frame */
	size_t runs, dones, outputs;
	uint64_t chunks;
	struct tracked jobs[MAX_TRACKED];
	size_t n_jobs;
} seen;

static struct tracked *find(const char *job_id, uint32_t attempt)
{
	for (size_t i = 0; i < seen.n_jobs; i++)
		if (seen.jobs[i].attempt == attempt &&
		    strcmp(seen.jobs[i].job_id, job_id) == 0)
			return &seen.jobs[i];
	return NULL;
}

/* A RunJob as start_job() takes it; TEE jobs whose envelope opens to the
 * known client are tracked. */
static void track(const Atoll__Enclave__V1__RunJob *rj)
{
	struct tracked *t;
	char id[ENV_MAX_JOB_ID_LEN + 1];

	seen.runs++;
	snprintf(id, sizeof(id), "%s", rj->job_id);
	if ((t = find(id, rj->attempt))) {
		/* Two jobs of one id and attempt share output frames. */
		t->unchecked = true;
		return;
	}
	if (seen.n_jobs == MAX_TRACKED)
		return;
	t = &seen.jobs[seen.n_jobs++];
	memset(t, 0, sizeof(*t));
	snprintf(t->job_id, sizeof(t->job_id), "%s", id);
	t->attempt = rj->attempt;
	/* A job not checked still takes its id and attempt: a later job
	 * under both shares its frames, so neither is checked. */
	if (rj->mode != ATOLL__V1__MODE__MODE_TEE || rj->workload_id != 7 ||
	    env_open_input(rj->input.data, rj->input.len, rj->workload_id, e.priv,
			   e.pub, &t->info, &t->plaintext) != ENV_OK ||
	    memcmp(t->info.client_pub, client_pub, ENV_KEY_LEN) != 0) {
		buf_free(&t->plaintext);
		t->unchecked = true;
	}
}

/* The fake TEE's evidence is the report data: it must bind the nonce,
 * the enclave key and the manifest that came with it, which is the one
 * the enclave built. */
static void check_attest(const Atoll__Enclave__V1__AttestResult *ar)
{
	uint8_t digest[MANIFEST_SHA256_LEN], rd[ENV_REPORT_DATA_LEN];
	struct manifest *m = NULL;
	char err[256];

	if (!ar->ok)
		return;
	if (ar->manifest.len != e.manifest.len ||
	    memcmp(ar->manifest.data, e.manifest.data, e.manifest.len) != 0)
		fuzz_die("evidence sent with another manifest");
	if (manifest_decode(ar->manifest.data, ar->manifest.len, &m, err,
			    sizeof(err)) < 0)
		fuzz_die("the enclave's manifest does not parse: %s", err);
	manifest_free(m);
	manifest_digest(ar->manifest.data, ar->manifest.len, digest);
	if (env_report_data(ar->nonce.data, ar->nonce.len, e.pub, digest, rd) !=
		    ENV_OK ||
	    ar->evidence.len != sizeof(rd) ||
	    memcmp(ar->evidence.data, rd, sizeof(rd)) != 0)
		fuzz_die("evidence that does not bind the nonce, key and manifest");
}

static void on_frame(const uint8_t *p, size_t n)
{
	Atoll__Enclave__V1__EnclaveMessage *m =
		atoll__enclave__v1__enclave_message__unpack(NULL, n, p);
	struct tracked *t;

	if (!m)
		fuzz_die("the enclave sent a frame the host cannot parse");
	switch (m->msg_case) {
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT:
		seen.outputs++;
		t = find(m->output->job_id, m->output->attempt);
		if (t && !t->unchecked) {
			if (m->output->seq != t->next_seq++)
				fuzz_die("output %llu of %s arrived as %llu",
					 (unsigned long long)t->next_seq - 1,
					 t->job_id,
					 (unsigned long long)m->output->seq);
			buf_append(&t->stream, m->output->data.data,
				   m->output->data.len);
		}
		break;
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE:
		seen.dones++;
		seen.chunks += m->done->chunks;
		t = find(m->done->job_id, m->done->attempt);
		if (t && !t->done) {
			t->done = true;
			t->ok = m->done->ok;
			t->error = strdup(m->done->error);
		}
		break;
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST:
		check_attest(m->attest);
		break;
	default:
		fuzz_die("the enclave sent an unexpected message %d", m->msg_case);
	}
	atoll__enclave__v1__enclave_message__free_unpacked(m, NULL);
}

/* Read what is there and handle every whole frame. */
static void drain(void)
{
	uint8_t chunk[65536];
	ssize_t got;

	while ((got = recv(host_end, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		buf_append(&seen.in, chunk, (size_t)got);
	for (;;) {
		const uint8_t *p = seen.in.data;
		size_t len;

		if (seen.in.len < 4)
			return;
		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (seen.in.len - 4 < len)
			return;
		on_frame(p + 4, len);
		memmove(seen.in.data, p + 4 + len, seen.in.len - 4 - len);
		seen.in.len -= 4 + len;
	}
}

/* Until every job thread is gone, reading meanwhile so that none blocks
 * on a full pipe. */
static void wait_jobs(void)
{
	for (;;) {
		size_t n;

		drain();
		pthread_mutex_lock(&e.jmu);
		n = e.n_jobs;
		if (n)
			time_cond_wait_ms(&e.jcond, &e.jmu, 1);
		pthread_mutex_unlock(&e.jmu);
		if (!n)
			break;
	}
	drain();
}

static void check(void)
{
	if (seen.in.len)
		fuzz_die("the enclave left %zu bytes of a frame", seen.in.len);
	if (seen.dones != seen.runs)
		fuzz_die("%zu jobs started, %zu JobDone", seen.runs, seen.dones);
	if (seen.chunks != seen.outputs)
		fuzz_die("JobDone counts %llu outputs, %zu sent",
			 (unsigned long long)seen.chunks, seen.outputs);
	for (size_t i = 0; i < seen.n_jobs; i++) {
		struct tracked *t = &seen.jobs[i];
		struct buf pt = { 0 }, sealed = { 0 };
		struct env_output_expect want = {
			.job_id = t->job_id,
			.workload_id = 7,
			.envelope_id = t->info.envelope_id,
			.senders = (const uint8_t(*)[ENV_KEY_LEN])e.pub,
			.n_senders = 1,
		};
		int r;

		if (t->unchecked)
			continue;
		/* Whatever happened, the host never reads the backend's
		 * words about a TEE job. */
		if (t->error && strstr(t->error, CANARY))
			fuzz_die("the error of %s reached the host in clear: %s",
				 t->job_id, t->error);
		/* A job that failed before its stream began sealed nothing. */
		if (!t->ok && !t->stream.len)
			continue;
		r = env_open_output(client_priv, t->stream.data, t->stream.len,
				    &want, &pt, &sealed);
		if (t->ok) {
			if (r != ENV_OK)
				fuzz_die("the sealed output of %s does not open: %s",
					 t->job_id, env_strerror(r));
			if (pt.len != t->plaintext.len ||
			    (pt.len &&
			     memcmp(pt.data, t->plaintext.data, pt.len) != 0))
				fuzz_die("the sealed output of %s is not its input",
					 t->job_id);
		} else {
			const char *code = buf_cstr(&sealed);
			size_t cl = strcspn(code, ":");

			/* The host's error is "<code> (...)" with the code the
			 * client reads in the sealed error. */
			if (r != ENV_E_JOB_FAILED)
				fuzz_die("the failed job %s sealed no error: %s",
					 t->job_id, env_strerror(r));
			if (!t->error || strncmp(t->error, code, cl) != 0 ||
			    strncmp(t->error + cl, " (", 2) != 0)
				fuzz_die("job %s: host error '%s', sealed '%s'",
					 t->job_id, t->error ? t->error : "",
					 code);
		}
		buf_free(&pt);
		buf_free(&sealed);
	}
}

static void forget(void)
{
	for (size_t i = 0; i < seen.n_jobs; i++) {
		buf_free(&seen.jobs[i].plaintext);
		buf_free(&seen.jobs[i].stream);
		free(seen.jobs[i].error);
	}
	buf_free(&seen.in);
	memset(&seen, 0, sizeof(seen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_memfd(data, size);

	for (bool stop = false; !stop;) {
		ProtobufCMessage *pm = NULL;
		Atoll__Enclave__V1__HostMessage *hm;

		if (frame_read(fd, &atoll__enclave__v1__host_message__descriptor,
			       MAX_FRAME, &pm) < 0)
			break;
		hm = (void *)pm;
		switch (hm->msg_case) {
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST:
			attest(&e, hm->attest);
			break;
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN:
			track(hm->run);
			start_job(&e, hm->run);
			break;
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL:
			cancel_job(&e, hm->cancel);
			break;
		default:
			stop = true;
			break;
		}
		protobuf_c_message_free_unpacked(pm, NULL);
		drain();
	}
	wait_jobs();
	check();
	forget();
	return 0;
}

/* ---- seeds: what a host sends ---- */

static void frame(struct buf *b, const Atoll__Enclave__V1__HostMessage *m)
{
	size_t n = atoll__enclave__v1__host_message__get_packed_size(m);
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
			   (uint8_t)(n >> 8), (uint8_t)n };
	uint8_t *p = malloc(n + 1);

	atoll__enclave__v1__host_message__pack(m, p);
	buf_append(b, hdr, 4);
	buf_append(b, p, n);
	free(p);
}

static void run(struct buf *b, const char *id, uint32_t workload,
		Atoll__V1__Mode mode, const struct buf *input, bool with_key)
{
	Atoll__Enclave__V1__RunJob rj = ATOLL__ENCLAVE__V1__RUN_JOB__INIT;
	Atoll__Enclave__V1__HostMessage m = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;

	rj.job_id = (char *)id;
	rj.attempt = 1;
	rj.workload_id = workload;
	rj.mode = mode;
	rj.input = (ProtobufCBinaryData){ input->len, input->data };
	if (with_key)
		rj.client_public_key = (ProtobufCBinaryData){ ENV_KEY_LEN, client_pub };
	m.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN;
	m.run = &rj;
	frame(b, &m);
}

void fuzz_seeds(void)
{
	static const char prompt[] = "{\"prompt\":\"hello, enclave\"}";
	uint8_t nonce[32];
	static const char failing[] = "fail: the backend refuses this";
	struct buf b = { 0 }, plain = { 0 }, sealed = { 0 }, bad = { 0 },
		   sealed_bad = { 0 };
	Atoll__Enclave__V1__AttestRequest ar = ATOLL__ENCLAVE__V1__ATTEST_REQUEST__INIT;
	Atoll__Enclave__V1__CancelJob cj = ATOLL__ENCLAVE__V1__CANCEL_JOB__INIT;
	Atoll__Enclave__V1__HostMessage m = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;

	memset(nonce, 0x5e, sizeof(nonce));
	buf_append(&plain, prompt, strlen(prompt));
	if (env_seal_input(1, 7, client_pub, (const uint8_t(*)[ENV_KEY_LEN])e.pub, 1,
			   plain.data, plain.len, &sealed) < 0)
		fuzz_die("cannot seal an input");
	buf_append(&bad, failing, strlen(failing));
	if (env_seal_input(3, 7, client_pub, (const uint8_t(*)[ENV_KEY_LEN])e.pub, 1,
			   bad.data, bad.len, &sealed_bad) < 0)
		fuzz_die("cannot seal an input");

	ar.nonce = (ProtobufCBinaryData){ sizeof(nonce), nonce };
	m.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST;
	m.attest = &ar;
	frame(&b, &m);
	fuzz_seed("attest", b.data, b.len);

	buf_reset(&b);
	run(&b, "job_tee", 7, ATOLL__V1__MODE__MODE_TEE, &sealed, true);
	fuzz_seed("run-tee", b.data, b.len);

	/* A backend error after the first chunk: sealed for the client. */
	buf_reset(&b);
	run(&b, "job_tee_fails", 7, ATOLL__V1__MODE__MODE_TEE, &sealed_bad, true);
	run(&b, "job_plain_fails", 7, ATOLL__V1__MODE__MODE_PLAIN, &bad, false);
	fuzz_seed("run-fails", b.data, b.len);

	buf_reset(&b);
	run(&b, "job_plain", 7, ATOLL__V1__MODE__MODE_PLAIN, &plain, false);
	run(&b, "job_unavailable", 8, ATOLL__V1__MODE__MODE_PLAIN, &plain, false);
	run(&b, "job_wrong_mode", 8, ATOLL__V1__MODE__MODE_TEE, &sealed, true);
	run(&b, "job_homomorphic", 7, ATOLL__V1__MODE__MODE_HOMOMORPHIC, &plain, false);
	run(&b, "job_tee2", 7, ATOLL__V1__MODE__MODE_TEE, &sealed, true);
	cj.job_id = "job_tee2";
	cj.attempt = 1;
	m.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL;
	m.cancel = &cj;
	frame(&b, &m);
	m.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST;
	m.attest = &ar;
	frame(&b, &m);
	fuzz_seed("mixed", b.data, b.len);

	buf_free(&b);
	buf_free(&plain);
	buf_free(&sealed);
	buf_free(&bad);
	buf_free(&sealed_bad);
}
