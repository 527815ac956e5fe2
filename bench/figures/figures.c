/* Atoll's end-to-end figures for bench/run-all, on real processes over
 * loopback (a coordinator with the store setting given, sim islands, the
 * echo and classifier backends), driven by the pipelined load generator of
 * bench/load: every caller is an operation in flight on one completion
 * queue: SubmitJob with wait: true, answered with the final job and its
 * output (one call per job), or with --watch SubmitJob then a WatchJob
 * stream until the job is final.
 *
 *   atoll-bench-figures [--quick] [--watch] [--threads N] [--sync full|normal] [--seconds S]
 *                       [--n N] [--runs R] [--recovery-jobs N] [SECTION...]
 *
 * Sections (default: all of them, in this order):
 *   jobs      plain 1 KiB echo jobs/s with 1, 2 and 4 islands (8 callers),
 *             and the latency at 1, 8 and 32 callers (4 islands)
 *   conf      p50 of plain and confidential (TEE, sim) echo jobs, 1 KiB and
 *             64 KiB, one caller; confidential includes the client's sealing
 *             of the input and opening of the output
 *   he        p50 of the 30-feature classifier, plain and homomorphic
 *             (3072-bit Paillier), R runs
 *   recovery  restart with N unfinished jobs: spawn -> serving
 *
 * Prints a table per section and `figure NAME VALUE` lines that
 * bench/run-all reads. Asserts nothing. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include "atoll/v1/jobs.pb-c.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "he/he.h"
#include "he/paillier.h"
#include "load.h"
#include "pbjson/pbjson.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static struct {
	bool quick;
	bool watch; /* SubmitJob, then WatchJob; else SubmitJob wait: true */
	int threads; /* the coordinator's limits.threads; 0: its default */
	const char *sync;
	double seconds, warmup;
	int n, he_n, runs;
	long recovery_jobs;
} opt;

/* `figure` lines, printed after each section's table. */
static struct buf figs;

static void fig(const char *name, double v)
{
	buf_printf(&figs, "figure %s %.4f\n", name, v);
}

static void flush_figs(void)
{
	fputs(buf_cstr(&figs), stdout);
	buf_reset(&figs);
	fflush(stdout);
}

/* ---- CPU time of the processes ---- */

static double proc_cpu_s(pid_t pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	long long ut = 0, st = 0;
	if (!f)
		return 0;
	if (fgets(line, sizeof line, f)) {
		char *p = strrchr(line, ')');
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut,
				 &st) != 2)
			ut = st = 0;
	}
	fclose(f);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A process and its children (an island host and its enclave). */
static double tree_cpu_s(pid_t pid)
{
	double s = proc_cpu_s(pid);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	int child;
	while (f && fscanf(f, "%d", &child) == 1)
		s += proc_cpu_s(child);
	if (f)
		fclose(f);
	return s;
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct cpu {
	double coord, islands, client;
};

static struct cpu cpu_now(struct cluster *cl)
{
	struct cpu c = { proc_cpu_s(cl->coord.pid), 0, self_cpu_s() };
	for (int i = 0; i < cl->n_islands; i++)
		c.islands += tree_cpu_s(cl->islands[i].pid);
	return c;
}

/* ---- jobs as load operations: SubmitJob, then WatchJob until final ---- */

enum { M_SUBMIT, M_WATCH };
enum { S_SUBMIT, S_WATCH, S_CLOSING };

struct jobs;

struct job_slot {
	int state;
	bool completed, output_ok;
	char id[64];
	struct buf out; /* chunk data of the current attempt */
	uint8_t envelope_id[ENV_ID_LEN];
	int64_t client_ns; /* the client's own crypto in this job */
};

struct jobs {
	grpc_metadata md;
	/* The request of every job, or made per job by make(). */
	grpc_slice fixed;
	int (*make)(struct jobs *j, struct job_slot *js, grpc_slice *ret);
	/* At the final event: is the output right? (may be NULL) */
	bool (*check)(struct jobs *j, struct job_slot *js);
	bool submit_only;
	/* Confidential jobs. */
	uint32_t workload;
	uint8_t client_priv[32], client_pub[32], enclave[32];
	char key_id[64];
	const char *doc;
	/* Homomorphic jobs: a record encrypted afresh for every job. */
	const struct paillier_pub *he_pub;
	const struct paillier_rand *he_rz;
	const double *he_x;
	size_t he_n;
	/* Per job, in order (1 in flight): latency minus the client's crypto. */
	int64_t *job_ns;
	size_t n_job, cap_job;
	struct buf last_out;
	long bad_outputs;
	char last_error[256];
};

static int job_slot_init(struct load_slot *s, void *ud)
{
	s->user = calloc(1, sizeof(struct job_slot));
	return s->user ? 0 : -ENOMEM;
}

static void job_slot_fini(struct load_slot *s, void *ud)
{
	struct job_slot *js = s->user;
	if (js)
		buf_free(&js->out);
	free(js);
	s->user = NULL;
}

static grpc_slice pack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	grpc_slice s = grpc_slice_malloc(n);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	return s;
}

static int job_begin(struct load_slot *s, void *ud)
{
	struct jobs *j = ud;
	struct job_slot *js = s->user;
	grpc_slice req;
	js->state = S_SUBMIT;
	js->completed = js->output_ok = false;
	js->client_ns = 0;
	buf_reset(&js->out);
	if (j->make) {
		if (j->make(j, js, &req) < 0)
			return LOAD_FAIL;
	} else {
		req = grpc_slice_ref(j->fixed);
	}
	int e = load_call_unary(s, M_SUBMIT, &j->md, 1, req);
	grpc_slice_unref(req);
	return e < 0 ? LOAD_FAIL : LOAD_MORE;
}

