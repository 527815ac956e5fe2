/* Who may be which island. Token it_demo may be any island id; token it_b
 * may only be island "b".
 *   - it_b saying it is island "a": refused PERMISSION_DENIED; island "a"
 *     is untouched and its running job finishes on its first attempt.
 *   - A stream that never says hello is closed after hello_timeout, and
 *     every open stream counts toward limits.max_islands.
 *   - A squatter that says hello with island b's enclave key right after
 *     a coordinator restart does not hold the key: the real island b
 *     reconnects and attests at once; the squatter stays unattested. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "atoll/v1/islands.pb-c.h"
#include "check.h"
#include "cluster.h"
#include "util/timeutil.h"

static rpc_stream *open_stream_wait(struct cluster *cl, const char *token, bool wait)
{
	char bearer[64];
	snprintf(bearer, sizeof bearer, "Bearer %s", token);
	struct rpc_md md = { "authorization", bearer };
	rpc_stream *s = NULL;
	if (rpc_stream_open(cluster_client(cl), "/atoll.v1.Islands/Connect", NULL, &md, 1, 30000,
			    wait, &s) < 0)
		return NULL;
	return s;
}

static rpc_stream *open_stream(struct cluster *cl, const char *token)
{
	return open_stream_wait(cl, token, false);
}

static int send_hello(rpc_stream *s, const char *id, const uint8_t *pub)
{
	Atoll__V1__WorkloadOffer o = ATOLL__V1__WORKLOAD_OFFER__INIT;
	Atoll__V1__Mode modes[] = { ATOLL__V1__MODE__MODE_PLAIN, ATOLL__V1__MODE__MODE_TEE };
	o.workload_id = 42;
	o.n_modes = 2;
	o.modes = modes;
	Atoll__V1__WorkloadOffer *offers[] = { &o };
	Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
	h.island_id = (char *)id;
	h.slots = 1;
	h.n_workloads = 1;
	h.workloads = offers;
	if (pub) {
		h.tee_type = "sim";
		h.enclave_public_key.data = (uint8_t *)pub;
		h.enclave_public_key.len = 32;
	}
	Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
	m.hello = &h;
	return rpc_stream_send(s, &m.base);
}

/* Read until the stream ends; its final status. */
static struct rpc_status drain(rpc_stream *s)
{
	ProtobufCMessage *m;
	while (rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor, &m) == 1)
		protobuf_c_message_free_unpacked(m, NULL);
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	return st;
}



static void test_token_bound(struct cluster *cl)
{
	/* A slow job on island a (workload 43 runs there only). */
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo",
			   "{\"workload_id\": 43, \"input\": {\"prompt\": \"abcdefghijklmnop\"}}", &j,
			   &st),
		  0);
	if (!j)
		return;
	char id[64];
	snprintf(id, sizeof id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	time_sleep_ms(300);

	rpc_stream *s = open_stream(cl, "it_b");
	CHECK(s != NULL);
	if (s) {
		send_hello(s, "a", NULL);
		st = drain(s);
		CHECK_INT(st.code, GRPC_STATUS_PERMISSION_DENIED);
		CHECK(strstr(st.message, "island token 'tb' may not connect as island 'a'") != NULL);
	}
	Atoll__V1__Job *f = c_wait_final(cl, id, 20000);
	CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(f && f->attempts == 1 && !strcmp(f->island_id, "a"));
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
}

