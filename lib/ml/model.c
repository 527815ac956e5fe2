/* The model file format (read and write) and dense-network inference. */
#include "ml/model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "util/fsutil.h"
#include "util/errmsg.h"

static const char *kind_name(enum ml_kind k)
{
	return k == ML_KIND_LINEAR ? "linear" : "mlp";
}

uint32_t ml_model_outputs(const struct ml_model *m)
{
	return m->layers[m->n_layers - 1].out;
}

static void free_names(char **names, uint32_t n)
{
	if (!names)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct ml_model *ml_model_free(struct ml_model *m)
{
	if (!m)
		return NULL;
	free_names(m->class_names, m->n_classes);
	free_names(m->feature_names, m->n_features);
	free(m->mean);
	free(m->std);
	if (m->layers) {
		for (uint32_t l = 0; l < m->n_layers; l++) {
			free(m->layers[l].w);
			free(m->layers[l].b);
		}
		free(m->layers);
	}
	free(m);
	return NULL;
}

/* Allocate everything for the given shape; widths has n_layers + 1
 * entries. Names are left NULL, and so are the layers' weights and biases
 * unless weights is set. */
static int alloc_model(enum ml_kind kind, uint32_t n_classes, uint32_t n_layers,
		       const uint32_t *widths, bool weights, struct ml_model **ret_model)
{
	struct ml_model *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->kind = kind;
	m->n_features = widths[0];
	m->n_classes = n_classes;
	m->n_layers = n_layers;
	m->class_names = calloc(n_classes, sizeof *m->class_names);
	m->feature_names = calloc(m->n_features, sizeof *m->feature_names);
	m->mean = calloc(m->n_features, sizeof *m->mean);
	m->std = calloc(m->n_features, sizeof *m->std);
	m->layers = calloc(n_layers, sizeof *m->layers);
	if (!m->class_names || !m->feature_names || !m->mean || !m->std ||
	    !m->layers)
		goto fail_model;
	for (uint32_t l = 0; l < n_layers; l++) {
		struct ml_layer *L = &m->layers[l];
		L->in = widths[l];
		L->out = widths[l + 1];
		if (!weights)
			continue;
		L->w = calloc((size_t)L->in * L->out, sizeof *L->w);
		L->b = calloc(L->out, sizeof *L->b);
		if (!L->w || !L->b)
			goto fail_model;
	}
	*ret_model = m;
	return 0;

fail_model:
	ml_model_free(m);
	return -ENOMEM;
}

int ml_model_new(enum ml_kind kind, uint32_t n_features, uint32_t n_classes,
		 const uint32_t *hidden, size_t n_hidden,
		 struct ml_model **ret_model)
{
	if (kind != ML_KIND_LINEAR && kind != ML_KIND_MLP)
		return -EINVAL;
	if (n_features < 1 || n_features > ML_MAX_FEATURES || n_classes < 2 ||
	    n_classes > ML_MAX_CLASSES)
		return -EINVAL;
	if (kind == ML_KIND_LINEAR ? n_hidden != 0
				   : n_hidden < 1 || n_hidden + 1 > ML_MAX_LAYERS)
		return -EINVAL;
	uint32_t widths[ML_MAX_LAYERS + 1];
	widths[0] = n_features;
	for (size_t i = 0; i < n_hidden; i++) {
		if (hidden[i] < 1 || hidden[i] > ML_MAX_WIDTH)
			return -EINVAL;
		widths[i + 1] = hidden[i];
	}
	uint32_t n_layers = (uint32_t)n_hidden + 1;
	widths[n_layers] = kind == ML_KIND_LINEAR && n_classes == 2 ? 1 : n_classes;

	struct ml_model *m;
	int r = alloc_model(kind, n_classes, n_layers, widths, true, &m);
	if (r < 0)
		return r;
	char name[32];
	for (uint32_t i = 0; i < n_classes; i++) {
		snprintf(name, sizeof name, "%u", i);
		if ((r = ml_model_set_class_name(m, i, name)) < 0)
			goto fail_model;
	}
	for (uint32_t i = 0; i < n_features; i++) {
		snprintf(name, sizeof name, "x%u", i);
		if ((r = ml_model_set_feature_name(m, i, name)) < 0)
			goto fail_model;
		m->std[i] = 1.0;
	}
	*ret_model = m;
	return 0;

fail_model:
	ml_model_free(m);
	return r;
}

static int set_name(char **slot, const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ML_MAX_NAME)
		return -EINVAL;
	char *s = strdup(name);
	if (!s)
		return -ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

int ml_model_set_class_name(struct ml_model *m, uint32_t i, const char *name)
{
	if (i >= m->n_classes)
		return -EINVAL;
	return set_name(&m->class_names[i], name);
}

int ml_model_set_feature_name(struct ml_model *m, uint32_t i, const char *name)
{
	if (i >= m->n_features)
		return -EINVAL;
	return set_name(&m->feature_names[i], name);
}

int ml_model_feature_index(const struct ml_model *m, const char *name)
{
	for (uint32_t i = 0; i < m->n_features; i++)
		if (strcmp(m->feature_names[i], name) == 0)
			return (int)i;
	return -ENOENT;
}

/* ---- reading ---- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static double lef64(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | p[i];
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

static bool take(struct reader *rd, size_t n, const uint8_t **ret)
{
	if (n > rd->left)
		return false;
	*ret = rd->p;
	rd->p += n;
	rd->left -= n;
	return true;
}

static int read_names(struct reader *rd, char **names, uint32_t n,
		      const char *what, char *err, size_t err_size)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p;
		if (!take(rd, 2, &p)) {
			err_buf_setf(err, err_size, "truncated in %s names", what);
			return -EBADMSG;
		}
		uint16_t len = le16(p);
		if (len == 0 || len > ML_MAX_NAME) {
			err_buf_setf(err, err_size, "%s name %u has length %u (1..%u)",
				    what, i, len, ML_MAX_NAME);
			return -EBADMSG;
		}
		if (!take(rd, len, &p)) {
			err_buf_setf(err, err_size, "truncated in %s names", what);
			return -EBADMSG;
		}
		if (memchr(p, 0, len)) {
			err_buf_setf(err, err_size, "%s name %u contains a NUL byte",
				    what, i);
			return -EBADMSG;
		}
		names[i] = malloc((size_t)len + 1);
		if (!names[i])
			return -ENOMEM;
		memcpy(names[i], p, len);
		names[i][len] = 0;
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(names[j], names[i]) == 0) {
				err_buf_setf(err, err_size, "duplicate %s name '%s'",
					    what, names[i]);
				return -EBADMSG;
			}
		}
	}
	return 0;
}

static int read_doubles(struct reader *rd, double *out, size_t n,
			const char *what, char *err, size_t err_size)
{
	const uint8_t *p;
	if (n > rd->left / 8 || !take(rd, n * 8, &p)) {
		err_buf_setf(err, err_size, "truncated in %s", what);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = lef64(p + 8 * i);
		if (!isfinite(out[i])) {
			err_buf_setf(err, err_size, "%s value %zu is not finite", what, i);
			return -EBADMSG;
		}
	}
	return 0;
}

/* read_doubles() into a new array of n, allocated only when the input
 * holds n values. */
static int take_doubles(struct reader *rd, double **ret, size_t n,
			const char *what, char *err, size_t err_size)
{
	if (n > rd->left / 8) {
		err_buf_setf(err, err_size, "truncated in %s", what);
		return -EBADMSG;
	}
	if (!(*ret = malloc((n ? n : 1) * sizeof **ret)))
		return -ENOMEM;
	return read_doubles(rd, *ret, n, what, err, err_size);
}

int ml_model_parse(const uint8_t *data, size_t len, struct ml_model **ret_model,
		   char *err, size_t err_size)
{
	const size_t min = ML_MODEL_HEADER_SIZE + ML_MODEL_CHECKSUM_SIZE;
	if (len < 8 || memcmp(data, ML_MODEL_MAGIC, 8) != 0) {
		err_buf_setf(err, err_size, "not an Atoll model file (bad magic)");
		return -EBADMSG;
	}
	if (len < min) {
		err_buf_setf(err, err_size,
			    "truncated: %zu bytes, a model file has at least %zu",
			    len, min);
		return -EBADMSG;
	}
	uint16_t version = le16(data + 8);
	if (version != ML_MODEL_VERSION) {
		err_buf_setf(err, err_size,
			    "unsupported model format version %u (this build reads %u)",
			    version, ML_MODEL_VERSION);
		return -EBADMSG;
	}
	uint32_t total = le32(data + 12);
	if (total != len) {
		err_buf_setf(err, err_size, "%s: header says %u bytes, file has %zu",
			    len < total ? "truncated" : "trailing data", total, len);
		return -EBADMSG;
	}
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256(data, len - ML_MODEL_CHECKSUM_SIZE, digest);
	if (CRYPTO_memcmp(digest, data + len - ML_MODEL_CHECKSUM_SIZE,
			  sizeof digest) != 0) {
		err_buf_setf(err, err_size, "checksum mismatch: file is corrupted");
		return -EBADMSG;
	}

	/* The checksum only proves the file is as written; everything below
	 * still checks that what it says is coherent. */
	uint16_t kind = le16(data + 10);
	uint32_t n_features = le32(data + 16);
	uint32_t n_classes = le32(data + 20);
	uint32_t n_layers = le32(data + 24);
	if (kind != ML_KIND_LINEAR && kind != ML_KIND_MLP) {
		err_buf_setf(err, err_size, "unknown model kind %u", kind);
		return -EBADMSG;
	}
	if (le32(data + 28) != 0) {
		err_buf_setf(err, err_size, "reserved header field is not zero");
		return -EBADMSG;
	}
	if (n_features < 1 || n_features > ML_MAX_FEATURES) {
		err_buf_setf(err, err_size, "n_features %u out of range 1..%u",
			    n_features, ML_MAX_FEATURES);
		return -EBADMSG;
	}
	if (n_classes < 2 || n_classes > ML_MAX_CLASSES) {
		err_buf_setf(err, err_size, "n_classes %u out of range 2..%u",
			    n_classes, ML_MAX_CLASSES);
		return -EBADMSG;
	}
	if (kind == ML_KIND_LINEAR && n_layers != 1) {
		err_buf_setf(err, err_size, "a linear model has 1 layer, header says %u",
			    n_layers);
		return -EBADMSG;
	}
	if (kind == ML_KIND_MLP && (n_layers < 2 || n_layers > ML_MAX_LAYERS)) {
		err_buf_setf(err, err_size, "an mlp has 2..%u layers, header says %u",
			    ML_MAX_LAYERS, n_layers);
		return -EBADMSG;
	}

	struct reader rd = {
		.p = data + ML_MODEL_HEADER_SIZE,
		.left = len - ML_MODEL_HEADER_SIZE - ML_MODEL_CHECKSUM_SIZE,
	};
	const uint8_t *p;
	uint32_t widths[ML_MAX_LAYERS + 1];
	if (!take(&rd, 4 * ((size_t)n_layers + 1), &p)) {
		err_buf_setf(err, err_size, "truncated in layer widths");
		return -EBADMSG;
	}
	for (uint32_t l = 0; l <= n_layers; l++) {
		widths[l] = le32(p + 4 * l);
		if (widths[l] < 1 || widths[l] > ML_MAX_WIDTH) {
			err_buf_setf(err, err_size, "layer width %u is %u (1..%u)", l,
				    widths[l], ML_MAX_WIDTH);
			return -EBADMSG;
		}
	}
	if (widths[0] != n_features) {
		err_buf_setf(err, err_size,
			    "layer 1 takes %u inputs, the model has %u features",
			    widths[0], n_features);
		return -EBADMSG;
	}
	uint32_t want_out = kind == ML_KIND_LINEAR && n_classes == 2 ? 1 : n_classes;
	if (widths[n_layers] != want_out) {
		err_buf_setf(err, err_size,
			    "last layer has %u outputs, a %s model with %u classes has %u",
			    widths[n_layers], kind_name(kind), n_classes, want_out);
		return -EBADMSG;
	}

	/* The layers' weights come later, each allocated once the file is
	 * known to hold it: a header alone cannot ask for gigabytes. */
	struct ml_model *m;
	int r = alloc_model(kind, n_classes, n_layers, widths, false, &m);
	if (r < 0)
		return r;
	if ((r = read_names(&rd, m->class_names, n_classes, "class", err,
			    err_size)) < 0 ||
	    (r = read_names(&rd, m->feature_names, n_features, "feature", err,
			    err_size)) < 0 ||
	    (r = read_doubles(&rd, m->mean, n_features, "mean", err,
			      err_size)) < 0 ||
	    (r = read_doubles(&rd, m->std, n_features, "std", err,
			      err_size)) < 0)
		goto fail_model;
	for (uint32_t i = 0; i < n_features; i++) {
		if (!(m->std[i] > 0)) {
			err_buf_setf(err, err_size,
				    "std of feature %u ('%s') is not positive", i,
				    m->feature_names[i]);
			r = -EBADMSG;
			goto fail_model;
		}
	}
	for (uint32_t l = 0; l < n_layers; l++) {
		struct ml_layer *L = &m->layers[l];
		char what[32];
		snprintf(what, sizeof what, "layer %u weights", l + 1);
		if ((r = take_doubles(&rd, &L->w, (size_t)L->in * L->out, what, err,
				      err_size)) < 0)
			goto fail_model;
		snprintf(what, sizeof what, "layer %u biases", l + 1);
		if ((r = take_doubles(&rd, &L->b, L->out, what, err, err_size)) < 0)
			goto fail_model;
	}
	if (rd.left != 0) {
		err_buf_setf(err, err_size, "%zu unexpected bytes before the checksum",
			    rd.left);
		r = -EBADMSG;
		goto fail_model;
	}
	*ret_model = m;
	return 0;

fail_model:
	ml_model_free(m);
	return r;
}

int ml_model_load(const char *path, struct ml_model **ret_model, char *err,
		  size_t err_size)
{
	uint8_t *data;
	size_t len;
	int r = fs_read_file(path, ML_MAX_FILE_SIZE, &data, &len);
	if (r < 0) {
		err_buf_setf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	char detail[200] = "";
	r = ml_model_parse(data, len, ret_model, detail, sizeof detail);
	if (r < 0)
		err_buf_setf(err, err_size, "%s: %s", path, detail);
	free(data);
	return r;
}

/* ---- writing ---- */

static int put16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return buf_append(b, p, 2);
}

static int put32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };
	return buf_append(b, p, 4);
}

