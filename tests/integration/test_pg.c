/* Several coordinators on one PostgreSQL (started here with initdb and
 * pg_ctl): 3 coordinators, 6 islands spread over them, 1,000 jobs
 * submitted round-robin. A watcher on one coordinator follows a job run
 * through another, and a SubmitJob with wait: true on one is answered
 * with the end of a job run through another. During the run two coordinators and three islands are
 * killed with SIGKILL (their islands move to the coordinator left, their
 * claimed jobs come back after the lease) and PostgreSQL is stopped for
 * 5 s. Every acknowledged job completes exactly once with its own output,
 * and usage bills 1,000 jobs. Before that run: text that is not UTF-8
 * (cancel reasons, an island error cut inside a character) is stored
 * mended and stops no coordinator's writes, identifiers that are not
 * are refused, a stray cancel notification stops nothing, and no output
 * chunk outlives its attempt. Skips (exit 77) when PostgreSQL is not
 * installed. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <libpq-fe.h>

#include "check.h"
#include "cluster.h"
#include "pbjson/pbjson.h"
#include "pgtest.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define N_COORDS 3
#define N_JOBS 1000

static struct proc coords[N_COORDS];
static rpc_client *clients[N_COORDS];

static const char *WORKLOADS =
	"workloads:\n"
	"  - {id: 42, name: echo, backend: echo, modes: [plain], price_per_second: 1,"
	" max_attempts: 6}\n"
	"  - {id: 43, name: slow-echo, backend: echo, modes: [plain], max_attempts: 3}\n"
	"  - {id: 44, name: quick-echo, backend: echo, modes: [plain]}\n"
	"  - {id: 45, name: failing-echo, backend: echo, modes: [plain]}\n"
	"  - {id: 46, name: parked, backend: echo, modes: [plain]}\n";

/* 400 bytes of a two-byte character: the backend's error message holds
 * 255 bytes, so the island's error ends with half a character. */
#define E10 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E50 E10 E10 E10 E10 E10
#define FAIL_WITH "    - {id: 45, backend: echo, modes: [plain], options: {fail_with: \"" \
	E50 E50 E50 E50 "\"}}\n"

/* About 40 ms per job: 9 characters in chunks of 3, 10 ms apart. */
static const char *ISLAND_WL =
	"    - {id: 42, backend: echo, modes: [plain], options: {chunk_size: 3, delay_ms: 10}}\n"
	"    - {id: 44, backend: echo, modes: [plain]}\n" FAIL_WITH;
static const char *ISLAND_WL_SLOW =
	"    - {id: 42, backend: echo, modes: [plain], options: {chunk_size: 3, delay_ms: 10}}\n"
	"    - {id: 43, backend: echo, modes: [plain], options: {chunk_size: 1, delay_ms: 40}}\n"
	"    - {id: 44, backend: echo, modes: [plain]}\n" FAIL_WITH;

static int start_coord(struct cluster *cl, int i, int port)
{
	char cfg[700], log[700], listen[64];
	snprintf(cfg, sizeof cfg, "%s/coordinator.yaml", cl->dir);
	snprintf(log, sizeof log, "%s/coordinator-%d.log", cl->dir, i);
	char portfile[700];
	snprintf(portfile, sizeof portfile, "%s/coordinator-%d.port", cl->dir, i);
	if (strlen(portfile) >= sizeof coords[i].portfile)
		return -ENAMETOOLONG;
	memcpy(coords[i].portfile, portfile, strlen(portfile) + 1);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	unlink(coords[i].portfile);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg,
			 "--listen", listen, "--port-file", coords[i].portfile, NULL };
	int e = h_spawn(argv, log, &coords[i]);
	if (e < 0)
		return e;
	for (int t = 0; t < 1200; t++) { /* 60 s */
		uint8_t *data;
		size_t len;
		if (fs_read_file(coords[i].portfile, 64, &data, &len) == 0) {
			coords[i].port = atoi((char *)data);
			free(data);
			if (coords[i].port > 0)
				return rpc_client_new(h_target(&coords[i]), NULL, &clients[i]);
		}
		if (!h_alive(&coords[i]))
			break;
		time_sleep_ms(50);
	}
	h_dump_log(log);
	return -ECHILD;
}

