/* libFuzzer target: the model backends' parsers (lib/ml): model files
 * (model.c) and JobInput documents (io.c).
 *
 * The first byte picks what the rest is (enum what). A model file is
 * parsed as is, or first given the length and SHA-256 checksum its
 * header and trailer claim, so that mutations get past the checksum to
 * the layout checks. A model that parses must serialize, parse again to
 * the same bytes, and predict probabilities in [0, 1] (or refuse values
 * that overflow). Job inputs run
 * through ml_run_json() on a linear and an mlp model with named
 * features. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "fuzz.h"
#include "json/json.h"
#include "ml/io.h"
#include "ml/model.h"
#include "util/buf.h"

enum what {
	MODEL = 0,       /* a model file as it is */
	MODEL_FIXED = 1, /* the same with length and checksum made right */
	INPUT_LINEAR = 2,
	INPUT_MLP = 3,
	N_WHAT
};

static struct ml_model *linear, *mlp;

static struct ml_model *small_model(enum ml_kind kind, uint32_t n_classes)
{
	static const uint32_t hidden[2] = { 4, 3 };
	static const char *const names[4] = { "radius", "texture", "area",
					      "smoothness" };
	struct ml_model *m;

	if (ml_model_new(kind, 4, n_classes, hidden, kind == ML_KIND_MLP ? 2 : 0,
			 &m) < 0)
		fuzz_die("cannot make a model");
	for (uint32_t i = 0; i < 4; i++) {
		ml_model_set_feature_name(m, i, names[i]);
		m->mean[i] = 0.5 * i;
		m->std[i] = 1.0 + i;
	}
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct ml_layer *L = &m->layers[l];

		for (uint32_t k = 0; k < L->in * L->out; k++)
			L->w[k] = (double)((int)(k % 7) - 3) / 4;
		for (uint32_t k = 0; k < L->out; k++)
			L->b[k] = 0.125 * k;
	}
	return m;
}

void fuzz_setup(void)
{
	linear = small_model(ML_KIND_LINEAR, 2);
	mlp = small_model(ML_KIND_MLP, 3);
	ml_model_set_class_name(mlp, 0, "setosa");
}

static void check_model(const struct ml_model *m)
{
	struct buf a = { 0 }, b = { 0 };
	struct ml_model *again = NULL;
	double *x = calloc(m->n_features, sizeof(*x));
	double *probs = calloc(m->n_classes, sizeof(*probs));
	char err[256];
	uint32_t cls;

	if (!x || !probs)
		fuzz_die("out of memory");
	if (ml_model_serialize(m, &a) < 0)
		fuzz_die("a parsed model does not serialize");
	if (ml_model_parse(a.data, a.len, &again, err, sizeof(err)) < 0)
		fuzz_die("a serialized model does not parse: %s", err);
	if (ml_model_serialize(again, &b) < 0 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		fuzz_die("a model changes when it is parsed again");
	memcpy(x, m->mean, m->n_features * sizeof(*x));
	/* Weights large enough to overflow are refused, not answered. */
	int r = ml_model_predict(m, x, &cls, probs);
	if (r < 0 && r != -ERANGE)
		fuzz_die("predict failed: %d", r);
	if (r == 0 && cls >= m->n_classes)
		fuzz_die("predicted class %u of %u", cls, m->n_classes);
	for (uint32_t i = 0; r == 0 && i < m->n_classes; i++)
		if (!(probs[i] >= 0 && probs[i] <= 1))
			fuzz_die("probability %u is %g", i, probs[i]);
	ml_model_free(again);
	buf_free(&a);
	buf_free(&b);
	free(x);
	free(probs);
}

static void model(const uint8_t *data, size_t size, bool fix)
{
	struct ml_model *m = NULL;
	uint8_t *d = malloc(size + 1);
	char err[256] = "";

	if (!d)
		fuzz_die("out of memory");
	memcpy(d, data, size);
	if (fix && size >= ML_MODEL_HEADER_SIZE + ML_MODEL_CHECKSUM_SIZE) {
		for (int i = 0; i < 4; i++)
			d[12 + i] = (uint8_t)(size >> (8 * i));
		SHA256(d, size - ML_MODEL_CHECKSUM_SIZE,
		       d + size - ML_MODEL_CHECKSUM_SIZE);
	}
	if (ml_model_parse(d, size, &m, err, sizeof(err)) == 0)
		check_model(m);
	else if (!err[0])
		fuzz_die("model refused without a message");
	ml_model_free(m);
	free(d);
}

/* An answer is a JSON object whose probability is a number in [0, 1]. */
static void check_answer(const struct buf *out)
{
	json_value *v = NULL;
	const json_value *p;
	char err[128];

	if (json_parse((const char *)out->data, out->len, &v, err, sizeof(err)) < 0)
		fuzz_die("the prediction is not JSON: %s", err);
	p = json_get(v, "probability");
	if (json_type_of(p) != JSON_NUMBER ||
	    !(json_number(p) >= 0 && json_number(p) <= 1))
		fuzz_die("the prediction's probability is not in [0, 1]: %.*s",
			 (int)out->len, (const char *)out->data);
	json_free(v);
}

static void input(const struct ml_model *m, const uint8_t *data, size_t size)
{
	struct buf out = { 0 };
	char err[256] = "";
	int r = ml_run_json(m, data, size, &out, err, sizeof(err));

	if (r == 0)
		check_answer(&out);
	if (r == -EINVAL && !err[0])
		fuzz_die("input refused without a message");
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % N_WHAT) {
	case MODEL:
	case MODEL_FIXED:
		model(data + 1, size - 1, data[0] % N_WHAT == MODEL_FIXED);
		break;
	case INPUT_LINEAR:
		input(linear, data + 1, size - 1);
		break;
	case INPUT_MLP:
		input(mlp, data + 1, size - 1);
		break;
	}
	return 0;
}

