/* A malicious coordinator against the client: atollctl decrypt and watch
 * talk to a fake coordinator (a real gRPC server in this process) that
 * answers with crafted jobs, while the inputs were sealed through a real
 * coordinator and sim island. Each forgery must be refused, and its text
 * never printed:
 *   - output sealed by a party with no recipient's key (its own key, or
 *     its own key claiming a recipient's);
 *   - the real output of another job of the same key;
 *   - plain output passed off for a sealed job;
 *   - a watch that reports the job as plain, or as another job, or
 *     streams a forged header.
 * atoll-proxy, on the same keystore, against the same fake: a GetJob
 * answered with another job, a completed job without its output, a watch
 * that ends before the job's final state, and a key id that names a key
 * already in the keystore are each refused, and nothing is lost.
 * And the real thing: a job whose island dies mid-stream is retried on
 * another island, and `atollctl run --confidential` follows the new
 * attempt to a complete, correct output. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "pbjson/pbjson.h"
#include "rpc/server.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define FORGED "FORGED-VERDICT-benign"

/* ---- the fake coordinator: answers GetJob and WatchJob from here ---- */

static struct {
	Atoll__V1__Job *job;             /* GetJob's answer */
	Atoll__V1__JobEvent *events[8];  /* WatchJob's stream */
	size_t n_events;
} fake;

static void fake_get(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	rpc_call_reply(call, &fake.job->base);
}

/* CreateKey: always the same key id. */
static void fake_create_key(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	Atoll__V1__Key k = ATOLL__V1__KEY__INIT;
	k.key_id = "ck_repeated";
	rpc_call_reply(call, &k.base);
}

static void fake_watch(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	for (size_t i = 0; i < fake.n_events; i++)
		rpc_call_send(call, &fake.events[i]->base);
	rpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static rpc_server *fake_start(int *ret_port)
{
	rpc_server *s = NULL;
	char err[256];
	struct rpc_server_opts o = { .threads = 1 };
	if (rpc_server_new(&o, &s, err, sizeof err) < 0)
		return NULL;
	rpc_method m1 = { "/atoll.v1.Jobs/GetJob", RPC_UNARY, &atoll__v1__get_job_request__descriptor,
			  fake_get, NULL, NULL, NULL, NULL };
	rpc_method m2 = { "/atoll.v1.Jobs/WatchJob", RPC_SERVER_STREAM,
			  &atoll__v1__watch_job_request__descriptor, fake_watch, NULL, NULL, NULL,
			  NULL };
	rpc_method m3 = { "/atoll.v1.Confidential/CreateKey", RPC_UNARY,
			  &atoll__v1__create_key_request__descriptor, fake_create_key, NULL, NULL,
			  NULL, NULL };
	if (rpc_server_add_method(s, &m1) < 0 || rpc_server_add_method(s, &m2) < 0 ||
	    rpc_server_add_method(s, &m3) < 0 ||
	    rpc_server_start(s, "127.0.0.1:0", ret_port, err, sizeof err) < 0) {
		fprintf(stderr, "fake coordinator: %s\n", err);
		rpc_server_free(s);
		return NULL;
	}
	return s;
}

static int fake_port;

/* atollctl against the fake, with the cluster's keystore. */
static int ctl_fake(struct cluster *cl, char *out, size_t size, const char *const *args)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", fake_port);
	const char *argv[32] = { "--addr", addr };
	size_t n = 2;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	/* c_atollctl puts --addr first; a later --addr wins. */
	return c_atollctl(cl, out, size, argv);
}

/* ---- helpers ---- */

static Atoll__V1__Job *job_copy(const Atoll__V1__Job *j)
{
	size_t n = protobuf_c_message_get_packed_size(&j->base);
	uint8_t *b = malloc(n);
	protobuf_c_message_pack(&j->base, b);
	Atoll__V1__Job *c = atoll__v1__job__unpack(NULL, n, b);
	free(b);
	return c;
}

static void set_output(Atoll__V1__Job *j, const uint8_t *ct, size_t len, bool encrypted)
{
	if (j->output)
		protobuf_c_message_free_unpacked(&j->output->base, NULL);
	Atoll__V1__JobOutput *o = malloc(sizeof *o);
	atoll__v1__job_output__init(o);
	o->encrypted = encrypted;
	if (encrypted) {
		o->ciphertext.data = malloc(len);
		memcpy(o->ciphertext.data, ct, len);
		o->ciphertext.len = len;
	} else {
		o->text = strndup((const char *)ct, len);
	}
	j->output = o;
}

