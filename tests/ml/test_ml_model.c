/* ml: the model file format (round trip and every rejection with its exact
 * message), inference, the standardization fold, and JobInput parsing. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "check.h"
#include "ml/io.h"
#include "ml/model.h"
#include "util/buf.h"

/* A binary linear model over 3 features with known weights. */
static struct ml_model *small_linear(void)
{
	struct ml_model *m;
	if (ml_model_new(ML_KIND_LINEAR, 3, 2, NULL, 0, &m) < 0)
		return NULL;
	const char *names[] = { "alpha", "beta", "gamma" };
	for (uint32_t i = 0; i < 3; i++) {
		ml_model_set_feature_name(m, i, names[i]);
		m->mean[i] = (double)i;
		m->std[i] = 2.0;
		m->layers[0].w[i] = 0.5 * (double)(i + 1);
	}
	ml_model_set_class_name(m, 0, "no");
	ml_model_set_class_name(m, 1, "yes");
	m->layers[0].b[0] = -0.25;
	return m;
}

/* Parse img and return the error message ("" on success). */
static const char *parse_msg(const uint8_t *img, size_t len)
{
	static char err[256];
	struct ml_model *m = NULL;
	err[0] = 0;
	int r = ml_model_parse(img, len, &m, err, sizeof err);
	if (r == 0) {
		ml_model_free(m);
		return "";
	}
	CHECK_INT(r, -EBADMSG);
	return err;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

/* Recompute the trailing checksum after an edit, so that the parser's
 * consistency checks (not the checksum) have to catch it. */
static void reseal(uint8_t *img, size_t len)
{
	SHA256(img, len - 32, img + len - 32);
}

static void test_format(void)
{
	struct ml_model *m = small_linear();
	CHECK(m != NULL);
	struct buf b = { 0 };
	CHECK_INT(ml_model_serialize(m, &b), 0);
	/* header 32 + widths 8 + names (2+2 + 2+3) + (2+5 + 2+4 + 2+5)
	 * + mean/std 48 + weights 24 + bias 8 + checksum 32 */
	CHECK_INT(b.len, 32 + 8 + 9 + 20 + 48 + 24 + 8 + 32);
	CHECK(memcmp(b.data, "ATOLLMDL", 8) == 0);
	CHECK_STR(parse_msg(b.data, b.len), "");

	struct ml_model *back = NULL;
	char err[256];
	CHECK_INT(ml_model_parse(b.data, b.len, &back, err, sizeof err), 0);
	if (back) {
		CHECK_INT(back->kind, ML_KIND_LINEAR);
		CHECK_INT(back->n_features, 3);
		CHECK_INT(ml_model_outputs(back), 1);
		CHECK_STR(back->feature_names[1], "beta");
		CHECK_STR(back->class_names[1], "yes");
		CHECK(back->layers[0].w[2] == 1.5 && back->layers[0].b[0] == -0.25);
		CHECK(back->std[0] == 2.0 && back->mean[2] == 2.0);
		struct buf again = { 0 };
		CHECK_INT(ml_model_serialize(back, &again), 0);
		CHECK(again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
		buf_free(&again);
		ml_model_free(back);
	}

	size_t len = b.len;
	uint8_t *img = malloc(len + 8);
	memcpy(img, b.data, len);

	/* Truncation, at the end and at the start. */
	char want[128];
	snprintf(want, sizeof want, "truncated: header says %zu bytes, file has %zu",
		 len, len - 1);
	CHECK_STR(parse_msg(img, len - 1), want);
	CHECK_STR(parse_msg(img, 20), "truncated: 20 bytes, a model file has at least 64");
	CHECK_STR(parse_msg(img, 5), "not an Atoll model file (bad magic)");
	img[len] = 0;
	snprintf(want, sizeof want, "trailing data: header says %zu bytes, file has %zu",
		 len, len + 1);
	CHECK_STR(parse_msg(img, len + 1), want);

	/* One flipped bit anywhere: in a weight, in the checksum itself. */
	img[len - 32 - 10] ^= 0x01;
	CHECK_STR(parse_msg(img, len), "checksum mismatch: file is corrupted");
	img[len - 32 - 10] ^= 0x01;
	img[len - 1] ^= 0x80;
	CHECK_STR(parse_msg(img, len), "checksum mismatch: file is corrupted");
	img[len - 1] ^= 0x80;
	CHECK_STR(parse_msg(img, len), "");

	/* Header fields checked before the checksum. */
	img[0] = 'X';
	CHECK_STR(parse_msg(img, len), "not an Atoll model file (bad magic)");
	img[0] = 'A';
	img[8] = 2;
	CHECK_STR(parse_msg(img, len),
		  "unsupported model format version 2 (this build reads 1)");
	img[8] = 1;

	/* Inconsistent dims, with a valid checksum. */
	uint8_t *t = malloc(len);
	memcpy(t, img, len);
	put_le32(t + 32, 2); /* layer 1 input width */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "layer 1 takes 2 inputs, the model has 3 features");
	memcpy(t, img, len);
	put_le32(t + 36, 2); /* output width */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len),
		  "last layer has 2 outputs, a linear model with 2 classes has 1");
	memcpy(t, img, len);
	put_le32(t + 20, 3); /* n_classes */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len),
		  "last layer has 1 outputs, a linear model with 3 classes has 3");
	memcpy(t, img, len);
	put_le32(t + 24, 2); /* n_layers */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "a linear model has 1 layer, header says 2");
	memcpy(t, img, len);
	put_le32(t + 16, 0); /* n_features */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "n_features 0 out of range 1..65536");
	memcpy(t, img, len);
	t[10] = 7; /* kind */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "unknown model kind 7");
	memcpy(t, img, len);
	put_le32(t + 16, 4); /* n_features = 4 and width 4: sections run short */
	put_le32(t + 32, 4);
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "feature name 3 has length 0 (1..255)");
	/* Names: classes "no", "yes" at 40, features "alpha" at 49, "beta"
	 * at 56, "gamma" at 62 (each a 2-byte length, then the bytes). */
	memcpy(t, img, len);
	memcpy(t + 64, "alpha", 5);
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "duplicate feature name 'alpha'");
	memcpy(t, img, len);
	t[59] = 0;
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "feature name 1 contains a NUL byte");
	memcpy(t, img, len);
	t[40] = 0;
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "class name 0 has length 0 (1..255)");
	memcpy(t, img, len);
	/* std[0] = 0: the std section starts after names and means. */
	size_t std_off = 32 + 8 + 9 + 20 + 24;
	memset(t + std_off, 0, 8);
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "std of feature 0 ('alpha') is not positive");
	memcpy(t, img, len);
	memset(t + std_off + 24, 0xff, 8); /* a NaN weight */
	reseal(t, len);
	CHECK_STR(parse_msg(t, len), "layer 1 weights value 0 is not finite");
	free(t);

	/* A body shorter than its dims say, with size and checksum fixed up:
	 * drop the bias (the 8 bytes before the checksum). */
	t = malloc(len - 8);
	memcpy(t, img, len - 40);
	memcpy(t + len - 40, img + len - 32, 32);
	put_le32(t + 12, (uint32_t)(len - 8));
	reseal(t, len - 8);
	CHECK_STR(parse_msg(t, len - 8), "truncated in layer 1 biases");
	/* And one longer: 8 spare bytes before the checksum. */
	free(t);
	t = calloc(1, len + 8);
	memcpy(t, img, len - 32);
	put_le32(t + 12, (uint32_t)(len + 8));
	reseal(t, len + 8);
	CHECK_STR(parse_msg(t, len + 8), "8 unexpected bytes before the checksum");
	free(t);

	/* Duplicate names are refused when writing as well as reading. */
	ml_model_set_feature_name(m, 2, "alpha");
	struct buf dup = { 0 };
	CHECK_INT(ml_model_serialize(m, &dup), -EINVAL);
	buf_free(&dup);

	char lerr[256];
	struct ml_model *none = NULL;
	CHECK_INT(ml_model_load("/nonexistent/x.model", &none, lerr, sizeof lerr),
		  -ENOENT);
	CHECK_STR(lerr, "/nonexistent/x.model: No such file or directory");
	CHECK(none == NULL);

	free(img);
	buf_free(&b);
	ml_model_free(m);
}

