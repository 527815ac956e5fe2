/* Crashes: kill -9 an island mid-job (its jobs finish on the others, none
 * lost or doubled), kill -9 the coordinator with jobs queued and running
 * (after a restart every job finishes), SIGTERM an island with running jobs
 * (it finishes or hands them back), and a job whose attempts run out. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "util/timeutil.h"

#define SLOW_JOBS 24

static const char *WORKLOADS =
	"workloads:\n"
	"  - {id: 43, name: slow-echo, backend: echo, modes: [plain], max_attempts: 3}\n";

/* About 0.6 s per job: 12 characters, one every 50 ms. */
static const char *ISLAND_WORKLOADS =
	"    - {id: 43, backend: echo, modes: [plain], options: {chunk_size: 1, delay_ms: 50}}\n";

static int submit_slow(struct cluster *cl, char ids[][64], int n, const char *tag)
{
	for (int i = 0; i < n; i++) {
		char body[200];
		snprintf(body, sizeof body,
			 "{\"workload_id\": 43, \"input\": {\"prompt\": \"%s-%05d\"}}", tag, i);
		Atoll__V1__Job *j = NULL;
		struct rpc_status st;
		if (c_submit(cl, "ak_demo", body, &j, &st) < 0 || st.code != GRPC_STATUS_OK || !j) {
			fprintf(stderr, "submit: %s\n", st.message);
			return -1;
		}
		snprintf(ids[i], 64, "%s", j->id);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	return 0;
}

/* Every job completes with exactly its own output (no chunk doubled or
 * lost across attempts). Returns how many needed more than one attempt. */
static int check_all_complete(struct cluster *cl, char ids[][64], int n, const char *tag)
{
	int retried = 0, ok = 0;
	for (int i = 0; i < n; i++) {
		Atoll__V1__Job *j = c_wait_final(cl, ids[i], 60000);
		char want[64];
		snprintf(want, sizeof want, "%s-%05d", tag, i);
		if (j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && j->output &&
		    strcmp(j->output->text, want) == 0)
			ok++;
		else
			fprintf(stderr, "job %s: %s\n", ids[i],
				j ? (j->error[0] ? j->error : (j->output ? j->output->text : "?")) : "timeout");
		if (j && j->attempts > 1)
			retried++;
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	CHECK_INT(ok, n);
	return retried;
}

static int running_on(struct cluster *cl, char ids[][64], int n, const char *island)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		Atoll__V1__Job *j;
		struct rpc_status st;
		if (c_get(cl, "ak_demo", ids[i], &j, &st) == 0 && j) {
			count += j->state == ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING &&
				 strcmp(j->island_id, island) == 0;
			protobuf_c_message_free_unpacked(&j->base, NULL);
		}
	}
	return count;
}

static void test_island_kill(struct cluster *cl)
{
	char ids[SLOW_JOBS][64];
	CHECK_INT(submit_slow(cl, ids, SLOW_JOBS, "k"), 0);
	/* Wait until the victim holds work, then kill it without warning. */
	int64_t until = time_mono_ms() + 5000;
	while (running_on(cl, ids, SLOW_JOBS, "a") == 0 && time_mono_ms() < until)
		time_sleep_ms(20);
	CHECK(running_on(cl, ids, SLOW_JOBS, "a") > 0);
	int st;
	h_stop(&cl->islands[0], SIGKILL, 2000, &st);
	int retried = check_all_complete(cl, ids, SLOW_JOBS, "k");
	fprintf(stderr, "island kill: %d job(s) moved to other islands\n", retried);
	CHECK(retried > 0);
	CHECK(h_file_contains(cl->coord.log, "island a left: stream closed") ||
	      h_file_contains(cl->coord.log, "island a left: no heartbeat"));
}

static void test_coordinator_kill(struct cluster *cl)
{
	char ids[SLOW_JOBS][64];
	CHECK_INT(submit_slow(cl, ids, SLOW_JOBS, "c"), 0);
	time_sleep_ms(300); /* some running, most queued */
	int st;
	h_stop(&cl->coord, SIGKILL, 2000, &st);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	time_sleep_ms(300);
	CHECK_INT(cluster_start_coordinator(cl), 0);
	int64_t t0 = time_mono_ms();
	CHECK(h_file_contains(cl->coord.log, "recovered"));
	/* The islands reconnect on their own (a figure, printed). */
	CHECK_INT(cluster_wait(cl, 2, 2, 15000), 0);
	fprintf(stderr, "coordinator restart: islands back and attested %lld ms after it listened\n",
		(long long)(time_mono_ms() - t0));
	check_all_complete(cl, ids, SLOW_JOBS, "c");
}

static void test_island_sigterm(struct cluster *cl)
{
	char ids[8][64];
	CHECK_INT(submit_slow(cl, ids, 8, "t"), 0);
	int64_t until = time_mono_ms() + 5000;
	while (running_on(cl, ids, 8, "b") == 0 && time_mono_ms() < until)
		time_sleep_ms(20);
	int st;
	CHECK_INT(h_stop(&cl->islands[1], SIGTERM, 10000, &st), 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check_all_complete(cl, ids, 8, "t");
	CHECK(h_file_contains(cl->islands[1].log, "SIGTERM: shutting down"));
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "failover") < 0)
		return 1;
	grpc_init();
	cl.workloads_yaml = WORKLOADS;
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	const char *names[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++)
		CHECK(cluster_add_island(&cl, names[i], 3, ISLAND_WORKLOADS, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 3, 3, 15000), 0);
	if (!check_failures) {
		test_island_kill(&cl);
		test_coordinator_kill(&cl);
		test_island_sigterm(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
