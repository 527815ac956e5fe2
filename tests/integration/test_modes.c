/* One real model in all three modes: the breast-cancer classifier answers
 * the same in plain, TEE (sim) and homomorphic (Paillier) mode, on real
 * records, through real processes and atollctl; homomorphic aggregation of
 * 1,000 encrypted values equals the plain sum exactly; bad inputs fail the
 * job with a precise error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define RECORDS 8

static char workloads[1024], island_wl[2048], extra[1024];

static void configure(struct cluster *cl)
{
	snprintf(workloads, sizeof workloads,
		 "workloads:\n"
		 "  - {id: 7, name: breast-cancer, backend: linear, modes: [plain, tee, homomorphic],"
		 " price_per_second: 0.01}\n"
		 "  - {id: 9, name: sum, backend: paillier, modes: [homomorphic]}\n");
	const char *model = h_build_path("models/breast_cancer_logistic.model");
	snprintf(island_wl, sizeof island_wl,
		 "    - {id: 7, backend: linear, model: %s, modes: [plain, tee]}\n"
		 "    - {id: 7, backend: paillier, model: %s, modes: [homomorphic],"
		 " options: {op: classify}}\n"
		 "    - {id: 9, backend: paillier, modes: [homomorphic], options: {op: aggregate}}\n",
		 model, model);
	snprintf(extra, sizeof extra, ", {name: linear, path: %s/linear.so}, {name: paillier, path: %s/paillier.so}",
		 h_module_dir(), h_module_dir());
	cl->workloads_yaml = workloads;
	cl->extra_backends_yaml = extra;
}

/* The first n records of the dataset as JSON feature lists. */
static int load_records(char rows[][1024], int n)
{
	char path[1024];
	const char *src = getenv("ATOLL_SOURCE_DIR");
	snprintf(path, sizeof path, "%s/data/breast_cancer.csv", src ? src : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4096];
	if (!fgets(line, sizeof line, f)) { /* header */
		fclose(f);
		return -1;
	}
	for (int i = 0; i < n && fgets(line, sizeof line, f); i++) {
		char *last = strrchr(line, ',');
		if (last)
			*last = 0; /* drop the class column */
		snprintf(rows[i], 1024, "{\"features\": [%.1000s]}", line);
	}
	fclose(f);
	return 0;
}

static bool answer(const char *text, char *label, size_t size, double *prob)
{
	const char *l = strstr(text, "\"label\":\"");
	const char *p = strstr(text, "\"probability\":");
	if (!l || !p) {
		fprintf(stderr, "no answer in: %s\n", text);
		return false;
	}
	l += 9;
	snprintf(label, size, "%.*s", (int)strcspn(l, "\""), l);
	*prob = atof(p + 14);
	return true;
}

static void test_three_modes(struct cluster *cl)
{
	char rows[RECORDS][1024];
	CHECK_INT(load_records(rows, RECORDS), 0);
	char out[1 << 16], key[64] = "";
	const char *mk[] = { "keys", "create", "--type", "paillier", "--bits", "2048", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, mk), 0);
	const char *k = strstr(out, "\"key_id\":\"");
	if (k)
		snprintf(key, sizeof key, "%.*s", (int)strcspn(k + 10, "\""), k + 10);
	CHECK(key[0] != 0);
	for (int i = 0; i < RECORDS; i++) {
		char plain_label[32] = "", tee_label[32] = "", he_label[32] = "";
		double plain_p = -1, tee_p = -2, he_p = -3;
		const char *pa[] = { "run", "--workload", "7", rows[i], NULL };
		CHECK_INT(c_atollctl(cl, out, sizeof out, pa), 0);
		CHECK(answer(out, plain_label, sizeof plain_label, &plain_p));
		const char *ta[] = { "run", "--workload", "7", "--confidential", "--policy",
				     "client-policy.yaml", rows[i], NULL };
		CHECK_INT(c_atollctl(cl, out, sizeof out, ta), 0);
		CHECK(answer(out, tee_label, sizeof tee_label, &tee_p));
		const char *ha[] = { "run", "--workload", "7", "--he", "--key-id", key, "--classes",
				     "malignant,benign", rows[i], NULL };
		CHECK_INT(c_atollctl(cl, out, sizeof out, ha), 0);
		CHECK(answer(out, he_label, sizeof he_label, &he_p));
		CHECK_STR(tee_label, plain_label);
		CHECK_STR(he_label, plain_label);
		CHECK(tee_p == plain_p);
		CHECK(fabs(he_p - plain_p) < 1e-6);
		if (i == 0)
			fprintf(stderr, "record 0: plain %s %.9f, tee %s %.9f, he %s %.9f\n", plain_label,
				plain_p, tee_label, tee_p, he_label, he_p);
	}
}