static void note_status(struct jobs *j, struct load_slot *s, const char *what)
{
	char *d = grpc_slice_to_c_string(s->c.details);
	snprintf(j->last_error, sizeof j->last_error, "%s: status %d %s", what, (int)s->c.status, d);
	gpr_free(d);
}

/* The job is final (its output in js->out): check and record it. */
static int job_final(struct jobs *j, struct load_slot *s, struct job_slot *js)
{
	js->output_ok = js->completed && (!j->check || j->check(j, js));
	s->t_end = load_now_ns();
	if (js->output_ok) {
		if (j->n_job == j->cap_job) {
			size_t cap = j->cap_job ? j->cap_job * 2 : 256;
			int64_t *p = realloc(j->job_ns, cap * sizeof *p);
			if (p) {
				j->job_ns = p;
				j->cap_job = cap;
			}
		}
		if (j->n_job < j->cap_job)
			j->job_ns[j->n_job++] = s->t_end - s->t_begin - js->client_ns;
		buf_reset(&j->last_out);
		buf_append(&j->last_out, js->out.data, js->out.len);
	} else if (js->completed) {
		j->bad_outputs++;
	}
	return 0;
}


static int job_submitted(struct jobs *j, struct load_slot *s, bool ok)
{
	struct job_slot *js = s->user;
	grpc_slice reply;
	if (!ok || !load_call_ok(s)) {
		note_status(j, s, "SubmitJob");
		return LOAD_FAIL;
	}
	if (!load_call_take(s, &reply))
		return LOAD_FAIL;
	Atoll__V1__Job *job = atoll__v1__job__unpack(NULL, GRPC_SLICE_LENGTH(reply),
						     GRPC_SLICE_START_PTR(reply));
	grpc_slice_unref(reply);
	if (!job)
		return LOAD_FAIL;
	snprintf(js->id, sizeof js->id, "%s", job->id);
	if (job->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
		/* wait: true: the final job came with its output. */
		js->completed = job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
		if (!js->completed)
			snprintf(j->last_error, sizeof j->last_error, "job %s: %s", js->id,
				 job->error ? job->error : "failed");
		const Atoll__V1__JobOutput *o = job->output;
		if (o && o->encrypted)
			buf_append(&js->out, o->ciphertext.data, o->ciphertext.len);
		else if (o && o->text)
			buf_puts(&js->out, o->text);
		atoll__v1__job__free_unpacked(job, NULL);
		job_final(j, s, js);
		js->state = S_CLOSING;
		return js->output_ok ? LOAD_DONE : LOAD_FAIL;
	}
	atoll__v1__job__free_unpacked(job, NULL);
	if (j->submit_only)
		return LOAD_DONE;
	load_call_end(s);
	Atoll__V1__WatchJobRequest wr = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	wr.job_id = js->id;
	grpc_slice req = pack(&wr.base);
	int e = load_call_stream(s, M_WATCH, &j->md, 1, req);
	grpc_slice_unref(req);
	js->state = S_WATCH;
	return e < 0 ? LOAD_FAIL : LOAD_MORE;
}

static int job_event(struct jobs *j, struct load_slot *s, bool ok)
{
	struct job_slot *js = s->user;
	grpc_slice msg;
	if (!ok || !load_call_take(s, &msg)) {
		snprintf(j->last_error, sizeof j->last_error, "WatchJob ended before the job did");
		return LOAD_FAIL;
	}
	Atoll__V1__JobEvent *ev = atoll__v1__job_event__unpack(NULL, GRPC_SLICE_LENGTH(msg),
							       GRPC_SLICE_START_PTR(msg));
	grpc_slice_unref(msg);
	if (!ev)
		return LOAD_FAIL;
	bool final = false;
	if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK) {
		if (ev->chunk->seq == 0)
			buf_reset(&js->out);
		buf_append(&js->out, ev->chunk->data.data, ev->chunk->data.len);
	} else if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB &&
		   ev->job->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
		final = true;
		js->completed = ev->job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
		if (!js->completed)
			snprintf(j->last_error, sizeof j->last_error, "job %s: %s", js->id,
				 ev->job->error ? ev->job->error : "failed");
		/* Older coordinators also sent the output in the final job. */
		if (!js->out.len && ev->job->output) {
			const Atoll__V1__JobOutput *o = ev->job->output;
			if (o->encrypted)
				buf_append(&js->out, o->ciphertext.data, o->ciphertext.len);
			else if (o->text)
				buf_puts(&js->out, o->text);
		}
	}
	atoll__v1__job_event__free_unpacked(ev, NULL);
	if (!final)
		return load_call_recv(s) < 0 ? LOAD_FAIL : LOAD_MORE;
	if (job_final(j, s, js) < 0)
		return LOAD_FAIL;
	js->state = S_CLOSING;
	return load_call_status(s) < 0 ? LOAD_FAIL : LOAD_MORE;
}

static int job_step(struct load_slot *s, bool ok, void *ud)
{
	struct jobs *j = ud;
	struct job_slot *js = s->user;
	switch (js->state) {
	case S_SUBMIT:
		return job_submitted(j, s, ok);
	case S_WATCH:
		return job_event(j, s, ok);
	default:
		return js->output_ok ? LOAD_DONE : LOAD_FAIL;
	}
}