/* Calls get a deadline no answer should come near, even on a loaded
 * machine: a late answer shows as slowness, not as a failure. */
#define CALL_MS 30000

static int call_within(int i, const char *method, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *resp, ProtobufCMessage **ret,
		       struct rpc_status *st, int deadline_ms)
{
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	*ret = NULL;
	return rpc_unary(clients[i], method, req, resp, &md, 1, deadline_ms, ret, st);
}

static int call(int i, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp, ProtobufCMessage **ret, struct rpc_status *st)
{
	return call_within(i, method, req, resp, ret, st, CALL_MS);
}

static Atoll__V1__Stats *stats(int i)
{
	Atoll__V1__GetStatsRequest req = ATOLL__V1__GET_STATS_REQUEST__INIT;
	Atoll__V1__Stats *s;
	struct rpc_status st;
	if (call(i, "/atoll.v1.Confidential/GetStats", &req.base, &atoll__v1__stats__descriptor,
		 (ProtobufCMessage **)&s, &st) < 0 || st.code != GRPC_STATUS_OK)
		return NULL;
	return s;
}

/* Every coordinator's view of the fleet shows connected/attested. */
static bool fleet_is(int i, uint32_t connected, uint32_t attested, int timeout_ms)
{
	int64_t until = time_mono_ms() + timeout_ms;
	while (time_mono_ms() < until) {
		Atoll__V1__Stats *s = stats(i);
		bool ok = s && s->connected_hosts == connected && s->attested_hosts == attested;
		if (s)
			protobuf_c_message_free_unpacked(&s->base, NULL);
		if (ok)
			return true;
		time_sleep_ms(100);
	}
	return false;
}

static int submit(int i, uint32_t workload, const char *prompt, const char *key, char *ret_id,
		  struct rpc_status *st)
{
	char body[300];
	snprintf(body, sizeof body,
		 "{\"workload_id\": %u, \"input\": {\"prompt\": \"%s\"}, \"idempotency_key\": \"%s\"}",
		 workload, prompt, key ? key : "");
	ProtobufCMessage *req;
	char err[256];
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0, &req,
			err, sizeof err) < 0)
		return -EINVAL;
	Atoll__V1__Job *j;
	int e = call(i, "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&j, st);
	protobuf_c_message_free_unpacked(req, NULL);
	if (e < 0 || st->code != GRPC_STATUS_OK || !j)
		return -EIO;
	snprintf(ret_id, 64, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	return 0;
}

/* SubmitJob built directly (any bytes in its strings): the job, or NULL
 * with *st. */
static Atoll__V1__Job *submit_raw(int i, uint32_t workload, const char *prompt, const char *key,
				  bool wait, uint32_t timeout_s, struct rpc_status *st)
{
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	in.prompt = (char *)prompt;
	Atoll__V1__SubmitJobRequest req = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
	req.workload_id = workload;
	req.input = &in;
	req.idempotency_key = (char *)(key ? key : "");
	req.wait = wait;
	req.timeout_seconds = timeout_s;
	Atoll__V1__Job *j;
	if (call(i, "/atoll.v1.Jobs/SubmitJob", &req.base, &atoll__v1__job__descriptor,
		 (ProtobufCMessage **)&j, st) < 0 || st->code != GRPC_STATUS_OK) {
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		return NULL;
	}
	return j;
}

static Atoll__V1__Job *cancel_job(int i, const char *id, const char *reason,
				  struct rpc_status *st)
{
	Atoll__V1__CancelJobRequest req = ATOLL__V1__CANCEL_JOB_REQUEST__INIT;
	req.job_id = (char *)id;
	req.reason = (char *)reason;
	Atoll__V1__Job *j;
	if (call(i, "/atoll.v1.Jobs/CancelJob", &req.base, &atoll__v1__job__descriptor,
		 (ProtobufCMessage **)&j, st) < 0 || st->code != GRPC_STATUS_OK) {
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		return NULL;
	}
	return j;
}

static Atoll__V1__Job *get_job(int i, const char *id)
{
	Atoll__V1__GetJobRequest req = ATOLL__V1__GET_JOB_REQUEST__INIT;
	req.job_id = (char *)id;
	Atoll__V1__Job *j;
	struct rpc_status st;
	if (call(i, "/atoll.v1.Jobs/GetJob", &req.base, &atoll__v1__job__descriptor,
		 (ProtobufCMessage **)&j, &st) < 0 || st.code != GRPC_STATUS_OK)
		return NULL;
	return j;
}

/* A job of workload 43 (served only by an island of coordinator 1),
 * watched on coordinator 0: its chunks in order, then its final state.
 * An attempt that starts again (a lease lost on a loaded machine: the job
 * runs again) streams its output again from chunk 0, as documented: the
 * last attempt's chunks are checked. */
static void test_remote_watch(void)
{
	char id[64];
	struct rpc_status st;
	CHECK_INT(submit(1, 43, "followed-from-afar", "watch-1", id, &st), 0);
	Atoll__V1__WatchJobRequest wr = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	wr.job_id = id;
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(clients[0], "/atoll.v1.Jobs/WatchJob", &wr.base, &md, 1, CALL_MS,
				  false, &s), 0);
	char out[128] = "";
	size_t out_len = 0;
	int chunks = 0, restarts = 0;
	uint64_t next_seq = 0;
	bool in_order = true, fits = true;
	Atoll__V1__JobState last = 0;
	char island[64] = "";
	Atoll__V1__JobEvent *ev;
	while (rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev) == 1) {
		if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK) {
			if (ev->chunk->seq == 0 && next_seq > 0) {
				restarts++; /* a new attempt */
				out_len = 0;
				next_seq = 0;
				chunks = 0;
				in_order = true;
			}
			in_order &= ev->chunk->seq == next_seq++;
			size_t n = ev->chunk->data.len;
			if (n < sizeof out - out_len) {
				memcpy(out + out_len, ev->chunk->data.data, n);
				out_len += n;
			} else {
				fits = false;
			}
			out[out_len] = 0;
			chunks++;
		} else if (ev->job) {
			last = ev->job->state;
			snprintf(island, sizeof island, "%s", ev->job->island_id);
		}
		protobuf_c_message_free_unpacked(&ev->base, NULL);
	}
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	CHECK(fits);
	CHECK_STR(out, "followed-from-afar");
	CHECK(in_order);
	CHECK(chunks >= 2);
	CHECK_INT(last, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK_STR(island, "i2"); /* on coordinator 1, watched on coordinator 0 */
	fprintf(stderr, "remote watch: %d chunks in order from island %s (%d restart%s)\n", chunks,
		island, restarts, restarts == 1 ? "" : "s");
}