/* A stream for the job's id, workload and envelope, sealed with a key of
 * the forger's own, naming sender_pub as the sealing enclave. */
static void forge(const Atoll__V1__Job *j, const uint8_t *client_pub, const uint8_t *sender_pub,
		  struct buf *out)
{
	uint8_t priv[32], pub[32];
	x25519_keygen(priv, pub);
	env_output_sealer *s = NULL;
	CHECK_INT(env_output_sealer_new(HPKE_AEAD_AES_256_GCM, client_pub, priv,
					sender_pub ? sender_pub : pub, j->id, j->workload_id,
					j->input_envelope_id.data, j->attempts, &s, out),
		  ENV_OK);
	env_output_seal(s, (const uint8_t *)FORGED, strlen(FORGED), out);
	env_output_finish(s, out);
	env_output_sealer_free(s);
}

static void fake_events_clear(void)
{
	for (size_t i = 0; i < fake.n_events; i++)
		protobuf_c_message_free_unpacked(&fake.events[i]->base, NULL);
	fake.n_events = 0;
}

static void fake_event_job(const Atoll__V1__Job *j)
{
	Atoll__V1__JobEvent *ev = malloc(sizeof *ev);
	atoll__v1__job_event__init(ev);
	ev->event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
	ev->job = job_copy(j);
	fake.events[fake.n_events++] = ev;
}

static void fake_event_chunk(uint64_t seq, const uint8_t *data, size_t len)
{
	Atoll__V1__JobEvent *ev = malloc(sizeof *ev);
	atoll__v1__job_event__init(ev);
	ev->event_case = ATOLL__V1__JOB_EVENT__EVENT_CHUNK;
	ev->chunk = malloc(sizeof *ev->chunk);
	atoll__v1__output_chunk__init(ev->chunk);
	ev->chunk->seq = seq;
	ev->chunk->data.data = malloc(len);
	memcpy(ev->chunk->data.data, data, len);
	ev->chunk->data.len = len;
	fake.events[fake.n_events++] = ev;
}

static bool json_field(const char *text, const char *key, char *out, size_t size)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	const char *p = strstr(text, pat);
	if (!p) {
		snprintf(pat, sizeof pat, "\"%s\":\"", key);
		p = strstr(text, pat);
	}
	if (!p)
		return false;
	p += strlen(pat);
	const char *e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return false;
	snprintf(out, size, "%.*s", (int)(e - p), p);
	return true;
}

/* Seal and submit a prompt through the real coordinator with atollctl;
 * the finished job (caller frees). */
static Atoll__V1__Job *sealed_job(struct cluster *cl, const char *key_id, const char *prompt)
{
	char out[1 << 16], input[1 << 15] = "", body[(1 << 15) + 256];
	const char *enc[] = { "encrypt", "--key-id", key_id, "--workload", "42", "--policy",
			      "client-policy.yaml", "--prompt", prompt, NULL };
	if (c_atollctl(cl, out, sizeof out, enc) != 0)
		return NULL;
	const char *line = strstr(out, "{\"encrypted\":true");
	if (!line)
		return NULL;
	snprintf(input, sizeof input, "%.*s", (int)strcspn(line, "\n"), line);
	snprintf(body, sizeof body, "{\"workload_id\": 42, \"confidential\": true, \"input\": %s}",
		 input);
	const char *sub[] = { "--json", "submit", body, NULL };
	if (c_atollctl(cl, out, sizeof out, sub) != 0)
		return NULL;
	char id[64];
	if (!json_field(out, "id", id, sizeof id))
		return NULL;
	return c_wait_final(cl, id, 20000);
}

static void refused(int rc, const char *out, const char *why)
{
	CHECK_INT(rc, 1);
	if (!strstr(out, why))
		fprintf(stderr, "output lacks '%s':\n%s\n", why, out);
	CHECK(strstr(out, why) != NULL);
	CHECK(strstr(out, FORGED) == NULL);
}

/* ---- atoll-proxy against the fake ---- */

static struct proc proxy;

