/* The coordinator as a real process, called over real sockets by the C
 * client: health, reflection, GetStats, and the framework's behaviour on
 * malformed bytes, unknown methods, oversized messages, cancellation,
 * deadlines and SIGTERM with calls in flight. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <grpc/grpc.h>

#include "atoll/v1/confidential.pb-c.h"
#include "check.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "harness.h"
#include "rpc/client.h"
#include "util/timeutil.h"

static const char *CONFIG =
	"listen:\n"
	"  address: 127.0.0.1:0\n"
	"limits:\n"
	"  max_message_bytes: 65536\n"
	"  drain_timeout: 3s\n"
	"store:\n"
	"  path: atoll.db\n"
	"tenants:\n"
	"  - name: demo\n"
	"    api_key_sha256: [60f052368c9aa3b6a635f3c19380882384224458cbfba3f36af514a6109668a4]\n"
	"islands:\n"
	"  tokens:\n"
	"    - name: i1\n"
	"      token_sha256: 0000000000000000000000000000000000000000000000000000000000000001\n"
	"      island_ids: [i1]\n"
	"workloads:\n"
	"  - id: 42\n"
	"    name: echo\n"
	"    backend: echo\n";

static int health_check(rpc_client *c, const char *service, struct rpc_status *st)
{
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	req.service = (char *)service;
	ProtobufCMessage *resp = NULL;
	if (rpc_unary(c, "/grpc.health.v1.Health/Check", &req.base,
		      &grpc__health__v1__health_check_response__descriptor, NULL, 0, 5000, &resp,
		      st) < 0)
		return -1;
	int status = resp ? (int)((Grpc__Health__V1__HealthCheckResponse *)resp)->status : -1;
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

static bool serving(rpc_client *c)
{
	struct rpc_status st;
	return health_check(c, "", &st) == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

static void test_health(rpc_client *c)
{
	struct rpc_status st;
	CHECK(serving(c));
	CHECK_INT(health_check(c, "atoll.v1.Jobs", &st),
		  GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	CHECK_INT(health_check(c, "no.such.Service", &st), -1);
	CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);
	CHECK_STR(st.message, "unknown service 'no.such.Service'");
}

static void test_stats(rpc_client *c)
{
	Atoll__V1__GetStatsRequest req = ATOLL__V1__GET_STATS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct rpc_status st;
	/* Without an API key: refused. */
	CHECK_INT(rpc_unary(c, "/atoll.v1.Confidential/GetStats", &req.base,
			    &atoll__v1__stats__descriptor, NULL, 0, 5000, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNAUTHENTICATED);
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	CHECK_INT(rpc_unary(c, "/atoll.v1.Confidential/GetStats", &req.base,
			    &atoll__v1__stats__descriptor, &md, 1, 5000, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	CHECK(resp != NULL);
	if (resp) {
		Atoll__V1__Stats *s = (Atoll__V1__Stats *)resp;
		CHECK_INT(s->attested_hosts, 0);
		CHECK_INT(s->n_tee_types, 0);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
}

static Grpc__Reflection__V1__ServerReflectionResponse *
reflect(rpc_stream *s, Grpc__Reflection__V1__ServerReflectionRequest *req)
{
	if (rpc_stream_send(s, &req->base) < 0)
		return NULL;
	ProtobufCMessage *m = NULL;
	if (rpc_stream_recv(s, &grpc__reflection__v1__server_reflection_response__descriptor, &m) != 1)
		return NULL;
	return (Grpc__Reflection__V1__ServerReflectionResponse *)m;
}

static void test_reflection(rpc_client *c, const char *path)
{
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(c, path, NULL, NULL, 0, 10000, false, &s), 0);
	Grpc__Reflection__V1__ServerReflectionRequest req =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;

	req.message_request_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
	req.list_services = "*";
	Grpc__Reflection__V1__ServerReflectionResponse *r = reflect(s, &req);
	CHECK(r && r->message_response_case ==
			   GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
	if (r && r->list_services_response) {
		const char *want[] = { "atoll.v1.Confidential", "atoll.v1.Jobs", "atoll.v1.Islands",
				       "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
				       "grpc.reflection.v1alpha.ServerReflection" };
		CHECK_INT(r->list_services_response->n_service, 6);
		for (size_t w = 0; w < 6; w++) {
			bool found = false;
			for (size_t i = 0; i < r->list_services_response->n_service; i++)
				if (strcmp(r->list_services_response->service[i]->name, want[w]) == 0)
					found = true;
			if (!found)
				fprintf(stderr, "service %s not listed\n", want[w]);
			CHECK(found);
		}
	}
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);

	/* A symbol: the file and its imports (timestamp, common), each parseable. */
	req.message_request_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
	req.file_containing_symbol = "atoll.v1.Jobs.SubmitJob";
	r = reflect(s, &req);
	CHECK(r && r->file_descriptor_response);
	if (r && r->file_descriptor_response) {
		bool jobs = false, ts = false, common = false;
		for (size_t i = 0; i < r->file_descriptor_response->n_file_descriptor_proto; i++) {
			ProtobufCBinaryData *b = &r->file_descriptor_response->file_descriptor_proto[i];
			Google__Protobuf__FileDescriptorProto *fd =
				google__protobuf__file_descriptor_proto__unpack(NULL, b->len, b->data);
			CHECK(fd != NULL);
			if (!fd)
				continue;
			jobs |= strcmp(fd->name, "atoll/v1/jobs.proto") == 0;
			ts |= strcmp(fd->name, "google/protobuf/timestamp.proto") == 0;
			common |= strcmp(fd->name, "atoll/v1/common.proto") == 0;
			google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
		}
		CHECK(jobs && ts && common);
	}
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Nested message, enum value, field. */
	const char *syms[] = { "atoll.v1.JobState", "atoll.v1.JOB_STATE_RUNNING",
			       "atoll.v1.SubmitJobRequest.workload_id",
			       "grpc.health.v1.HealthCheckResponse.ServingStatus" };
	for (size_t i = 0; i < 4; i++) {
		req.file_containing_symbol = (char *)syms[i];
		r = reflect(s, &req);
		CHECK(r && r->file_descriptor_response);
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
	}

	/* Unknown symbol: an error inside the stream, which stays usable. */
	req.file_containing_symbol = "atoll.v1.Nope";
	r = reflect(s, &req);
	CHECK(r && r->error_response && r->error_response->error_code == GRPC_STATUS_NOT_FOUND);
	if (r && r->error_response)
		CHECK_STR(r->error_response->error_message, "symbol not found: atoll.v1.Nope");
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);

	req.message_request_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
	req.file_by_filename = "grpc/health/v1/health.proto";
	r = reflect(s, &req);
	CHECK(r && r->file_descriptor_response &&
	      r->file_descriptor_response->n_file_descriptor_proto == 1);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);

	CHECK_INT(rpc_stream_close_send(s), 0);
	ProtobufCMessage *m;
	CHECK_INT(rpc_stream_recv(s, &grpc__reflection__v1__server_reflection_response__descriptor, &m), 0);
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_OK);
}