static void jobs_init(struct jobs *j, struct load_kind *k)
{
	memset(j, 0, sizeof *j);
	j->md.key = grpc_slice_from_static_string("authorization");
	j->md.value = grpc_slice_from_static_string("Bearer ak_demo");
	*k = (struct load_kind){ .methods = { "/atoll.v1.Jobs/SubmitJob", "/atoll.v1.Jobs/WatchJob" },
				 .slot_init = job_slot_init,
				 .slot_fini = job_slot_fini,
				 .begin = job_begin,
				 .step = job_step,
				 .ud = j };
}

static void jobs_fini(struct jobs *j)
{
	grpc_slice_unref(j->fixed);
	free(j->job_ns);
	buf_free(&j->last_out);
}

/* A SubmitJobRequest from its JSON form, packed. */
static int body_slice(const char *json, grpc_slice *ret)
{
	ProtobufCMessage *req;
	char err[256];
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, json, strlen(json), 0, &req, err,
			sizeof err) < 0) {
		fprintf(stderr, "bad request body: %s\n", err);
		return -EINVAL;
	}
	*ret = pack(req);
	protobuf_c_message_free_unpacked(req, NULL);
	return 0;
}

static char *prompt_doc(size_t bytes)
{
	char *p = malloc(bytes + 1), *doc;
	for (size_t i = 0; i < bytes; i++)
		p[i] = (char)('a' + i % 26);
	p[bytes] = 0;
	if (asprintf(&doc, "{\"prompt\": \"%s\"}", p) < 0)
		doc = NULL;
	free(p);
	return doc;
}

/* wait: whether SubmitJob answers with the final job (unless --watch). */
static int plain_body_wait(uint32_t workload, const char *input_doc, bool wait, grpc_slice *ret)
{
	char *json;
	if (asprintf(&json, "{\"workload_id\": %u, \"wait\": %s, \"input\": %s}", workload,
		     wait && !opt.watch ? "true" : "false", input_doc) < 0)
		return -ENOMEM;
	int e = body_slice(json, ret);
	free(json);
	return e;
}

static int plain_body(uint32_t workload, const char *input_doc, grpc_slice *ret)
{
	return plain_body_wait(workload, input_doc, true, ret);
}

/* Confidential: seal the document afresh for every job. */
static int make_sealed(struct jobs *j, struct job_slot *js, grpc_slice *ret)
{
	int64_t t0 = time_mono_ns();
	struct buf env = { 0 };
	struct env_input_info info;
	if (env_seal_input(HPKE_AEAD_AES_256_GCM, j->workload, j->client_pub,
			   (const uint8_t(*)[32])j->enclave, 1, (const uint8_t *)j->doc, strlen(j->doc),
			   &env) != ENV_OK ||
	    env_inspect_input(env.data, env.len, &info) != ENV_OK) {
		buf_free(&env);
		return -EIO;
	}
	memcpy(js->envelope_id, info.envelope_id, ENV_ID_LEN);
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	in.encrypted = true;
	in.ciphertext.data = env.data;
	in.ciphertext.len = env.len;
	Atoll__V1__SubmitJobRequest req = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
	req.workload_id = j->workload;
	req.confidential = true;
	req.encryption_key_id = j->key_id;
	req.input = &in;
	req.wait = !opt.watch;
	*ret = pack(&req.base);
	buf_free(&env);
	js->client_ns += time_mono_ns() - t0;
	return 0;
}

static bool open_sealed(struct jobs *j, struct job_slot *js)
{
	int64_t t0 = time_mono_ns();
	struct env_output_expect want = { .job_id = js->id,
					  .workload_id = j->workload,
					  .envelope_id = js->envelope_id,
					  .senders = (const uint8_t(*)[32])j->enclave,
					  .n_senders = 1 };
	struct buf pt = { 0 };
	int e = env_open_output(j->client_priv, js->out.data, js->out.len, &want, &pt, NULL);
	bool ok = e == ENV_OK && pt.len > 0;
	if (!ok)
		snprintf(j->last_error, sizeof j->last_error, "job %s: output not opened: %s", js->id,
			 env_strerror(e));
	buf_free(&pt);
	js->client_ns += time_mono_ns() - t0;
	return ok;
}

/* Homomorphic: encrypt the record for every job, as a client would. */
static int make_he(struct jobs *j, struct job_slot *js, grpc_slice *ret)
{
	int64_t t0 = time_mono_ns();
	struct buf in = { 0 };
	char *json = NULL;
	int e = he_input_write(j->he_pub, j->he_rz, "", j->he_x, j->he_n, 1, 40, &in);
	if (e >= 0 && asprintf(&json, "{\"workload_id\": %u, \"mode\": \"MODE_HOMOMORPHIC\", "
				      "\"wait\": %s, \"input\": %s}", j->workload,
			       opt.watch ? "false" : "true", buf_cstr(&in)) < 0)
		json = NULL;
	e = json ? body_slice(json, ret) : -ENOMEM;
	free(json);
	buf_free(&in);
	js->client_ns += time_mono_ns() - t0;
	return e;
}

static bool nonempty(struct jobs *j, struct job_slot *js)
{
	return js->out.len > 0;
}

/* ---- running loads ---- */