/* One request to the proxy with curl: the HTTP status, the body in out. */
static int proxy_http(struct cluster *cl, const char *method, const char *path, char *out,
		      size_t size)
{
	char url[256], file[700];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", proxy.port, path);
	snprintf(file, sizeof file, "%s/curl.out", cl->dir);
	const char *argv[] = { "curl", "-sS", "-N", "--max-time", "20", "-X", method, "-H",
			       "Authorization: Bearer ak_demo", "-H", "Content-Type: application/json",
			       "-w", "\nHTTP %{http_code}\n", url, NULL, NULL, NULL };
	if (!strcmp(method, "POST")) {
		argv[14] = "-d";
		argv[15] = "{}";
	}
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("curl", (char *const *)argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	uint8_t *d = NULL;
	size_t n = 0;
	out[0] = 0;
	if (fs_read_file(file, size - 1, &d, &n) == 0) {
		memcpy(out, d, n);
		out[n] = 0;
		free(d);
	}
	const char *h = strstr(out, "\nHTTP ");
	return h ? atoi(h + 6) : -1;
}

static void proxy_refused(int status, const char *out, const char *why, const char *secret)
{
	if (status != 403 || !strstr(out, why))
		fprintf(stderr, "wanted 403 with '%s', got:\n%s\n", why, out);
	CHECK_INT(status, 403);
	CHECK(strstr(out, why) != NULL);
	CHECK(strstr(out, secret) == NULL);
}

static void test_proxy_forgeries(struct cluster *cl, const Atoll__V1__Job *j1,
				 const Atoll__V1__Job *j2)
{
	char out[1 << 16], path[256];
	CHECK_INT(cluster_start_proxy(cl, fake_port, "keystore", NULL, &proxy), 0);
	if (check_failures)
		return;
	/* Control: the real job opens through the proxy. */
	fake.job = job_copy(j1);
	snprintf(path, sizeof path, "/api/v1/jobs/%s?decrypt=true", j1->id);
	CHECK_INT(proxy_http(cl, "GET", path, out, sizeof out), 200);
	CHECK(strstr(out, "the real answer for job one") != NULL);
	/* Asked for job one, answered with job two, whole and genuine. */
	protobuf_c_message_free_unpacked(&fake.job->base, NULL);
	fake.job = job_copy(j2);
	proxy_refused(proxy_http(cl, "GET", path, out, sizeof out), out, "another job",
		      "the real answer for job two");
	/* Job one completed, but without its output. */
	protobuf_c_message_free_unpacked(&fake.job->base, NULL);
	fake.job = job_copy(j1);
	protobuf_c_message_free_unpacked(&fake.job->output->base, NULL);
	fake.job->output = NULL;
	proxy_refused(proxy_http(cl, "GET", path, out, sizeof out), out,
		      "completed without its sealed output", FORGED);
	/* The same on the event stream: its final state without output. */
	Atoll__V1__Job *running = job_copy(j1);
	running->state = ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
	fake_event_job(running);
	fake_event_job(fake.job);
	snprintf(path, sizeof path, "/api/v1/jobs/%s/events", j1->id);
	CHECK_INT(proxy_http(cl, "GET", path, out, sizeof out), 200);
	CHECK(strstr(out, "event: error") && strstr(out, "completed without its sealed output"));
	CHECK(strstr(out, "event: end") == NULL);
	fake_events_clear();
	/* A watch that ends before the job's final state: an error, not an
	 * end, even with the whole genuine output streamed. */
	fake_event_job(running);
	fake_event_chunk(0, j1->output->ciphertext.data, j1->output->ciphertext.len);
	CHECK_INT(proxy_http(cl, "GET", path, out, sizeof out), 200);
	if (!strstr(out, "ended before the job did"))
		fprintf(stderr, "events:\n%s\n", out);
	CHECK(strstr(out, "event: error") && strstr(out, "ended before the job did"));
	CHECK(strstr(out, "event: end") == NULL);
	fake_events_clear();
	protobuf_c_message_free_unpacked(&running->base, NULL);
	/* A key id given twice: the second does not replace the first key. */
	char kpath[700];
	uint8_t *first = NULL, *after = NULL;
	size_t n_first = 0, n_after = 0;
	snprintf(kpath, sizeof kpath, "%s/keystore/ck_repeated.json", cl->dir);
	CHECK_INT(proxy_http(cl, "POST", "/api/v1/confidential/keys", out, sizeof out), 200);
	CHECK_INT(fs_read_file(kpath, 4096, &first, &n_first), 0);
	proxy_refused(proxy_http(cl, "POST", "/api/v1/confidential/keys", out, sizeof out), out,
		      "already in the keystore", "private_key");
	CHECK_INT(fs_read_file(kpath, 4096, &after, &n_after), 0);
	CHECK(first && after && n_first == n_after && memcmp(first, after, n_first) == 0);
	free(first);
	free(after);
	int st;
	h_stop(&proxy, SIGTERM, 5000, &st);
}

static void test_forgeries(struct cluster *cl)
{
	char out[1 << 16], key_id[64], pub_b64[128];
	const char *kc[] = { "keys", "create", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, kc), 0);
	CHECK(json_field(out, "key_id", key_id, sizeof key_id));
	CHECK(json_field(out, "public_key", pub_b64, sizeof pub_b64));
	uint8_t client_pub[48];
	CHECK_INT(enc_base64_decode(pub_b64, strlen(pub_b64), client_pub), 32);

	Atoll__V1__Job *j1 = sealed_job(cl, key_id, "the real answer for job one");
	Atoll__V1__Job *j2 = sealed_job(cl, key_id, "the real answer for job two");
	CHECK(j1 && j2);
	if (!j1 || !j2)
		goto out;
	CHECK_INT(j1->state, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);

	/* Control: the real job decrypts through the fake when untouched. */
	fake.job = job_copy(j1);
	const char *dec[] = { "decrypt", "--job", j1->id, NULL };
	CHECK_INT(ctl_fake(cl, out, sizeof out, dec), 0);
	CHECK(strstr(out, "the real answer for job one") != NULL);

	/* Forged with the forger's own key. */
	struct buf f = { 0 };
	forge(j1, client_pub, NULL, &f);
	set_output(fake.job, f.data, f.len, true);
	refused(ctl_fake(cl, out, sizeof out, dec), out,
		"output sealed by an enclave the input was not sealed to");
	/* Forged naming the real island's key as its sender. */
	Atoll__V1__ListAttestedIslandsRequest lr = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	Atoll__V1__ListAttestedIslandsResponse *isl = NULL;
	struct rpc_status st;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &lr.base,
			 &atoll__v1__list_attested_islands_response__descriptor,
			 (ProtobufCMessage **)&isl, &st),
		  0);
	if (isl && isl->n_islands) {
		buf_reset(&f);
		forge(j1, client_pub, isl->islands[0]->enclave_public_key.data, &f);
		set_output(fake.job, f.data, f.len, true);
		refused(ctl_fake(cl, out, sizeof out, dec), out, "authentication failed");
	}
	if (isl)
		protobuf_c_message_free_unpacked(&isl->base, NULL);
	/* The genuine output of another job sealed to the same key. */
	set_output(fake.job, j2->output->ciphertext.data, j2->output->ciphertext.len, true);
	refused(ctl_fake(cl, out, sizeof out, dec), out, "sealed for another job");
	/* Plain output for a job whose input was sealed. */
	set_output(fake.job, (const uint8_t *)FORGED, strlen(FORGED), false);
	refused(ctl_fake(cl, out, sizeof out, dec), out, "plain output");

	/* Watch: the coordinator calls the job plain and streams text. */
	const char *watch[] = { "watch", j1->id, NULL };
	Atoll__V1__Job *plain = job_copy(j1);
	plain->mode = ATOLL__V1__MODE__MODE_PLAIN;
	plain->state = ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
	fake_event_job(plain);
	fake_event_chunk(0, (const uint8_t *)FORGED, strlen(FORGED));
	plain->state = ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
	fake_event_job(plain);
	refused(ctl_fake(cl, out, sizeof out, watch), out, "reports job");
	fake_events_clear();
	/* Watch: another job's id in the events. */
	Atoll__V1__Job *other = job_copy(j2);
	other->state = ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
	fake_event_job(other);
	refused(ctl_fake(cl, out, sizeof out, watch), out, "reports job");
	fake_events_clear();
	/* Watch: a forged stream under the right id and mode. */
	Atoll__V1__Job *running = job_copy(j1);
	running->state = ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
	fake_event_job(running);
	buf_reset(&f);
	forge(j1, client_pub, NULL, &f);
	fake_event_chunk(0, f.data, f.len);
	running->state = ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
	fake_event_job(running);
	refused(ctl_fake(cl, out, sizeof out, watch), out,
		"output sealed by an enclave the input was not sealed to");
	fake_events_clear();
	protobuf_c_message_free_unpacked(&plain->base, NULL);
	protobuf_c_message_free_unpacked(&other->base, NULL);
	protobuf_c_message_free_unpacked(&running->base, NULL);
	buf_free(&f);
	protobuf_c_message_free_unpacked(&fake.job->base, NULL);
	fake.job = NULL;
	test_proxy_forgeries(cl, j1, j2);
