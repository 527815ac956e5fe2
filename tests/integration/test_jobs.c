/* Plain jobs through a real coordinator and three real islands: many jobs
 * each completed exactly once across islands, cancellation, deadlines,
 * tenant isolation, refused island tokens, unknown workloads, a garbage
 * island stream, watching, listing and usage, and SubmitJob answering with
 * the result (wait: true). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "atoll/v1/islands.pb-c.h"
#include "check.h"
#include "cluster.h"
#include "pbjson/pbjson.h"
#include "util/timeutil.h"

#define N_JOBS 200

static const char *WORKLOADS =
	"workloads:\n"
	"  - {id: 42, name: echo, backend: echo, modes: [plain, tee], price_per_second: 0.5}\n"
	"  - {id: 43, name: slow-echo, backend: echo, modes: [plain, tee], price_per_second: 0.5}\n";

static const char *ISLAND_WORKLOADS =
	"    - {id: 42, backend: echo, modes: [plain, tee]}\n"
	"    - {id: 43, backend: echo, modes: [plain, tee], options: {chunk_size: 1, delay_ms: 100}}\n";

static void test_many_jobs(struct cluster *cl)
{
	char ids[N_JOBS][64];
	char body[256];
	int64_t t0 = time_mono_ms();
	for (int i = 0; i < N_JOBS; i++) {
		Atoll__V1__Job *j = NULL;
		struct rpc_status st;
		snprintf(body, sizeof body, "{\"workload_id\": 42, \"input\": {\"prompt\": \"job %d\"}}", i);
		CHECK_INT(c_submit(cl, "ak_demo", body, &j, &st), 0);
		CHECK_INT(st.code, GRPC_STATUS_OK);
		ids[i][0] = 0;
		if (j) {
			snprintf(ids[i], sizeof ids[i], "%s", j->id);
			protobuf_c_message_free_unpacked(&j->base, NULL);
		}
	}
	int per_island[MAX_ISLANDS] = { 0 };
	int completed = 0;
	for (int i = 0; i < N_JOBS; i++) {
		Atoll__V1__Job *j = c_wait_final(cl, ids[i], 60000);
		CHECK(j != NULL);
		if (!j)
			continue;
		char want[32];
		snprintf(want, sizeof want, "job %d", i);
		if (j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && j->output &&
		    strcmp(j->output->text, want) == 0 && j->attempts == 1)
			completed++;
		else
			fprintf(stderr, "job %s: state %d attempts %u output %s error %s\n", j->id,
				j->state, j->attempts, j->output ? j->output->text : "-", j->error);
		for (int k = 0; k < cl->n_islands; k++)
			if (strcmp(j->island_id, cl->island_ids[k]) == 0)
				per_island[k]++;
		CHECK(j->created_at && j->started_at && j->completed_at);
		CHECK(j->credits_used >= 0);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	CHECK_INT(completed, N_JOBS);
	fprintf(stderr, "%d jobs in %lld ms; per island:", N_JOBS, (long long)(time_mono_ms() - t0));
	for (int k = 0; k < 3; k++) {
		fprintf(stderr, " %s=%d", cl->island_ids[k], per_island[k]);
		CHECK(per_island[k] > 0); /* the router spread them */
	}
	fprintf(stderr, "\n");
}

static Atoll__V1__Job *submit(struct cluster *cl, const char *body)
{
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", body, &j, &st), 0);
	if (st.code != GRPC_STATUS_OK)
		fprintf(stderr, "submit %s: %d %s\n", body, st.code, st.message);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	return j;
}

static bool wait_state(struct cluster *cl, const char *id, Atoll__V1__JobState want, int ms)
{
	int64_t until = time_mono_ms() + ms;
	while (time_mono_ms() < until) {
		Atoll__V1__Job *j;
		struct rpc_status st;
		if (c_get(cl, "ak_demo", id, &j, &st) == 0 && j) {
			bool ok = j->state == want;
			protobuf_c_message_free_unpacked(&j->base, NULL);
			if (ok)
				return true;
		}
		time_sleep_ms(20);
	}
	return false;
}