static int run_load(struct cluster *cl, struct jobs *j, const struct load_kind *k,
		    const struct load_opts *o, struct load_result *r)
{
	char err[256];
	j->n_job = 0;
	j->last_error[0] = 0;
	int e = load_run(o, k, r, err, sizeof err);
	if (e < 0)
		fprintf(stderr, "load: %s%s%s\n", err, j->last_error[0] ? "; last error: " : "",
			j->last_error);
	else if (r->failed)
		fprintf(stderr, "load: %ld operation(s) failed; last error: %s\n", r->failed,
			j->last_error);
	return e;
}

/* n jobs one after the other after a few warm-up jobs. */
static int run_serial(struct cluster *cl, struct jobs *j, const struct load_kind *k, int n,
		      struct load_result *r)
{
	struct load_opts o = { .target = h_target(&cl->coord), .in_flight = 1, .total = n,
			       .warmup_ops = 3 };
	return run_load(cl, j, k, &o, r);
}

/* p50 in ms of the per-job samples the kind kept (warm-up skipped). */
static double job_only_p50(struct jobs *j, size_t skip)
{
	if (j->n_job <= skip)
		return 0;
	size_t n = j->n_job - skip;
	int64_t *v = malloc(n * sizeof *v);
	memcpy(v, j->job_ns + skip, n * sizeof *v);
	for (size_t a = 1; a < n; a++) /* insertion sort: a few hundred samples */
		for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
			int64_t t = v[b];
			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	double p = (double)v[(n - 1) / 2] / 1e6;
	free(v);
	return p;
}

static const char *ISLAND_ECHO =
	"    - {id: 42, backend: echo, modes: [plain, tee], options: {chunk_size: 65536}}\n";

static int start_cluster(struct cluster *cl, const char *name)
{
	if (cluster_init(cl, name) < 0)
		return -1;
	cl->store_synchronous = opt.sync;
	if (opt.threads) {
		static char limits[96];
		snprintf(limits, sizeof limits, "limits: {drain_timeout: 2s, threads: %d}\n",
			 opt.threads);
		cl->limits_yaml = limits;
	}
	return 0;
}

static int add_islands(struct cluster *cl, int islands, int slots, const char *island_wl)
{
	if (cluster_start_coordinator(cl) < 0) {
		fprintf(stderr, "the coordinator did not start\n");
		cluster_dump_logs(cl);
		return -1;
	}
	for (int i = 0; i < islands; i++) {
		char id[16];
		snprintf(id, sizeof id, "b%d", i);
		if (cluster_add_island(cl, id, slots, island_wl, NULL, NULL) < 0)
			return -1;
	}
	if (cluster_wait(cl, (uint32_t)islands, (uint32_t)islands, 30000) < 0) {
		fprintf(stderr, "the islands did not come up\n");
		cluster_dump_logs(cl);
		return -1;
	}
	return 0;
}

/* ---- section: jobs/s and latency by callers ---- */

static int one_level(struct cluster *cl, struct jobs *j, const struct load_kind *k, int islands,
		     int callers)
{
	struct load_opts o = { .target = h_target(&cl->coord), .in_flight = callers,
			       .seconds = opt.seconds, .warmup_seconds = opt.warmup };
	struct load_result r;
	struct cpu c0 = cpu_now(cl);
	int e = run_load(cl, j, k, &o, &r);
	struct cpu c1 = cpu_now(cl);
	if (e < 0) {
		load_result_free(&r);
		return e;
	}
	/* CPU over warm-up and window, per job run in that time. */
	double jobs = r.per_s * (opt.seconds + opt.warmup);
	double cc = jobs > 0 ? (c1.coord - c0.coord) * 1e6 / jobs : 0;
	double ci = jobs > 0 ? (c1.islands - c0.islands) * 1e6 / jobs : 0;
	double cl_us = jobs > 0 ? (c1.client - c0.client) * 1e6 / jobs : 0;
	printf("%-8d %8d %10.0f %10.2f %10.2f %12.0f %12.0f %12.0f%s\n", islands, callers, r.per_s,
	       load_pct_ms(&r, 0.5), load_pct_ms(&r, 0.99), cc, ci, cl_us,
	       r.failed ? "  (failures)" : "");
	char name[96];
#define FIG(what, v)                                                                      \
	do {                                                                              \
		snprintf(name, sizeof name, "jobs.i%d.c%d.%s", islands, callers, what);   \
		fig(name, v);                                                             \
	} while (0)
	FIG("jobs_per_s", r.per_s);
	FIG("p50_ms", load_pct_ms(&r, 0.5));
	FIG("p99_ms", load_pct_ms(&r, 0.99));
	FIG("coord_cpu_us", cc);
	FIG("islands_cpu_us", ci);
	FIG("client_cpu_us", cl_us);
#undef FIG
	fflush(stdout);
	load_result_free(&r);
	return 0;
}

