/* atollctl homomorphic mode: Paillier keys made and kept on this machine,
 * features encrypted here, scores decrypted here. The island only ever sees
 * ciphertexts and the public key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "ctl.h"
#include "he/he.h"
#include "he/paillier.h"
#include "pbjson/pbjson.h"
#include "util/enc.h"

#define DEFAULT_SCALE_BITS 40

static int key_path(struct ctl *c, const char *key_id, char *out, size_t size)
{
	char dir[4096];
	if (keystore_dir_path(c, dir, sizeof dir) < 0 || !cl_id_ok(key_id, 64))
		return -EINVAL;
	snprintf(out, size, "%s/%s.paillier.json", dir, key_id);
	return 0;
}

int he_key_create(struct ctl *c, int bits, const char *label, char *ret_key_id, size_t id_size)
{
	struct paillier_priv *k = NULL;
	fprintf(stderr, "generating a %d-bit Paillier key...\n", bits);
	if (paillier_keygen(bits, &k) < 0)
		return ctl_fail("cannot generate a %d-bit Paillier key", bits);
	size_t n_len = paillier_n_bytes(&k->pub);
	uint8_t *n = malloc(n_len);
	int rc = 1;
	if (!n || paillier_pub_n(&k->pub, n) < 0) {
		ctl_fail("out of memory");
		goto out;
	}
	Atoll__V1__CreateKeyRequest req = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	req.algorithm = ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER;
	req.public_key.data = n;
	req.public_key.len = n_len;
	req.label = (char *)(label ? label : "");
	Atoll__V1__Key *key;
	if (ctl_call(c, "/atoll.v1.Confidential/CreateKey", &req.base, &atoll__v1__key__descriptor,
		     (ProtobufCMessage **)&key))
		goto out;
	char path[4200];
	if (key_path(c, key->key_id, path, sizeof path) < 0 || paillier_priv_save(k, path) < 0) {
		ctl_fail("cannot write the keystore");
		protobuf_c_message_free_unpacked(&key->base, NULL);
		goto out;
	}
	if (ret_key_id) {
		snprintf(ret_key_id, id_size, "%s", key->key_id);
		rc = 0;
	} else {
		char *b64 = malloc(enc_base64_size(n_len));
		if (b64) {
			enc_base64_encode(n, n_len, b64);
			printf("{\"key_id\":\"%s\",\"public_key\":\"%s\"}\n", key->key_id, b64);
			free(b64);
			rc = 0;
		}
	}
	protobuf_c_message_free_unpacked(&key->base, NULL);
out:
	free(n);
	paillier_priv_free(k);
	return rc;
}

static int load_priv(struct ctl *c, const char *key_id, struct paillier_priv **ret)
{
	char path[4200], err[256];
	if (key_path(c, key_id, path, sizeof path) < 0)
		return ctl_fail("bad key id %s", key_id);
	if (paillier_priv_load(path, PAILLIER_MIN_BITS, ret, err, sizeof err) < 0)
		return ctl_fail("Paillier key %s is not in the local keystore: %s", key_id,
				err[0] ? err : "cannot read it");
	return 0;
}

/* Features from a job input document ({"features": [...]}), records x
 * columns when records > 1. */
static int read_values(const char *arg, double **ret, size_t *ret_n)
{
	struct buf raw = { 0 };
	char err[256];
	if (ctl_read_arg(arg, &raw) < 0)
		return ctl_fail("cannot read %s", arg);
	Atoll__V1__JobInput *in = NULL;
	int r = pbjson_read(&atoll__v1__job_input__descriptor, buf_cstr(&raw), raw.len, 0,
			    (ProtobufCMessage **)&in, err, sizeof err);
	buf_free(&raw);
	if (r < 0)
		return ctl_fail("the input is not a job input: %s", err);
	if (!in->n_features) {
		protobuf_c_message_free_unpacked(&in->base, NULL);
		return ctl_fail("homomorphic input needs {\"features\": [...]} (numbers in the "
				"model's feature order)");
	}
	*ret = malloc(in->n_features * sizeof **ret);
	if (*ret) {
		memcpy(*ret, in->features, in->n_features * sizeof **ret);
		*ret_n = in->n_features;
	}
	protobuf_c_message_free_unpacked(&in->base, NULL);
	return *ret ? 0 : ctl_fail("out of memory");
}