/* Billing: every job of the classifier, whatever its mode, costs the
 * workload's price times its run time; usage counts the TEE and
 * homomorphic ones as confidential. */
static void test_billing(struct cluster *cl)
{
	Atoll__V1__ListJobsRequest lr = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
	lr.workload_id = 7;
	lr.page_size = 1000;
	Atoll__V1__ListJobsResponse *l = NULL;
	struct rpc_status st;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/ListJobs", &lr.base,
			 &atoll__v1__list_jobs_response__descriptor, (ProtobufCMessage **)&l, &st),
		  0);
	int by_mode[4] = { 0 };
	double sum = 0, confidential_sum = 0;
	for (size_t i = 0; l && i < l->n_jobs; i++) {
		const Atoll__V1__Job *j = l->jobs[i];
		CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		double want = 0.01 * (double)j->duration_ms / 1000.0;
		CHECK(fabs(j->credits_used - want) < 1e-12);
		if ((int)j->mode >= 1 && (int)j->mode <= 3)
			by_mode[j->mode]++;
		if (j->mode != ATOLL__V1__MODE__MODE_PLAIN)
			confidential_sum += j->credits_used;
		sum += j->credits_used;
	}
	CHECK_INT(by_mode[ATOLL__V1__MODE__MODE_PLAIN], RECORDS);
	CHECK_INT(by_mode[ATOLL__V1__MODE__MODE_TEE], RECORDS);
	CHECK_INT(by_mode[ATOLL__V1__MODE__MODE_HOMOMORPHIC], RECORDS);
	/* Run times are whole milliseconds: a job under one costs nothing,
	 * but 16 confidential jobs do not all finish that fast. */
	CHECK(confidential_sum > 0);
	if (l)
		protobuf_c_message_free_unpacked(&l->base, NULL);
	Atoll__V1__GetUsageRequest ur = ATOLL__V1__GET_USAGE_REQUEST__INIT;
	Atoll__V1__Usage *u = NULL;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/GetUsage", &ur.base,
			 &atoll__v1__usage__descriptor, (ProtobufCMessage **)&u, &st),
		  0);
	bool seen = false;
	for (size_t i = 0; u && i < u->n_workloads; i++) {
		if (u->workloads[i]->workload_id != 7)
			continue;
		seen = true;
		CHECK_INT(u->workloads[i]->jobs, 3 * RECORDS);
		CHECK_INT(u->workloads[i]->confidential_jobs, 2 * RECORDS);
		CHECK(fabs(u->workloads[i]->credits_used - sum) < 1e-9);
	}
	CHECK(seen);
	if (u)
		protobuf_c_message_free_unpacked(&u->base, NULL);
}