static int section_jobs(void)
{
	printf("\n== plain 1 KiB echo jobs end to end (%s), "
	       "store synchronous: %s, %.1f s per level after %.1f s warm-up\n",
	       opt.watch ? "SubmitJob -> final event on WatchJob" : "SubmitJob wait: true",
	       opt.sync, opt.seconds, opt.warmup);
	printf("%-8s %8s %10s %10s %10s %12s %12s %12s\n", "islands", "callers", "jobs/s",
	       "p50 ms", "p99 ms", "coord us/job", "isl. us/job", "client us/job");
	char *doc = prompt_doc(1024);
	int rc = 0;
	const int island_counts[] = { 1, 2, 4 };
	for (int i = 0; i < 3 && !rc; i++) {
		int islands = island_counts[i];
		struct cluster cl;
		struct jobs j;
		struct load_kind k;
		jobs_init(&j, &k);
		j.check = nonempty;
		if (start_cluster(&cl, "figures-jobs") < 0 ||
		    add_islands(&cl, islands, 8, ISLAND_ECHO) < 0 || plain_body(42, doc, &j.fixed) < 0) {
			rc = 1;
		} else {
			rc |= one_level(&cl, &j, &k, islands, 8) < 0;
			if (islands == 4) {
				rc |= one_level(&cl, &j, &k, islands, 1) < 0;
				rc |= one_level(&cl, &j, &k, islands, 32) < 0;
			}
		}
		jobs_fini(&j);
		cluster_stop(&cl);
	}
	free(doc);
	flush_figs();
	return rc;
}

/* ---- section: confidential vs plain ---- */

static int enclave_key(struct cluster *cl, uint8_t out[32])
{
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	Atoll__V1__ListAttestedIslandsResponse *r = NULL;
	struct rpc_status st;
	c_call(cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
	       &atoll__v1__list_attested_islands_response__descriptor, (ProtobufCMessage **)&r, &st);
	bool ok = r && r->n_islands && r->islands[0]->enclave_public_key.len == 32;
	if (ok)
		memcpy(out, r->islands[0]->enclave_public_key.data, 32);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	return ok ? 0 : -1;
}

static int register_key(struct cluster *cl, const uint8_t pub[32], char *key_id, size_t size)
{
	Atoll__V1__CreateKeyRequest req = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	req.public_key.data = (uint8_t *)pub;
	req.public_key.len = 32;
	Atoll__V1__Key *k = NULL;
	struct rpc_status st;
	c_call(cl, "ak_demo", "/atoll.v1.Confidential/CreateKey", &req.base, &atoll__v1__key__descriptor,
	       (ProtobufCMessage **)&k, &st);
	if (!k)
		return -1;
	snprintf(key_id, size, "%s", k->key_id);
	protobuf_c_message_free_unpacked(&k->base, NULL);
	return 0;
}

/* Latency samples of two loads together. */
static void merge(struct load_result *into, struct load_result *more)
{
	int64_t *p = realloc(into->lat_ns, (into->n_lat + more->n_lat + 1) * sizeof *p);
	if (!p)
		return;
	memcpy(p + into->n_lat, more->lat_ns, more->n_lat * sizeof *p);
	into->lat_ns = p;
	into->n_lat += more->n_lat;
	into->done += more->done;
	into->failed += more->failed;
	for (size_t a = 1; a < into->n_lat; a++)
		for (size_t b = a; b > 0 && p[b - 1] > p[b]; b--) {
			int64_t t = p[b];
			p[b] = p[b - 1];
			p[b - 1] = t;
		}
	load_result_free(more);
}

static int section_conf(void)
{
	struct cluster cl;
	if (start_cluster(&cl, "figures-conf") < 0 ||
	    add_islands(&cl, 1, 4, ISLAND_ECHO) < 0)
		return 1;
	struct jobs plain, tee;
	struct load_kind kp, kt;
	jobs_init(&plain, &kp);
	jobs_init(&tee, &kt);
	plain.check = nonempty;
	tee.make = make_sealed;
	tee.check = open_sealed;
	tee.workload = 42;
	x25519_keygen(tee.client_priv, tee.client_pub);
	if (enclave_key(&cl, tee.enclave) < 0 ||
	    register_key(&cl, tee.client_pub, tee.key_id, sizeof tee.key_id) < 0) {
		fprintf(stderr, "no enclave key or client key\n");
		cluster_stop(&cl);
		return 1;
	}
	printf("\n== plain vs confidential (TEE, sim) echo jobs, one caller, p50 of %d per kind "
	       "(two alternating blocks), one island, store synchronous: %s\n"
	       "   confidential = seal the input, SubmitJob, WatchJob to the final event, open the "
	       "output; 'job only' leaves the client's sealing and opening out\n",
	       opt.n, opt.sync);
	printf("%-8s %10s %10s %10s %14s %10s\n", "input", "plain ms", "tee ms", "tee/plain",
	       "tee job only", "ratio");
	int rc = 0;
	const size_t sizes[] = { 1024, 65536 };
	for (int s = 0; s < 2 && !rc; s++) {
		char *doc = prompt_doc(sizes[s]);
		tee.doc = doc;
		grpc_slice_unref(plain.fixed);
		if (plain_body(42, doc, &plain.fixed) < 0) {
			free(doc);
			rc = 1;
			break;
		}
		struct load_result rp = { 0 }, rt = { 0 }, more;
		int64_t *only = NULL;
		size_t n_only = 0;
		for (int block = 0; block < 2 && !rc; block++) {
			int half = (opt.n + 1) / 2;
			rc |= run_serial(&cl, &plain, &kp, half, block ? &more : &rp) < 0;
			if (block)
				merge(&rp, &more);
			rc |= run_serial(&cl, &tee, &kt, half, block ? &more : &rt) < 0;
			if (block)
				merge(&rt, &more);
			/* The kind's own samples: skip the 3 warm-up jobs. */
			size_t keep = tee.n_job > 3 ? tee.n_job - 3 : 0;
			only = realloc(only, (n_only + keep + 1) * sizeof *only);
			memcpy(only + n_only, tee.job_ns + (tee.n_job - keep), keep * sizeof *only);
			n_only += keep;
		}
		free(tee.job_ns);
		tee.job_ns = only;
		tee.n_job = tee.cap_job = n_only;
		double p = load_pct_ms(&rp, 0.5), t = load_pct_ms(&rt, 0.5), t_only = job_only_p50(&tee, 0);
		const char *label = sizes[s] == 1024 ? "1k" : "64k";
		printf("%-8s %10.3f %10.3f %10.2f %11.3f ms %10.2f\n",
		       sizes[s] == 1024 ? "1 KiB" : "64 KiB", p, t, p > 0 ? t / p : 0, t_only,
		       p > 0 ? t_only / p : 0);
		char name[64];
		snprintf(name, sizeof name, "conf.%s.plain_p50_ms", label);
		fig(name, p);
		snprintf(name, sizeof name, "conf.%s.tee_p50_ms", label);
		fig(name, t);
		snprintf(name, sizeof name, "conf.%s.tee_job_only_p50_ms", label);
		fig(name, t_only);
		fflush(stdout);
		load_result_free(&rp);
		load_result_free(&rt);
		free(doc);
	}
	tee.doc = NULL;
	jobs_fini(&plain);
	jobs_fini(&tee);
	cluster_stop(&cl);
	flush_figs();
	return rc;
}

