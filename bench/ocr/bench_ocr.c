/* OCR figures (prints them; asserts nothing):
 *
 *   atoll-bench-ocr local [N]   through the backend ABI in this process,
 *                               N runs of each page: CER per condition,
 *                               p50 latency per page, pages/s per core
 *                               (pages over CPU seconds)
 *   atoll-bench-ocr tee [N]     the same OCR job through a real coordinator
 *                               and sim island, plain vs confidential (TEE),
 *                               N back-to-back pairs: p50 of each, and the
 *                               median of the pairs' ratios
 *   atoll-bench-ocr all [N]
 *
 * The pages are rendered into <build>/ocr-corpus/bench from the licence
 * texts in /usr/share/common-licenses (scripts/render-text.sh), as the
 * tests do. Programs and modules are found through ATOLL_BUILD_DIR /
 * ATOLL_MODULE_DIR, or in the build tree this program sits in. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "atoll/v1/confidential.pb-c.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "crypto/hpke.h"
#include "ocrkit.h"
#include "pbjson/pbjson.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

struct cond {
	const char *name, *file, *text, *args;
};

static const struct cond conds[] = {
	{ "clean 300", "clean300.png", "/usr/share/common-licenses/Apache-2.0", "--dpi 300 --skip 20" },
	{ "clean 150", "clean150.png", "/usr/share/common-licenses/GPL-3", "--dpi 150 --skip 200" },
	{ "rotate", "rotate.png", "/usr/share/common-licenses/MPL-2.0",
	  "--dpi 300 --skip 40 --degrade rotate" },
	{ "blur", "blur.png", "/usr/share/common-licenses/MPL-2.0", "--dpi 300 --skip 90 --degrade blur" },
	{ "noise", "noise.png", "/usr/share/common-licenses/LGPL-2.1",
	  "--dpi 300 --skip 60 --degrade noise" },
	{ "jpeg q25", "jpeg.jpg", "/usr/share/common-licenses/LGPL-2.1",
	  "--dpi 300 --skip 120 --degrade jpeg" },
	{ "all four", "all.jpg", "/usr/share/common-licenses/GPL-2", "--dpi 300 --skip 30 --degrade all" },
	{ "pdf 3 pages", "pdf3.pdf", "/usr/share/common-licenses/Apache-2.0", "--pdf --pages 3 --skip 60" },
};

static char dir[1100];

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double median_ms(int64_t *ns, size_t n)
{
	qsort(ns, n, sizeof *ns, cmp64);
	return n ? (double)ns[n / 2] / 1e6 : 0;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int load_page(const struct cond *c, uint8_t **doc, size_t *len, uint8_t **truth)
{
	char path[1300], stem[64];
	size_t tl;
	snprintf(stem, sizeof stem, "%.*s", (int)strcspn(c->file, "."), c->file);
	if (ocrkit_render(dir, c->args, c->text, stem, c->file) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", dir, c->file);
	if (fs_read_file(path, 64u << 20, doc, len) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s.txt", dir, stem);
	return fs_read_file(path, 1u << 20, truth, &tl);
}

static int bench_local(int n)
{
	struct loaded_backend lb;
	char err[1024];
	atoll_kv kv = { "model", ocrkit_model("eng") };
	void *ctx;
	atoll_err e;
	if (ocrkit_load(&lb, err, sizeof err) < 0 || ocrkit_init(&lb, &kv, 1, &ctx, &e) != ATOLL_OK) {
		fprintf(stderr, "cannot load the ocr backend: %s%s\n", err, e.msg);
		return 1;
	}
	printf("ocr backend in process, one thread, %d run(s) per document\n", n);
	printf("%-12s %6s %7s %14s %14s\n", "condition", "pages", "CER %", "p50 ms/page", "pages/s/core");
	size_t all_pages = 0;
	int64_t all_cpu = 0;
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		uint8_t *doc = NULL, *truth = NULL;
		size_t len = 0, pages = 0;
		if (load_page(&conds[i], &doc, &len, &truth) < 0) {
			fprintf(stderr, "cannot render %s\n", conds[i].name);
			return 1;
		}
		int64_t *lat = calloc((size_t)n, sizeof *lat), cpu = 0;
		double cer = 1;
		for (int k = 0; k < n; k++) {
			struct ocr_sink s = { 0 };
			int64_t t0 = time_mono_ns(), c0 = cpu_ns();
			int r = ocrkit_run(&lb, ctx, ATOLL_MODE_PLAIN, doc, len, &s, &e);
			cpu += cpu_ns() - c0;
			lat[k] = time_mono_ns() - t0;
			if (r != ATOLL_OK) {
				fprintf(stderr, "%s: %s\n", conds[i].name, e.msg);
				return 1;
			}
			char *text = ocrkit_texts(&s.out, &pages);
			cer = text ? ocrkit_cer((const char *)truth, text) : 1;
			free(text);
			ocrkit_sink_free(&s);
		}
		for (int k = 0; k < n; k++)
			lat[k] /= (int64_t)(pages ? pages : 1);
		printf("%-12s %6zu %7.2f %14.0f %14.2f\n", conds[i].name, pages, cer * 100,
		       median_ms(lat, (size_t)n), (double)(pages * (size_t)n) / ((double)cpu / 1e9));
		fflush(stdout);
		all_pages += pages * (size_t)n;
		all_cpu += cpu;
		free(lat);
		free(doc);
		free(truth);
	}
	printf("all: %.2f pages/s per core\n", (double)all_pages / ((double)all_cpu / 1e9));
	lb.b->fini(ctx);
	plugin_unload_backend(&lb);
	return 0;
}

/* Submit a body and wait on WatchJob for its final state: microseconds
 * from submit to completion, or -1. */
