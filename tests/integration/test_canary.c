/* The proof that neither the coordinator nor the island host holds a
 * confidential job's plaintext: a random canary goes into a confidential
 * job's input through the seed's quick start (atollctl keys create /
 * encrypt / submit / decrypt). Afterwards the canary must be absent from the
 * coordinator's and the island host's memory (read through /proc/PID/mem),
 * their logs and the SQLite files, and present in the client's decrypted
 * output. A control run with a plain job shows that the scan finds what is
 * there. Also: `atollctl run` end to end, and the routing rule that a
 * confidential job goes only to recipient islands; and a confidential
 * input made to fail in the backend with an error that quotes it: the
 * error reaches the client sealed, and the coordinator, the island host,
 * their logs, the store and GetJob only see its code.
 *
 * The same proof for document OCR: a canary word printed on a rendered
 * patient letter, sent with `atollctl run --confidential --file`, comes back
 * recognized in the client's decrypted output and appears nowhere on the
 * coordinator or the island host; a plain OCR job's canary is found by the
 * same scan. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/rand.h>

#include "check.h"
#include "cluster.h"
#include "scan.h"
#include "ocrkit.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static bool files_contain(struct cluster *cl, const char *needle)
{
	const char *names[] = { "atoll.db", "atoll.db-wal", "coordinator.log", "island-i1.log" };
	bool any = false;
	for (size_t i = 0; i < 4; i++) {
		char p[700];
		snprintf(p, sizeof p, "%s/%s", cl->dir, names[i]);
		if (h_file_contains(p, needle)) {
			fprintf(stderr, "found in %s\n", names[i]);
			any = true;
		}
	}
	return any;
}

static void make_canary(char out[65])
{
	uint8_t c[32];
	RAND_bytes(c, sizeof c);
	enc_hex_encode(c, sizeof c, out);
}

/* Pull a JSON string value out of atollctl output. */
static bool json_field(const char *text, const char *key, char *out, size_t size)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	const char *p = strstr(text, pat);
	if (!p) {
		snprintf(pat, sizeof pat, "\"%s\":\"", key);
		p = strstr(text, pat);
	}
	if (!p)
		return false;
	p += strlen(pat);
	const char *e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return false;
	snprintf(out, size, "%.*s", (int)(e - p), p);
	return true;
}

static void test_quick_start_and_canary(struct cluster *cl)
{
	char canary[65], out[1 << 16], key_id[64], job_id[64], prompt[128];
	make_canary(canary);
	snprintf(prompt, sizeof prompt, "Classify this patient record: %s", canary);

	/* 1. atollctl keys create: {"key_id": "ck_...", "public_key": "..."}. */
	const char *a1[] = { "keys", "create", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a1), 0);
	CHECK(json_field(out, "key_id", key_id, sizeof key_id) && !strncmp(key_id, "ck_", 3));
	char pub[128];
	CHECK(json_field(out, "public_key", pub, sizeof pub));
	char ksfile[1024];
	snprintf(ksfile, sizeof ksfile, "%s/keystore/%s.json", cl->dir, key_id);
	struct stat st;
	CHECK(stat(ksfile, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* 2. atollctl encrypt: verifies the island itself, seals the input. */
	const char *a2[] = { "encrypt", "--key-id", key_id, "--workload", "42", "--policy",
			     "client-policy.yaml", "--prompt", prompt, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a2), 0);
	char input[1 << 16] = "";
	const char *line = strstr(out, "{\"encrypted\":true");
	CHECK(line != NULL);
	if (line)
		snprintf(input, sizeof input, "%.*s", (int)strcspn(line, "\n"), line);
	CHECK(strstr(out, "sealed to i1") != NULL);

	/* 3. Submit the seed's body: confidential, the key, the sealed input. */
	char body[(1 << 16) + 512];
	snprintf(body, sizeof body,
		 "{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"%s\", "
		 "\"input\": %s}",
		 key_id, input);
	Atoll__V1__Job *j = NULL;
	struct rpc_status rs;
	CHECK_INT(c_submit(cl, "ak_demo", body, &j, &rs), 0);
	CHECK_INT(rs.code, GRPC_STATUS_OK);
	if (!j)
		return;
	snprintf(job_id, sizeof job_id, "%s", j->id);
	CHECK_INT(j->mode, ATOLL__V1__MODE__MODE_TEE);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	j = c_wait_final(cl, job_id, 20000);
	CHECK(j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	CHECK(j && j->output && j->output->encrypted && j->output->ciphertext.len > 0);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);

	/* 4. atollctl decrypt: the canary is back, on the client only. */
	const char *a4[] = { "decrypt", "--job", job_id, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a4), 0);
	CHECK(strstr(out, prompt) != NULL);

	/* The scan: nowhere on the coordinator or the island host. Under
	 * AddressSanitizer the processes map terabytes of shadow memory that
	 * reading would fault in, so the sanitizer build checks files only. */
	bool scan_memory = !ATOLL_SANITIZED;
	if (!scan_memory)
		fprintf(stderr, "skipped: the memory scan (sanitizer build); files still checked\n");
	if (scan_memory) {
		CHECK_INT(memory_contains(cl->coord.pid, canary), 0);
		CHECK_INT(memory_contains(cl->islands[0].pid, canary), 0);
	}
	CHECK(!files_contain(cl, canary));

	/* Control: a plain job's canary is found by the same scan. */
	char control[65];
	make_canary(control);
	snprintf(body, sizeof body, "{\"workload_id\": 42, \"input\": {\"prompt\": \"%s\"}}", control);
	CHECK_INT(c_submit(cl, "ak_demo", body, &j, &rs), 0);
	if (j) {
		Atoll__V1__Job *f = c_wait_final(cl, j->id, 20000);
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		if (f)
			protobuf_c_message_free_unpacked(&f->base, NULL);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	if (scan_memory) {
		CHECK_INT(memory_contains(cl->coord.pid, control), 1);
		CHECK_INT(memory_contains(cl->islands[0].pid, control), 1);
	}
	CHECK(files_contain(cl, control));
}