/* ---- section: the classifier, plain and homomorphic ---- */

static const char *FEATURES =
	"[17.99,10.38,122.8,1001,0.1184,0.2776,0.3001,0.1471,0.2419,0.07871,1.095,0.9053,8.589,"
	"153.4,0.006399,0.04904,0.05373,0.01587,0.03003,0.006193,25.38,17.33,184.6,2019,0.1622,"
	"0.6656,0.7119,0.2654,0.4601,0.1189]";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int section_he(int bits)
{
	struct cluster cl;
	char wl[256], island[4096], extra[1024], model[1024];
	if (start_cluster(&cl, "figures-he") < 0)
		return 1;
	/* h_build_path's buffer is reused by the next call. */
	snprintf(model, sizeof model, "%s", h_build_path("models/breast_cancer_logistic.model"));
	snprintf(wl, sizeof wl, "workloads:\n  - {id: 7, name: breast-cancer, backend: linear,"
				" modes: [plain, tee, homomorphic]}\n");
	snprintf(island, sizeof island,
		 "    - {id: 7, backend: linear, model: %s, modes: [plain, tee]}\n"
		 "    - {id: 7, backend: paillier, model: %s, modes: [homomorphic]}\n",
		 model, model);
	snprintf(extra, sizeof extra,
		 ", {name: linear, path: %s/linear.so}, {name: paillier, path: %s/paillier.so}",
		 h_module_dir(), h_module_dir());
	cl.workloads_yaml = wl;
	cl.extra_backends_yaml = extra;
	if (add_islands(&cl, 1, 4, island) < 0)
		return 1;
	double x[30];
	const char *p = FEATURES + 1;
	for (int i = 0; i < 30; i++) {
		char *end;
		x[i] = strtod(p, &end);
		p = end + 1;
	}
	char doc[1024];
	snprintf(doc, sizeof doc, "{\"features\": %s}", FEATURES);
	/* he: a fresh record per job; b2b: one record, jobs back to back. */
	struct jobs plain, he, b2b;
	struct load_kind kp, kh, kb;
	jobs_init(&plain, &kp);
	jobs_init(&he, &kh);
	jobs_init(&b2b, &kb);
	plain.check = nonempty;
	he.check = nonempty;
	b2b.check = nonempty;
	he.make = make_he;
	he.workload = 7;
	he.he_x = x;
	he.he_n = 30;
	int rc = plain_body(7, doc, &plain.fixed) < 0;
	printf("\n== the 30-feature classifier, one caller, p50 of %d jobs per mode and run, %d runs, "
	       "%d-bit Paillier key (new per run), one island, store synchronous: %s\n"
	       "   homomorphic = the client encrypts a record (not timed), SubmitJob -> final event;"
	       " back to back = one record encrypted once, jobs with no pause\n",
	       opt.he_n, opt.runs, bits, opt.sync);
	printf("%-4s %10s %14s %8s %16s %8s %14s %14s\n", "run", "plain ms", "homomorphic ms",
	       "ratio", "back to back ms", "ratio", "client enc ms", "client dec ms");
	double *ratios = calloc((size_t)opt.runs, sizeof *ratios);
	double *b2b_ratios = calloc((size_t)opt.runs, sizeof *b2b_ratios);
	double *encs = calloc((size_t)opt.runs, sizeof *encs);
	int runs = 0;
	for (int run = 0; run < opt.runs && !rc; run++) {
		struct paillier_priv *key = NULL;
		struct paillier_rand *rz = NULL;
		if (paillier_keygen(bits, &key) < 0 || paillier_rand_new(&key->pub, &rz) < 0) {
			rc = 1;
			break;
		}
		he.he_pub = &key->pub;
		he.he_rz = rz;
		struct buf in = { 0 };
		int64_t t0 = time_mono_ns();
		he_input_write(&key->pub, rz, "", x, 30, 1, 40, &in);
		double enc_ms = (double)(time_mono_ns() - t0) / 1e6;
		char *json;
		if (asprintf(&json, "{\"workload_id\": 7, \"mode\": \"MODE_HOMOMORPHIC\", "
				    "\"wait\": %s, \"input\": %s}",
			     opt.watch ? "false" : "true", buf_cstr(&in)) < 0)
			json = NULL;
		grpc_slice_unref(b2b.fixed);
		rc |= !json || body_slice(json, &b2b.fixed) < 0;
		free(json);
		buf_free(&in);
		struct load_result rp = { 0 }, rh = { 0 }, rb = { 0 };
		if (!rc) {
			rc |= run_serial(&cl, &plain, &kp, opt.he_n, &rp) < 0;
			rc |= run_serial(&cl, &he, &kh, opt.he_n, &rh) < 0;
			rc |= run_serial(&cl, &b2b, &kb, opt.he_n, &rb) < 0;
		}
		double dec_ms = 0, *vals = NULL;
		size_t nv = 0;
		uint64_t count;
		unsigned scale;
		char err[128];
		t0 = time_mono_ns();
		if (!rc && he_output_decrypt(key, he.last_out.data, he.last_out.len, &vals, &nv, &count,
					     &scale, err, sizeof err) < 0) {
			fprintf(stderr, "homomorphic output: %s\n", err);
			rc = 1;
		}
		dec_ms = (double)(time_mono_ns() - t0) / 1e6;
		free(vals);
		/* The homomorphic latency leaves the client's encryption out. */
		double tp = load_pct_ms(&rp, 0.5), th = job_only_p50(&he, 3), tb = load_pct_ms(&rb, 0.5);
		if (!rc && tp > 0) {
			ratios[runs] = th / tp;
			b2b_ratios[runs] = tb / tp;
			encs[runs] = enc_ms;
			runs++;
			printf("%-4d %10.3f %14.3f %8.2f %16.3f %8.2f %14.1f %14.2f\n", run + 1, tp, th,
			       th / tp, tb, tb / tp, enc_ms, dec_ms);
			fflush(stdout);
		}
		load_result_free(&rp);
		load_result_free(&rh);
		load_result_free(&rb);
		he.he_pub = NULL;
		he.he_rz = NULL;
		paillier_rand_free(rz);
		paillier_priv_free(key);
	}
	if (runs) {
		double med = median(ratios, runs), b2b_med = median(b2b_ratios, runs);
		printf("homomorphic/plain over %d runs: median %.2f, min %.2f, max %.2f; back to back: "
		       "median %.2f, min %.2f, max %.2f\n",
		       runs, med, ratios[0], ratios[runs - 1], b2b_med, b2b_ratios[0],
		       b2b_ratios[runs - 1]);
		fig("he.ratio_median", med);
		fig("he.ratio_min", ratios[0]);
		fig("he.ratio_max", ratios[runs - 1]);
		fig("he.b2b_ratio_median", b2b_med);
		fig("he.b2b_ratio_min", b2b_ratios[0]);
		fig("he.b2b_ratio_max", b2b_ratios[runs - 1]);
		fig("he.runs", runs);
		fig("he.bits", bits);
		fig("he.client_enc_ms_median", median(encs, runs));
	}
	free(ratios);
	free(b2b_ratios);
	free(encs);
	jobs_fini(&plain);
	jobs_fini(&he);
	jobs_fini(&b2b);
	cluster_stop(&cl);
	flush_figs();
	return rc;
}