static void test_cancel_and_deadline(struct cluster *cl)
{
	Atoll__V1__Job *j = submit(cl, "{\"workload_id\": 43, \"input\": {\"prompt\": \"0123456789abcdef\"}}");
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	CHECK(wait_state(cl, id, ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING, 5000));
	time_sleep_ms(300); /* let it run a while: it pays for that time */

	/* Another tenant cannot touch it. */
	Atoll__V1__CancelJobRequest cr = ATOLL__V1__CANCEL_JOB_REQUEST__INIT;
	cr.job_id = id;
	cr.reason = "not needed";
	ProtobufCMessage *resp;
	struct rpc_status st;
	CHECK_INT(c_call(cl, "ak_other", "/atoll.v1.Jobs/CancelJob", &cr.base,
			 &atoll__v1__job__descriptor, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);
	CHECK_INT(c_get(cl, "ak_other", id, &j, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);
	CHECK(strncmp(st.message, "no job ", 7) == 0 && strstr(st.message, id) != NULL);

	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/CancelJob", &cr.base,
			 &atoll__v1__job__descriptor, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	if (resp) {
		Atoll__V1__Job *c = (Atoll__V1__Job *)resp;
		CHECK_INT(c->state, ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED);
		CHECK_STR(c->error, "cancelled: not needed");
		CHECK(c->credits_used > 0); /* it ran for a while */
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	/* Cancelling again: already final. */
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/CancelJob", &cr.base,
			 &atoll__v1__job__descriptor, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_FAILED_PRECONDITION);

	/* A job that cannot finish in its 1 s deadline fails with the reason. */
	j = submit(cl, "{\"workload_id\": 43, \"timeout_seconds\": 1, \"input\": {\"prompt\": \"0123456789abcdefghijklmnopqrstuvwxyz\"}}");
	if (!j)
		return;
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	j = c_wait_final(cl, id, 10000);
	CHECK(j != NULL);
	if (j) {
		CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
		CHECK_STR(j->error, "deadline exceeded: not finished 1 s after submission");
		CHECK(j->credits_used == 0);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
}

static void test_bad_requests(struct cluster *cl)
{
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	struct {
		const char *body;
		grpc_status_code code;
		const char *msg;
	} cases[] = {
		{ "{\"workload_id\": 7, \"input\": {\"prompt\": \"x\"}}", GRPC_STATUS_NOT_FOUND,
		  "unknown workload 7" },
		{ "{\"workload_id\": 42}", GRPC_STATUS_INVALID_ARGUMENT, "input is missing" },
		{ "{\"workload_id\": 42, \"input\": {}}", GRPC_STATUS_INVALID_ARGUMENT,
		  "input: one of prompt, features, record or data is needed" },
		{ "{\"workload_id\": 42, \"input\": {\"prompt\": \"x\", \"features\": [1]}}",
		  GRPC_STATUS_INVALID_ARGUMENT, "input: give only one of prompt, features, record and data" },
		{ "{\"workload_id\": 42, \"mode\": \"MODE_TEE\", \"input\": {\"prompt\": \"x\"}}",
		  GRPC_STATUS_INVALID_ARGUMENT, "mode MODE_TEE needs confidential: true" },
		{ "{\"workload_id\": 42, \"mode\": \"MODE_HOMOMORPHIC\", \"input\": {\"prompt\": \"x\"}}",
		  GRPC_STATUS_INVALID_ARGUMENT, "workload 42 (echo) does not run in homomorphic mode" },
		{ "{\"workload_id\": 42, \"confidential\": true, \"input\": {\"prompt\": \"x\"}}",
		  GRPC_STATUS_INVALID_ARGUMENT,
		  "a confidential job needs input {\"encrypted\": true, \"key_id\": ..., \"ciphertext\": ...}" },
		{ "{\"workload_id\": 42, \"input\": {\"encrypted\": true, \"ciphertext\": \"AAAA\"}}",
		  GRPC_STATUS_INVALID_ARGUMENT, "encrypted input needs confidential: true" },
		{ "{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"ck_nope\","
		  " \"input\": {\"encrypted\": true, \"key_id\": \"ck_nope\", \"ciphertext\": \"AAAA\"}}",
		  GRPC_STATUS_NOT_FOUND, "unknown key ck_nope" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_INT(c_submit(cl, "ak_demo", cases[i].body, &j, &st), 0);
		if (st.code != cases[i].code || strcmp(st.message, cases[i].msg) != 0)
			fprintf(stderr, "case %zu: got %d '%s'\n", i, st.code, st.message);
		CHECK_INT(st.code, cases[i].code);
		CHECK_STR(st.message, cases[i].msg);
	}
	/* No key, a wrong key. */
	CHECK_INT(c_submit(cl, "ak_nobody", "{\"workload_id\": 42, \"input\": {\"prompt\": \"x\"}}", &j,
			   &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNAUTHENTICATED);
	CHECK_STR(st.message, "unknown API key");
	Atoll__V1__GetStatsRequest gs = ATOLL__V1__GET_STATS_REQUEST__INIT;
	ProtobufCMessage *resp;
	CHECK_INT(rpc_unary(cl->client, "/atoll.v1.Confidential/GetStats", &gs.base,
			    &atoll__v1__stats__descriptor, NULL, 0, 5000, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNAUTHENTICATED);
	CHECK_STR(st.message, "missing \"authorization: Bearer <key>\" metadata");

	/* Idempotent retries answer the first job. */
	const char *idem = "{\"workload_id\": 42, \"idempotency_key\": \"retry-1\", \"input\": {\"prompt\": \"once\"}}";
	Atoll__V1__Job *a = submit(cl, idem), *b = submit(cl, idem);
	CHECK(a && b && strcmp(a->id, b->id) == 0);
	if (a)
		protobuf_c_message_free_unpacked(&a->base, NULL);
	if (b)
		protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void test_watch_and_list(struct cluster *cl)
{
	Atoll__V1__Job *j = submit(cl, "{\"workload_id\": 43, \"input\": {\"prompt\": \"streamed!\"}}");
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	Atoll__V1__WatchJobRequest wr = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	wr.job_id = id;
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Jobs/WatchJob", &wr.base, &md, 1, 20000,
				  false, &s), 0);
	char out[64] = "";
	int chunks = 0, states = 0;
	Atoll__V1__JobState last = 0;
	Atoll__V1__JobEvent *ev;
	while (rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev) == 1) {
		if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK) {
			strncat(out, (char *)ev->chunk->data.data, ev->chunk->data.len);
			chunks++;
		} else {
			last = ev->job->state;
			states++;
		}
		protobuf_c_message_free_unpacked(&ev->base, NULL);
	}
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	CHECK_STR(out, "streamed!");
	CHECK(chunks >= 2); /* one character per chunk, at least some live */
	CHECK(states >= 2);
	CHECK_INT(last, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);

	/* Watching another tenant's job: NOT_FOUND. */
	md.value = "Bearer ak_other";
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Jobs/WatchJob", &wr.base, &md, 1, 5000, false,
				  &s), 0);
	CHECK_INT(rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev), 0);
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);

	/* Listing pages through everything of the tenant, newest first. */
	Atoll__V1__ListJobsRequest lr = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
	lr.page_size = 64;
	char token[64] = "";
	int total = 0, pages = 0;
	int64_t prev = INT64_MAX;
	bool ordered = true;
	for (;;) {
		lr.page_token = token;
		Atoll__V1__ListJobsResponse *resp;
		CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/ListJobs", &lr.base,
				 &atoll__v1__list_jobs_response__descriptor, (ProtobufCMessage **)&resp,
				 &st), 0);
		if (st.code != GRPC_STATUS_OK || !resp)
			break;
		total += (int)resp->n_jobs;
		pages++;
		for (size_t i = 0; i < resp->n_jobs; i++) {
			int64_t t = resp->jobs[i]->created_at->seconds * 1000 +
				    resp->jobs[i]->created_at->nanos / 1000000;
			ordered &= t <= prev;
			prev = t;
		}
		snprintf(token, sizeof token, "%s", resp->next_page_token);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (!token[0])
			break;
	}
	CHECK(ordered);
	CHECK_INT(total, N_JOBS + 4); /* many, cancelled, deadline, idempotent, streamed */
	CHECK(pages >= 4);
	lr.page_token = "bogus";
	ProtobufCMessage *r2;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/ListJobs", &lr.base,
			 &atoll__v1__list_jobs_response__descriptor, &r2, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);

	/* Usage: billed jobs are the completed ones and the cancelled one. */
	Atoll__V1__GetUsageRequest ur = ATOLL__V1__GET_USAGE_REQUEST__INIT;
	Atoll__V1__Usage *u;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/GetUsage", &ur.base,
			 &atoll__v1__usage__descriptor, (ProtobufCMessage **)&u, &st), 0);
	if (u) {
		CHECK_STR(u->tenant, "demo");
		CHECK_INT(u->jobs, N_JOBS + 3);
		CHECK(u->credits_used > 0);
		protobuf_c_message_free_unpacked(&u->base, NULL);
	}
	CHECK_INT(c_call(cl, "ak_other", "/atoll.v1.Jobs/GetUsage", &ur.base,
			 &atoll__v1__usage__descriptor, (ProtobufCMessage **)&u, &st), 0);
	if (u) {
		CHECK_INT(u->jobs, 0);
		protobuf_c_message_free_unpacked(&u->base, NULL);
	}
}

