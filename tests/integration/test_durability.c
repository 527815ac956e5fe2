/* What the store promises, tried against real failures:
 *   - kill -9 of the coordinator during a burst of submits from 8
 *     connections: every job whose SubmitJob was answered OK exists after
 *     the restart and completes (answers come only once the insert is
 *     durable, in batches);
 *   - the database locked by another process (a Python sqlite3 client
 *     holding a write transaction): a submit meanwhile gets UNAVAILABLE
 *     and leaves no job; a job that ends meanwhile shows its result from
 *     memory, its final write lands once the lock is gone, and after a
 *     restart it is still completed, not run again.
 * The store setting is synchronous: full, as shipped. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "pbjson/pbjson.h"
#include "util/timeutil.h"

#define CALLERS 8
#define MAX_ACKED 20000

struct burst {
	struct cluster *cl;
	char addr[64];
	atomic_bool stop;
	pthread_mutex_t mu;
	char (*acked)[64];
	size_t n_acked;
	atomic_int refused;
};

static void *caller(void *arg)
{
	struct burst *b = arg;
	rpc_client *c = NULL;
	if (rpc_client_new(b->addr, NULL, &c) < 0)
		return NULL;
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	for (int i = 0; !atomic_load(&b->stop); i++) {
		Atoll__V1__SubmitJobRequest req = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
		Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
		char prompt[64];
		snprintf(prompt, sizeof prompt, "burst %d", i);
		in.prompt = prompt;
		req.workload_id = 42;
		req.input = &in;
		Atoll__V1__Job *j = NULL;
		struct rpc_status st;
		int e = rpc_unary(c, "/atoll.v1.Jobs/SubmitJob", &req.base, &atoll__v1__job__descriptor,
				  &md, 1, 5000, (ProtobufCMessage **)&j, &st);
		if (e == 0 && st.code == GRPC_STATUS_OK && j) {
			pthread_mutex_lock(&b->mu);
			if (b->n_acked < MAX_ACKED)
				snprintf(b->acked[b->n_acked++], 64, "%s", j->id);
			pthread_mutex_unlock(&b->mu);
		} else {
			/* The coordinator is gone: not answered, not promised. */
			atomic_fetch_add(&b->refused, 1);
			if (j)
				protobuf_c_message_free_unpacked(&j->base, NULL);
			break;
		}
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	rpc_client_free(c);
	return NULL;
}