static void test_inference(void)
{
	struct ml_model *m = small_linear();
	double x[3] = { 2, 3, 4 }; /* z = (1, 1, 1) */
	double s;
	CHECK_INT(ml_model_scores(m, x, &s), 0);
	CHECK(fabs(s - (0.5 + 1.0 + 1.5 - 0.25)) < 1e-12);
	uint32_t cls;
	double probs[2];
	CHECK_INT(ml_model_predict(m, x, &cls, probs), 0);
	CHECK_INT(cls, 1);
	CHECK(fabs(probs[1] - 1 / (1 + exp(-2.75))) < 1e-12);
	CHECK(fabs(probs[0] + probs[1] - 1) < 1e-12);

	/* The fold applies to raw features. */
	double w[3], b;
	CHECK_INT(ml_linear_fold(m, w, &b), 0);
	CHECK(fabs(w[0] * 2 + w[1] * 3 + w[2] * 4 + b - s) < 1e-12);

	/* Extreme logits do not overflow. */
	double big = 1000, small = -1000;
	CHECK_INT(ml_probabilities(1, 2, &big, probs), 1);
	CHECK(probs[1] == 1.0);
	CHECK_INT(ml_probabilities(1, 2, &small, probs), 0);
	CHECK(probs[0] == 1.0);
	double three[3] = { 1000, 999, -5 }, p3[3];
	CHECK_INT(ml_probabilities(3, 3, three, p3), 0);
	CHECK(fabs(p3[0] - 1 / (1 + exp(-1.0) + exp(-1005.0))) < 1e-12);

	/* Finite features whose score overflows: no probabilities (they
	 * were NaN), and a message for the job that sent them. */
	double huge[3] = { 1.7e308, 1.7e308, 1.7e308 };
	probs[0] = probs[1] = 0.5;
	CHECK_INT(ml_model_scores(m, huge, &s), -ERANGE);
	CHECK_INT(ml_model_predict(m, huge, &cls, probs), -ERANGE);
	struct buf answer = { 0 };
	char err[256] = "";
	static const char doc[] = "{\"features\": [1.7e308, 1.7e308, 1.7e308]}";
	CHECK_INT(ml_run_json(m, (const uint8_t *)doc, strlen(doc), &answer, err,
			      sizeof err), -EINVAL);
	CHECK_STR(err, "input: values so large that the model's scores are not finite");
	CHECK_INT(answer.len, 0);
	buf_free(&answer);
	ml_model_free(m);

	/* A 2-2-2 mlp whose ReLU matters: h = relu(x - (1, 1)), out = h. */
	struct ml_model *n;
	uint32_t hidden[1] = { 2 };
	CHECK_INT(ml_model_new(ML_KIND_MLP, 2, 2, hidden, 1, &n), 0);
	n->layers[0].w[0] = 1;
	n->layers[0].w[3] = 1;
	n->layers[0].b[0] = -1;
	n->layers[0].b[1] = -1;
	n->layers[1].w[0] = 1;
	n->layers[1].w[3] = 1;
	double xi[2] = { 0, 3 }, out[2];
	CHECK_INT(ml_model_scores(n, xi, out), 0);
	CHECK(out[0] == 0 && out[1] == 2);
	struct buf img = { 0 };
	CHECK_INT(ml_model_serialize(n, &img), 0);
	struct ml_model *n2 = NULL;
	CHECK_INT(ml_model_parse(img.data, img.len, &n2, NULL, 0), 0);
	if (n2) {
		CHECK_INT(n2->kind, ML_KIND_MLP);
		CHECK_INT(n2->n_layers, 2);
		CHECK_INT(ml_model_scores(n2, xi, out), 0);
		CHECK(out[0] == 0 && out[1] == 2);
	}
	/* An mlp header claiming one layer. */
	put_le32(img.data + 24, 1);
	reseal(img.data, img.len);
	CHECK_STR(parse_msg(img.data, img.len), "an mlp has 2..16 layers, header says 1");
	buf_free(&img);
	ml_model_free(n2);
	ml_model_free(n);

	CHECK_INT(ml_model_new(ML_KIND_LINEAR, 0, 2, NULL, 0, &n), -EINVAL);
	CHECK_INT(ml_model_new(ML_KIND_LINEAR, 3, 1, NULL, 0, &n), -EINVAL);
	CHECK_INT(ml_model_new(ML_KIND_MLP, 3, 2, NULL, 0, &n), -EINVAL);
}