static int64_t timed_job(struct cluster *cl, const char *body)
{
	ProtobufCMessage *req;
	char err[256];
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body, strlen(body), 0, &req, err,
			sizeof err) < 0) {
		fprintf(stderr, "body: %s\n", err);
		return -1;
	}
	struct rpc_md md = { "authorization", "Bearer ak_demo" };
	struct rpc_status st;
	Atoll__V1__Job *j = NULL;
	int64_t t0 = time_mono_ns(), lat = -1;
	rpc_unary(cluster_client(cl), "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor,
		  &md, 1, 30000, (ProtobufCMessage **)&j, &st);
	protobuf_c_message_free_unpacked(req, NULL);
	if (!j || st.code != GRPC_STATUS_OK) {
		fprintf(stderr, "submit: %s\n", st.message);
		return -1;
	}
	Atoll__V1__WatchJobRequest wr = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	wr.job_id = j->id;
	rpc_stream *s;
	if (rpc_stream_open(cluster_client(cl), "/atoll.v1.Jobs/WatchJob", &wr.base, &md, 1, 120000,
			    false, &s) == 0) {
		Atoll__V1__JobEvent *ev;
		while (rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev) ==
		       1) {
			if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB &&
			    ev->job->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
				if (ev->job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
					lat = (time_mono_ns() - t0) / 1000;
				else
					fprintf(stderr, "job failed: %s\n", ev->job->error);
			}
			protobuf_c_message_free_unpacked(&ev->base, NULL);
		}
		rpc_stream_finish(s, &st);
	}
	protobuf_c_message_free_unpacked(&j->base, NULL);
	return lat;
}

/* n pairs of jobs, plain then confidential back to back, after one
 * warm-up pair: the p50 of each and the median of the pairs' ratios, which
 * a shared machine's drifting load disturbs least. */
static int paired_jobs(struct cluster *cl, const char *plain, const char *sealed, int n,
		       double *ret_plain, double *ret_tee, double *ret_ratio)
{
	int64_t *p = calloc((size_t)n, sizeof *p), *t = calloc((size_t)n, sizeof *t);
	int64_t *ratio = calloc((size_t)n, sizeof *ratio);
	size_t k = 0;
	for (int i = 0; i < n + 1; i++) {
		int64_t a = timed_job(cl, plain), b = timed_job(cl, sealed);
		if (i == 0 || a <= 0 || b <= 0)
			continue;
		p[k] = a * 1000;
		t[k] = b * 1000;
		ratio[k] = b * 1000000 / a; /* parts per million */
		k++;
	}
	*ret_plain = median_ms(p, k);
	*ret_tee = median_ms(t, k);
	*ret_ratio = median_ms(ratio, k); /* ppm / 1e6 */
	free(p);
	free(t);
	free(ratio);
	return k ? 0 : -1;
}