static void test_island_refusals(struct cluster *cl)
{
	/* A wrong token is refused; the coordinator's island count stays. */
	int bad = cluster_add_island(cl, "intruder", 1, NULL, NULL, "it_wrong");
	/* An island offering a workload the coordinator does not know. */
	int odd = cluster_add_island(cl, "odd", 1,
				     "    - {id: 42, backend: echo, modes: [plain]}\n"
				     "    - {id: 7, backend: echo, modes: [plain]}\n",
				     NULL, NULL);
	CHECK_INT(cluster_wait(cl, 4, 4, 10000), 0);
	time_sleep_ms(500);
	CHECK(h_file_contains(cl->islands[bad].log, "unknown island token"));
	CHECK(h_file_contains(cl->islands[bad].log, "check the island token"));
	CHECK(h_file_contains(cl->coord.log, "refused: unknown island token"));
	CHECK(h_file_contains(cl->islands[odd].log, "coordinator refused workload 7: unknown workload 7"));
	Atoll__V1__Stats *s;
	CHECK_INT(c_stats(cl, &s), 0);
	if (s) {
		CHECK_INT(s->connected_hosts, 4);
		protobuf_c_message_free_unpacked(&s->base, NULL);
	}
	int st;
	h_stop(&cl->islands[bad], SIGTERM, 5000, &st);
	h_stop(&cl->islands[odd], SIGTERM, 5000, &st);
	CHECK_INT(cluster_wait(cl, 3, 3, 10000), 0);
}

