/* libFuzzer target: Paillier jobs and keys (lib/he). The island's side is
 * the paillier backend's run() (plugins/paillier, compiled in): the job
 * document, its public key, the ciphertexts' range and unit checks, the
 * linear classification or aggregation, and the output document. The
 * client's side is he_output_decrypt() on an output document. Key files
 * are read with paillier_pub_load() and paillier_priv_load().
 *
 * The first byte picks what the rest is (enum what). Keys are made with
 * fixed randomness. Jobs use a 512-bit key (the backend is configured to
 * accept that size), which keeps each input cheap; job keys above
 * MAX_KEY_BITS are skipped, as their cost grows with the key by design,
 * not by a bug. Output documents are decrypted with a 1536-bit key, as
 * real keys are larger than a double's range: every value decrypted must
 * be a finite number. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/backend.h"
#include "atoll/mode.h"
#include "fuzz.h"
#include "he/he.h"
#include "he/paillier.h"
#include "ml/model.h"
#include "util/buf.h"

#define KEY_BITS 512
#define CLIENT_KEY_BITS 1536
#define MAX_KEY_BITS 1024
#define SCALE_BITS 16

enum what {
	CLASSIFY = 0,  /* a job for a linear model, key in the job */
	AGGREGATE = 1, /* column sums, key in the job */
	KEYED = 2,     /* a job naming a registered key */
	OUTPUT = 3,    /* an output document, decrypted by the client */
	PUB_FILE = 4,  /* a public key file */
	PRIV_FILE = 5, /* a private key file (mode 0600) */
	N_WHAT
};

static const atoll_backend *be;
static void *classify, *aggregate, *keyed;
static struct paillier_priv *key, *client_key;

static void *instance(const atoll_kv *kv, size_t n)
{
	atoll_err err = { "" };
	void *ctx = NULL;

	if (be->init(kv, n, &ctx, &err) != ATOLL_OK)
		fuzz_die("paillier init: %s", err.msg);
	return ctx;
}

void fuzz_setup(void)
{
	static char model_path[4096], keys_dir[4096];
	struct ml_model *m;
	static const double w[3] = { 0.5, -1.25, 2.0 };
	char path[4096];

	fuzz_rand_fix("fuzz_he key");
	if (paillier_keygen(KEY_BITS, &key) < 0 ||
	    paillier_keygen(CLIENT_KEY_BITS, &client_key) < 0)
		fuzz_die("cannot make a Paillier key");
	fuzz_rand_restore();

	if (ml_model_new(ML_KIND_LINEAR, 3, 2, NULL, 0, &m) < 0)
		fuzz_die("cannot make a model");
	memcpy(m->layers[0].w, w, sizeof(w));
	m->layers[0].b[0] = 0.25;
	m->mean[1] = 1.5;
	m->std[2] = 4.0;
	snprintf(model_path, sizeof(model_path), "%s/linear.model", fuzz_tmpdir());
	if (ml_model_save(m, model_path) < 0)
		fuzz_die("cannot save the model");
	ml_model_free(m);
	snprintf(keys_dir, sizeof(keys_dir), "%s", fuzz_tmpdir());
	snprintf(path, sizeof(path), "%s/k1.pub", keys_dir);
	if (paillier_pub_save(&key->pub, path) < 0)
		fuzz_die("cannot save the public key");

	be = atoll_backend_entry(ATOLL_BACKEND_ABI_MAJOR, ATOLL_BACKEND_ABI_MINOR);
	{
		atoll_kv kv[] = { { "model", model_path }, { "op", "classify" },
				  { "min_key_bits", "512" }, { "pool_size", "0" },
				  { "weight_bits", "16" }, { "feature_bits", "8" } };
		classify = instance(kv, 6);
		kv[4] = (atoll_kv){ "keys", keys_dir };
		keyed = instance(kv, 6);
	}
	{
		atoll_kv kv[] = { { "op", "aggregate" }, { "min_key_bits", "512" },
				  { "pool_size", "0" }, { "feature_bits", "8" } };
		aggregate = instance(kv, 4);
	}
}

static int collect(void *host, const uint8_t *data, size_t len)
{
	return buf_append(host, data, len) < 0 ? ATOLL_E_NOMEM : ATOLL_OK;
}

static int not_cancelled(void *host)
{
	return 0;
}

/* Run the job; on success the output goes to out. */
static int run(void *ctx, const uint8_t *doc, size_t len, struct buf *out)
{
	atoll_backend_job job = { .struct_size = sizeof(job),
				  .job_id = "job_fuzz",
				  .workload_id = 1,
				  .mode = ATOLL_MODE_HOMOMORPHIC,
				  .input = doc,
				  .input_len = len };
	atoll_backend_io io = { .struct_size = sizeof(io),
				.host = out,
				.emit = collect,
				.cancelled = not_cancelled };
	atoll_err err = { "" };
	int r = be->run(ctx, &job, &io, &err);

	if (r != ATOLL_OK && !err.msg[0])
		fuzz_die("run failed (%d) without a message", r);
	return r;
}