static void test_run(struct cluster *cl)
{
	char out[1 << 16];
	const char *args[] = { "run", "--workload", "42", "--confidential", "--policy",
			       "client-policy.yaml", "--prompt", "hello from a sealed job", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, args), 0);
	CHECK(strstr(out, "hello from a sealed job") != NULL);
	CHECK(strstr(out, "sealed to i1") != NULL);

	/* A policy that allows another measurement trusts no island. */
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "drivers:\n  - name: sim\n    path: %s/sim.so\n    config: {ca_file: ca/sim-ca.pem}\n"
		 "policy:\n  tee:\n    sim: {measurements: [%s]}\n",
		 h_module_dir(), "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677");
	h_write(cl->dir, "strict-policy.yaml", yaml, NULL, 0);
	const char *strict[] = { "run", "--workload", "42", "--confidential", "--policy",
				 "strict-policy.yaml", "--prompt", "nope", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, strict), 1);
	CHECK(strstr(out, "no island serving workload 42 passed verification") != NULL);
	CHECK(strstr(out, "is not in the policy's allowed list") != NULL);
}

/* The linear model refuses a record with an unknown feature and names
 * the feature: that name is the confidential part here. */
static void test_sealed_error(struct cluster *cl)
{
	char canary[65], out[1 << 16], key_id[64], record[256];
	make_canary(canary);
	const char *kc[] = { "keys", "create", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, kc), 0);
	CHECK(json_field(out, "key_id", key_id, sizeof key_id));
	snprintf(record, sizeof record, "{\"record\": {\"diagnosis_%s\": 1.5}}", canary);
	const char *enc[] = { "encrypt", "--key-id", key_id, "--workload", "7", "--policy",
			      "client-policy.yaml", record, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, enc), 0);
	const char *line = strstr(out, "{\"encrypted\":true");
	CHECK(line != NULL);
	if (!line)
		return;
	char body[1 << 15];
	snprintf(body, sizeof body, "{\"workload_id\": 7, \"confidential\": true, \"input\": %.*s}",
		 (int)strcspn(line, "\n"), line);
	const char *sub[] = { "--json", "submit", body, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, sub), 0);
	char job_id[64];
	CHECK(json_field(out, "id", job_id, sizeof job_id));
	Atoll__V1__Job *j = c_wait_final(cl, job_id, 20000);
	CHECK(j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
	if (j) {
		/* GetJob: the code, not the message. */
		CHECK(strstr(j->error, "invalid_input") != NULL);
		CHECK(strstr(j->error, canary) == NULL);
		CHECK(strstr(j->error, "unknown feature") == NULL);
		CHECK(j->output && j->output->encrypted);
		protobuf_c_message_free_unpacked(&j->base, NULL);
	}
	/* The client opens the sealed error and sees the whole message. */
	const char *dec[] = { "decrypt", "--job", job_id, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, dec), 1);
	CHECK(strstr(out, "failed: invalid_input") != NULL);
	CHECK(strstr(out, "unknown feature") != NULL);
	CHECK(strstr(out, canary) != NULL);
	/* Nowhere else: logs, store; and memory when it can be read. */
	CHECK(!files_contain(cl, canary));
	if (!ATOLL_SANITIZED) {
		CHECK_INT(memory_contains(cl->coord.pid, canary), 0);
		CHECK_INT(memory_contains(cl->islands[0].pid, canary), 0);
	}
}

