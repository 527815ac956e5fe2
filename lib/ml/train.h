/* Training for the linear and mlp models: minibatch SGD with momentum on
 * the cross-entropy loss, standardization fitted on the training rows.
 * Deterministic: the same data, rows, options and seed give the same
 * model bit for bit on one platform. */
#ifndef ATOLL_ML_TRAIN_H
#define ATOLL_ML_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ml/dataset.h"
#include "ml/model.h"

struct ml_train_opts {
	uint64_t seed;        /* weight init and minibatch order */
	uint32_t epochs;
	uint32_t batch;       /* rows per step */
	double learning_rate; /* at the first epoch; cosine decay to 0 */
	double momentum;
	double l2;            /* weight decay on W (not on biases) */
	uint32_t hidden[ML_MAX_LAYERS - 1]; /* mlp hidden widths */
	size_t n_hidden;
};

/* Options that reach the documented accuracy on the bundled datasets. */
void ml_train_defaults(enum ml_kind kind, struct ml_train_opts *ret_opts);

/* Train a model of the given kind on ds's rows[0..n_rows). Feature and
 * class names are copied from ds where it has them (class names) and
 * otherwise left at their defaults. 0, -EINVAL, -ENOMEM. */
int ml_train(const struct ml_dataset *ds, const size_t *rows, size_t n_rows,
	     enum ml_kind kind, const struct ml_train_opts *opts,
	     struct ml_model **ret_model);

/* Count the rows the model classifies correctly. 0 or -EINVAL when the
 * model's dims do not match the dataset, -ENOMEM. */
int ml_evaluate(const struct ml_model *m, const struct ml_dataset *ds,
		const size_t *rows, size_t n_rows, size_t *ret_correct);

#endif
