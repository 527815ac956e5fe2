/* libFuzzer target: the envelope parsers and openers on arbitrary bytes.
 * The first byte picks the parser (enum target); keys are fixed so that
 * seed inputs open and mutations of them reach the crypto. Output streams
 * are format v2: sealed in HPKE auth mode by the enclave key, with the
 * attempt in the header and, for a failed job, a sealed error as the
 * final record. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "fuzz.h"
#include "util/buf.h"

#define WORKLOAD_ID 7
#define JOB_ID "job_fuzz"

enum target {
	INPUT = 0,         /* env_inspect_input + env_open_input */
	OUTPUT_BLOB = 1,   /* env_open_output */
	OUTPUT_RECORDS = 2 /* record_len + incremental opener */
};

static struct {
	uint8_t enclave_priv[32], enclave_pub[32];
	uint8_t client_priv[32], client_pub[32];
	uint8_t envelope_id[16];
	/* What the client expects of a stream: an input sealed to another
	 * enclave key and to enclave_pub, so the sender lookup goes past the
	 * first entry. */
	uint8_t senders[2][32];
	struct env_output_expect want;
} keys;

void fuzz_setup(void)
{
	static const uint8_t enclave_ikm[32] = "atoll fuzz enclave key material";
	static const uint8_t client_ikm[32] = "atoll fuzz client key material.";

	if (hpke_derive_keypair(enclave_ikm, sizeof enclave_ikm,
				keys.enclave_priv, keys.enclave_pub) < 0 ||
	    hpke_derive_keypair(client_ikm, sizeof client_ikm, keys.client_priv,
				keys.client_pub) < 0)
		fuzz_die("cannot derive the keys");
	memcpy(keys.envelope_id, "fuzz envelope id", 16);
	memset(keys.senders[0], 0x42, 32);
	memcpy(keys.senders[1], keys.enclave_pub, 32);
	keys.want = (struct env_output_expect){
		.job_id = JOB_ID,
		.workload_id = WORKLOAD_ID,
		.envelope_id = keys.envelope_id,
		.senders = (const uint8_t(*)[32])keys.senders,
		.n_senders = 2,
	};
}

/* A sealed error's code is 1..ENV_MAX_ERROR_CODE of [a-z0-9_]. */
static bool code_ok(const char *code, size_t len)
{
	if (len == 0 || len > ENV_MAX_ERROR_CODE)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((code[i] >= 'a' && code[i] <= 'z') ||
		      (code[i] >= '0' && code[i] <= '9') || code[i] == '_'))
			return false;
	return true;
}

/* A stream that opened came from the enclave key, for this job. */
static void check_header(const uint8_t *p, size_t n)
{
	struct env_output_info hi;
	size_t len;

	if (env_output_record_len(p, n, true, &len) != ENV_OK ||
	    env_output_header_info(p, len, &hi) != ENV_OK)
		fuzz_die("opened a stream whose header does not parse");
	if (memcmp(hi.sender, keys.enclave_pub, 32) != 0 ||
	    strcmp(hi.job_id, JOB_ID) != 0)
		fuzz_die("opened a stream from another sender or job");
}

static bool info_equal(const struct env_input_info *a,
		       const struct env_input_info *b)
{
	return a->aead_id == b->aead_id && a->workload_id == b->workload_id &&
	       memcmp(a->envelope_id, b->envelope_id, sizeof a->envelope_id) == 0 &&
	       memcmp(a->client_pub, b->client_pub, sizeof a->client_pub) == 0 &&
	       a->n_recipients == b->n_recipients &&
	       memcmp(a->recipients, b->recipients,
		      a->n_recipients * sizeof a->recipients[0]) == 0 &&
	       a->plaintext_len == b->plaintext_len;
}

static void fuzz_input(const uint8_t *p, size_t n)
{
	struct env_input_info info, opened;
	struct buf pt = { 0 };
	int r = env_inspect_input(p, n, &info);
	int o = env_open_input(p, n, WORKLOAD_ID, keys.enclave_priv,
			       keys.enclave_pub, &opened, &pt);
	/* Opening implies a well-formed envelope that says what inspect says. */
	if (o == ENV_OK && (r != ENV_OK || pt.len != info.plaintext_len ||
			    !info_equal(&info, &opened)))
		fuzz_die("opened an envelope that inspect describes otherwise");
	if (o != ENV_OK && pt.len != 0)
		fuzz_die("failed open left plaintext");
	buf_free(&pt);
}

static void fuzz_output_blob(const uint8_t *p, size_t n)
{
	struct buf pt = { 0 }, err = { 0 };
	int r = env_open_output(keys.client_priv, p, n, &keys.want, &pt, &err);

	/* Output is kept only with success or a sealed error; only a sealed
	 * error writes "code: message". */
	if (r != ENV_OK && r != ENV_E_JOB_FAILED && pt.len != 0)
		fuzz_die("failed open left plaintext");
	if ((r == ENV_E_JOB_FAILED) != (err.len != 0))
		fuzz_die("status %d with error text of %zu bytes", r, err.len);
	if (r == ENV_E_JOB_FAILED) {
		const char *colon = memchr(err.data, ':', err.len);

		if (!colon || !code_ok((const char *)err.data,
				       (size_t)(colon - (const char *)err.data)))
			fuzz_die("a sealed error without a valid code");
	}
	if (r == ENV_OK || r == ENV_E_JOB_FAILED)
		check_header(p, n);
	buf_free(&pt);
	buf_free(&err);
}

