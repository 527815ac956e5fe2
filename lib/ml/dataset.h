/* Labelled numeric datasets read from CSV, and seeded train/test splits.
 *
 * A CSV file has one record per line: the features, then the class as a
 * non-negative integer. It may start with a scikit-learn style header
 * "rows,features,class name,class name,..." (recognised by having a
 * different field count from the data lines); the header's counts are then
 * checked. Files ending in ".gz" are read through zlib. */
#ifndef ATOLL_ML_DATASET_H
#define ATOLL_ML_DATASET_H

#include <stddef.h>
#include <stdint.h>

/* Classes are small integers. */
#define ML_DATASET_MAX_CLASSES 4096u

struct ml_dataset {
	size_t n_rows;
	uint32_t n_features;
	uint32_t n_classes;
	double *x;    /* n_rows x n_features, row-major */
	uint32_t *y;  /* n_rows */
	char **class_names; /* n_classes, from the header or "0".."k-1" */
};

/* 0, or -errno / -EBADMSG with "path:line: what" in err. */
int ml_dataset_load_csv(const char *path, struct ml_dataset **ret_ds,
			char *err, size_t err_size);
struct ml_dataset *ml_dataset_free(struct ml_dataset *ds);

/* A small deterministic generator (xoshiro256** seeded by splitmix64):
 * the same seed gives the same splits and the same trained model on
 * every machine. Not for cryptography. */
struct ml_rng {
	uint64_t s[4];
};
void ml_rng_seed(struct ml_rng *g, uint64_t seed);
uint64_t ml_rng_next(struct ml_rng *g);
/* Uniform in [0, n). */
uint64_t ml_rng_below(struct ml_rng *g, uint64_t n);
/* Uniform in [0, 1). */
double ml_rng_uniform(struct ml_rng *g);
/* Standard normal. */
double ml_rng_normal(struct ml_rng *g);
/* Fisher-Yates shuffle of idx[0..n). */
void ml_rng_shuffle(struct ml_rng *g, size_t *idx, size_t n);

/* Split row indices 0..n_rows-1 at random (seeded) into a held-out test
 * set of round(n_rows * test_fraction) rows and a training set of the
 * rest; each list is sorted. 0, -EINVAL, -ENOMEM. */
int ml_split(size_t n_rows, double test_fraction, uint64_t seed,
	     size_t **ret_train, size_t *ret_n_train, size_t **ret_test,
	     size_t *ret_n_test);

#endif
