/* End-to-end figures on real processes over loopback (a coordinator, sim
 * islands, the echo and classifier backends):
 *
 *   atoll-bench-e2e jobs [--seconds S]      plain jobs/s and p50/p99, 1 KiB
 *                                           inputs, 1 to 4 islands
 *   atoll-bench-e2e confidential [--n N]    plain vs TEE job latency for
 *                                           1 KiB and 64 KiB inputs
 *   atoll-bench-e2e modes [--n N]           the 30-feature classifier in
 *                                           plain, TEE and homomorphic mode
 *   atoll-bench-e2e attest [--n N]          one attestation round
 *   atoll-bench-e2e idle [--islands N]      coordinator memory per idle
 *                                           island stream
 *
 * Latency is submit -> final state seen on a WatchJob stream. Programs and
 * modules are found through ATOLL_BUILD_DIR / ATOLL_MODULE_DIR (the test
 * environment), or next to this program in a build tree. Prints figures;
 * asserts nothing. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "atoll/v1/islands.pb-c.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "he/he.h"
#include "he/paillier.h"
#include "pbjson/pbjson.h"
#include "plugin/plugin.h"
#include "simtool.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct(int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof *v, cmp64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0; /* us -> ms */
}

/* Submit a job body and wait for its final state on WatchJob; returns the
 * latency in microseconds, or -1. */
static int64_t run_job(struct cluster *cl, rpc_client *client, const char *body, char *ret_id,
		       struct buf *ret_output)
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
	int64_t t0 = time_mono_ns();
	rpc_unary(client, "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor, &md, 1, 30000,
		  (ProtobufCMessage **)&j, &st);
	protobuf_c_message_free_unpacked(req, NULL);
	if (!j || st.code != GRPC_STATUS_OK) {
		fprintf(stderr, "submit: %s\n", st.message);
		return -1;
	}
	Atoll__V1__WatchJobRequest wr = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	wr.job_id = j->id;
	rpc_stream *s;
	int64_t lat = -1;
	if (rpc_stream_open(client, "/atoll.v1.Jobs/WatchJob", &wr.base, &md, 1, 60000, false, &s) == 0) {
		Atoll__V1__JobEvent *ev;
		while (rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev) == 1) {
			/* The output comes as chunks (JobEvent); one attempt here. */
			if (ret_output && ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK && ev->chunk)
				buf_append(ret_output, ev->chunk->data.data, ev->chunk->data.len);
			if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB &&
			    ev->job->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
				if (ev->job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
					lat = (time_mono_ns() - t0) / 1000;
					if (ret_output && ev->job->output) {
						const Atoll__V1__JobOutput *o = ev->job->output;
						if (o->encrypted)
							buf_append(ret_output, o->ciphertext.data, o->ciphertext.len);
						else
							buf_puts(ret_output, o->text);
					}
				} else {
					fprintf(stderr, "job failed: %s\n", ev->job->error);
				}
			}
			protobuf_c_message_free_unpacked(&ev->base, NULL);
		}
		rpc_stream_finish(s, &st);
	}
	if (ret_id)
		snprintf(ret_id, 64, "%s", j->id);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	(void)cl;
	return lat;
}

/* ---- jobs/s with 1..4 islands ---- */

struct loader {
	pthread_t th;
	struct cluster *cl;
	const char *body;
	int64_t until;
	int64_t *lat;
	size_t n, cap;
};

static void *load(void *arg)
{
	struct loader *l = arg;
	rpc_client *client;
	struct rpc_client_opts o = { .own_connection = true };
	rpc_client_new(h_target(&l->cl->coord), &o, &client);
	while (time_mono_ms() < l->until) {
		int64_t t = run_job(l->cl, client, l->body, NULL, NULL);
		if (t < 0)
			continue;
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 1024;
			l->lat = realloc(l->lat, l->cap * sizeof *l->lat);
		}
		l->lat[l->n++] = t;
	}
	rpc_client_free(client);
	return NULL;
}

