/* Models for the linear and mlp backends: the in-memory form, the versioned
 * file format (docs/models.md), and inference.
 *
 * A model is a stack of dense layers over standardized features:
 *   z = (x - mean) / std, then for each layer h = W h + b, with ReLU
 *   between layers. A linear model has one layer; with two classes it has
 *   one output (the logit of class 1, read through the sigmoid), with more
 *   it has one output per class (read through the softmax). An mlp ends in
 *   one output per class (softmax).
 *
 * Models are immutable once loaded, so one model may serve many threads. */
#ifndef ATOLL_ML_MODEL_H
#define ATOLL_ML_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define ML_MODEL_MAGIC "ATOLLMDL"
#define ML_MODEL_VERSION 1
#define ML_MODEL_HEADER_SIZE 32
#define ML_MODEL_CHECKSUM_SIZE 32

/* Limits the parser enforces, so a hostile file cannot ask for absurd
 * allocations. */
#define ML_MAX_FEATURES 65536u
#define ML_MAX_CLASSES 4096u
#define ML_MAX_LAYERS 16u
#define ML_MAX_WIDTH 65536u
#define ML_MAX_NAME 255u
/* Largest file ml_model_load() reads. */
#define ML_MAX_FILE_SIZE (256u << 20)

enum ml_kind {
	ML_KIND_LINEAR = 1,
	ML_KIND_MLP = 2,
};

struct ml_layer {
	uint32_t in;
	uint32_t out;
	double *w; /* out x in, row-major: w[o * in + i] */
	double *b; /* out */
};

struct ml_model {
	enum ml_kind kind;
	uint32_t n_features;
	uint32_t n_classes;
	uint32_t n_layers;
	char **class_names;   /* n_classes */
	char **feature_names; /* n_features */
	double *mean;         /* n_features */
	double *std;          /* n_features, each > 0 */
	struct ml_layer *layers;
};

/* A model with zero weights, mean 0, std 1, features named "x0".. and
 * classes named "0"... hidden lists the hidden widths of an mlp (none for
 * a linear model). 0, -EINVAL for dims out of range, -ENOMEM. */
int ml_model_new(enum ml_kind kind, uint32_t n_features, uint32_t n_classes,
		 const uint32_t *hidden, size_t n_hidden,
		 struct ml_model **ret_model);
struct ml_model *ml_model_free(struct ml_model *m);

/* Replace the name of class i / feature i (copied). 0, -EINVAL, -ENOMEM. */
int ml_model_set_class_name(struct ml_model *m, uint32_t i, const char *name);
int ml_model_set_feature_name(struct ml_model *m, uint32_t i, const char *name);

/* Number of outputs of the last layer. */
uint32_t ml_model_outputs(const struct ml_model *m);

/* Parse a model file image. On failure returns -EBADMSG (or -ENOMEM) and
 * writes what is wrong into err, e.g. "checksum mismatch: file is
 * corrupted". */
int ml_model_parse(const uint8_t *data, size_t len, struct ml_model **ret_model,
		   char *err, size_t err_size);
/* Read and parse path; the message names the path on I/O errors. */
int ml_model_load(const char *path, struct ml_model **ret_model, char *err,
		  size_t err_size);
/* Append the file image to out. 0, -EINVAL for a model that would not
 * parse back (bad names, non-finite numbers), -ENOMEM. */
int ml_model_serialize(const struct ml_model *m, struct buf *out);
int ml_model_save(const struct ml_model *m, const char *path);

/* Index of a feature by name, or -ENOENT. */
int ml_model_feature_index(const struct ml_model *m, const char *name);

/* Raw outputs (logits) of the model for the feature vector x (n_features
 * values, not standardized) into ret_scores (ml_model_outputs() values).
 * 0, -ENOMEM, or -ERANGE when a score is not a finite number (values so
 * large that the arithmetic overflows). */
int ml_model_scores(const struct ml_model *m, const double *x,
		    double *ret_scores);
/* Class probabilities (n_classes values) from the raw outputs: the
 * sigmoid for one output, the softmax otherwise. Returns the most probable
 * class (the lowest index on ties). */
uint32_t ml_probabilities(uint32_t n_outputs, uint32_t n_classes,
			  const double *scores, double *ret_probs);
/* Scores, then probabilities; *ret_class is the predicted class. The
 * errors of ml_model_scores(). */
int ml_model_predict(const struct ml_model *m, const double *x,
		     uint32_t *ret_class, double *ret_probs);

/* The single layer of a linear model with the standardization folded in,
 * so that it applies to raw features: w' = w / std and
 * b' = b - sum(w * mean / std). ret_w holds outputs x n_features values,
 * ret_b outputs values. -EINVAL for a model that is not linear. */
int ml_linear_fold(const struct ml_model *m, double *ret_w, double *ret_b);

#endif