static void test_kill_during_burst(struct cluster *cl)
{
	struct burst b = { .cl = cl, .mu = PTHREAD_MUTEX_INITIALIZER };
	b.acked = calloc(MAX_ACKED, sizeof *b.acked);
	snprintf(b.addr, sizeof b.addr, "127.0.0.1:%d", cl->coord.port);
	pthread_t th[CALLERS];
	for (int i = 0; i < CALLERS; i++)
		pthread_create(&th[i], NULL, caller, &b);
	time_sleep_ms(1500);
	int st;
	h_stop(&cl->coord, SIGKILL, 2000, &st);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	atomic_store(&b.stop, true);
	for (int i = 0; i < CALLERS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "burst: %zu submits answered before kill -9\n", b.n_acked);
	CHECK(b.n_acked > 50);

	CHECK_INT(cluster_start_coordinator(cl), 0);
	CHECK_INT(cluster_wait(cl, 1, 1, 15000), 0);
	size_t missing = 0, incomplete = 0;
	for (size_t i = 0; i < b.n_acked; i++) {
		Atoll__V1__Job *f = c_wait_final(cl, b.acked[i], 30000);
		if (!f) {
			Atoll__V1__Job *g = NULL;
			struct rpc_status gs;
			if (c_get(cl, "ak_demo", b.acked[i], &g, &gs) < 0 || !g)
				missing++;
			else
				protobuf_c_message_free_unpacked(&g->base, NULL);
			incomplete++;
			continue;
		}
		if (f->state != ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
			incomplete++;
		protobuf_c_message_free_unpacked(&f->base, NULL);
	}
	fprintf(stderr, "after restart: %zu of %zu answered jobs missing, %zu not completed\n",
		missing, b.n_acked, incomplete);
	CHECK_INT(missing, 0);
	CHECK_INT(incomplete, 0);
	free(b.acked);
}

/* A Python sqlite3 client holding a write transaction on the store until
 * its stdin closes. */
struct locker {
	pid_t pid;
	int in_fd, out_fd; /* both open until unlock: a closed pipe kills it */
};

static int lock_store(struct cluster *cl, struct locker *lk)
{
	char db[600];
	snprintf(db, sizeof db, "%s/atoll.db", cl->dir);
	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", "-c",
		       "import sqlite3, sys\n"
		       "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
		       "c.execute('BEGIN IMMEDIATE')\n"
		       "c.execute('CREATE TABLE IF NOT EXISTS held (x)')\n"
		       "print('locked', flush=True)\n"
		       "sys.stdin.read()\n"
		       "c.execute('ROLLBACK')\n",
		       db, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	char line[16] = "";
	ssize_t n = read(out[0], line, sizeof line - 1);
	if (n <= 0 || strncmp(line, "locked", 6) != 0)
		fprintf(stderr, "locker said %zd '%s' (%s)\n", n, line, n < 0 ? strerror(errno) : "");
	lk->pid = pid;
	lk->in_fd = in[1];
	lk->out_fd = out[0];
	return n > 0 && strncmp(line, "locked", 6) == 0 ? 0 : -EIO;
}

static void unlock_store(struct locker *lk)
{
	close(lk->in_fd);
	close(lk->out_fd);
	int st;
	waitpid(lk->pid, &st, 0);
}

/* The tenant's jobs, all pages. */
static size_t count_jobs(struct cluster *cl)
{
	size_t n = 0;
	char token[64] = "";
	for (;;) {
		Atoll__V1__ListJobsRequest lr = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
		lr.page_size = 1000;
		lr.page_token = token;
		Atoll__V1__ListJobsResponse *r = NULL;
		struct rpc_status st;
		if (c_call(cl, "ak_demo", "/atoll.v1.Jobs/ListJobs", &lr.base,
			   &atoll__v1__list_jobs_response__descriptor, (ProtobufCMessage **)&r,
			   &st) < 0 || !r)
			return (size_t)-1;
		n += r->n_jobs;
		snprintf(token, sizeof token, "%s", r->next_page_token);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (!token[0])
			return n;
	}
}

static void test_store_locked(struct cluster *cl)
{
	/* A job that takes about 2 s, submitted before the lock. */
	Atoll__V1__Job *a = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", "{\"workload_id\": 43, \"input\": {\"prompt\": \"slow one\"}}",
			   &a, &st),
		  0);
	if (!a)
		return;
	size_t before = count_jobs(cl);
	struct locker lk = { -1, -1, -1 };
	CHECK_INT(lock_store(cl, &lk), 0);
	if (lk.pid <= 0)
		return;

	/* A submit while the store cannot be written: refused, and no job. */
	Atoll__V1__Job *b = NULL;
	int64_t t0 = time_mono_ms();
	c_submit(cl, "ak_demo", "{\"workload_id\": 42, \"input\": {\"prompt\": \"during the lock\"}}",
		 &b, &st);
	fprintf(stderr, "submit during the lock: %d %s after %lld ms\n", st.code, st.message,
		(long long)(time_mono_ms() - t0));
	CHECK(b == NULL);
	CHECK_INT(st.code, GRPC_STATUS_UNAVAILABLE);
	CHECK(strstr(st.message, "not writable") != NULL);
	if (b)
		protobuf_c_message_free_unpacked(&b->base, NULL);

	/* The slow job ended meanwhile: its result shows from memory. */
	Atoll__V1__Job *f = c_wait_final(cl, a->id, 10000);
	CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(f && f->output && strstr(f->output->text, "slow one"));
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
	unlock_store(&lk);
	int64_t until = time_mono_ms() + 15000;
	while (!h_file_contains(cl->coord.log, "store: writes land again") &&
	       time_mono_ms() < until)
		time_sleep_ms(50);
	CHECK(h_file_contains(cl->coord.log, "store: a batch of"));
	CHECK(h_file_contains(cl->coord.log, "store: writes land again"));

	/* After a restart: completed, once, and the refused job is nowhere. */
	int code;
	CHECK_INT(h_stop(&cl->coord, SIGTERM, 10000, &code), 0);
	CHECK_INT(cluster_start_coordinator(cl), 0);
	Atoll__V1__Job *g = NULL;
	CHECK_INT(c_get(cl, "ak_demo", a->id, &g, &st), 0);
	CHECK(g && g->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && g->attempts == 1);
	if (g)
		protobuf_c_message_free_unpacked(&g->base, NULL);
	CHECK_INT(count_jobs(cl), before);
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "durability") < 0)
		return 1;
	grpc_init();
	cl.store_synchronous = "full";
	cl.workloads_yaml = "workloads:\n"
			    "  - {id: 42, name: echo, backend: echo, modes: [plain]}\n"
			    "  - {id: 43, name: slow, backend: echo, modes: [plain]}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "i1", 8,
				 "    - {id: 42, backend: echo, modes: [plain]}\n"
				 "    - {id: 43, backend: echo, modes: [plain],"
				 " options: {chunk_size: 1, delay_ms: 250}}\n",
				 NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);
	if (!check_failures)
		test_kill_during_burst(&cl);
	if (!check_failures)
		test_store_locked(&cl);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