static void test_silent_and_counted(struct cluster *cl)
{
	/* max_islands is 4: islands a and b hold two; two more open, the
	 * next is refused at once. */
	rpc_stream *s1 = open_stream(cl, "it_demo"), *s2 = open_stream(cl, "it_demo");
	time_sleep_ms(200);
	rpc_stream *s3 = open_stream(cl, "it_demo");
	CHECK(s1 && s2 && s3);
	if (s3) {
		struct rpc_status st = drain(s3);
		CHECK_INT(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
		CHECK(strstr(st.message, "maximum of 4 island streams") != NULL);
	}
	/* Silent ones are closed after hello_timeout (1 s). */
	int64_t t0 = time_mono_ms();
	if (s1) {
		struct rpc_status st = drain(s1);
		CHECK_INT(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
		CHECK(strstr(st.message, "no hello within 1000 ms") != NULL);
	}
	CHECK(time_mono_ms() - t0 < 3000);
	if (s2)
		drain(s2);
}

static void test_squatter(struct cluster *cl)
{
	Atoll__V1__ListAttestedIslandsResponse *r = c_list_islands(cl);
	Atoll__V1__AttestedIsland *b = c_find_island(r, "b");
	CHECK(b && b->enclave_public_key.len == 32);
	if (!b) {
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
		return;
	}
	uint8_t pub[32];
	memcpy(pub, b->enclave_public_key.data, 32);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* The coordinator restarts while island b is held back (stopped), so
	 * that the squatter is first back, with b's key. */
	int st_code;
	kill(cl->islands[1].pid, SIGSTOP);
	h_stop(&cl->coord, SIGKILL, 2000, &st_code);
	CHECK_INT(cluster_start_coordinator(cl), 0);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", cl->coord.port);
	rpc_client *fresh = NULL;
	CHECK_INT(rpc_client_new(addr, NULL, &fresh), 0);
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	/* Until the squatter is welcomed: the new process may still be
	 * settling on its port. */
	rpc_stream *sq = NULL;
	for (int attempt = 0; fresh && attempt < 20 && !sq; attempt++) {
		rpc_stream_open(fresh, "/atoll.v1.Islands/Connect", NULL, &md, 1, 60000, true, &sq);
		Atoll__V1__CoordinatorMessage *w = NULL;
		if (sq && send_hello(sq, "squat", pub) == 0 &&
		    rpc_stream_recv(sq, &atoll__v1__coordinator_message__descriptor,
				    (ProtobufCMessage **)&w) == 1 &&
		    w->msg_case == ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME) {
			protobuf_c_message_free_unpacked(&w->base, NULL);
			break;
		}
		if (w)
			protobuf_c_message_free_unpacked(&w->base, NULL);
		if (sq) {
			rpc_stream_cancel(sq);
			drain(sq);
		}
		sq = NULL;
		time_sleep_ms(100);
	}
	CHECK(sq != NULL);
	if (!sq) {
		kill(cl->islands[1].pid, SIGCONT);
		rpc_client_free(fresh);
		return;
	}
	time_sleep_ms(300);
	kill(cl->islands[1].pid, SIGCONT);
	int64_t until = time_mono_ms() + 15000;
	bool b_attested = false;
	while (!b_attested && time_mono_ms() < until) {
		Atoll__V1__IslandMessage hb = ATOLL__V1__ISLAND_MESSAGE__INIT;
		Atoll__V1__Heartbeat h = ATOLL__V1__HEARTBEAT__INIT;
		hb.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT;
		hb.heartbeat = &h;
		rpc_stream_send(sq, &hb.base);
		r = c_list_islands(cl);
		Atoll__V1__AttestedIsland *real = c_find_island(r, "b"), *fake = c_find_island(r, "squat");
		b_attested = real && real->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED;
		if (b_attested)
			CHECK(fake && fake->state != ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED);
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
		time_sleep_ms(200);
	}
	CHECK(b_attested);
	CHECK(!h_file_contains(cl->islands[1].log, "already in use"));
	rpc_stream_cancel(sq);
	struct rpc_status last = drain(sq);
	if (check_failures)
		fprintf(stderr, "squatter stream ended: %d %s\n", last.code, last.message);
	rpc_client_free(fresh);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "identity") < 0)
		return 1;
	grpc_init();
	char hash[65], tokens[256];
	h_sha256_hex("it_b", hash);
	snprintf(tokens, sizeof tokens, ", {name: tb, island_ids: [b], token_sha256: %s}", hash);
	cl.extra_tokens_yaml = tokens;
	cl.heartbeat_yaml = "  heartbeat_interval: 300ms\n  heartbeat_timeout: 4s\n"
			    "  hello_timeout: 1s\n";
	cl.limits_yaml = "limits: {drain_timeout: 2s, max_islands: 4}\n";
	cl.workloads_yaml = "workloads:\n"
			    "  - {id: 42, name: echo, backend: echo, modes: [plain, tee]}\n"
			    "  - {id: 43, name: slow, backend: echo, modes: [plain]}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "a", 1,
				 "    - {id: 42, backend: echo, modes: [plain, tee]}\n"
				 "    - {id: 43, backend: echo, modes: [plain],"
				 " options: {chunk_size: 2, delay_ms: 150}}\n",
				 NULL, NULL) >= 0);
	CHECK(cluster_add_island(&cl, "b", 1, NULL, NULL, "it_b") >= 0);
	CHECK_INT(cluster_wait(&cl, 2, 2, 15000), 0);
	if (!check_failures) {
		test_token_bound(&cl);
		test_silent_and_counted(&cl);
		test_squatter(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