static const char *input_msg(const struct ml_model *m, const char *doc, double *x)
{
	static char err[256];
	strcpy(err, "(no error)");
	int r = ml_input_parse(m, (const uint8_t *)doc, strlen(doc), x, err, sizeof err);
	if (r == 0)
		return "";
	CHECK_INT(r, -EINVAL);
	return err;
}

static void test_input(void)
{
	struct ml_model *m = small_linear();
	double x[3];
	CHECK_STR(input_msg(m, "{\"features\": [1, 2.5, -3e2]}", x), "");
	CHECK(x[0] == 1 && x[1] == 2.5 && x[2] == -300);
	/* proto3 JSON may carry doubles as strings. */
	CHECK_STR(input_msg(m, "{\"features\": [\"1\", \"2.5\", 3]}", x), "");
	CHECK(x[1] == 2.5);
	CHECK_STR(input_msg(m, "{\"record\": {\"gamma\": 3, \"alpha\": 1, \"beta\": 2}}", x), "");
	CHECK(x[0] == 1 && x[1] == 2 && x[2] == 3);
	CHECK_STR(input_msg(m, "{\"features\": [1, 2], \"record\": null}", x),
		  "features: expected 3 values, got 2");
	CHECK_STR(input_msg(m, "{\"features\": [1, 2, 3, 4]}", x),
		  "features: expected 3 values, got 4");
	CHECK_STR(input_msg(m, "{\"features\": [1, \"x\", 3]}", x),
		  "features[1] ('beta'): expected a number, got string");
	CHECK_STR(input_msg(m, "{\"features\": [1, true, 3]}", x),
		  "features[1] ('beta'): expected a number, got boolean");
	CHECK_STR(input_msg(m, "{\"features\": [1, \"NaN\", 3]}", x),
		  "features[1] ('beta'): expected a number, got string");
	CHECK_STR(input_msg(m, "{\"features\": [1, 2, 1e999]}", x),
		  "features[2] ('gamma'): not a finite number");
	CHECK_STR(input_msg(m, "{\"features\": {\"a\": 1}}", x),
		  "features: expected an array, got object");
	CHECK_STR(input_msg(m, "{\"record\": {\"alpha\": 1, \"beta\": 2}}", x),
		  "record: missing feature 'gamma'");
	CHECK_STR(input_msg(m, "{\"record\": {\"alpha\": 1, \"beta\": 2, \"delta\": 3}}", x),
		  "record: unknown feature 'delta'");
	CHECK_STR(input_msg(m, "{\"record\": {\"alpha\": 1, \"beta\": \"two\", \"gamma\": 3}}", x),
		  "record['beta']: expected a number, got string");
	CHECK_STR(input_msg(m, "{\"features\": [1, 2, 3], \"record\": {}}", x),
		  "input: set only one of features and record");
	CHECK_STR(input_msg(m, "{}", x), "input: no features or record");
	CHECK_STR(input_msg(m, "{\"prompt\": \"hi\"}", x),
		  "input: unexpected field 'prompt' (this model takes features or record)");
	CHECK_STR(input_msg(m, "[1, 2, 3]", x), "input: expected a JSON object, got array");
	CHECK(strncmp(input_msg(m, "{\"features\": [1, 2", x), "input is not JSON: line 1", 25) == 0);

	struct buf out = { 0 };
	char err[256];
	CHECK_INT(ml_run_json(m, (const uint8_t *)"{\"features\": [2, 3, 4]}", 23, &out,
			      err, sizeof err), 0);
	char *s = buf_cstr(&out);
	/* sigmoid(2.75) = 0.9399...; the writer picks the shortest exact form. */
	CHECK(s && strncmp(s, "{\"label\":\"yes\",\"probability\":0.9", 32) == 0);
	CHECK(s && strstr(s, ",\"class\":1}") != NULL);
	CHECK(s && strstr(s, "probabilities") == NULL);
	buf_free(&out);

	double probs[3] = { 0.2, 0.5, 0.3 };
	const char *names[] = { "a", "b", "c" };
	CHECK_INT(ml_output_write(names, 3, 1, probs, &out), 0);
	CHECK_STR(buf_cstr(&out),
		  "{\"label\":\"b\",\"probability\":0.5,\"class\":1,\"probabilities\":[0.2,0.5,0.3]}");
	buf_free(&out);
	CHECK_INT(ml_output_write(NULL, 3, 2, probs, &out), 0);
	CHECK_STR(buf_cstr(&out),
		  "{\"label\":\"2\",\"probability\":0.3,\"class\":2,\"probabilities\":[0.2,0.5,0.3]}");
	buf_free(&out);
	ml_model_free(m);
}

