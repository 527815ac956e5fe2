/* JSON job documents for the model backends: reading a JobInput's
 * {"features": [...]} or {"record": {...}} and writing the prediction
 * {"label": ..., "probability": ..., "class": ..., ["probabilities": [...]]}. */
#ifndef ATOLL_ML_IO_H
#define ATOLL_ML_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ml/model.h"
#include "util/buf.h"

/* Largest input document the backends accept. */
#define ML_MAX_INPUT (1u << 20)

/* Read the feature vector from a JobInput document (proto3 JSON) into
 * ret_x (m->n_features values). Numbers may be JSON numbers or proto3
 * numeric strings; they must be finite. On failure returns -EINVAL (or
 * -ENOMEM) and writes a precise message to err, e.g. "features: expected
 * 30 values, got 29" or "record: unknown feature 'radius'". */
int ml_input_parse(const struct ml_model *m, const uint8_t *doc, size_t len,
		   double *ret_x, char *err, size_t err_size);

/* Append the prediction document for class cls with probs (n_classes
 * values) to out. "probabilities" is written for models of more than two
 * classes. class_names may be NULL (labels are then the class numbers). */
int ml_output_write(const char *const *class_names, uint32_t n_classes,
		    uint32_t cls, const double *probs, struct buf *out);

/* The whole plain-mode job: parse doc, predict, write the answer to out.
 * 0, -EINVAL with err set, or -ENOMEM. */
int ml_run_json(const struct ml_model *m, const uint8_t *doc, size_t len,
		struct buf *out, char *err, size_t err_size);

#endif