out:
	if (fake.job)
		protobuf_c_message_free_unpacked(&fake.job->base, NULL);
	fake.job = NULL;
	if (j1)
		protobuf_c_message_free_unpacked(&j1->base, NULL);
	if (j2)
		protobuf_c_message_free_unpacked(&j2->base, NULL);
}

/* The island running a slow sealed job dies mid-stream; the job moves to
 * the other island and run --confidential prints the whole output. */
static void test_retry_followed(struct cluster *cl)
{
	static const char prompt[] = "0123456789abcdefghijklmnopqrstuvwxyz-retried-output";
	char addr[64], ks[700], log[700];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", cl->coord.port);
	snprintf(ks, sizeof ks, "%s/keystore", cl->dir);
	snprintf(log, sizeof log, "%s/run-retry.log", cl->dir);
	char policy[700];
	snprintf(policy, sizeof policy, "%s/client-policy.yaml", cl->dir);
	char *argv[] = { (char *)h_build_path("tools/atollctl"), "--addr", addr, "--api-key",
			 "ak_demo", "--keystore", ks, "run", "--workload", "43", "--confidential",
			 "--policy", policy, "--prompt", (char *)prompt, NULL };
	struct proc run = { 0 };
	CHECK_INT(h_spawn(argv, log, &run), 0);
	/* Wait for the job to run and stream some output, then kill its
	 * island host; its enclave goes with the pipe. */
	char job_id[64] = "", island[64] = "";
	for (int i = 0; i < 200 && !island[0]; i++) {
		time_sleep_ms(50);
		Atoll__V1__ListJobsRequest lr = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
		lr.workload_id = 43;
		Atoll__V1__ListJobsResponse *l = NULL;
		struct rpc_status st;
		if (c_call(cl, "ak_demo", "/atoll.v1.Jobs/ListJobs", &lr.base,
			   &atoll__v1__list_jobs_response__descriptor, (ProtobufCMessage **)&l,
			   &st) == 0 &&
		    l->n_jobs && l->jobs[0]->state == ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING &&
		    l->jobs[0]->started_at) {
			snprintf(job_id, sizeof job_id, "%s", l->jobs[0]->id);
			snprintf(island, sizeof island, "%s", l->jobs[0]->island_id);
		}
		if (l)
			protobuf_c_message_free_unpacked(&l->base, NULL);
	}
	CHECK(island[0] != 0);
	time_sleep_ms(600); /* a few chunks out */
	for (int i = 0; i < cl->n_islands; i++)
		if (!strcmp(cl->island_ids[i], island)) {
			int st;
			h_stop(&cl->islands[i], SIGKILL, 2000, &st);
		}
	int status = 0;
	CHECK_INT(h_stop(&run, 0, 30000, &status), 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(h_file_contains(log, prompt));
	CHECK(h_file_contains(log, "retried"));
	Atoll__V1__Job *j = job_id[0] ? c_wait_final(cl, job_id, 1000) : NULL;
	CHECK(j && j->attempts == 2 && strcmp(j->island_id, island) != 0);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	if (check_failures)
		h_dump_log(log);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "forgery") < 0)
		return 1;
	grpc_init();
	cl.workloads_yaml =
		"workloads:\n"
		"  - {id: 42, name: echo, backend: echo, modes: [plain, tee]}\n"
		"  - {id: 43, name: slow, backend: echo, modes: [tee], max_attempts: 3}\n";
	static const char island_wl[] =
		"    - {id: 42, backend: echo, modes: [plain, tee]}\n"
		"    - {id: 43, backend: echo, modes: [tee], options: {chunk_size: 4, delay_ms: 150}}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "i1", 2, island_wl, NULL, NULL) >= 0);
	CHECK(cluster_add_island(&cl, "i2", 2, island_wl, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 2, 2, 15000), 0);
	CHECK_INT(cluster_write_client_policy(&cl, "client-policy.yaml", "i1"), 0);
	rpc_server *fs = fake_start(&fake_port);
	CHECK(fs != NULL);
	if (!check_failures) {
		test_forgeries(&cl);
		test_retry_followed(&cl);
	}
	if (fs) {
		rpc_server_shutdown(fs, 1000);
		rpc_server_free(fs);
	}
	fake_events_clear();
	cluster_stop(&cl);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