static char *kib_body(size_t kib, uint32_t workload)
{
	size_t n = kib * 1024;
	char *prompt = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		prompt[i] = (char)('a' + i % 26);
	prompt[n] = 0;
	char *body;
	if (asprintf(&body, "{\"workload_id\": %u, \"input\": {\"prompt\": \"%s\"}}", workload, prompt) < 0)
		body = NULL;
	free(prompt);
	return body;
}

static const char *ISLAND_FAST =
	"    - {id: 42, backend: echo, modes: [plain, tee], options: {chunk_size: 65536}}\n";

/* The coordinator's account of its lock, logged when it stopped. */
static void print_lock_line(struct cluster *cl)
{
	FILE *f = fopen(cl->coord.log, "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "core lock:");
		if (p)
			printf("         %s", p);
	}
	if (f)
		fclose(f);
}

static int bench_jobs(double seconds, int callers)
{
	char *body = kib_body(1, 42);
	printf("plain jobs end to end (submit -> completed seen on WatchJob), echo backend, 1 KiB "
	       "input, %d concurrent callers, %.0f s each\n", callers, seconds);
	printf("%-8s %10s %10s %10s\n", "islands", "jobs/s", "p50 ms", "p99 ms");
	for (int islands = 1; islands <= 4; islands++) {
		struct cluster cl;
		if (cluster_init(&cl, "bench-jobs") < 0)
			return 1;
		/* ATOLL_BENCH_THREADS: the coordinator's completion-queue threads. */
		char limits[128];
		const char *threads = getenv("ATOLL_BENCH_THREADS");
		if (threads) {
			snprintf(limits, sizeof limits, "limits: {drain_timeout: 2s, threads: %d}\n",
				 atoi(threads));
			cl.limits_yaml = limits;
		}
		if (cluster_start_coordinator(&cl) < 0)
			return 1;
		for (int i = 0; i < islands; i++) {
			char id[16];
			snprintf(id, sizeof id, "b%d", i);
			cluster_add_island(&cl, id, 8, ISLAND_FAST, NULL, NULL);
		}
		if (cluster_wait(&cl, (uint32_t)islands, (uint32_t)islands, 20000) < 0) {
			fprintf(stderr, "islands did not come up\n");
			cluster_dump_logs(&cl);
			return 1;
		}
		struct loader *ls = calloc((size_t)callers, sizeof *ls);
		int64_t t0 = time_mono_ms(), until = t0 + (int64_t)(seconds * 1000);
		for (int i = 0; i < callers; i++) {
			ls[i] = (struct loader){ .cl = &cl, .body = body, .until = until };
			pthread_create(&ls[i].th, NULL, load, &ls[i]);
		}
		size_t total = 0;
		for (int i = 0; i < callers; i++) {
			pthread_join(ls[i].th, NULL);
			total += ls[i].n;
		}
		double wall = (double)(time_mono_ms() - t0) / 1000.0;
		int64_t *all = malloc((total + 1) * sizeof *all);
		size_t k = 0;
		for (int i = 0; i < callers; i++) {
			memcpy(all + k, ls[i].lat, ls[i].n * sizeof *all);
			k += ls[i].n;
			free(ls[i].lat);
		}
		printf("%-8d %10.0f %10.2f %10.2f\n", islands, (double)total / wall, pct(all, total, 0.5),
		       pct(all, total, 0.99));
		fflush(stdout);
		free(all);
		free(ls);
		cluster_stop(&cl);
		print_lock_line(&cl);
	}
	free(body);
	return 0;
}

/* ---- confidential vs plain ---- */