static int put_doubles(struct buf *b, const double *v, size_t n)
{
	int r = buf_reserve(b, n * 8);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			return -EINVAL;
		uint64_t u;
		memcpy(&u, &v[i], sizeof u);
		uint8_t p[8];
		for (int k = 0; k < 8; k++)
			p[k] = (uint8_t)(u >> (8 * k));
		buf_append(b, p, 8);
	}
	return 0;
}

static int put_names(struct buf *b, char *const *names, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		size_t len = names[i] ? strlen(names[i]) : 0;
		if (len == 0 || len > ML_MAX_NAME)
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return -EINVAL;
		int r = put16(b, (uint16_t)len);
		if (r < 0 || (r = buf_append(b, names[i], len)) < 0)
			return r;
	}
	return 0;
}

int ml_model_serialize(const struct ml_model *m, struct buf *out)
{
	struct buf b = { 0 };
	int r;
	for (uint32_t i = 0; i < m->n_features; i++) {
		if (!(m->std[i] > 0) || !isfinite(m->std[i]))
			return -EINVAL;
	}
	if ((r = buf_append(&b, ML_MODEL_MAGIC, 8)) < 0 ||
	    (r = put16(&b, ML_MODEL_VERSION)) < 0 ||
	    (r = put16(&b, (uint16_t)m->kind)) < 0 ||
	    (r = put32(&b, 0)) < 0 /* total size, patched below */ ||
	    (r = put32(&b, m->n_features)) < 0 ||
	    (r = put32(&b, m->n_classes)) < 0 ||
	    (r = put32(&b, m->n_layers)) < 0 || (r = put32(&b, 0)) < 0)
		goto fail_buf;
	for (uint32_t l = 0; l < m->n_layers; l++)
		if ((r = put32(&b, m->layers[l].in)) < 0)
			goto fail_buf;
	if ((r = put32(&b, ml_model_outputs(m))) < 0 ||
	    (r = put_names(&b, m->class_names, m->n_classes)) < 0 ||
	    (r = put_names(&b, m->feature_names, m->n_features)) < 0 ||
	    (r = put_doubles(&b, m->mean, m->n_features)) < 0 ||
	    (r = put_doubles(&b, m->std, m->n_features)) < 0)
		goto fail_buf;
	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct ml_layer *L = &m->layers[l];
		if ((r = put_doubles(&b, L->w, (size_t)L->in * L->out)) < 0 ||
		    (r = put_doubles(&b, L->b, L->out)) < 0)
			goto fail_buf;
	}
	size_t total = b.len + ML_MODEL_CHECKSUM_SIZE;
	if (total > UINT32_MAX) {
		r = -EINVAL;
		goto fail_buf;
	}
	for (int k = 0; k < 4; k++)
		b.data[12 + k] = (uint8_t)(total >> (8 * k));
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256(b.data, b.len, digest);
	if ((r = buf_append(&b, digest, sizeof digest)) < 0 ||
	    (r = buf_append(out, b.data, b.len)) < 0)
		goto fail_buf;
	buf_free(&b);
	return 0;

