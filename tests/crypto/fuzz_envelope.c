/* libFuzzer target: the envelope parsers and openers on arbitrary bytes.
 * The first byte picks the parser (enum fuzz_target); keys are fixed so
 * that seed inputs open and mutations of them reach the crypto. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "fuzz_common.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_keys keys;
static bool keys_ready;

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
	int o = env_open_input(p, n, FUZZ_WORKLOAD_ID, keys.enclave_priv,
			       keys.enclave_pub, &opened, &pt);
	/* Opening implies a well-formed envelope that says what inspect says. */
	if (o == ENV_OK && (r != ENV_OK || pt.len != info.plaintext_len ||
			    !info_equal(&info, &opened)))
		abort();
	if (o != ENV_OK && pt.len != 0)
		abort();
	buf_free(&pt);
}

static void fuzz_output_blob(const uint8_t *p, size_t n)
{
	struct buf pt = { 0 };
	struct env_output_expect want = fuzz_expect(&keys);
	int r = env_open_output(keys.client_priv, p, n, &want, &pt, NULL);
	/* Output is kept only with success or a sealed error. */
	if (r != ENV_OK && r != ENV_E_JOB_FAILED && pt.len != 0)
		abort();
	buf_free(&pt);
}

static void fuzz_output_records(const uint8_t *p, size_t n)
{
	env_output_opener *o = NULL;
	struct buf pt = { 0 };
	size_t len;
	if (env_output_record_len(p, n, true, &len) != ENV_OK)
		return;
	struct env_output_expect want = fuzz_expect(&keys);
	if (env_output_opener_new(keys.client_priv, p, len, &want, &o) != ENV_OK)
		return;
	bool final = false, done = false;
	for (size_t off = len; off < n; off += len) {
		if (env_output_record_len(p + off, n - off, false, &len) != ENV_OK)
			break;
		int r = env_output_open(o, p + off, len, &pt, &final);
		/* After the final record, every record is refused. */
		if (done && r != ENV_E_ORDER)
			abort();
		if (r == ENV_OK && final)
			done = true;
	}
	if ((env_output_opener_done(o) == ENV_OK) != done)
		abort();
	env_output_opener_free(o);
	buf_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!keys_ready) {
		if (fuzz_keys_init(&keys) < 0)
			abort();
		keys_ready = true;
	}
	if (size < 1)
		return 0;
	switch (data[0]) {
	case FUZZ_INPUT:
		fuzz_input(data + 1, size - 1);
		break;
	case FUZZ_OUTPUT_BLOB:
		fuzz_output_blob(data + 1, size - 1);
		break;
	case FUZZ_OUTPUT_RECORDS:
		fuzz_output_records(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