static void test_garbage_stream(struct cluster *cl)
{
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Islands/Connect", NULL, &md, 1, 5000, false,
				  &s), 0);
	const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	rpc_stream_send_raw(s, junk, sizeof junk);
	ProtobufCMessage *m;
	CHECK_INT(rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor, &m), 0);
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK_STR(st.message, "malformed atoll.v1.IslandMessage on /atoll.v1.Islands/Connect: "
			      "cannot parse the message");
	/* A message other than hello first. */
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Islands/Connect", NULL, &md, 1, 5000, false,
				  &s), 0);
	Atoll__V1__Heartbeat hb = ATOLL__V1__HEARTBEAT__INIT;
	Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
	im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT;
	im.heartbeat = &hb;
	rpc_stream_send(s, &im.base);
	CHECK_INT(rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor, &m), 0);
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK_STR(st.message, "the first message on Islands/Connect must be hello");
	/* Everyone else is unharmed. */
	CHECK_INT(cluster_wait(cl, 3, 3, 5000), 0);
	Atoll__V1__Job *j = submit(cl, "{\"workload_id\": 42, \"input\": {\"prompt\": \"still fine\"}}");
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 10000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		if (f)
			protobuf_c_message_free_unpacked(&f->base, NULL);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
}

/* SubmitJob with a deadline of its own. */
static int submit_within(struct cluster *cl, const char *body, int64_t timeout_ms,
			 Atoll__V1__Job **ret, struct rpc_status *st)
{
	ProtobufCMessage *req = NULL;
	char err[256];
	*ret = NULL;
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0, &req, err,
			sizeof err) < 0)
		return -EINVAL;
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	int e = rpc_unary(cluster_client(cl), "/atoll.v1.Jobs/SubmitJob", req,
			  &atoll__v1__job__descriptor, &md, 1, timeout_ms, (ProtobufCMessage **)ret, st);
	protobuf_c_message_free_unpacked(req, NULL);
	return e;
}