static void fuzz_output_records(const uint8_t *p, size_t n)
{
	env_output_opener *o = NULL;
	struct buf pt = { 0 };
	size_t len;
	if (env_output_record_len(p, n, true, &len) != ENV_OK)
		return;
	if (env_output_opener_new(keys.client_priv, p, len, &keys.want, &o) !=
	    ENV_OK)
		return;
	if (env_output_opener_result(o, NULL, NULL) != ENV_E_UNFINISHED)
		fuzz_die("a result before the final record");
	bool final = false, done = false;
	for (size_t off = len; off < n; off += len) {
		if (env_output_record_len(p + off, n - off, false, &len) != ENV_OK)
			break;
		int r = env_output_open(o, p + off, len, &pt, &final);
		/* After the final record, every record is refused. */
		if (done && r != ENV_E_ORDER)
			fuzz_die("a record after the final one was accepted");
		if (r == ENV_OK && final)
			done = true;
	}
	if ((env_output_opener_done(o) == ENV_OK) != done)
		fuzz_die("opener_done disagrees with the records seen");
	if (done) {
		const char *code = NULL, *msg = NULL;
		int r = env_output_opener_result(o, &code, &msg);

		if (r == ENV_E_JOB_FAILED) {
			if (!code || !msg || !code_ok(code, strlen(code)) ||
			    strlen(msg) > ENV_MAX_ERROR_MESSAGE)
				fuzz_die("a sealed error without a valid code");
		} else if (r != ENV_OK) {
			fuzz_die("finished stream with result %d", r);
		}
		if (memcmp(env_output_opener_info(o)->sender, keys.enclave_pub,
			   32) != 0)
			fuzz_die("a finished stream from another sender");
	}
	env_output_opener_free(o);
	buf_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0]) {
	case INPUT:
		fuzz_input(data + 1, size - 1);
		break;
	case OUTPUT_BLOB:
		fuzz_output_blob(data + 1, size - 1);
		break;
	case OUTPUT_RECORDS:
		fuzz_output_records(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- seeds: envelopes and streams the target can open ---- */

static void seal_inputs(uint16_t aead, const uint8_t (*recipients)[32])
{
	struct buf env = { 0 }, pt = { 0 };
	char name[64];

	for (size_t n = 1; n <= 3; n += 2) {
		buf_reset(&env);
		if (env_seal_input(aead, WORKLOAD_ID, keys.client_pub, recipients,
				   n, (const uint8_t *)"{\"prompt\":\"x\"}", 14,
				   &env) < 0)
			fuzz_die("cannot seal an input");
		/* A seed the target cannot open would waste its time. */
		buf_reset(&pt);
		if (env_open_input(env.data, env.len, WORKLOAD_ID,
				   keys.enclave_priv, keys.enclave_pub, NULL,
				   &pt) < 0)
			fuzz_die("a sealed input does not open");
		snprintf(name, sizeof(name), "input-aead%u-n%zu", aead, n);
		fuzz_seed_tagged(name, INPUT, env.data, env.len);
	}
	buf_free(&env);
	buf_free(&pt);
}

/* One stream: two chunks, then the empty final record or, when code is
 * set, a sealed error; written both as a blob and as records. */
static void seal_output(uint16_t aead, uint32_t attempt, const char *code)
{
	env_output_sealer *s = NULL;
	struct buf out = { 0 }, pt = { 0 };
	char name[64];
	int want = code ? ENV_E_JOB_FAILED : ENV_OK;

	if (env_output_sealer_new(aead, keys.client_pub, keys.enclave_priv,
				  keys.enclave_pub, JOB_ID, WORKLOAD_ID,
				  keys.envelope_id, attempt, &s, &out) < 0 ||
	    env_output_seal(s, (const uint8_t *)"out", 3, &out) < 0 ||
	    env_output_seal(s, NULL, 0, &out) < 0 ||
	    (code ? env_output_fail(s, code, "the backend refused", &out)
		  : env_output_finish(s, &out)) < 0 ||
	    env_open_output(keys.client_priv, out.data, out.len, &keys.want,
			    &pt, NULL) != want)
		fuzz_die("cannot seal an output stream that opens");
	env_output_sealer_free(s);
	snprintf(name, sizeof(name), "output-aead%u-attempt%u%s", aead,
		 attempt, code ? "-failed" : "");
	fuzz_seed_tagged(name, OUTPUT_BLOB, out.data, out.len);
	snprintf(name, sizeof(name), "records-aead%u-attempt%u%s", aead,
		 attempt, code ? "-failed" : "");
	fuzz_seed_tagged(name, OUTPUT_RECORDS, out.data, out.len);
	buf_free(&out);
	buf_free(&pt);
}

void fuzz_seeds(void)
{
	uint8_t recipients[3][32], priv[32];

	memcpy(recipients[0], keys.enclave_pub, 32);
	for (int i = 1; i < 3; i++)
		if (x25519_keygen(priv, recipients[i]) < 0)
			fuzz_die("cannot make a key pair");
	for (uint16_t aead = 1; aead <= 3; aead++) {
		seal_inputs(aead, (const uint8_t(*)[32])recipients);
		seal_output(aead, 1, NULL);
		seal_output(aead, 2, "backend_error");
	}
}
