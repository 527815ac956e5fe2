/* Counters and histograms in fixed arrays of atomics, and their rendering
 * as Prometheus text. Label values are indexes into the tables below. */
#include "metrics.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define N_MODES 4  /* 1..3 */
#define N_STATES 7 /* 1..6 */

static const char *const MODES[N_MODES] = { "unspecified", "plain", "tee", "homomorphic" };
static const char *const STATES[N_STATES] = { "unspecified", "pending", "queued", "running",
					      "completed", "failed", "cancelled" };
static const char *const ISLAND_STATES[4] = { "unspecified", "unattested", "attested",
					      "revoked" };

/* Job latency: submission to final state, in seconds. */
static const double JOB_BUCKETS[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
				      60, 300, 1800 };
#define N_JOB_BUCKETS (sizeof JOB_BUCKETS / sizeof JOB_BUCKETS[0])
/* Store commits, in seconds. */
static const double COMMIT_BUCKETS[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05, 0.1, 0.25, 1 };
#define N_COMMIT_BUCKETS (sizeof COMMIT_BUCKETS / sizeof COMMIT_BUCKETS[0])

static const char *const REASONS[] = { "pass",     "challenge", "mismatch",    "identity", "format",
				       "signature", "chain",     "expired",     "tcb",
				       "binding",  "policy",    "manifest",    "config",
				       "unsupported", "unavailable", "error",  "other" };
#define N_REASONS (sizeof REASONS / sizeof REASONS[0])

/* The methods the coordinator serves; anything else is "other". */
static const char *const METHODS[] = {
	"/atoll.v1.Jobs/SubmitJob",
	"/atoll.v1.Jobs/GetJob",
	"/atoll.v1.Jobs/ListJobs",
	"/atoll.v1.Jobs/WatchJob",
	"/atoll.v1.Jobs/CancelJob",
	"/atoll.v1.Jobs/GetUsage",
	"/atoll.v1.Confidential/CreateKey",
	"/atoll.v1.Confidential/Encrypt",
	"/atoll.v1.Confidential/Decrypt",
	"/atoll.v1.Confidential/GetStats",
	"/atoll.v1.Confidential/ListAttestedIslands",
	"/atoll.v1.Islands/Connect",
	"/grpc.health.v1.Health/Check",
	"/grpc.health.v1.Health/Watch",
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	"other",
};
#define N_METHODS (sizeof METHODS / sizeof METHODS[0])
#define N_CODES 17
static const char *const CODES[N_CODES] = {
	"OK",	     "CANCELLED",	  "UNKNOWN",	     "INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL",	  "UNAVAILABLE",     "DATA_LOSS",
	"UNAUTHENTICATED",
};

static const char *const ROUTES[] = { "jobs",  "job",   "job_events", "job_cancel", "keys",
				      "encrypt", "decrypt", "stats",    "islands",    "usage",
				      "healthz", "readyz", "metrics",  "unknown" };
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])
/* HTTP statuses by class: 2xx, 3xx, 4xx, 5xx (exact codes are in logs). */
static const unsigned HTTP_STATUSES[] = { 200, 400, 401, 403, 404, 405, 409, 412, 413,
					  429, 499, 500, 501, 503, 504, 0 };
#define N_HTTP (sizeof HTTP_STATUSES / sizeof HTTP_STATUSES[0])