/* ---- section: restart recovery ---- */

static long recovered_count(const char *log)
{
	uint8_t *data;
	size_t len;
	long n = -1;
	if (fs_read_file(log, 64 << 20, &data, &len) < 0)
		return -1;
	/* The last restart's line. */
	const char *p = (const char *)data, *hit = NULL;
	while ((p = strstr(p, "recovered ")))
		hit = p++;
	if (hit)
		sscanf(hit, "recovered %ld", &n);
	free(data);
	return n;
}

/* kill -9 the coordinator and start it again on the same store under
 * the measured setting; times spawn -> port open -> first GetStats. */
static int crash_restart(struct cluster *cl, double *ret_port_s, double *ret_serving_s)
{
	int st;
	const int64_t limit = 900 * (int64_t)1000000000;
	h_stop(&cl->coord, SIGKILL, 5000, &st);
	rpc_client_free(cl->client);
	cl->client = NULL;
	cl->store_synchronous = opt.sync;
	int64_t t0 = time_mono_ns();
	int e = cluster_start_coordinator(cl);
	/* That waits 10 s for the port; recovery may take longer. */
	while (e == -ETIMEDOUT && h_alive(&cl->coord) && access(cl->coord.portfile, R_OK) != 0 &&
	       time_mono_ns() - t0 < limit)
		time_sleep_ms(20);
	if (e == -ETIMEDOUT && access(cl->coord.portfile, R_OK) == 0)
		e = 0;
	int64_t t_port = time_mono_ns();
	Atoll__V1__Stats *s = NULL;
	while (e == 0 && c_stats(cl, &s) < 0 && time_mono_ns() - t0 < limit)
		time_sleep_ms(10);
	int64_t t1 = time_mono_ns();
	if (e < 0 || !s) {
		fprintf(stderr, "the coordinator did not come back\n");
		cluster_dump_logs(cl);
		return -1;
	}
	protobuf_c_message_free_unpacked(&s->base, NULL);
	*ret_port_s = (double)(t_port - t0) / 1e9;
	*ret_serving_s = (double)(t1 - t0) / 1e9;
	return 0;
}