int he_encrypt_input(struct ctl *c, const char *key_id, const char *arg, uint32_t records,
		     unsigned scale_bits, struct buf *out)
{
	struct paillier_priv *k;
	if (load_priv(c, key_id, &k))
		return 1;
	double *values = NULL;
	size_t n = 0;
	struct paillier_rand *rz = NULL;
	int rc = read_values(arg, &values, &n);
	if (rc)
		goto out;
	/* The key owner's tables (through the CRT): half the work of the
	 * public-key path for the same ciphertexts' distribution. */
	if (paillier_rand_new_priv(k, &rz) < 0) {
		rc = ctl_fail("cannot set up the randomizer");
		goto out;
	}
	int r = he_input_write_priv(k, rz, key_id, values, n, records ? records : 1, scale_bits,
				    out);
	if (r < 0)
		rc = ctl_fail("cannot encrypt the features: %s", r == -EDOM ? "a value is too large for "
							      "the scale" : strerror(-r));
out:
	free(values);
	paillier_rand_free(rz);
	paillier_priv_free(k);
	return rc;
}

/* Decrypt a job's homomorphic output and print the answer: the model's
 * label and probability for classification, sums and means for
 * aggregation. */
int he_decrypt_job(struct ctl *c, const char *job_id, const char *key_id, const char *classes,
		   bool aggregate)
{
	Atoll__V1__GetJobRequest req = ATOLL__V1__GET_JOB_REQUEST__INIT;
	req.job_id = (char *)job_id;
	Atoll__V1__Job *job;
	if (ctl_call(c, "/atoll.v1.Jobs/GetJob", &req.base, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&job))
		return 1;
	int rc = 1;
	struct paillier_priv *k = NULL;
	double *vals = NULL;
	char *names[64];
	size_t n_names = 0;
	struct buf out = { 0 };
	if (job->mode != ATOLL__V1__MODE__MODE_HOMOMORPHIC || !job->output || !job->output->text[0]) {
		ctl_fail("job %s has no homomorphic output", job_id);
		goto done;
	}
	if (!key_id)
		key_id = job->encryption_key_id;
	if (load_priv(c, key_id, &k))
		goto done;
	size_t n = 0;
	uint64_t count = 0;
	unsigned scale = 0;
	char err[256];
	if (he_output_decrypt(k, (const uint8_t *)job->output->text, strlen(job->output->text), &vals,
			      &n, &count, &scale, err, sizeof err) < 0) {
		ctl_fail("cannot decrypt the output of %s: %s", job_id, err);
		goto done;
	}
	if (aggregate) {
		printf("{\"count\":%llu,\"sums\":[", (unsigned long long)count);
		for (size_t i = 0; i < n; i++)
			printf("%s%.17g", i ? "," : "", vals[i]);
		printf("],\"means\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s%.17g", i ? "," : "", count ? vals[i] / (double)count : 0);
		printf("]}\n");
		rc = 0;
		goto done;
	}
	if (!count || n % count) {
		ctl_fail("the output has %zu scores for %llu record(s)", n, (unsigned long long)count);
		goto done;
	}
	uint32_t outputs = (uint32_t)(n / count);
	uint32_t n_classes = outputs == 1 ? 2 : outputs;
	if (classes) {
		char *copy = strdup(classes), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && n_names < 64; t = strtok_r(NULL, ",", &save))
			names[n_names++] = strdup(t);
		free(copy);
		if (n_names != n_classes) {
			ctl_fail("--classes names %zu classes, the model has %u", n_names, n_classes);
			goto done;
		}
	} else {
		for (uint32_t i = 0; i < n_classes && i < 64; i++) {
			char s[16];
			snprintf(s, sizeof s, "%u", i);
			names[n_names++] = strdup(s);
		}
	}
	if (he_predictions_write(vals, (size_t)count, outputs, n_classes,
				 (const char *const *)names, &out) < 0) {
		ctl_fail("cannot turn the scores into predictions");
		goto done;
	}
	printf("%s\n", buf_cstr(&out));
	rc = 0;
done:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	buf_free(&out);
	free(vals);
	paillier_priv_free(k);
	protobuf_c_message_free_unpacked(&job->base, NULL);
	return rc;
}