static int enclave_key(struct cluster *cl, uint8_t out[32])
{
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	Atoll__V1__ListAttestedIslandsResponse *r = NULL;
	struct rpc_status st;
	c_call(cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
	       &atoll__v1__list_attested_islands_response__descriptor, (ProtobufCMessage **)&r, &st);
	if (!r || !r->n_islands || r->islands[0]->enclave_public_key.len != 32)
		return -1;
	memcpy(out, r->islands[0]->enclave_public_key.data, 32);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
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

static char *sealed_body(uint32_t workload, const char *key_id, const uint8_t client_pub[32],
			 const uint8_t enclave[32], const char *doc)
{
	struct buf env = { 0 };
	if (env_seal_input(HPKE_AEAD_AES_256_GCM, workload, client_pub, (const uint8_t(*)[32])enclave, 1,
			   (const uint8_t *)doc, strlen(doc), &env) != ENV_OK)
		return NULL;
	char *b64 = malloc(enc_base64_size(env.len));
	enc_base64_encode(env.data, env.len, b64);
	buf_free(&env);
	char *body;
	if (asprintf(&body,
		     "{\"workload_id\": %u, \"confidential\": true, \"encryption_key_id\": \"%s\","
		     " \"input\": {\"encrypted\": true, \"ciphertext\": \"%s\"}}",
		     workload, key_id, b64) < 0)
		body = NULL;
	free(b64);
	return body;
}

static double median_job(struct cluster *cl, const char *body, int n)
{
	int64_t *lat = calloc((size_t)n, sizeof *lat);
	int k = 0;
	for (int i = 0; i < n + 3; i++) {
		int64_t t = run_job(cl, cluster_client(cl), body, NULL, NULL);
		if (i >= 3 && t >= 0) /* three warm-up jobs */
			lat[k++] = t;
	}
	double m = pct(lat, (size_t)k, 0.5);
	free(lat);
	return m;
}

static int bench_confidential(int n)
{
	struct cluster cl;
	if (cluster_init(&cl, "bench-conf") < 0 || cluster_start_coordinator(&cl) < 0)
		return 1;
	cluster_add_island(&cl, "c1", 4, ISLAND_FAST, NULL, NULL);
	if (cluster_wait(&cl, 1, 1, 20000) < 0)
		return 1;
	uint8_t enclave[32], cpriv[32], cpub[32];
	char key_id[64];
	x25519_keygen(cpriv, cpub);
	if (enclave_key(&cl, enclave) < 0 || register_key(&cl, cpub, key_id, sizeof key_id) < 0)
		return 1;
	printf("plain vs confidential (TEE, sim) echo jobs, p50 of %d, one island\n", n);
	printf("%-8s %12s %12s %8s %14s\n", "input", "plain ms", "tee ms", "ratio", "client seal ms");
	size_t sizes[] = { 1, 64 };
	for (int s = 0; s < 2; s++) {
		char *plain = kib_body(sizes[s], 42);
		/* The confidential job seals the same prompt document. */
		const char *doc = strstr(plain, "\"input\": ") + 9;
		char *doc_copy = strndup(doc, strlen(doc) - 1);
		int64_t t0 = time_mono_ns();
		char *sealed = sealed_body(42, key_id, cpub, enclave, doc_copy);
		double seal_ms = (double)(time_mono_ns() - t0) / 1e6;
		double p = median_job(&cl, plain, n), t = median_job(&cl, sealed, n);
		printf("%-8s %12.2f %12.2f %8.2f %14.3f\n", sizes[s] == 1 ? "1 KiB" : "64 KiB", p, t,
		       t / p, seal_ms);
		fflush(stdout);
		free(plain);
		free(sealed);
		free(doc_copy);
	}
	cluster_stop(&cl);
	return 0;
}

/* ---- the classifier in three modes ---- */

static int bench_modes(int n)
{
	struct cluster cl;
	char wl[1024], island[2048], extra[1024];
	if (cluster_init(&cl, "bench-modes") < 0)
		return 1;
	const char *model = h_build_path("models/breast_cancer_logistic.model");
	snprintf(wl, sizeof wl, "workloads:\n  - {id: 7, name: breast-cancer, backend: linear,"
				" modes: [plain, tee, homomorphic]}\n");
	snprintf(island, sizeof island,
		 "    - {id: 7, backend: linear, model: %s, modes: [plain, tee]}\n"
		 "    - {id: 7, backend: paillier, model: %s, modes: [homomorphic]}\n",
		 model, model);
	snprintf(extra, sizeof extra, ", {name: linear, path: %s/linear.so}, {name: paillier, path: %s/paillier.so}",
		 h_module_dir(), h_module_dir());
	cl.workloads_yaml = wl;
	cl.extra_backends_yaml = extra;
	if (cluster_start_coordinator(&cl) < 0)
		return 1;
	cluster_add_island(&cl, "m1", 4, island, NULL, NULL);
	if (cluster_wait(&cl, 1, 1, 20000) < 0)
		return 1;
	const char *features =
		"[17.99,10.38,122.8,1001,0.1184,0.2776,0.3001,0.1471,0.2419,0.07871,1.095,0.9053,8.589,"
		"153.4,0.006399,0.04904,0.05373,0.01587,0.03003,0.006193,25.38,17.33,184.6,2019,0.1622,"
		"0.6656,0.7119,0.2654,0.4601,0.1189]";
	double x[30];
	const char *p = features + 1;
	for (int i = 0; i < 30; i++) {
		char *end;
		x[i] = strtod(p, &end);
		p = end + 1;
	}
	char plain[1024], doc[1024];
	snprintf(plain, sizeof plain, "{\"workload_id\": 7, \"input\": {\"features\": %s}}", features);
	snprintf(doc, sizeof doc, "{\"features\": %s}", features);
	uint8_t enclave[32], cpriv[32], cpub[32];
	char key_id[64];
	x25519_keygen(cpriv, cpub);
	if (enclave_key(&cl, enclave) < 0 || register_key(&cl, cpub, key_id, sizeof key_id) < 0)
		return 1;
	char *sealed = sealed_body(7, key_id, cpub, enclave, doc);
	printf("breast-cancer classifier (30 features), p50 of %d jobs, one island\n", n);
	double tp = median_job(&cl, plain, n), tt = median_job(&cl, sealed, n);
	printf("  plain        %8.2f ms\n", tp);
	printf("  tee (sim)    %8.2f ms   (%.2fx plain)\n", tt, tt / tp);
	free(sealed);
	for (int bits = 2048; bits <= 3072; bits += 1024) {
		struct paillier_priv *k = NULL;
		struct paillier_rand *rz = NULL;
		paillier_keygen(bits, &k);
		paillier_rand_new_priv(k, &rz);
		int64_t *lat = calloc((size_t)n, sizeof *lat), *enc = calloc((size_t)n, sizeof *enc),
			*dec = calloc((size_t)n, sizeof *dec), *pl = calloc((size_t)n, sizeof *pl);
		int m = 0;
		for (int i = 0; i < n + 2; i++) {
			struct buf in = { 0 }, out = { 0 };
			int64_t t0 = time_mono_ns();
			he_input_write_priv(k, rz, "", x, 30, 1, 40, &in);
			int64_t t1 = time_mono_ns();
			/* A plain job just before each one, so that the second
			 * ratio compares jobs run under the same load. */
			int64_t tpl = run_job(&cl, cluster_client(&cl), plain, NULL, NULL);
			char *body;
			if (asprintf(&body, "{\"workload_id\": 7, \"mode\": \"MODE_HOMOMORPHIC\", \"input\": %s}",
				     buf_cstr(&in)) < 0)
				body = NULL;
			int64_t t = run_job(&cl, cluster_client(&cl), body, NULL, &out);
			int64_t t2 = time_mono_ns();
			double *vals = NULL;
			size_t nv;
			uint64_t count;
			unsigned scale;
			char err[128];
			if (he_output_decrypt(k, out.data, out.len, &vals, &nv, &count, &scale, err,
					      sizeof err) < 0 && t >= 0)
				fprintf(stderr, "decrypt: %s\n", err);
			int64_t t3 = time_mono_ns();
			free(vals);
			free(body);
			buf_free(&in);
			buf_free(&out);
			if (i >= 2 && t >= 0 && tpl >= 0) {
				enc[m] = (t1 - t0) / 1000;
				lat[m] = t;
				dec[m] = (t3 - t2) / 1000;
				pl[m] = tpl;
				m++;
			}
		}
		double th = pct(lat, (size_t)m, 0.5), tpi = pct(pl, (size_t)m, 0.5);
		printf("  homomorphic  %8.2f ms   (%.2fx plain), %d-bit key; client encrypt %.2f ms, "
		       "decrypt %.2f ms\n", th, th / tp, bits, pct(enc, (size_t)m, 0.5),
		       pct(dec, (size_t)m, 0.5));
		printf("               %8.2f ms   (%.2fx the plain jobs run between them, p50 "
		       "%.2f ms)\n", th, th / tpi, tpi);
		fflush(stdout);
		free(pl);
		free(lat);
		free(enc);
		free(dec);
		paillier_rand_free(rz);
		paillier_priv_free(k);
	}
	cluster_stop(&cl);
	return 0;
}

/* ---- one attestation round ---- */

static int bench_attest(int n)
{
	struct cluster cl;
	char err[512], keys[700], keyf[800], certf[800], path[700];
	if (cluster_init(&cl, "bench-attest") < 0)
		return 1;
	/* The sim driver measures the process that collects: here, this
	 * program, which the policy then allows in place of the enclave. */
	if (simtool_measure("/proc/self/exe", cl.measurement, err, sizeof err) < 0 ||
	    cluster_start_coordinator(&cl) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(keys, sizeof keys, "%s/keys", cl.dir);
	simtool_make_island_key(cl.ca_dir, "bench", 30, keys, err, sizeof err);
	snprintf(keyf, sizeof keyf, "%s/bench.key", keys);
	snprintf(certf, sizeof certf, "%s/bench.pem", keys);
	snprintf(path, sizeof path, "%s/sim.so", h_module_dir());
	atoll_kv kv[] = { { "key_file", keyf }, { "cert_file", certf } };
	struct loaded_driver d;
	if (plugin_load_driver(path, "sim", kv, 2, NULL, 0, &d, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	uint8_t priv[32], pub[32];
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	int64_t *round = calloc((size_t)n, sizeof *round), *collect = calloc((size_t)n, sizeof *collect);
	int m = 0;
	for (int i = 0; i < n; i++) {
		rpc_stream *s;
		/* An enclave key per island: one key is attested for one island. */
		x25519_keygen(priv, pub);
		if (rpc_stream_open(cluster_client(&cl), "/atoll.v1.Islands/Connect", NULL, &md, 1, 30000, false, &s) < 0)
			break;
		char id[32];
		snprintf(id, sizeof id, "att-%d", i);
		Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
		h.island_id = id;
		h.slots = 1;
		h.tee_type = "sim";
		h.enclave_public_key.data = pub;
		h.enclave_public_key.len = 32;
		Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
		im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
		im.hello = &h;
		rpc_stream_send(s, &im.base);
		Atoll__V1__CoordinatorMessage *cm;
		int64_t t_ch = 0, t_col = 0;
		bool done = false;
		while (!done && rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor,
						(ProtobufCMessage **)&cm) == 1) {
			if (cm->msg_case == ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE) {
				t_ch = time_mono_ns();
				uint8_t rd[64], mdig[32];
				cluster_fake_manifest_digest(mdig);
				env_report_data(cm->challenge->nonce.data, cm->challenge->nonce.len, pub,
						mdig, rd);
				atoll_evidence *ev = NULL;
				atoll_err ae = { "" };
				plugin_driver_collect(&d, rd, &ev, &ae);
				t_col = time_mono_ns();
				Atoll__V1__Evidence e = ATOLL__V1__EVIDENCE__INIT;
				e.nonce = cm->challenge->nonce;
				e.tee_type = "sim";
				e.evidence.data = ev->data;
				e.evidence.len = ev->len;
				e.enclave_public_key.data = pub;
				e.enclave_public_key.len = 32;
				e.manifest.data = (uint8_t *)CLUSTER_FAKE_MANIFEST;
				e.manifest.len = strlen(CLUSTER_FAKE_MANIFEST);
				im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_EVIDENCE;
				im.evidence = &e;
				rpc_stream_send(s, &im.base);
				plugin_driver_evidence_free(&d, ev);
			} else if (cm->msg_case == ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION) {
				if (cm->attestation->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED &&
				    t_ch) {
					round[m] = (time_mono_ns() - t_ch) / 1000;
					collect[m] = (t_col - t_ch) / 1000;
					m++;
				}
				done = true;
			}
			protobuf_c_message_free_unpacked(&cm->base, NULL);
		}
		rpc_stream_cancel(s);
		struct rpc_status st;
		rpc_stream_finish(s, &st);
	}
	printf("attestation round (challenge received -> ATTESTED received, sim TEE), p50 of %d: "
	       "%.3f ms (p99 %.3f); of which evidence collection %.3f ms\n",
	       m, pct(round, (size_t)m, 0.5), pct(round, (size_t)m, 0.99), pct(collect, (size_t)m, 0.5));
	free(round);
	free(collect);
	plugin_unload_driver(&d);
	cluster_stop(&cl);
	return 0;
}

/* ---- idle island streams ---- */


static int bench_idle(int islands)
{
	struct cluster cl;
	if (cluster_init(&cl, "bench-idle") < 0)
		return 1;
	/* Idle streams must not time out during the measurement. */
	cl.heartbeat_yaml = "  heartbeat_interval: 10m\n  heartbeat_timeout: 1h\n";
	if (cluster_start_coordinator(&cl) < 0)
		return 1;
	time_sleep_ms(500);
	long before = h_rss_kib(cl.coord.pid);
	rpc_client **clients = calloc((size_t)islands, sizeof *clients);
	rpc_stream **streams = calloc((size_t)islands, sizeof *streams);
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	int64_t t0 = time_mono_ms();
	int up = 0;
	for (int i = 0; i < islands; i++) {
		/* Every island has its own TCP connection, as real ones do. */
		struct rpc_client_opts o = { .own_connection = true };
		rpc_client_new(h_target(&cl.coord), &o, &clients[i]);
		if (rpc_stream_open(clients[i], "/atoll.v1.Islands/Connect", NULL, &md, 1, 0, false,
				    &streams[i]) < 0)
			continue;
		char id[32];
		snprintf(id, sizeof id, "idle-%d", i);
		Atoll__V1__Mode modes[] = { ATOLL__V1__MODE__MODE_PLAIN };
		Atoll__V1__WorkloadOffer off = ATOLL__V1__WORKLOAD_OFFER__INIT;
		off.workload_id = 42;
		off.n_modes = 1;
		off.modes = modes;
		Atoll__V1__WorkloadOffer *offs[] = { &off };
		Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
		h.island_id = id;
		h.slots = 4;
		h.n_workloads = 1;
		h.workloads = offs;
		Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
		im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
		im.hello = &h;
		rpc_stream_send(streams[i], &im.base);
		ProtobufCMessage *w;
		if (rpc_stream_recv(streams[i], &atoll__v1__coordinator_message__descriptor, &w) == 1) {
			protobuf_c_message_free_unpacked(w, NULL);
			up++;
		}
	}
	int64_t took = time_mono_ms() - t0;
	time_sleep_ms(500);
	long after = h_rss_kib(cl.coord.pid);
	Atoll__V1__Stats *st = NULL;
	c_stats(&cl, &st);
	printf("%d idle island streams (own connections) welcomed in %lld ms; coordinator RSS %ld -> "
	       "%ld KiB: %.1f KiB per island; GetStats connected_hosts %u\n",
	       up, (long long)took, before, after, up ? (double)(after - before) / up : 0,
	       st ? st->connected_hosts : 0);
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	for (int i = 0; i < islands; i++) {
		if (streams[i]) {
			rpc_stream_cancel(streams[i]);
			struct rpc_status rs;
			rpc_stream_finish(streams[i], &rs);
		}
		rpc_client_free(clients[i]);
	}
	free(streams);
	free(clients);
	cluster_stop(&cl);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s jobs|confidential|modes|attest|idle|all [N]\n", argv[0]);
		return 2;
	}
	h_default_env(ATOLL_SOURCE_DIR_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	const char *what = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 0;
	int rc = 0;
	bool all = strcmp(what, "all") == 0;
	if (all || !strcmp(what, "jobs"))
		rc |= bench_jobs(n > 0 ? n : 5, 8);
	if (all || !strcmp(what, "confidential"))
		rc |= bench_confidential(n > 0 ? n : 50);
	if (all || !strcmp(what, "modes"))
		rc |= bench_modes(n > 0 ? n : 30);
	if (all || !strcmp(what, "attest"))
		rc |= bench_attest(n > 0 ? n : 100);
	if (all || !strcmp(what, "idle"))
		rc |= bench_idle(n > 0 ? n : 1000);
	grpc_shutdown();
	return rc;
}
