/* Bounded resources against clients that do not play along:
 *   - 150 WatchJob streams on a job with 3 MB of output, never read: the
 *     coordinator's resident memory grows by less than 64 MiB (each
 *     watcher has a bounded backlog; the output is kept once);
 *   - 3,000 WatchJob streams on one connection: those past
 *     limits.max_watches_per_tenant are refused with RESOURCE_EXHAUSTED at
 *     once;
 *   - meanwhile another tenant's jobs and Health keep working;
 *   - a watcher that reads gets every chunk, in order, after the storm.
 * Memory is read from /proc/PID/status (VmRSS); the bound is what
 * docs/confidential.md promises, measured, not timed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "pbjson/pbjson.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define OUTPUT_BYTES (3u << 20)
#define UNREAD_WATCHERS 150
#define STORM 3000
#define WATCH_LIMIT 400


static rpc_stream *watch(rpc_client *c, const char *auth, const char *job_id, int64_t timeout_ms)
{
	Atoll__V1__WatchJobRequest req = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	req.job_id = (char *)job_id;
	struct rpc_md md = { "authorization", auth };
	rpc_stream *s = NULL;
	rpc_stream_open(c, "/atoll.v1.Jobs/WatchJob", &req.base, &md, 1, timeout_ms, true, &s);
	return s;
}

/* A small job of a tenant completes while another tenant misbehaves. */
static void tenant_works(struct cluster *cl, const char *key)
{
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, key, "{\"workload_id\": 42, \"input\": {\"prompt\": \"still here\"}}",
			   &j, &st),
		  0);
	if (!j)
		return;
	bool done = false;
	for (int i = 0; i < 200 && !done; i++) {
		Atoll__V1__Job *f = NULL;
		if (c_get(cl, key, j->id, &f, &st) == 0 && f) {
			done = f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
			protobuf_c_message_free_unpacked(&f->base, NULL);
		}
		if (!done)
			time_sleep_ms(50);
	}
	CHECK(done);
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "limits") < 0)
		return 1;
	grpc_init();
	char limits[256];
	snprintf(limits, sizeof limits,
		 "limits: {drain_timeout: 2s, max_message_bytes: 8388608, max_watches_per_tenant: %d}\n",
		 WATCH_LIMIT);
	cl.limits_yaml = limits;
	cl.workloads_yaml = "workloads:\n"
			    "  - {id: 42, name: echo, backend: echo, modes: [plain, tee]}\n"
			    "  - {id: 43, name: slow, backend: echo, modes: [plain]}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "i1", 3,
				 "    - {id: 42, backend: echo, modes: [plain, tee],"
				 " options: {chunk_size: 65536}}\n"
				 "    - {id: 43, backend: echo, modes: [plain],"
				 " options: {chunk_size: 1, delay_ms: 1000}}\n",
				 NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);
	if (check_failures)
		goto out;

	/* A job with 3 MB of output. */
	struct buf body = { 0 };
	buf_puts(&body, "{\"workload_id\": 42, \"input\": {\"prompt\": \"");
	for (size_t i = 0; i < OUTPUT_BYTES; i++)
		buf_putc(&body, (char)('a' + i % 26));
	buf_puts(&body, "\"}}");
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", cl.coord.port);
	rpc_client *big = NULL;
	CHECK_INT(rpc_client_new(addr, NULL, &big), 0);
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	Atoll__V1__SubmitJobRequest *sr = NULL;
	char err[256];
	CHECK_INT(pbjson_read(&atoll__v1__submit_job_request__descriptor, buf_cstr(&body), body.len,
			      0, (ProtobufCMessage **)&sr, err, sizeof err),
		  0);
	buf_free(&body);
	if (sr && big)
		rpc_unary(big, "/atoll.v1.Jobs/SubmitJob", &sr->base, &atoll__v1__job__descriptor, &md,
			  1, 30000, (ProtobufCMessage **)&j, &st);
	CHECK(j != NULL);
	if (sr)
		protobuf_c_message_free_unpacked(&sr->base, NULL);
	if (!j)
		goto out_client;
	char job_id[64];
	snprintf(job_id, sizeof job_id, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	Atoll__V1__Job *f = c_wait_final(&cl, job_id, 30000);
	CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
	time_sleep_ms(500);
	long before = h_rss_kib(cl.coord.pid);

	/* 150 watchers on one connection that never read. */
	rpc_client *lazy = NULL;
	CHECK_INT(rpc_client_new(addr, NULL, &lazy), 0);
	rpc_stream *unread[UNREAD_WATCHERS] = { 0 };
	for (int i = 0; lazy && i < UNREAD_WATCHERS; i++)
		unread[i] = watch(lazy, "Bearer ak_demo", job_id, 0);
	time_sleep_ms(2000);
	tenant_works(&cl, "ak_other");
	long after = h_rss_kib(cl.coord.pid);
	fprintf(stderr, "coordinator RSS: %ld KiB before, %ld KiB with %d unread watchers of %u "
			"bytes (+%ld KiB)\n",
		before, after, UNREAD_WATCHERS, OUTPUT_BYTES, after - before);
	CHECK(before > 0 && after > 0);
#if ATOLL_SANITIZED
	fprintf(stderr, "sanitizer build: the memory bound is not checked\n");
#else
	CHECK(after - before < 64 * 1024);
#endif

	/* The other tenant opens 3,000 streams on one connection, on a slow
	 * running job: past its watch limit they are refused at once; the
	 * accepted ones get the job and wait. (Its own count: how many of the
	 * unread watchers above are still open depends on how much the client
	 * library buffers.) */
	Atoll__V1__Job *slow = NULL;
	CHECK_INT(c_submit(&cl, "ak_other",
			   "{\"workload_id\": 43, \"input\": {\"prompt\": \"a slow job\"}}", &slow,
			   &st),
		  0);
	if (!slow)
		fprintf(stderr, "slow job: %d %s\n", st.code, st.message);
	CHECK(slow != NULL);
	rpc_client *storm = NULL;
	CHECK_INT(rpc_client_new(addr, NULL, &storm), 0);
	rpc_stream **many = calloc(STORM, sizeof *many);
	for (int i = 0; slow && storm && many && i < STORM; i++)
		many[i] = watch(storm, "Bearer ak_other", slow->id, 60000);
	tenant_works(&cl, "ak_demo");
	int refused = 0, accepted = 0, other = 0;
	for (int i = 0; many && i < STORM; i++) {
		if (!many[i])
			continue;
		ProtobufCMessage *m = NULL;
		if (rpc_stream_recv(many[i], &atoll__v1__job_event__descriptor, &m) == 1) {
			protobuf_c_message_free_unpacked(m, NULL);
			accepted++;
			rpc_stream_cancel(many[i]);
		}
		rpc_stream_finish(many[i], &st);
		if (st.code == GRPC_STATUS_RESOURCE_EXHAUSTED && strstr(st.message, "already watches"))
			refused++;
		else if (st.code != GRPC_STATUS_CANCELLED && other++ == 0)
			fprintf(stderr, "unexpected status: %d %s\n", st.code, st.message);
	}
	fprintf(stderr, "storm: %d accepted, %d refused, %d others\n", accepted, refused, other);
	CHECK_INT(accepted, WATCH_LIMIT);
	CHECK_INT(refused, STORM - WATCH_LIMIT);
	CHECK_INT(other, 0);
	free(many);
	if (slow) {
		Atoll__V1__CancelJobRequest cr = ATOLL__V1__CANCEL_JOB_REQUEST__INIT;
		cr.job_id = slow->id;
		Atoll__V1__Job *cj = NULL;
		c_call(&cl, "ak_other", "/atoll.v1.Jobs/CancelJob", &cr.base, &atoll__v1__job__descriptor,
		       (ProtobufCMessage **)&cj, &st);
		if (cj)
			protobuf_c_message_free_unpacked(&cj->base, NULL);
		protobuf_c_message_free_unpacked(&slow->base, NULL);
	}

	/* Health and a reader after it all: every chunk, in order. */
	Atoll__V1__Stats *stats = NULL;
	CHECK_INT(c_stats(&cl, &stats), 0);
	if (stats)
		protobuf_c_message_free_unpacked(&stats->base, NULL);
	rpc_stream *reader = watch(big, "Bearer ak_demo", job_id, 30000);
	size_t got = 0;
	uint64_t want_seq = 0;
	bool in_order = true, final_seen = false;
	Atoll__V1__JobEvent *ev;
	while (reader && rpc_stream_recv(reader, &atoll__v1__job_event__descriptor,
					 (ProtobufCMessage **)&ev) == 1) {
		if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK) {
			in_order &= ev->chunk->seq == want_seq++;
			got += ev->chunk->data.len;
		} else if (ev->job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
			final_seen = true;
			CHECK(ev->job->output == NULL); /* the output came as chunks */
		}
		protobuf_c_message_free_unpacked(&ev->base, NULL);
	}
	rpc_stream_finish(reader, &st);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	CHECK_INT(got, OUTPUT_BYTES);
	CHECK(in_order && final_seen && want_seq > 1);
	CHECK(h_file_contains(cl.coord.log, "limit watches_per_tenant hit"));

	for (int i = 0; i < UNREAD_WATCHERS; i++)
		if (unread[i]) {
			rpc_stream_cancel(unread[i]);
			rpc_stream_finish(unread[i], NULL);
		}
	rpc_client_free(lazy);
	rpc_client_free(storm);
out_client:
	rpc_client_free(big);
out:
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