/* wait: true answers with the final job and its output, in one call; a
 * call deadline shorter than the job leaves the job running, and a retry
 * with the same idempotency key gets its end. */
static void test_submit_and_wait(struct cluster *cl)
{
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(submit_within(cl, "{\"workload_id\": 42, \"wait\": true, \"input\": "
				    "{\"prompt\": \"answer me at once\"}}",
				10000, &j, &st),
		  0);
	CHECK(j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(j && j->output && strstr(j->output->text, "answer me at once"));
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);

	/* The slow workload: 100 ms per character, about 2 s. */
	const char *slow = "{\"workload_id\": 43, \"wait\": true, \"idempotency_key\": "
			   "\"wait-1\", \"input\": {\"prompt\": \"a slower answer\"}}";
	CHECK_INT(submit_within(cl, slow, 300, &j, &st), 0);
	CHECK(j == NULL);
	CHECK_INT(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	/* Two retries at once, one waiting, one not: one job, both answered. */
	Atoll__V1__Job *now = NULL;
	CHECK_INT(submit_within(cl,
				"{\"workload_id\": 43, \"idempotency_key\": \"wait-1\", \"input\": "
				"{\"prompt\": \"a slower answer\"}}",
				10000, &now, &st),
		  0);
	CHECK(now && now->state < ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	/* The island holds JobStarted back a few milliseconds only: a running
	 * job shows when it started long before its first output comes. */
	bool started = false;
	for (int i = 0; now && i < 100 && !started; i++) {
		Atoll__V1__Job *g = NULL;
		if (c_get(cl, "ak_demo", now->id, &g, &st) == 0 && g) {
			started = g->started_at != NULL &&
				  g->state == ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING;
			protobuf_c_message_free_unpacked(&g->base, NULL);
		}
		if (!started)
			time_sleep_ms(10);
	}
	CHECK(started);
	CHECK_INT(submit_within(cl, slow, 20000, &j, &st), 0);
	CHECK(j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(j && j->output && strstr(j->output->text, "a slower answer"));
	CHECK(j && now && strcmp(j->id, now->id) == 0);
	CHECK(j && j->attempts == 1);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	if (now)
		protobuf_c_message_free_unpacked(&now->base, NULL);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "jobs") < 0)
		return 1;
	grpc_init();
	cl.workloads_yaml = WORKLOADS;
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof id, "isl-%d", i);
		CHECK(cluster_add_island(&cl, id, 4, ISLAND_WORKLOADS, NULL, NULL) >= 0);
	}
	CHECK_INT(cluster_wait(&cl, 3, 3, 15000), 0);
	if (!check_failures) {
		test_many_jobs(&cl);
		test_cancel_and_deadline(&cl);
		test_bad_requests(&cl);
		test_watch_and_list(&cl);
		test_submit_and_wait(&cl);
		test_garbage_stream(&cl);
		test_island_refusals(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