/* ---- seeds ---- */

static void model_seed(const char *name, const struct ml_model *m)
{
	struct buf b = { 0 };
	char fixed[64];

	if (ml_model_serialize(m, &b) < 0)
		fuzz_die("cannot serialize a model");
	fuzz_seed_tagged(name, MODEL, b.data, b.len);
	snprintf(fixed, sizeof(fixed), "%s-fixed", name);
	fuzz_seed_tagged(fixed, MODEL_FIXED, b.data, b.len);
	buf_free(&b);
}

void fuzz_seeds(void)
{
	static const char *const inputs[] = {
		"{\"features\":[1,2.5,-3,4e2]}",
		"{\"features\":[\"1\",\"2.5\",\"-3\",\"NaN\"]}",
		"{\"record\":{\"radius\":1,\"texture\":2,\"area\":3,\"smoothness\":0.5}}",
		"{\"record\":{\"radius\":\"1e3\",\"area\":3},\"features\":null}",
	};
	static const char *const bundled[] = {
		"breast_cancer_logistic.model", "digits_softmax.model",
		"digits_mlp.model",
	};
	char name[64], path[4096];

	model_seed("linear", linear);
	model_seed("mlp", mlp);
	{
		struct ml_model *three = small_model(ML_KIND_LINEAR, 3);

		model_seed("linear-3", three);
		ml_model_free(three);
	}
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		snprintf(name, sizeof(name), "input-linear-%zu", i);
		fuzz_seed_tagged(name, INPUT_LINEAR, inputs[i], strlen(inputs[i]));
		snprintf(name, sizeof(name), "input-mlp-%zu", i);
		fuzz_seed_tagged(name, INPUT_MLP, inputs[i], strlen(inputs[i]));
	}
	/* The models the build trains, when they are there. */
	for (size_t i = 0; i < sizeof(bundled) / sizeof(bundled[0]); i++) {
		uint8_t *d;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", ATOLL_FUZZ_MODEL_DIR,
			 bundled[i]);
		if (!(d = fuzz_read_file(path, &len)))
			continue;
		fuzz_seed_tagged(bundled[i], MODEL, d, len);
		free(d);
	}
}