static int bench_tee(int n)
{
	struct cluster cl;
	char backends[600], wl[900];
	if (cluster_init(&cl, "bench-ocr") < 0)
		return 1;
	snprintf(backends, sizeof backends, ", {name: ocr, path: %s/ocr.so}", h_module_dir());
	snprintf(wl, sizeof wl, "    - {id: 9, backend: ocr, models: [%s], modes: [plain, tee]}\n",
		 ocrkit_model("eng"));
	cl.extra_backends_yaml = backends;
	cl.workloads_yaml = "workloads:\n"
			    "  - {id: 9, name: ocr, backend: ocr, modes: [plain, tee], price_per_second: 0.5}\n";
	if (cluster_start_coordinator(&cl) < 0 || cluster_add_island(&cl, "o1", 1, wl, NULL, NULL) < 0 ||
	    cluster_wait(&cl, 1, 1, 30000) < 0) {
		fprintf(stderr, "the cluster did not start\n");
		cluster_dump_logs(&cl);
		return 1;
	}
	/* The enclave's key, a client key registered with the coordinator. */
	Atoll__V1__ListAttestedIslandsRequest lr = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	Atoll__V1__ListAttestedIslandsResponse *islands = NULL;
	struct rpc_status st;
	c_call(&cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &lr.base,
	       &atoll__v1__list_attested_islands_response__descriptor, (ProtobufCMessage **)&islands, &st);
	uint8_t enclave[32], cpriv[32], cpub[32];
	if (!islands || !islands->n_islands || islands->islands[0]->enclave_public_key.len != 32)
		return 1;
	memcpy(enclave, islands->islands[0]->enclave_public_key.data, 32);
	protobuf_c_message_free_unpacked(&islands->base, NULL);
	x25519_keygen(cpriv, cpub);
	Atoll__V1__CreateKeyRequest kr = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	kr.public_key.data = cpub;
	kr.public_key.len = 32;
	Atoll__V1__Key *key = NULL;
	c_call(&cl, "ak_demo", "/atoll.v1.Confidential/CreateKey", &kr.base, &atoll__v1__key__descriptor,
	       (ProtobufCMessage **)&key, &st);
	if (!key)
		return 1;

	printf("plain vs confidential (TEE, sim) OCR jobs through a coordinator and one island,"
	       " %d pairs\n", n);
	printf("%-12s %10s %10s %8s\n", "document", "plain p50", "tee p50", "p50 of tee/plain");
	int pick[] = { 1, 0 };
	for (size_t p = 0; p < 2; p++) {
		const struct cond *c = &conds[pick[p]];
		uint8_t *doc = NULL, *truth = NULL;
		size_t len = 0;
		if (load_page(c, &doc, &len, &truth) < 0)
			return 1;
		struct buf in = { 0 }, env = { 0 };
		ocrkit_json_input(doc, len, NULL, &in);
		char *plain = NULL, *sealed = NULL;
		if (asprintf(&plain, "{\"workload_id\": 9, \"input\": %s}", buf_cstr(&in)) < 0)
			return 1;
		if (env_seal_input(HPKE_AEAD_AES_256_GCM, 9, cpub, (const uint8_t(*)[32])enclave, 1,
				   in.data, in.len, &env) != ENV_OK)
			return 1;
		char *b64 = malloc(enc_base64_size(env.len));
		enc_base64_encode(env.data, env.len, b64);
		if (asprintf(&sealed,
			     "{\"workload_id\": 9, \"confidential\": true, \"encryption_key_id\": \"%s\","
			     " \"input\": {\"encrypted\": true, \"ciphertext\": \"%s\"}}",
			     key->key_id, b64) < 0)
			return 1;
		double pm, tm, ratio;
		if (paired_jobs(&cl, plain, sealed, n, &pm, &tm, &ratio) < 0)
			return 1;
		printf("%-12s %10.1f %10.1f %8.3f\n", c->name, pm, tm, ratio);
		fflush(stdout);
		free(b64);
		free(plain);
		free(sealed);
		buf_free(&in);
		buf_free(&env);
		free(doc);
		free(truth);
	}
	protobuf_c_message_free_unpacked(&key->base, NULL);
	cluster_stop(&cl);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s local|tee|all [N]\n", argv[0]);
		return 2;
	}
	h_default_env(OCRKIT_SOURCE_DIR);
	signal(SIGPIPE, SIG_IGN);
	mkdir(ocrkit_corpus_dir(), 0755);
	snprintf(dir, sizeof dir, "%s/bench", ocrkit_corpus_dir());
	int n = argc > 2 ? atoi(argv[2]) : 0, rc = 0;
	bool all = strcmp(argv[1], "all") == 0;
	if (all || !strcmp(argv[1], "local"))
		rc |= bench_local(n > 0 ? n : 3);
	if (all || !strcmp(argv[1], "tee")) {
		grpc_init();
		rc |= bench_tee(n > 0 ? n : 10);
		grpc_shutdown();
	}
	return rc;
}