/* A header whose hidden widths ask for 32 GiB of weights, in a file that
 * holds none of them: refused as truncated, without allocating them
 * (before, the parser allocated every layer from the header first). */
static void test_huge_shape(void)
{
	uint8_t img[32 + 16 + 6 + 3 + 16 + 32] = "ATOLLMDL";
	const uint32_t widths[4] = { 1, 65536, 65536, 2 };
	size_t o = 32;

	img[8] = 1;  /* version */
	img[10] = 2; /* mlp */
	put_le32(img + 12, sizeof img);
	put_le32(img + 16, 1); /* n_features */
	put_le32(img + 20, 2); /* n_classes */
	put_le32(img + 24, 3); /* n_layers */
	for (int l = 0; l < 4; l++, o += 4)
		put_le32(img + o, widths[l]);
	static const uint8_t names[9] = { 1, 0, 'a', 1, 0, 'b', 1, 0, 'x' };
	static const uint8_t one[8] = { 0, 0, 0, 0, 0, 0, 0xf0, 0x3f };
	memcpy(img + o, names, sizeof names);
	o += sizeof names + 8; /* mean 0 */
	memcpy(img + o, one, sizeof one); /* std 1 */
	reseal(img, sizeof img);
	CHECK_STR(parse_msg(img, sizeof img), "truncated in layer 1 weights");
}

int main(void)
{
	test_format();
	test_huge_shape();
	test_inference();
	test_input();
	CHECK_DONE();
}