static void decrypt(const uint8_t *doc, size_t len)
{
	double *v = NULL;
	size_t n = 0;
	uint64_t count;
	unsigned scale;
	char err[256] = "";

	if (he_output_decrypt(client_key, doc, len, &v, &n, &count, &scale, err,
			      sizeof(err)) == 0) {
		if (n && !v)
			fuzz_die("decrypted %zu values into nothing", n);
		for (size_t i = 0; i < n; i++)
			if (!isfinite(v[i]))
				fuzz_die("decrypted value %zu is %g", i, v[i]);
	} else if (!err[0]) {
		fuzz_die("decryption refused without a message");
	}
	free(v);
}

static void job(void *ctx, const uint8_t *doc, size_t len)
{
	struct he_job *hj = NULL;
	struct buf out = { 0 };
	char err[256];

	/* Skip what is only slow: keys over MAX_KEY_BITS. */
	if (he_job_parse(doc, len, &hj, err, sizeof(err)) == 0 &&
	    hj->n_len > MAX_KEY_BITS / 8) {
		he_job_free(hj);
		return;
	}
	he_job_free(hj);
	run(ctx, doc, len, &out);
	buf_free(&out);
}

static void key_file(const uint8_t *d, size_t len, bool priv)
{
	const char *path = fuzz_tmpfile("key.json", d, len, priv ? 0600 : 0644);
	char err[256] = "";
	int r;

	if (priv) {
		struct paillier_priv *k = NULL;

		r = paillier_priv_load(path, KEY_BITS, &k, err, sizeof(err));
		paillier_priv_free(k);
	} else {
		struct paillier_pub *k = NULL;

		r = paillier_pub_load(path, KEY_BITS, &k, err, sizeof(err));
		paillier_pub_free(k);
	}
	if (r == -EBADMSG && !err[0])
		fuzz_die("key file refused without a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % N_WHAT) {
	case CLASSIFY:
		job(classify, data + 1, size - 1);
		break;
	case AGGREGATE:
		job(aggregate, data + 1, size - 1);
		break;
	case KEYED:
		job(keyed, data + 1, size - 1);
		break;
	case OUTPUT:
		decrypt(data + 1, size - 1);
		break;
	case PUB_FILE:
		key_file(data + 1, size - 1, false);
		break;
	case PRIV_FILE:
		key_file(data + 1, size - 1, true);
		break;
	}
	return 0;
}

/* ---- seeds: documents of each kind made by the client's functions ---- */

static void input(const char *name, uint8_t what, const char *key_id,
		  const double *v, size_t n, uint32_t records, bool keep_output)
{
	struct buf doc = { 0 }, out = { 0 };

	if (he_input_write(&key->pub, NULL, key_id, v, n, records, SCALE_BITS,
			   &doc) < 0)
		fuzz_die("cannot write a job document");
	fuzz_seed_tagged(name, what, doc.data, doc.len);
	if (keep_output) {
		char oname[64];

		/* The same job under the client's key, for its output. */
		buf_reset(&doc);
		if (he_input_write(&client_key->pub, NULL, NULL, v, n, records,
				   SCALE_BITS, &doc) < 0 ||
		    run(what == AGGREGATE ? aggregate : classify, doc.data, doc.len,
			&out) != ATOLL_OK)
			fuzz_die("a seed job fails");
		snprintf(oname, sizeof(oname), "%s-output", name);
		fuzz_seed_tagged(oname, OUTPUT, out.data, out.len);
	}
	buf_free(&doc);
	buf_free(&out);
}

static void key_seed(const char *name, uint8_t what, bool priv)
{
	char path[4096];
	uint8_t *d;
	size_t len;

	snprintf(path, sizeof(path), "%s/seed-%s", fuzz_tmpdir(), name);
	if ((priv ? paillier_priv_save(key, path) :
		    paillier_pub_save(&key->pub, path)) < 0 ||
	    !(d = fuzz_read_file(path, &len)))
		fuzz_die("cannot save a key");
	fuzz_seed_tagged(name, what, d, len);
	free(d);
}

void fuzz_seeds(void)
{
	static const double one[3] = { 1.0, -2.5, 3.25 };
	static const double two[6] = { 1.0, 2.0, 3.0, -4.0, 0.5, 6.0 };

	fuzz_rand_fix("fuzz_he seeds");
	input("classify-1", CLASSIFY, NULL, one, 3, 1, true);
	input("classify-2", CLASSIFY, NULL, two, 6, 2, true);
	input("aggregate-2x3", AGGREGATE, NULL, two, 6, 2, true);
	input("aggregate-1x6", AGGREGATE, NULL, two, 6, 1, false);
	input("keyed", KEYED, "k1", one, 3, 1, false);
	key_seed("key.pub", PUB_FILE, false);
	key_seed("key.priv", PRIV_FILE, true);
	fuzz_rand_restore();
}
