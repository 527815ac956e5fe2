/* CSV datasets, the deterministic generator and train/test splits. */
#include "ml/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util/buf.h"
#include "util/errmsg.h"

#define MAX_FIELDS 65537u
#define MAX_LINE (1u << 20)

struct ml_dataset *ml_dataset_free(struct ml_dataset *ds)
{
	if (!ds)
		return NULL;
	if (ds->class_names) {
		for (uint32_t k = 0; k < ds->n_classes; k++)
			free(ds->class_names[k]);
		free(ds->class_names);
	}
	free(ds->x);
	free(ds->y);
	free(ds);
	return NULL;
}

/* Split line (modified in place) at commas. Returns the field count, or
 * -E2BIG past max. */
static long split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return -E2BIG;
		fields[n++] = p;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	return (long)n;
}

static bool parse_double(const char *s, double *ret)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	char *end;
	double d = strtod(s, &end);
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end || !isfinite(d))
		return false;
	*ret = d;
	return true;
}

static bool parse_count(const char *s, unsigned long *ret)
{
	double d;
	if (!parse_double(s, &d) || d < 0 || d != floor(d) || d > 4294967295.0)
		return false;
	*ret = (unsigned long)d;
	return true;
}

static char *trim_dup(const char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return strndup(s, n);
}

struct loader {
	const char *path;
	struct buf xs, ys;
	size_t n_rows;
	uint32_t max_class;
	char *err;
	size_t err_size;
};

/* Append one data line: features, then the class. */
static int add_row(struct loader *ld, size_t lineno, char *const *fields,
		   size_t nf)
{
	if (nf < 2) {
		err_buf_setf(ld->err, ld->err_size, "%s:%zu: need features and a class",
			    ld->path, lineno);
		return -EBADMSG;
	}
	int r = buf_reserve(&ld->xs, (nf - 1) * sizeof(double));
	if (r < 0)
		return r;
	for (size_t i = 0; i + 1 < nf; i++) {
		double d;
		if (!parse_double(fields[i], &d)) {
			err_buf_setf(ld->err, ld->err_size,
				    "%s:%zu: field %zu is not a number", ld->path,
				    lineno, i + 1);
			return -EBADMSG;
		}
		buf_append(&ld->xs, &d, sizeof d);
	}
	unsigned long c;
	if (!parse_count(fields[nf - 1], &c) || c >= ML_DATASET_MAX_CLASSES) {
		err_buf_setf(ld->err, ld->err_size,
			    "%s:%zu: class '%s' is not an integer in 0..%u", ld->path,
			    lineno, fields[nf - 1], ML_DATASET_MAX_CLASSES - 1);
		return -EBADMSG;
	}
	uint32_t cls = (uint32_t)c;
	if (cls > ld->max_class)
		ld->max_class = cls;
	if ((r = buf_append(&ld->ys, &cls, sizeof cls)) < 0)
		return r;
	ld->n_rows++;
	return 0;
}