static int section_recovery(void)
{
	struct cluster cl;
	char limits[256];
	if (start_cluster(&cl, "figures-recovery") < 0)
		return 1;
	snprintf(limits, sizeof limits,
		 "limits: {drain_timeout: 2s, max_active_jobs_per_tenant: %ld, max_queued_jobs: %ld}\n",
		 opt.recovery_jobs + 1000, opt.recovery_jobs + 1000);
	cl.limits_yaml = limits;
	if (add_islands(&cl, 0, 0, NULL) < 0)
		return 1;
	/* The same restart with an empty store: the fixed cost. */
	double port_empty, serving_empty;
	if (crash_restart(&cl, &port_empty, &serving_empty) < 0) {
		cluster_stop(&cl);
		return 1;
	}
	/* Filling the store is not what is measured: it runs under `normal`
	 * (the rows are the same; only the fsyncs differ). */
	h_stop(&cl.coord, SIGTERM, 5000, NULL);
	cl.store_synchronous = "normal";
	rpc_client_free(cl.client);
	cl.client = NULL;
	if (cluster_start_coordinator(&cl) < 0) {
		cluster_stop(&cl);
		return 1;
	}
	struct jobs j;
	struct load_kind k;
	jobs_init(&j, &k);
	j.submit_only = true;
	char *doc = prompt_doc(1024);
	int rc = plain_body_wait(42, doc, false, &j.fixed) < 0; /* no islands: never final */
	free(doc);
	struct load_opts o = { .target = h_target(&cl.coord), .in_flight = 32,
			       .total = opt.recovery_jobs };
	struct load_result r = { 0 };
	int64_t t_fill = time_mono_ns();
	if (!rc)
		rc = run_load(&cl, &j, &k, &o, &r) < 0;
	double fill_s = (double)(time_mono_ns() - t_fill) / 1e9;
	long submitted = r.done;
	load_result_free(&r);
	jobs_fini(&j);
	printf("\n== restart recovery: %ld unfinished (queued) 1 KiB jobs, no islands; the store "
	       "filled under synchronous: normal in %.1f s (%.0f submits/s, 32 in flight), then kill "
	       "-9 and a restart under synchronous: %s\n",
	       submitted, fill_s, fill_s > 0 ? (double)submitted / fill_s : 0, opt.sync);
	double port_s, serving_s;
	if (rc || crash_restart(&cl, &port_s, &serving_s) < 0) {
		cluster_stop(&cl);
		return 1;
	}
	long recovered = recovered_count(cl.coord.log);
	double per_job_ms = submitted ? (serving_s - serving_empty) * 1e3 / (double)submitted : 0;
	printf("%-22s %14s %22s\n", "restart", "port open s", "first GetStats s");
	printf("%-22s %14.3f %22.3f\n", "empty store", port_empty, serving_empty);
	printf("%-22s %14.3f %22.3f\n", "with the jobs", port_s, serving_s);
	printf("the log says %ld job(s) recovered; %.3f ms per job over the empty restart; at that "
	       "rate 100,000 jobs would take %.0f s\n",
	       recovered, per_job_ms, serving_empty + per_job_ms * 100);
	fig("recovery.jobs", (double)submitted);
	fig("recovery.recovered", (double)recovered);
	fig("recovery.serving_s", serving_s);
	fig("recovery.empty_serving_s", serving_empty);
	fig("recovery.per_job_ms", per_job_ms);
	fig("recovery.fill_per_s", fill_s > 0 ? (double)submitted / fill_s : 0);
	cluster_stop(&cl);
	flush_figs();
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: atoll-bench-figures [--quick] [--watch] [--threads N] [--sync full|normal] [--seconds S]"
			" [--n N] [--runs R]\n"
			"                           [--recovery-jobs N] [jobs|conf|he|recovery ...]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "watch", no_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "sync", required_argument, NULL, 'y' },
		{ "seconds", required_argument, NULL, 's' },
		{ "n", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "recovery-jobs", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	double seconds = 0;
	int n = 0, runs = 0;
	long recovery = 0;
	opt.sync = "full";
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'q': opt.quick = true; break;
		case 'w': opt.watch = true; break;
		case 't': opt.threads = atoi(optarg); break;
		case 'y': opt.sync = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'R': recovery = atol(optarg); break;
		default: usage(); return 2;
		}
	}
	if (strcmp(opt.sync, "full") && strcmp(opt.sync, "normal")) {
		usage();
		return 2;
	}
	opt.seconds = seconds > 0 ? seconds : opt.quick ? 1 : 5;
	opt.warmup = opt.quick ? 0.3 : 1;
	opt.n = n > 0 ? n : opt.quick ? 20 : 200;
	opt.he_n = n > 0 ? n : opt.quick ? 5 : 20;
	opt.runs = runs > 0 ? runs : opt.quick ? 2 : 5;
	opt.recovery_jobs = recovery > 0 ? recovery : opt.quick ? 200 : 5000;
	bool all = optind == argc;
	bool want[4] = { all, all, all, all };
	static const char *const names[] = { "jobs", "conf", "he", "recovery" };
	for (int i = optind; i < argc; i++) {
		int w = 0;
		while (w < 4 && strcmp(argv[i], names[w]))
			w++;
		if (w == 4) {
			usage();
			return 2;
		}
		want[w] = true;
	}
	h_default_env(ATOLL_SOURCE_DIR_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	int rc = 0;
	if (want[0])
		rc |= section_jobs();
	if (want[1])
		rc |= section_conf();
	if (want[2])
		rc |= section_he(3072);
	if (want[3])
		rc |= section_recovery();
	buf_free(&figs);
	grpc_shutdown();
	return rc;
}
