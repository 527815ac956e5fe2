/* Paillier keys in the keystore (<dir>/<key id>.paillier.json, the same
 * files atollctl uses), encryption of features and decryption of scores:
 * an HTTP client gets the software-only mode with no crypto of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "he/he.h"
#include "he/paillier.h"
#include "proxy_he.h"
#include "util/fsutil.h"

#include <unistd.h>

int phe_key_create(struct preq *q, const char *label, int bits, Atoll__V1__Key **ret)
{
	struct paillier_priv *k = NULL;
	if (paillier_keygen(bits, &k) < 0) {
		proxy_fail(q, -EIO, "cannot generate a %d-bit Paillier key", bits);
		return -1;
	}
	size_t n_len = paillier_n_bytes(&k->pub);
	uint8_t *n = malloc(n_len);
	int rc = -1;
	if (!n || paillier_pub_n(&k->pub, n) < 0) {
		proxy_fail(q, -ENOMEM, "out of memory");
		goto out;
	}
	Atoll__V1__CreateKeyRequest req = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	req.algorithm = ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER;
	req.public_key.data = n;
	req.public_key.len = n_len;
	req.label = (char *)(label ? label : "");
	Atoll__V1__Key *key;
	if (proxy_call(q, "/atoll.v1.Confidential/CreateKey", &req.base, &atoll__v1__key__descriptor,
		       (ProtobufCMessage **)&key) < 0)
		goto out;
	char path[4400];
	if (cl_paillier_path(&q->p->ks, key->key_id, path, sizeof path) < 0 ||
	    paillier_priv_save(k, path) < 0) {
		proxy_fail(q, -EIO, "cannot write the Paillier key to the keystore");
		protobuf_c_message_free_unpacked(&key->base, NULL);
		goto out;
	}
	*ret = key;
	rc = 0;
out:
	free(n);
	paillier_priv_free(k);
	return rc;
}

static int load(const struct proxy *p, const char *key_id, struct paillier_priv **k, char *err,
		size_t err_size)
{
	char path[4400];
	if (cl_paillier_path(&p->ks, key_id, path, sizeof path) < 0) {
		snprintf(err, err_size, "bad key id '%s'", key_id);
		return -EINVAL;
	}
	char e2[256] = "";
	if (paillier_priv_load(path, PAILLIER_MIN_BITS, k, e2, sizeof e2) < 0) {
		snprintf(err, err_size, "Paillier key %s is not in the keystore: %s", key_id,
			 e2[0] ? e2 : "cannot read it");
		return -ENOENT;
	}
	return 0;
}

bool phe_have_key(const struct proxy *p, const char *key_id)
{
	char path[4400];
	return key_id[0] && cl_paillier_path(&p->ks, key_id, path, sizeof path) == 0 &&
	       access(path, F_OK) == 0;
}

int phe_encrypt(const struct proxy *p, const char *key_id, const double *values, size_t n,
		struct buf *doc, char *err, size_t err_size)
{
	struct paillier_priv *k;
	int e = load(p, key_id, &k, err, err_size);
	if (e < 0)
		return e;
	struct paillier_rand *rz = NULL;
	if ((e = paillier_rand_new(&k->pub, &rz)) < 0) {
		snprintf(err, err_size, "cannot set up the randomizer");
	} else if ((e = he_input_write(&k->pub, rz, key_id, values, n, 1, 40, doc)) < 0) {
		snprintf(err, err_size, "%s",
			 e == -EDOM ? "a value is too large for the scale" : strerror(-e));
	}
	paillier_rand_free(rz);
	paillier_priv_free(k);
	return e;
}

int phe_decrypt(const struct proxy *p, const char *key_id, const char *output,
		const char *classes, struct buf *answer, char *err, size_t err_size)
{
	struct paillier_priv *k;
	int e = load(p, key_id, &k, err, err_size);
	if (e < 0)
		return e;
	double *vals = NULL;
	size_t n = 0;
	uint64_t count = 0;
	unsigned scale = 0;
	char *names[64];
	size_t n_names = 0;
	if ((e = he_output_decrypt(k, (const uint8_t *)output, strlen(output), &vals, &n, &count,
				   &scale, err, err_size)) < 0)
		goto out;
	e = -EINVAL;
	if (!count || n % count) {
		snprintf(err, err_size, "the output has %zu scores for %llu record(s)", n,
			 (unsigned long long)count);
		goto out;
	}
	uint32_t outputs = (uint32_t)(n / count);
	uint32_t n_classes = outputs == 1 ? 2 : outputs;
	if (classes) {
		char *copy = strdup(classes), *save = NULL;
		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n_names < 64;
		     t = strtok_r(NULL, ",", &save))
			names[n_names++] = strdup(t);
		free(copy);
		if (n_names != n_classes) {
			snprintf(err, err_size, "classes names %zu classes, the model has %u",
				 n_names, n_classes);
			goto out;
		}
	} else {
		for (uint32_t i = 0; i < n_classes && i < 64; i++) {
			char s[16];
			snprintf(s, sizeof s, "%u", i);
			names[n_names++] = strdup(s);
		}
	}
	if ((e = he_predictions_write(vals, (size_t)count, outputs, n_classes,
				      (const char *const *)names, answer)) < 0)
		snprintf(err, err_size, "cannot turn the scores into predictions");
out:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(vals);
	paillier_priv_free(k);
	return e;
}