static void test_aggregate(struct cluster *cl)
{
	/* 1,000 values, one column: integers and halves, so the sum is exact. */
	struct buf doc = { 0 };
	buf_puts(&doc, "{\"features\": [");
	double sum = 0;
	for (int i = 0; i < 1000; i++) {
		double v = (i % 7 - 3) * 12.5 + i;
		sum += v;
		buf_printf(&doc, "%s%.1f", i ? "," : "", v);
	}
	buf_puts(&doc, "]}");
	h_write(cl->dir, "values.json", buf_cstr(&doc), NULL, 0);
	buf_free(&doc);
	char out[1 << 16], key[64] = "";
	const char *mk[] = { "keys", "create", "--type", "paillier", "--bits", "2048", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, mk), 0);
	const char *k = strstr(out, "\"key_id\":\"");
	if (k)
		snprintf(key, sizeof key, "%.*s", (int)strcspn(k + 10, "\""), k + 10);
	const char *ra[] = { "run", "--workload", "9", "--he", "--aggregate", "--records", "1000",
			     "--key-id", key, "@values.json", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, ra), 0);
	char want[128];
	snprintf(want, sizeof want, "{\"count\":1000,\"sums\":[%.17g]", sum);
	if (!strstr(out, want))
		fprintf(stderr, "want %s in %s\n", want, out);
	CHECK(strstr(out, want) != NULL);
}

static void test_bad_inputs(struct cluster *cl)
{
	/* Plain: one feature short. */
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", "{\"workload_id\": 7, \"input\": {\"features\": [1, 2, 3]}}",
			   &j, &st), 0);
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 10000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
		if (f) {
			CHECK(strstr(f->error, "ATOLL_E_FORMAT") != NULL);
			CHECK(strstr(f->error, "30") != NULL); /* says how many it wants */
			protobuf_c_message_free_unpacked(&f->base, NULL);
		}
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	/* Homomorphic: a ciphertext that is not in Z*_{n^2} (zero). */
	char out[1 << 16], key[64] = "";
	const char *mk[] = { "keys", "create", "--type", "paillier", "--bits", "2048", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, mk), 0);
	const char *k = strstr(out, "\"key_id\":\"");
	if (k)
		snprintf(key, sizeof key, "%.*s", (int)strcspn(k + 10, "\""), k + 10);
	const char *pk = strstr(out, "\"public_key\":\"");
	char n_b64[2048] = "";
	if (pk)
		snprintf(n_b64, sizeof n_b64, "%.*s", (int)strcspn(pk + 14, "\""), pk + 14);
	struct buf body = { 0 };
	buf_printf(&body, "{\"workload_id\": 7, \"mode\": \"MODE_HOMOMORPHIC\", \"input\": "
			  "{\"homomorphic\": {\"key_id\": \"%s\", \"public_key\": \"%s\", "
			  "\"scale_bits\": 40, \"ciphertexts\": [", key, n_b64);
	for (int i = 0; i < 30; i++)
		buf_printf(&body, "%s\"AA==\"", i ? "," : "");
	buf_puts(&body, "]}}}");
	CHECK_INT(c_submit(cl, "ak_demo", buf_cstr(&body), &j, &st), 0);
	if (st.code != GRPC_STATUS_OK)
		fprintf(stderr, "submit: %s\n", st.message);
	buf_free(&body);
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 10000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
		if (f) {
			CHECK(strstr(f->error, "not in Z*_{n^2}") != NULL);
			protobuf_c_message_free_unpacked(&f->base, NULL);
		}
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	/* A homomorphic job naming another key than the public key it carries. */
	CHECK_INT(c_submit(cl, "ak_demo",
			   "{\"workload_id\": 7, \"mode\": \"MODE_HOMOMORPHIC\", \"input\": "
			   "{\"homomorphic\": {\"key_id\": \"ck_nobody\", \"ciphertexts\": [\"AQ==\"]}}}",
			   &j, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);
	CHECK_STR(st.message, "unknown key ck_nobody");
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "modes") < 0)
		return 1;
	grpc_init();
	configure(&cl);
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "m1", 2, island_wl, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);
	CHECK_INT(cluster_write_client_policy(&cl, "client-policy.yaml", "m1"), 0);
	if (!check_failures) {
		test_three_modes(&cl);
		test_billing(&cl);
		test_aggregate(&cl);
		test_bad_inputs(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