static void free_strings(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int ml_dataset_load_csv(const char *path, struct ml_dataset **ret_ds,
			char *err, size_t err_size)
{
	/* gzopen() reads plain files as they are, so one path serves both. */
	errno = 0;
	gzFile f = gzopen(path, "rb");
	if (!f) {
		int e = errno ? errno : EIO;
		err_buf_setf(err, err_size, "%s: %s", path, strerror(e));
		return -e;
	}
	struct loader ld = { .path = path, .err = err, .err_size = err_size };
	char *line = malloc(MAX_LINE);
	char **fields = malloc(MAX_FIELDS * sizeof *fields);
	struct ml_dataset *ds = calloc(1, sizeof *ds);
	char **first = NULL; /* line 1, kept until line 2 says what it is */
	size_t n_first = 0;
	bool have_header = false;
	size_t want = 0;
	size_t lineno = 0;
	int r = -ENOMEM;
	if (!line || !fields || !ds)
		goto fail_all;

	while (gzgets(f, line, MAX_LINE)) {
		lineno++;
		size_t len = strlen(line);
		if (len == MAX_LINE - 1 && line[len - 1] != '\n') {
			err_buf_setf(err, err_size, "%s:%zu: line too long", path, lineno);
			r = -EBADMSG;
			goto fail_all;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len == 0)
			continue;
		long nf = split_fields(line, fields, MAX_FIELDS);
		if (nf < 0) {
			err_buf_setf(err, err_size, "%s:%zu: too many fields", path, lineno);
			r = -EBADMSG;
			goto fail_all;
		}
		if (!first) {
			/* A header differs from data only in its field count, so
			 * line 1 is decided when line 2 arrives. */
			first = calloc((size_t)nf, sizeof *first);
			if (!first)
				goto fail_all;
			n_first = (size_t)nf;
			for (size_t i = 0; i < n_first; i++)
				if (!(first[i] = trim_dup(fields[i])))
					goto fail_all;
			continue;
		}
		if (want == 0) {
			want = (size_t)nf;
			have_header = n_first != want;
			if (!have_header && (r = add_row(&ld, 1, first, n_first)) < 0)
				goto fail_all;
		}
		if ((size_t)nf != want) {
			err_buf_setf(err, err_size, "%s:%zu: %ld fields, expected %zu", path,
				    lineno, nf, want);
			r = -EBADMSG;
			goto fail_all;
		}
		if ((r = add_row(&ld, lineno, fields, (size_t)nf)) < 0)
			goto fail_all;
	}
	if (!gzeof(f)) {
		err_buf_setf(err, err_size, "%s: read error", path);
		r = -EIO;
		goto fail_all;
	}
	if (ld.n_rows == 0) {
		err_buf_setf(err, err_size, "%s: no data (a header and at least one line)",
			    path);
		r = -EBADMSG;
		goto fail_all;
	}
	ds->n_rows = ld.n_rows;
	ds->n_features = (uint32_t)(want - 1);
	ds->n_classes = ld.max_class + 1 < 2 ? 2 : ld.max_class + 1;
	if (have_header) {
		unsigned long rows, feats;
		if (n_first < 2 || !parse_count(first[0], &rows) ||
		    !parse_count(first[1], &feats)) {
			err_buf_setf(err, err_size,
				    "%s:1: header is not \"rows,features,class names...\"",
				    path);
			r = -EBADMSG;
			goto fail_all;
		}
		if (rows != ds->n_rows || feats != ds->n_features) {
			err_buf_setf(err, err_size,
				    "%s:1: header says %lu rows of %lu features, file has %zu of %u",
				    path, rows, feats, ds->n_rows, ds->n_features);
			r = -EBADMSG;
			goto fail_all;
		}
		if (n_first > 2) {
			if (n_first - 2 < ds->n_classes) {
				err_buf_setf(err, err_size,
					    "%s:1: header names %zu classes, data has class %u",
					    path, n_first - 2, ld.max_class);
				r = -EBADMSG;
				goto fail_all;
			}
			ds->n_classes = (uint32_t)(n_first - 2);
		}
	}
	ds->class_names = calloc(ds->n_classes, sizeof *ds->class_names);
	if (!ds->class_names)
		goto fail_all;
	for (uint32_t k = 0; k < ds->n_classes; k++) {
		if (have_header && n_first > 2) {
			ds->class_names[k] = strdup(first[k + 2]);
		} else {
			char num[16];
			snprintf(num, sizeof num, "%u", k);
			ds->class_names[k] = strdup(num);
		}
		if (!ds->class_names[k])
			goto fail_all;
	}
	size_t n;
	ds->x = (double *)buf_steal(&ld.xs, &n);
	ds->y = (uint32_t *)buf_steal(&ld.ys, &n);
	free_strings(first, n_first);
	free(line);
	free(fields);
	gzclose(f);
	*ret_ds = ds;
	return 0;

fail_all:
	free_strings(first, n_first);
	buf_free(&ld.xs);
	buf_free(&ld.ys);
	ml_dataset_free(ds);
	free(line);
	free(fields);
	gzclose(f);
	return r;
}

/* ---- generator ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ml_rng_seed(struct ml_rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ml_rng_next(struct ml_rng *g)
{
	uint64_t *s = g->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t ml_rng_below(struct ml_rng *g, uint64_t n)
{
	/* Rejection keeps the result unbiased. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = ml_rng_next(g);
	while (v >= limit);
	return v % n;
}

double ml_rng_uniform(struct ml_rng *g)
{
	return (double)(ml_rng_next(g) >> 11) * 0x1.0p-53;
}

double ml_rng_normal(struct ml_rng *g)
{
	double u1;
	do
		u1 = ml_rng_uniform(g);
	while (u1 <= 0);
	double u2 = ml_rng_uniform(g);
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

void ml_rng_shuffle(struct ml_rng *g, size_t *idx, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)ml_rng_below(g, i);
		size_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int ml_split(size_t n_rows, double test_fraction, uint64_t seed,
	     size_t **ret_train, size_t *ret_n_train, size_t **ret_test,
	     size_t *ret_n_test)
{
	if (n_rows < 2 || !(test_fraction > 0 && test_fraction < 1))
		return -EINVAL;
	size_t n_test = (size_t)llround((double)n_rows * test_fraction);
	if (n_test == 0)
		n_test = 1;
	if (n_test >= n_rows)
		n_test = n_rows - 1;
	size_t n_train = n_rows - n_test;
	size_t *all = malloc(n_rows * sizeof *all);
	size_t *train = malloc(n_train * sizeof *train);
	size_t *test = malloc(n_test * sizeof *test);
	if (!all || !train || !test) {
		free(all);
		free(train);
		free(test);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_rows; i++)
		all[i] = i;
	struct ml_rng g;
	ml_rng_seed(&g, seed);
	ml_rng_shuffle(&g, all, n_rows);
	memcpy(test, all, n_test * sizeof *test);
	memcpy(train, all + n_test, n_train * sizeof *train);
	qsort(test, n_test, sizeof *test, cmp_size);
	qsort(train, n_train, sizeof *train, cmp_size);
	free(all);
	*ret_train = train;
	*ret_n_train = n_train;
	*ret_test = test;
	*ret_n_test = n_test;
	return 0;
}
