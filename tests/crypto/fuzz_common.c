/* Keys and seed corpus for the envelope fuzzer. */
#include "fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/envelope.h"
#include "util/buf.h"
#include "util/fsutil.h"

int fuzz_keys_init(struct fuzz_keys *k)
{
	static const uint8_t enclave_ikm[32] = "atoll fuzz enclave key material";
	static const uint8_t client_ikm[32] = "atoll fuzz client key material.";
	int r = hpke_derive_keypair(enclave_ikm, sizeof enclave_ikm,
				    k->enclave_priv, k->enclave_pub);
	if (r == 0)
		r = hpke_derive_keypair(client_ikm, sizeof client_ikm,
					k->client_priv, k->client_pub);
	memcpy(k->envelope_id, "fuzz envelope id", 16);
	return r;
}

static int write_seed(const char *dir, const char *name, uint8_t target,
		      const struct buf *body)
{
	char path[4096];
	struct buf b = { 0 };
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int r = buf_append(&b, &target, 1);
	if (r == 0)
		r = buf_append(&b, body->data, body->len);
	if (r == 0)
		r = fs_write_atomic(path, b.data, b.len, 0644);
	buf_free(&b);
	return r;
}

int fuzz_write_seeds(const char *dir)
{
	struct fuzz_keys k;
	uint8_t others[3][32], priv[32];
	struct buf env = { 0 }, out = { 0 };
	char name[64];
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = fuzz_keys_init(&k);
	for (int i = 1; r == 0 && i < 3; i++)
		r = x25519_keygen(priv, others[i]);
	if (r < 0)
		return r;
	memcpy(others[0], k.enclave_pub, 32);

	for (uint16_t aead = 1; aead <= 3; aead++) {
		for (size_t n = 1; n <= 3; n += 2) {
			buf_reset(&env);
			if (env_seal_input(aead, FUZZ_WORKLOAD_ID, k.client_pub,
					   (const uint8_t (*)[32])others, n,
					   (const uint8_t *)"{\"prompt\":\"x\"}", 14,
					   &env) < 0)
				goto fail;
			/* A seed the fuzzer cannot open would waste its time. */
			struct buf pt = { 0 };
			int e = env_open_input(env.data, env.len, FUZZ_WORKLOAD_ID,
					       k.enclave_priv, k.enclave_pub, NULL,
					       &pt);
			buf_free(&pt);
			if (e < 0)
				goto fail;
			snprintf(name, sizeof name, "input-aead%u-n%zu", aead, n);
			if ((r = write_seed(dir, name, FUZZ_INPUT, &env)) < 0)
				goto done;
		}
		env_output_sealer *s = NULL;
		buf_reset(&out);
		if (env_output_sealer_new(aead, k.client_pub, k.enclave_priv,
					  k.enclave_pub, FUZZ_JOB_ID,
					  FUZZ_WORKLOAD_ID, k.envelope_id, 1, &s,
					  &out) < 0)
			goto fail;
		int e = env_output_seal(s, (const uint8_t *)"out", 3, &out);
		if (e == 0)
			e = env_output_seal(s, NULL, 0, &out);
		if (e == 0)
			e = env_output_finish(s, &out);
		env_output_sealer_free(s);
		if (e == 0) {
			struct buf pt = { 0 };
			struct env_output_expect want =
				fuzz_expect(&k);
			e = env_open_output(k.client_priv, out.data, out.len,
					    &want, &pt, NULL);
			buf_free(&pt);
		}
		if (e < 0)
			goto fail;
		snprintf(name, sizeof name, "output-aead%u", aead);
		if ((r = write_seed(dir, name, FUZZ_OUTPUT_BLOB, &out)) < 0)
			goto done;
		snprintf(name, sizeof name, "records-aead%u", aead);
		if ((r = write_seed(dir, name, FUZZ_OUTPUT_RECORDS, &out)) < 0)
			goto done;
	}
	r = 0;
	goto done;
fail:
	r = -EIO;
done:
	buf_free(&env);
	buf_free(&out);
	return r;
}