fail_buf:
	buf_free(&b);
	return r;
}

int ml_model_save(const struct ml_model *m, const char *path)
{
	struct buf b = { 0 };
	int r = ml_model_serialize(m, &b);
	if (r == 0)
		r = fs_write_atomic(path, b.data, b.len, 0644);
	buf_free(&b);
	return r;
}

/* ---- inference ---- */

static uint32_t max_width(const struct ml_model *m)
{
	uint32_t w = m->n_features;
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].out > w)
			w = m->layers[l].out;
	return w;
}

int ml_model_scores(const struct ml_model *m, const double *x,
		    double *ret_scores)
{
	uint32_t w = max_width(m);
	double *a = malloc(2 * (size_t)w * sizeof *a);
	if (!a)
		return -ENOMEM;
	double *cur = a, *next = a + w;
	for (uint32_t i = 0; i < m->n_features; i++)
		cur[i] = (x[i] - m->mean[i]) / m->std[i];
	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct ml_layer *L = &m->layers[l];
		bool last = l + 1 == m->n_layers;
		for (uint32_t o = 0; o < L->out; o++) {
			const double *row = L->w + (size_t)o * L->in;
			double s = L->b[o];
			for (uint32_t i = 0; i < L->in; i++)
				s += row[i] * cur[i];
			next[o] = !last && s < 0 ? 0 : s;
		}
		double *t = cur;
		cur = next;
		next = t;
	}
	/* Overflow gives infinities, and infinities of both signs NaN: no
	 * probability follows from those. */
	int r = 0;
	for (uint32_t k = 0; k < ml_model_outputs(m); k++)
		if (!isfinite(cur[k]))
			r = -ERANGE;
	if (r == 0)
		memcpy(ret_scores, cur, ml_model_outputs(m) * sizeof *ret_scores);
	free(a);
	return r;
}