/* A word OCR reads back exactly: upright capitals that no other letter or
 * digit resembles and that kern into no gap (pairs such as "WY" or "LT" can
 * read as two words), after a fixed prefix. */
static void make_word(char out[16])
{
	static const char letters[] = "CDEFHKMNPRU";
	uint8_t r[10];
	RAND_bytes(r, sizeof r);
	memcpy(out, "ZQ", 2);
	for (int i = 0; i < 10; i++)
		out[2 + i] = letters[r[i] % (sizeof letters - 1)];
	out[12] = 0;
}

/* A one-page patient letter carrying word, rendered as name.png. */
static int render_letter(struct cluster *cl, const char *name, const char *word)
{
	char text[1024], file[700];
	snprintf(text, sizeof text,
		 "St. Ursula Hospital, Department of Cardiology\n\n"
		 "Discharge letter\n\n"
		 "Dear Dr. Moreau,\n\n"
		 "your patient was admitted on 3 May with chest pain and discharged\n"
		 "today in good health. Case reference: %s\n\n"
		 "Diagnosis: stable angina. Medication: aspirin 100 mg once daily.\n\n"
		 "Kind regards,\nDr. A. Lindqvist\n",
		 word);
	snprintf(file, sizeof file, "%s.txt.in", name);
	if (h_write(cl->dir, file, text, NULL, 0) < 0)
		return -1;
	char src[1300], out[700];
	snprintf(src, sizeof src, "%s/%s", cl->dir, file);
	snprintf(out, sizeof out, "%s.png", name);
	return ocrkit_render(cl->dir, "--size 14 --lines 20", src, name, out);
}

static void test_ocr_canary(struct cluster *cl)
{
	char word[16], control[16], out[1 << 16];
	make_word(word);
	make_word(control);
	if (render_letter(cl, "letter", word) < 0 || render_letter(cl, "control", control) < 0) {
		CHECK(!"cannot render the letters");
		return;
	}
	const char *args[] = { "run", "--workload", "9", "--confidential", "--policy",
			       "client-policy.yaml", "--file", "letter.png", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, args), 0);
	CHECK(strstr(out, "sealed to i1") != NULL);
	CHECK(strstr(out, "{\"page\":1,\"text\":\"") != NULL);
	if (!strstr(out, word)) {
		fprintf(stderr, "the canary %s is not in the recognized text:\n%s\n", word, out);
		check_failures++;
	}
	bool scan_memory = !ATOLL_SANITIZED;
	if (scan_memory) {
		CHECK_INT(memory_contains(cl->coord.pid, word), 0);
		CHECK_INT(memory_contains(cl->islands[0].pid, word), 0);
	}
	CHECK(!files_contain(cl, word));

	/* Control: the same letter as a plain job is seen by the scan. */
	const char *plain[] = { "run", "--workload", "9", "--file", "control.png", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, plain), 0);
	CHECK(strstr(out, control) != NULL);
	if (scan_memory)
		CHECK_INT(memory_contains(cl->coord.pid, control), 1);
	CHECK(files_contain(cl, control));
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "canary") < 0)
		return 1;
	grpc_init();
	char backends[600], island_wl[1200];
	snprintf(backends, sizeof backends,
		 ", {name: ocr, path: %s/ocr.so}, {name: linear, path: %s/linear.so}",
		 h_module_dir(), h_module_dir());
	snprintf(island_wl, sizeof island_wl,
		 "    - {id: 42, backend: echo, modes: [plain, tee]}\n"
		 "    - {id: 9, backend: ocr, models: [%s], modes: [plain, tee]}\n"
		 "    - {id: 7, backend: linear, model: %s, modes: [tee]}\n",
		 ocrkit_model("eng"), h_build_path("models/breast_cancer_logistic.model"));
	cl.extra_backends_yaml = backends;
	cl.workloads_yaml =
		"workloads:\n"
		"  - {id: 42, name: echo, backend: echo, modes: [plain, tee], price_per_second: 0.5}\n"
		"  - {id: 9, name: ocr, backend: ocr, modes: [plain, tee], price_per_second: 0.5}\n"
		"  - {id: 7, name: breast-cancer, backend: linear, modes: [tee]}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "i1", 2, island_wl, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);
	CHECK_INT(cluster_write_client_policy(&cl, "client-policy.yaml", "i1"), 0);
	if (!check_failures) {
		test_quick_start_and_canary(&cl);
		test_run(&cl);
		test_sealed_error(&cl);
		test_ocr_canary(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