/* SubmitJob with wait: true on coordinator 0 for a job of workload 43,
 * which only an island of coordinator 1 serves: the answer is the final
 * job with its output. */
static void test_remote_wait(void)
{
	const char *body = "{\"workload_id\": 43, \"wait\": true,"
			   " \"input\": {\"prompt\": \"waited-for-afar\"}}";
	ProtobufCMessage *req;
	char err[256];
	CHECK_INT(pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0,
			      &req, err, sizeof err),
		  0);
	Atoll__V1__Job *j;
	struct rpc_status st;
	int64_t t0 = time_mono_ms();
	int e = call(0, "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&j, &st);
	protobuf_c_message_free_unpacked(req, NULL);
	CHECK_INT(e, 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	if (e < 0 || st.code != GRPC_STATUS_OK || !j)
		return;
	CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(j->output && j->output->text);
	CHECK_STR(j->output && j->output->text ? j->output->text : "", "waited-for-afar");
	CHECK_STR(j->island_id, "i2");
	fprintf(stderr, "remote wait: %s %s on island %s after %lld ms\n", j->id,
		j->output && j->output->text ? j->output->text : "(no output)", j->island_id,
		(long long)(time_mono_ms() - t0));
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

/* Many SubmitJob calls with wait: true at once, on every coordinator,
 * for jobs any island runs: each is answered with its own final job
 * (a job claimed by the coordinator that inserted it before the insert's
 * answer came back once left its caller unanswered). */
#define WAIT_THREADS 6
#define WAITS_EACH 20

struct waits {
	int index;
	int ok;
};

static void *wait_many(void *arg)
{
	struct waits *w = arg;
	for (int k = 0; k < WAITS_EACH; k++) {
		char body[200], want[32];
		snprintf(want, sizeof want, "w-%d-%d", w->index, k);
		snprintf(body, sizeof body,
			 "{\"workload_id\": 44, \"wait\": true, \"input\": {\"prompt\": \"%s\"}}",
			 want);
		ProtobufCMessage *req;
		char err[256];
		if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0,
				&req, err, sizeof err) < 0)
			continue;
		Atoll__V1__Job *j;
		struct rpc_status st;
		int e = call((w->index + k) % N_COORDS, "/atoll.v1.Jobs/SubmitJob", req,
			     &atoll__v1__job__descriptor, (ProtobufCMessage **)&j, &st);
		protobuf_c_message_free_unpacked(req, NULL);
		if (e == 0 && st.code == GRPC_STATUS_OK && j &&
		    j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && j->output &&
		    j->output->text && strcmp(j->output->text, want) == 0)
			w->ok++;
		else
			fprintf(stderr, "wait %s: %s (%d %s)\n", want,
				j ? (j->error[0] ? j->error : "not completed with its output")
				  : "no answer",
				(int)st.code, st.message);
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	return NULL;
}

static void test_many_waits(void)
{
	pthread_t th[WAIT_THREADS];
	struct waits ws[WAIT_THREADS];
	int64_t t0 = time_mono_ms();
	for (int i = 0; i < WAIT_THREADS; i++) {
		ws[i] = (struct waits){ .index = i };
		CHECK_INT(pthread_create(&th[i], NULL, wait_many, &ws[i]), 0);
	}
	int ok = 0;
	for (int i = 0; i < WAIT_THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += ws[i].ok;
	}
	fprintf(stderr, "%d of %d waiting submits answered with their final job in %lld ms\n", ok,
		WAIT_THREADS * WAITS_EACH, (long long)(time_mono_ms() - t0));
	CHECK_INT(ok, WAIT_THREADS * WAITS_EACH);
}

/* Job id, read on coordinator i, is final in state want with an error
 * that is valid UTF-8 (as stored). */
static void check_final_text(int i, const char *id, Atoll__V1__JobState want)
{
	Atoll__V1__Job *j = get_job(i, id);
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_INT(j->state, want);
	CHECK(enc_utf8_text((const uint8_t *)j->error, strlen(j->error)));
	fprintf(stderr, "job %s on coordinator %d: state %d, error \"%.60s...\"\n", id, i,
		(int)j->state, j->error);
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

/* A job no island serves waits in the store, held by no coordinator:
 * cancelling it goes through the store's cancel. A reason the database
 * refuses as text (not UTF-8) once left the reply uninitialised, and
 * the coordinator freed whatever the stack held; the reason goes to the
 * store mended now, and the cancel lands. */
static void test_cancel_queued_bad_reason(void)
{
	struct rpc_status st;
	Atoll__V1__Job *j = submit_raw(0, 46, "parked", NULL, false, 0, &st);
	CHECK(j != NULL);
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	j = cancel_job(0, id, "bad \xff\xfe bytes", &st);
	fprintf(stderr, "cancel of a queued job with a reason not UTF-8: %d %s\n", (int)st.code,
		st.message);
	CHECK(j != NULL);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	CHECK(h_alive(&coords[0]));
	Atoll__V1__Stats *s = stats(0);
	CHECK(s != NULL);
	if (s)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	check_final_text(2, id, ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED);
}

/* Poll coordinator i until job id is final (at most 20 s): the job, or NULL. */
static Atoll__V1__Job *wait_final(int i, const char *id)
{
	int64_t until = time_mono_ms() + 20000;
	while (time_mono_ms() < until) {
		Atoll__V1__Job *j = get_job(i, id);
		if (j && j->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
			return j;
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		time_sleep_ms(50);
	}
	return NULL;
}

/* Every coordinator still lands writes: a new job on each completes. */
static void check_all_complete(const char *what)
{
	for (int i = 0; i < N_COORDS; i++) {
		struct rpc_status st;
		Atoll__V1__Job *j = submit_raw(i, 44, what, NULL, true, 0, &st);
		if (!j)
			fprintf(stderr, "coordinator %d after %s: %d %s\n", i, what, (int)st.code,
				st.message);
		CHECK(j != NULL);
		CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
	}
}

/* An island's error cut inside a character (the echo backend fails with
 * 400 bytes of 'é'; the message keeps 255): the job fails, its end is
 * stored, and every coordinator goes on storing jobs. Once, that write
 * was refused by the database and retried without end, and every write
 * of its coordinator waited behind it. */
static void test_island_error_cut(void)
{
	struct rpc_status st;
	Atoll__V1__Job *j = submit_raw(0, 45, "fails", NULL, false, 0, &st);
	CHECK(j != NULL);
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	j = wait_final(0, id);
	CHECK(j != NULL);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	check_all_complete("an island error cut inside a character");
	for (int i = 0; i < N_COORDS; i++)
		check_final_text(i, id, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
}

/* A running job cancelled on the coordinator running it, with a reason
 * holding 0xFF bytes: its end is stored, and that coordinator goes on
 * storing jobs. */
static void test_cancel_running_bad_reason(void)
{
	struct rpc_status st;
	/* Workload 43 runs only on island i2, on coordinator 1: 3 s. */
	Atoll__V1__Job *j = submit_raw(1, 43, "a slow job, cancelled while it runs: "
					      "....................................",
				       NULL, false, 0, &st);
	CHECK(j != NULL);
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	int64_t until = time_mono_ms() + 20000;
	bool running = false;
	while (!running && time_mono_ms() < until) {
		j = get_job(1, id);
		running = j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		if (!running)
			time_sleep_ms(20);
	}
	CHECK(running);
	j = cancel_job(1, id, "stop \xff\xfe now", &st);
	CHECK(j != NULL);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	check_all_complete("a cancel with a reason not UTF-8");
	check_final_text(0, id, ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED);
}

/* sql with $1 = id, run on the store directly (as any client of the
 * database could): the first column of the first row as a number, 0
 * when there is none, -1 when the statement failed. */
static long long store_sql(const char *dsn, const char *sql, const char *id)
{
	PGconn *pg = PQconnectdb(dsn);
	long long v = -1;
	if (PQstatus(pg) == CONNECTION_OK) {
		const char *p[1] = { id };
		PGresult *r = PQexecParams(pg, sql, id ? 1 : 0, NULL, p, NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK)
			v = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
		else if (st == PGRES_COMMAND_OK)
			v = 0;
		else
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
		PQclear(r);
	} else {
		fprintf(stderr, "cannot reach the store: %s", PQerrorMessage(pg));
	}
	PQfinish(pg);
	return v;
}

/* Submit a 3 s job of workload 43 (island i2, coordinator 1) and wait
 * until it runs: 0 with its id. */
static int slow_running(char *ret_id, size_t size)
{
	struct rpc_status st;
	Atoll__V1__Job *j = submit_raw(1, 43, "a slow job that runs for three seconds: "
					      "..................................",
				       NULL, false, 0, &st);
	if (!j)
		return -EIO;
	snprintf(ret_id, size, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	int64_t until = time_mono_ms() + 20000;
	while (time_mono_ms() < until) {
		j = get_job(1, ret_id);
		bool running = j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		if (running)
			return 0;
		time_sleep_ms(20);
	}
	return -ETIMEDOUT;
}

/* A cancel notification that does not come from a cancel (any client of
 * the database can send one): the job goes on and completes in its first
 * attempt (the store says it is still running there). Once, its
 * coordinator dropped the job but kept renewing the row's lease: the job
 * stayed RUNNING for ever. */
static void test_stray_cancel_notification(const char *dsn)
{
	char id[64];
	CHECK_INT(slow_running(id, sizeof id), 0);
	CHECK_INT(store_sql(dsn, "SELECT pg_notify('atoll_cancel', $1)", id), 0);
	Atoll__V1__Job *j = wait_final(0, id);
	CHECK(j != NULL);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK_INT(j ? j->attempts : 0, 1);
	if (j)
		fprintf(stderr, "job %s after a stray cancel notification: state %d, %u attempt(s)\n",
			id, (int)j->state, j->attempts);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
}

/* Output chunks of a job no longer this coordinator's do not land: the
 * running job is taken over (as if its lease had run out and another
 * coordinator had claimed it) and its chunks deleted; no chunk lands
 * after that, though its coordinator streams on until its renewal tells
 * it. Then a queued job holding a chunk of an earlier attempt fails past
 * its deadline, and its chunk goes with it. */
static void test_no_orphan_chunks(const char *dsn)
{
	char id[64];
	CHECK_INT(slow_running(id, sizeof id), 0);
	time_sleep_ms(200); /* some chunks out */
	const char *take = "WITH t AS (UPDATE jobs SET owner = 'elsewhere' WHERE id = $1"
			   " RETURNING id) DELETE FROM job_output WHERE job_id IN (SELECT id FROM t)";
	const char *count = "SELECT count(*) FROM job_output WHERE job_id = $1";
	CHECK_INT(store_sql(dsn, take, id), 0);
	/* Chunks of a batch that was committing meanwhile. */
	time_sleep_ms(100);
	CHECK_INT(store_sql(dsn, "DELETE FROM job_output WHERE job_id = $1", id), 0);
	time_sleep_ms(1500);
	long long n = store_sql(dsn, count, id);
	fprintf(stderr, "job %s: %lld chunk(s) landed after it was taken over\n", id, n);
	CHECK_INT(n, 0);
	/* Its lease runs out; it runs again and completes. */
	Atoll__V1__Job *j = wait_final(0, id);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);

	struct rpc_status st;
	j = submit_raw(0, 46, "parked until its deadline", NULL, false, 1, &st);
	CHECK(j != NULL);
	if (!j)
		return;
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	CHECK_INT(store_sql(dsn, "INSERT INTO job_output VALUES ($1, 1, 0, 'x')", id), 0);
	j = wait_final(0, id);
	CHECK_INT(j ? j->state : 0, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	CHECK_INT(store_sql(dsn, count, id), 0);
}

/* Identifiers that are not UTF-8 are refused, not mended into others. */
static void test_bad_identifiers(void)
{
	struct rpc_status st;
	Atoll__V1__Job *j = submit_raw(0, 44, "key not UTF-8", "k-\xff", false, 0, &st);
	CHECK(j == NULL);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	j = cancel_job(0, "job_\xff", "", &st);
	CHECK(j == NULL);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	check_all_complete("identifiers not UTF-8");
}

static int64_t kill_at_ms;

static void kill_coord(int i)
{
	int st;
	h_stop(&coords[i], SIGKILL, 2000, &st);
	kill_at_ms = time_mono_ms();
	fprintf(stderr, "killed coordinator %d\n", i);
}

static int count_in(const char *path, const char *text)
{
	uint8_t *data;
	size_t len;
	int n = 0;
	if (fs_read_file(path, 64 << 20, &data, &len) < 0)
		return 0;
	for (const char *p = (const char *)data; (p = strstr(p, text)); p += strlen(text))
		n++;
	free(data);
	return n;
}

/* How long until an island whose coordinator was killed says it
 * connected to another one (printed: a figure, not a check). */
static void measure_reconnect(struct cluster *cl, const char *island, int before)
{
	char log[700];
	snprintf(log, sizeof log, "%s/island-%s.log", cl->dir, island);
	while (count_in(log, "connected to") <= before && time_mono_ms() - kill_at_ms < 20000)
		time_sleep_ms(5);
	int64_t ms = time_mono_ms() - kill_at_ms;
	fprintf(stderr, "island %s reconnected to another coordinator %lld ms after the kill\n",
		island, (long long)ms);
	CHECK(count_in(log, "connected to") > before);
}

static int connections(struct cluster *cl, const char *island)
{
	char log[700];
	snprintf(log, sizeof log, "%s/island-%s.log", cl->dir, island);
	return count_in(log, "connected to");
}

static char ids[N_JOBS][64];

static void run_jobs(struct cluster *cl, struct pgtest *pg)
{
	int next = 0, failed_submits = 0;
	bool alive[N_COORDS] = { true, true, true };
	for (int i = 0; i < N_JOBS; i++) {
		char prompt[32], key[32];
		snprintf(prompt, sizeof prompt, "j-%06d", i);
		snprintf(key, sizeof key, "k-%06d", i);
		/* Round-robin over the live coordinators; a submit that fails is
		 * sent again (same idempotency key) until one acknowledges it. */
		for (int tries = 0;; tries++) {
			while (!alive[next % N_COORDS])
				next++;
			struct rpc_status st;
			int c = next++ % N_COORDS;
			if (submit(c, 42, prompt, key, ids[i], &st) == 0)
				break;
			failed_submits++;
			if (tries > 200) {
				fprintf(stderr, "job %d: no coordinator acknowledged it\n", i);
				CHECK(false);
				return;
			}
			time_sleep_ms(50);
		}
		if (i == 250) {
			int before = connections(cl, "i3");
			kill_coord(1);
			alive[1] = false;
			int st;
			h_stop(&cl->islands[0], SIGKILL, 2000, &st); /* i0, on coordinator 0 */
			h_stop(&cl->islands[2], SIGKILL, 2000, &st); /* i2, on coordinator 1 */
			measure_reconnect(cl, "i3", before);
		}
		if (i == 450) {
			int before = connections(cl, "i5");
			kill_coord(2);
			alive[2] = false;
			int st;
			h_stop(&cl->islands[4], SIGKILL, 2000, &st); /* i4, on coordinator 2 */
			measure_reconnect(cl, "i5", before);
		}
		if (i == 650) {
			CHECK_INT(pgt_stop(pg), 0);
			fprintf(stderr, "PostgreSQL stopped\n");
			int64_t t0 = time_mono_ms();
			/* Submits meanwhile must fail, never be acknowledged: one
			 * that needs a read at once, one whose insert waits for
			 * the store until it gives up. */
			char id[64];
			struct rpc_status st;
			int e = submit(0, 42, "during-outage", "outage-1", id, &st);
			CHECK(e < 0 && st.code == GRPC_STATUS_UNAVAILABLE);
			fprintf(stderr, "submit during the outage: %d %s\n", (int)st.code, st.message);
			int64_t t1 = time_mono_ms();
			e = submit(0, 42, "during-outage", NULL, id, &st);
			/* UNAVAILABLE once its insert gives up (5 s after it was
			 * queued; it was never sent), well before the call's
			 * deadline: no job was made (usage below bills 1,000). */
			CHECK(e < 0 && st.code == GRPC_STATUS_UNAVAILABLE);
			fprintf(stderr, "submit during the outage: %d %s (after %lld ms)\n",
				(int)st.code, st.message, (long long)(time_mono_ms() - t1));
			int64_t left = 5000 - (time_mono_ms() - t0);
			if (left > 0)
				time_sleep_ms(left);
			CHECK_INT(pgt_restart(pg), 0);
			fprintf(stderr, "PostgreSQL started again\n");
		}
	}
	fprintf(stderr, "%d jobs acknowledged (%d submits failed and were sent again)\n", N_JOBS,
		failed_submits);
}

static void check_results(void)
{
	int ok = 0, retried = 0;
	int64_t until = time_mono_ms() + 120000;
	for (int i = 0; i < N_JOBS; i++) {
		Atoll__V1__Job *j = NULL;
		while (time_mono_ms() < until) {
			j = get_job(0, ids[i]);
			if (j && j->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
				break;
			if (j)
				protobuf_c_message_free_unpacked(&j->base, NULL);
			j = NULL;
			time_sleep_ms(50);
		}
		char want[32];
		snprintf(want, sizeof want, "j-%06d", i);
		if (j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && j->output &&
		    strcmp(j->output->text, want) == 0)
			ok++;
		else
			fprintf(stderr, "job %d %s: %s\n", i, ids[i],
				j ? (j->error[0] ? j->error : j->output ? j->output->text : "?")
				  : "not final");
		if (j && j->attempts > 1)
			retried++;
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	fprintf(stderr, "%d of %d jobs completed with their own output, %d after more than one "
			"attempt\n",
		ok, N_JOBS, retried);
	CHECK_INT(ok, N_JOBS);
	CHECK(retried > 0);

	/* One job per idempotency key, and usage bills each once. */
	Atoll__V1__GetUsageRequest ur = ATOLL__V1__GET_USAGE_REQUEST__INIT;
	Atoll__V1__Usage *u;
	struct rpc_status st;
	CHECK_INT(call(0, "/atoll.v1.Jobs/GetUsage", &ur.base, &atoll__v1__usage__descriptor,
		       (ProtobufCMessage **)&u, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	if (u) {
		uint64_t echo = 0;
		for (size_t i = 0; i < u->n_workloads; i++)
			if (u->workloads[i]->workload_id == 42)
				echo = u->workloads[i]->jobs;
		fprintf(stderr, "usage: %llu echo jobs billed\n", (unsigned long long)echo);
		CHECK_INT(echo, N_JOBS);
		protobuf_c_message_free_unpacked(&u->base, NULL);
	}
}

int main(void)
{
	struct pgtest pg;
	char why[512];
	int e = pgt_start(&pg, false, why, sizeof why);
	if (e == -ENOENT) {
		fprintf(stderr, "SKIP: %s\n", why);
		return 77;
	}
	if (e < 0) {
		fprintf(stderr, "cannot start PostgreSQL: %s\n", why);
		h_dump_log(pg.log);
		return 1;
	}
	struct cluster cl;
	if (cluster_init(&cl, "pg") < 0)
		return 1;
	grpc_init();
	char store[400];
	snprintf(store, sizeof store, "store: {driver: postgres, dsn: '%s', lease: 2s}\n", pg.dsn);
	cl.store_yaml = store;
	cl.workloads_yaml = WORKLOADS;
	/* Writes coordinator.yaml and starts coordinator 0; the others share
	 * its file. */
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	coords[0] = cl.coord;
	CHECK_INT(rpc_client_new(h_target(&coords[0]), NULL, &clients[0]), 0);
	for (int i = 1; i < N_COORDS && !check_failures; i++)
		CHECK_INT(start_coord(&cl, i, 0), 0);
	if (check_failures)
		goto out;
	/* Two islands per coordinator, each listing the coordinators in its
	 * own order with coordinator 0 (the one that survives) last but one. */
	const int order[N_COORDS][N_COORDS] = { { 0, 1, 2 }, { 1, 2, 0 }, { 2, 1, 0 } };
	for (int i = 0; i < 6; i++) {
		const int *o = order[i / 2];
		char addrs[200], id[8];
		snprintf(addrs, sizeof addrs, "[127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]",
			 coords[o[0]].port, coords[o[1]].port, coords[o[2]].port);
		snprintf(id, sizeof id, "i%d", i);
		cl.island_addresses = addrs;
		CHECK(cluster_add_island(&cl, id, 2, i == 2 ? ISLAND_WL_SLOW : ISLAND_WL, NULL,
					 NULL) >= 0);
	}
	/* Each coordinator attests its own islands and shows the fleet's. */
	for (int i = 0; i < N_COORDS; i++)
		CHECK(fleet_is(i, 6, 6, 60000));
	if (!check_failures)
		test_remote_watch();
	if (!check_failures)
		test_remote_wait();
	if (!check_failures)
		test_many_waits();
	if (!check_failures)
		test_cancel_queued_bad_reason();
	if (!check_failures)
		test_island_error_cut();
	if (!check_failures)
		test_cancel_running_bad_reason();
	if (!check_failures)
		test_bad_identifiers();
	if (!check_failures)
		test_stray_cancel_notification(pg.dsn);
	if (!check_failures)
		test_no_orphan_chunks(pg.dsn);
	if (!check_failures)
		run_jobs(&cl, &pg);
	if (!check_failures)
		check_results();
	/* The islands left all ended up on coordinator 0. */
	if (!check_failures)
		CHECK(fleet_is(0, 3, 3, 30000));
out:
	if (check_failures) {
		for (int i = 0; i < N_COORDS; i++) {
			char log[700];
			snprintf(log, sizeof log, "%s/coordinator-%d.log", cl.dir, i);
			h_dump_log(i ? log : cl.coord.log);
		}
		for (int i = 0; i < cl.n_islands; i++)
			h_dump_log(cl.islands[i].log);
	}
	for (int i = 1; i < N_COORDS; i++)
		if (coords[i].pid > 0)
			h_stop(&coords[i], SIGTERM, 8000, NULL);
	cl.coord = coords[0];
	CHECK_INT(cluster_stop(&cl), 0);
	for (int i = 0; i < N_COORDS; i++)
		rpc_client_free(clients[i]);
	pgt_destroy(&pg);
	grpc_shutdown();
	CHECK_DONE();
}
