/* server/metrics: the exposition text has one HELP and TYPE per family,
 * counters move with the calls that bump them, histograms are cumulative
 * with +Inf equal to the count, and labels stay in their closed sets
 * (an unknown method or reason is counted as "other"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static double value(const char *text, const char *series)
{
	char pat[512];
	snprintf(pat, sizeof pat, "\n%s ", series);
	const char *p = strstr(text, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

int main(void)
{
	struct metrics_gauges g = { 0 };
	g.jobs[2][2] = 3;
	g.queue_depth = 3;
	snprintf(g.islands[0].tee, sizeof g.islands[0].tee, "sim");
	g.islands[0].by_state[2] = 1;
	g.n_islands = 1;
	g.limits[0].what = "max_watches_per_tenant";
	g.limits[0].n = 4;
	g.n_limits = 1;
	struct buf a = { 0 }, b = { 0 };
	CHECK_INT(metrics_render(&g, &a), 0);
	metrics_job_submitted(2);
	metrics_job_final(2, 4, 1500);
	metrics_job_final(2, 4, 20);
	metrics_job_final(9, 4, 20); /* out of range: ignored */
	metrics_attestation(true, "pass");
	metrics_attestation(false, "tcb");
	metrics_attestation(false, "made-up class");
	metrics_store_commit(300);
	metrics_rpc("/atoll.v1.Jobs/SubmitJob", 0);
	metrics_rpc("/evil.Service/{\"}", 3);
	metrics_http("jobs", 413);
	metrics_http("nonsense", 218);
	CHECK_INT(metrics_render(&g, &b), 0);
	const char *t0 = (const char *)a.data, *t = (const char *)b.data;

	CHECK(value(t, "atoll_jobs_submitted_total{mode=\"tee\"}") ==
	      value(t0, "atoll_jobs_submitted_total{mode=\"tee\"}") + 1);
	CHECK(value(t, "atoll_jobs_finished_total{mode=\"tee\",state=\"completed\"}") ==
	      value(t0, "atoll_jobs_finished_total{mode=\"tee\",state=\"completed\"}") + 2);
	CHECK(value(t, "atoll_jobs{mode=\"tee\",state=\"queued\"}") == 3);
	CHECK(value(t, "atoll_queue_depth") == 3);
	CHECK(value(t, "atoll_islands{state=\"attested\",tee=\"sim\"}") == 1);
	CHECK(value(t, "atoll_limit_hits_total{limit=\"max_watches_per_tenant\"}") == 4);
	/* 20 ms and 1.5 s: one at or below 0.025, both at or below 2.5. */
	CHECK(value(t, "atoll_job_duration_seconds_bucket{mode=\"tee\",le=\"0.025\"}") == 1);
	CHECK(value(t, "atoll_job_duration_seconds_bucket{mode=\"tee\",le=\"2.5\"}") == 2);
	CHECK(value(t, "atoll_job_duration_seconds_bucket{mode=\"tee\",le=\"+Inf\"}") == 2);
	CHECK(value(t, "atoll_job_duration_seconds_count{mode=\"tee\"}") == 2);
	CHECK(value(t, "atoll_job_duration_seconds_sum{mode=\"tee\"}") > 1.519 &&
	      value(t, "atoll_job_duration_seconds_sum{mode=\"tee\"}") < 1.521);
	CHECK(value(t, "atoll_attestations_total{verdict=\"refused\",reason=\"tcb\"}") == 1);
	CHECK(value(t, "atoll_attestations_total{verdict=\"refused\",reason=\"other\"}") == 1);
	CHECK(value(t, "atoll_attestations_total{verdict=\"accepted\",reason=\"pass\"}") == 1);
	CHECK(value(t, "atoll_store_commit_seconds_bucket{le=\"0.0005\"}") == 1);
	CHECK(value(t, "atoll_rpc_requests_total{method=\"/atoll.v1.Jobs/SubmitJob\",code=\"OK\"}") ==
	      1);
	CHECK(value(t, "atoll_rpc_requests_total{method=\"other\",code=\"INVALID_ARGUMENT\"}") == 1);
	CHECK(strstr(t, "evil") == NULL);
	CHECK(value(t, "atoll_http_requests_total{route=\"jobs\",status=\"413\"}") == 1);
	CHECK(value(t, "atoll_http_requests_total{route=\"unknown\",status=\"other\"}") == 1);
	/* One HELP and one TYPE per family. */
	CHECK(strstr(t, "# TYPE atoll_job_duration_seconds histogram\n") != NULL);
	const char *p = strstr(t, "# TYPE atoll_jobs gauge");
	CHECK(p && !strstr(p + 1, "# TYPE atoll_jobs gauge"));
	CHECK(b.len && t[b.len - 1] == '\n');
	buf_free(&a);
	buf_free(&b);
	CHECK_DONE();
}