static void test_bad_calls(rpc_client *c)
{
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len;
	/* A field header promising 100 bytes that never come. */
	const uint8_t garbage[] = { 0x0a, 0x64, 0x01, 0x02 };
	CHECK_INT(rpc_unary_raw(c, "/grpc.health.v1.Health/Check", garbage, sizeof garbage, NULL, 0,
				5000, &resp, &len, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK_STR(st.message, "malformed grpc.health.v1.HealthCheckRequest on "
			      "/grpc.health.v1.Health/Check: cannot parse the request");
	free(resp);
	resp = NULL;

	CHECK_INT(rpc_unary_raw(c, "/atoll.v1.Nope/Nothing", garbage, 0, NULL, 0, 5000, &resp, &len,
				&st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNIMPLEMENTED);
	CHECK_STR(st.message, "unknown method /atoll.v1.Nope/Nothing");
	free(resp);
	resp = NULL;

	/* Over the configured 64 KiB. */
	size_t big = 100000;
	uint8_t *blob = calloc(1, big);
	blob[0] = 0x0a; /* field 1, length-delimited */
	blob[1] = 0x9a; /* varint 99994 */
	blob[2] = 0x8d;
	blob[3] = 0x06;
	CHECK_INT(rpc_unary_raw(c, "/grpc.health.v1.Health/Check", blob, big, NULL, 0, 5000, &resp,
				&len, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(st.message, "larger than max") != NULL);
	free(blob);
	free(resp);
	CHECK(serving(c));
}

static void test_cancel_and_deadline(rpc_client *c)
{
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	req.service = "";
	ProtobufCMessage *m = NULL;
	struct rpc_status st;

	/* Watch answers at once, then the client cancels. */
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(c, "/grpc.health.v1.Health/Watch", &req.base, NULL, 0, 0, false, &s), 0);
	CHECK_INT(rpc_stream_recv(s, &grpc__health__v1__health_check_response__descriptor, &m), 1);
	if (m) {
		CHECK_INT(((Grpc__Health__V1__HealthCheckResponse *)m)->status,
			  GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	rpc_stream_cancel(s);
	m = NULL;
	CHECK_INT(rpc_stream_recv(s, &grpc__health__v1__health_check_response__descriptor, &m), 0);
	rpc_stream_finish(s, &st);
	CHECK_INT(st.code, GRPC_STATUS_CANCELLED);

	/* A watch with a 300 ms deadline ends DEADLINE_EXCEEDED. */
	int64_t t0 = time_mono_ms();
	CHECK_INT(rpc_stream_open(c, "/grpc.health.v1.Health/Watch", &req.base, NULL, 0, 300, false, &s), 0);
	int n = 0;
	while (rpc_stream_recv(s, &grpc__health__v1__health_check_response__descriptor, &m) == 1) {
		protobuf_c_message_free_unpacked(m, NULL);
		n++;
	}
	rpc_stream_finish(s, &st);
	int64_t took = time_mono_ms() - t0;
	CHECK_INT(n, 1);
	CHECK_INT(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(took >= 250);
	CHECK(serving(c));
}

struct hammer {
	rpc_client *c;
	atomic_int ok, failed;
	atomic_bool stop;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	while (!atomic_load(&h->stop)) {
		struct rpc_status st;
		int r = health_check(h->c, "", &st);
		if (r >= 0)
			atomic_fetch_add(&h->ok, 1);
		else
			atomic_fetch_add(&h->failed, 1);
		if (r < 0 && st.code == GRPC_STATUS_UNAVAILABLE)
			break;
	}
	return NULL;
}

static void test_sigterm(rpc_client *c, struct proc *co)
{
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	req.service = "";
	rpc_stream *watch;
	ProtobufCMessage *m = NULL;
	CHECK_INT(rpc_stream_open(c, "/grpc.health.v1.Health/Watch", &req.base, NULL, 0, 0, false, &watch), 0);
	CHECK_INT(rpc_stream_recv(watch, &grpc__health__v1__health_check_response__descriptor, &m), 1);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);

	struct hammer h = { .c = c };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, hammer_thread, &h);
	time_sleep_ms(200);
	int status = -1;
	int64_t t0 = time_mono_ms();
	CHECK_INT(h_stop(co, SIGTERM, 10000, &status), 0);
	int64_t took = time_mono_ms() - t0;
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		h_dump_log(co->log);
	CHECK(took < 3000 + 2000);
	CHECK(atomic_load(&h.ok) > 0);

	/* The watcher heard NOT_SERVING, then the stream ended UNAVAILABLE. */
	int last = -1;
	while (rpc_stream_recv(watch, &grpc__health__v1__health_check_response__descriptor, &m) == 1) {
		last = (int)((Grpc__Health__V1__HealthCheckResponse *)m)->status;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	struct rpc_status st;
	rpc_stream_finish(watch, &st);
	CHECK_INT(last, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
	CHECK_INT(st.code, GRPC_STATUS_UNAVAILABLE);
	CHECK(h_file_contains(co->log, "SIGTERM: draining"));
	CHECK(h_file_contains(co->log, "stopped"));
}

int main(void)
{
	char dir[512];
	struct proc co;
	CHECK_INT(h_tmpdir("server", dir, sizeof dir), 0);
	CHECK_INT(h_write(dir, "coordinator.yaml", CONFIG, NULL, 0), 0);
	if (h_start_coordinator(dir, "coordinator.yaml", &co) < 0) {
		fprintf(stderr, "coordinator did not start\n");
		return 1;
	}
	grpc_init();
	rpc_client *c;
	CHECK_INT(rpc_client_new(h_target(&co), NULL, &c), 0);

	test_health(c);
	test_stats(c);
	test_reflection(c, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
	test_reflection(c, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
	test_bad_calls(c);
	test_cancel_and_deadline(c);
	test_sigterm(c, &co);

	rpc_client_free(c);
	grpc_shutdown();
	if (check_failures)
		h_dump_log(co.log);
	CHECK_DONE();
}