uint32_t ml_probabilities(uint32_t n_outputs, uint32_t n_classes,
			  const double *scores, double *ret_probs)
{
	if (n_outputs == 1) {
		/* Written both ways round so that neither exp() overflows. */
		double s = scores[0];
		double p1 = s >= 0 ? 1 / (1 + exp(-s)) : exp(s) / (1 + exp(s));
		ret_probs[0] = 1 - p1;
		ret_probs[1] = p1;
		for (uint32_t k = 2; k < n_classes; k++)
			ret_probs[k] = 0;
		return p1 > 0.5 ? 1 : 0;
	}
	uint32_t best = 0;
	for (uint32_t k = 1; k < n_outputs; k++)
		if (scores[k] > scores[best])
			best = k;
	double sum = 0;
	for (uint32_t k = 0; k < n_outputs; k++) {
		ret_probs[k] = exp(scores[k] - scores[best]);
		sum += ret_probs[k];
	}
	for (uint32_t k = 0; k < n_outputs; k++)
		ret_probs[k] /= sum;
	return best;
}

int ml_model_predict(const struct ml_model *m, const double *x,
		     uint32_t *ret_class, double *ret_probs)
{
	uint32_t n_out = ml_model_outputs(m);
	double *scores = malloc(n_out * sizeof *scores);
	if (!scores)
		return -ENOMEM;
	int r = ml_model_scores(m, x, scores);
	if (r == 0)
		*ret_class = ml_probabilities(n_out, m->n_classes, scores, ret_probs);
	free(scores);
	return r;
}

int ml_linear_fold(const struct ml_model *m, double *ret_w, double *ret_b)
{
	if (m->kind != ML_KIND_LINEAR)
		return -EINVAL;
	const struct ml_layer *L = &m->layers[0];
	for (uint32_t o = 0; o < L->out; o++) {
		double b = L->b[o];
		for (uint32_t i = 0; i < L->in; i++) {
			double w = L->w[(size_t)o * L->in + i] / m->std[i];
			ret_w[(size_t)o * L->in + i] = w;
			b -= w * m->mean[i];
		}
		ret_b[o] = b;
	}
	return 0;
}