struct histo {
	atomic_uint_fast64_t buckets[16]; /* cumulative at render time */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

static struct {
	atomic_uint_fast64_t submitted[N_MODES];
	atomic_uint_fast64_t finished[N_MODES][N_STATES];
	struct histo job_latency[N_MODES];
	atomic_uint_fast64_t attest[2][N_REASONS];
	struct histo commit;
	atomic_uint_fast64_t rpc[N_METHODS][N_CODES];
	atomic_uint_fast64_t http[N_ROUTES][N_HTTP];
} M;

static void inc(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void observe(struct histo *h, const double *bounds, size_t n, int64_t us)
{
	if (us < 0)
		us = 0;
	double s = (double)us / 1e6;
	for (size_t i = 0; i < n; i++)
		if (s <= bounds[i]) {
			inc(&h->buckets[i]);
			break;
		}
	inc(&h->count);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

void metrics_job_submitted(unsigned mode)
{
	if (mode < N_MODES)
		inc(&M.submitted[mode]);
}

void metrics_job_final(unsigned mode, int state, int64_t ms)
{
	if (mode >= N_MODES || state < 0 || state >= N_STATES)
		return;
	inc(&M.finished[mode][state]);
	observe(&M.job_latency[mode], JOB_BUCKETS, N_JOB_BUCKETS, ms * 1000);
}

void metrics_attestation(bool accepted, const char *reason)
{
	size_t i = N_REASONS - 1;
	for (size_t k = 0; reason && k < N_REASONS; k++)
		if (strcmp(reason, REASONS[k]) == 0)
			i = k;
	inc(&M.attest[accepted][accepted ? 0 : i]);
}

void metrics_store_commit(int64_t us)
{
	observe(&M.commit, COMMIT_BUCKETS, N_COMMIT_BUCKETS, us);
}

void metrics_rpc(const char *method, int code)
{
	size_t i = N_METHODS - 1;
	for (size_t k = 0; method && k + 1 < N_METHODS; k++)
		if (strcmp(method, METHODS[k]) == 0)
			i = k;
	if (code >= 0 && code < N_CODES)
		inc(&M.rpc[i][code]);
}

void metrics_http(const char *route, unsigned status)
{
	size_t i = N_ROUTES - 1, s = N_HTTP - 1;
	for (size_t k = 0; route && k < N_ROUTES; k++)
		if (strcmp(route, ROUTES[k]) == 0)
			i = k;
	for (size_t k = 0; k + 1 < N_HTTP; k++)
		if (HTTP_STATUSES[k] == status)
			s = k;
	inc(&M.http[i][s]);
}

static void help(struct buf *o, const char *name, const char *type, const char *text)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void histo_render(struct buf *o, const char *name, const char *labels,
			 struct histo *h, const double *bounds, size_t n)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";
	for (size_t i = 0; i < n; i++) {
		cum += get(&h->buckets[i]);
		buf_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
			   (unsigned long long)cum);
	}
	uint64_t count = get(&h->count);
	buf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		   (unsigned long long)count);
	if (labels[0]) {
		buf_printf(o, "%s_sum{%s} %.6f\n", name, labels, (double)get(&h->sum_us) / 1e6);
		buf_printf(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
	} else {
		buf_printf(o, "%s_sum %.6f\n", name, (double)get(&h->sum_us) / 1e6);
		buf_printf(o, "%s_count %llu\n", name, (unsigned long long)count);
	}
}

/* Label values come from fixed tables or TEE driver names, which the
 * config checks; escape anyway so the output always parses. */
static void label_value(struct buf *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(o, '\\');
		if (*v == '\n') {
			buf_puts(o, "\\n");
			continue;
		}
		buf_putc(o, *v);
	}
}

int metrics_render(const struct metrics_gauges *g, struct buf *o)
{
	help(o, "atoll_jobs_submitted_total", "counter", "Jobs accepted by SubmitJob.");
	for (unsigned m = 1; m < N_MODES; m++)
		buf_printf(o, "atoll_jobs_submitted_total{mode=\"%s\"} %llu\n", MODES[m],
			   (unsigned long long)get(&M.submitted[m]));
	help(o, "atoll_jobs_finished_total", "counter", "Jobs that reached a final state.");
	for (unsigned m = 1; m < N_MODES; m++)
		for (int s = 4; s < N_STATES; s++)
			buf_printf(o, "atoll_jobs_finished_total{mode=\"%s\",state=\"%s\"} %llu\n",
				   MODES[m], STATES[s], (unsigned long long)get(&M.finished[m][s]));
	help(o, "atoll_jobs", "gauge", "Active jobs by mode and state.");
	for (unsigned m = 1; m < N_MODES; m++)
		for (int s = 1; s < 4; s++)
			buf_printf(o, "atoll_jobs{mode=\"%s\",state=\"%s\"} %u\n", MODES[m],
				   STATES[s], g->jobs[m][s]);
	help(o, "atoll_job_duration_seconds", "histogram",
	     "Time from submission to the final state, by mode.");
	for (unsigned m = 1; m < N_MODES; m++) {
		char labels[32];
		snprintf(labels, sizeof labels, "mode=\"%s\"", MODES[m]);
		histo_render(o, "atoll_job_duration_seconds", labels, &M.job_latency[m],
			     JOB_BUCKETS, N_JOB_BUCKETS);
	}
	help(o, "atoll_queue_depth", "gauge", "Jobs waiting for an island.");
	buf_printf(o, "atoll_queue_depth %u\n", g->queue_depth);
	help(o, "atoll_watchers", "gauge", "Open job watches (WatchJob and SSE).");
	buf_printf(o, "atoll_watchers %u\n", g->watchers);
	help(o, "atoll_islands", "gauge", "Connected islands by attestation state and TEE type.");
	for (size_t i = 0; i < g->n_islands; i++)
		for (int s = 1; s < 4; s++) {
			buf_printf(o, "atoll_islands{state=\"%s\",tee=\"", ISLAND_STATES[s]);
			label_value(o, g->islands[i].tee[0] ? g->islands[i].tee : "none");
			buf_printf(o, "\"} %u\n", g->islands[i].by_state[s]);
		}
	help(o, "atoll_limit_hits_total", "counter", "Refusals by a limit of coordinator.yaml.");
	for (size_t i = 0; i < g->n_limits; i++) {
		buf_puts(o, "atoll_limit_hits_total{limit=\"");
		label_value(o, g->limits[i].what ? g->limits[i].what : "?");
		buf_printf(o, "\"} %llu\n", (unsigned long long)g->limits[i].n);
	}
	help(o, "atoll_attestations_total", "counter",
	     "Attestation verdicts, by verdict and reason class.");
	buf_printf(o, "atoll_attestations_total{verdict=\"accepted\",reason=\"pass\"} %llu\n",
		   (unsigned long long)get(&M.attest[1][0]));
	for (size_t r = 1; r < N_REASONS; r++)
		buf_printf(o, "atoll_attestations_total{verdict=\"refused\",reason=\"%s\"} %llu\n",
			   REASONS[r], (unsigned long long)get(&M.attest[0][r]));
	help(o, "atoll_store_commit_seconds", "histogram", "Job store transaction commits.");
	histo_render(o, "atoll_store_commit_seconds", "", &M.commit, COMMIT_BUCKETS,
		     N_COMMIT_BUCKETS);
	help(o, "atoll_rpc_requests_total", "counter", "gRPC calls by method and status code.");
	for (size_t m = 0; m < N_METHODS; m++)
		for (int c = 0; c < N_CODES; c++) {
			uint64_t v = get(&M.rpc[m][c]);
			/* Only pairs that happened: most never do. */
			if (v || (c == 0 && m + 1 < N_METHODS))
				buf_printf(o, "atoll_rpc_requests_total{method=\"%s\",code=\"%s\"} "
					      "%llu\n",
					   METHODS[m], CODES[c], (unsigned long long)v);
		}
	help(o, "atoll_http_requests_total", "counter",
	     "HTTP gateway requests by route and status.");
	for (size_t r = 0; r < N_ROUTES; r++)
		for (size_t s = 0; s < N_HTTP; s++) {
			uint64_t v = get(&M.http[r][s]);
			if (!v && s)
				continue;
			if (HTTP_STATUSES[s])
				buf_printf(o, "atoll_http_requests_total{route=\"%s\",status=\"%u\"} "
					      "%llu\n",
					   ROUTES[r], HTTP_STATUSES[s], (unsigned long long)v);
			else
				buf_printf(o, "atoll_http_requests_total{route=\"%s\",status=\"other\"} "
					      "%llu\n",
					   ROUTES[r], (unsigned long long)v);
		}
	return buf_cstr(o) ? 0 : -ENOMEM;
}
