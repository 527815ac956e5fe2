/* ml: datasets, seeded splits, deterministic training, and the accuracy
 * targets of the bundled models on their held-out rows (breast cancer
 * logistic regression and digits mlp, each >= 95 %). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ml/dataset.h"
#include "ml/model.h"
#include "ml/train.h"
#include "util/buf.h"
#include "util/fsutil.h"

static double held_out_accuracy(const struct ml_model *m,
				const struct ml_dataset *ds, uint64_t seed)
{
	size_t *train, *test, n_train, n_test, correct = 0;
	if (ml_split(ds->n_rows, 0.2, seed, &train, &n_train, &test, &n_test) < 0)
		return -1;
	int r = ml_evaluate(m, ds, test, n_test, &correct);
	free(train);
	free(test);
	return r < 0 ? -1 : 100.0 * (double)correct / (double)n_test;
}

static void test_split(void)
{
	size_t *a, *b, na, nb, *c, *d, nc, nd;
	CHECK_INT(ml_split(569, 0.2, 1, &a, &na, &b, &nb), 0);
	CHECK_INT(na, 455);
	CHECK_INT(nb, 114);
	CHECK_INT(ml_split(569, 0.2, 1, &c, &nc, &d, &nd), 0);
	CHECK(memcmp(b, d, nb * sizeof *b) == 0);
	/* Disjoint and complete. */
	char *seen = calloc(569, 1);
	for (size_t i = 0; i < na; i++)
		seen[a[i]]++;
	for (size_t i = 0; i < nb; i++)
		seen[b[i]]++;
	int ok = 1;
	for (size_t i = 0; i < 569; i++)
		ok &= seen[i] == 1;
	CHECK(ok);
	free(seen);
	free(c);
	free(d);
	CHECK_INT(ml_split(569, 0.2, 2, &c, &nc, &d, &nd), 0);
	CHECK(memcmp(b, d, nb * sizeof *b) != 0);
	free(a);
	free(b);
	free(c);
	free(d);
	CHECK_INT(ml_split(1, 0.2, 1, &a, &na, &b, &nb), -EINVAL);
	CHECK_INT(ml_split(10, 1.0, 1, &a, &na, &b, &nb), -EINVAL);
}

static void write_tmp(const char *path, const char *text)
{
	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

static void test_csv_errors(void)
{
	char dir[] = "/tmp/atoll-ml-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128], err[256];
	struct ml_dataset *ds = NULL;
	snprintf(path, sizeof path, "%s/a.csv", dir);

	write_tmp(path, "2,2,no,yes\n1,2,0\n3,4,1\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), 0);
	if (ds) {
		CHECK_INT(ds->n_rows, 2);
		CHECK_INT(ds->n_features, 2);
		CHECK_STR(ds->class_names[1], "yes");
		CHECK(ds->x[2] == 3 && ds->y[1] == 1);
		ds = ml_dataset_free(ds);
	}
	/* No header: line 1 is data. */
	write_tmp(path, "1,2,0\n3,4,2\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), 0);
	if (ds) {
		CHECK_INT(ds->n_rows, 2);
		CHECK_INT(ds->n_classes, 3);
		CHECK_STR(ds->class_names[2], "2");
		CHECK(ds->x[0] == 1);
		ds = ml_dataset_free(ds);
	}
	char want[256];
	write_tmp(path, "1,2,0\n3,4,1\n5,x,1\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s:3: field 2 is not a number", path);
	CHECK_STR(err, want);
	write_tmp(path, "1,2,0\n3,4,1\n5,6\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s:3: 2 fields, expected 3", path);
	CHECK_STR(err, want);
	write_tmp(path, "3,2,no,yes\n1,2,0\n3,4,1\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s:1: header says 3 rows of 2 features, file has 2 of 2", path);
	CHECK_STR(err, want);
	write_tmp(path, "1,2,0\n3,4,-1\n");
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "%s:2: class '-1' is not an integer in 0..4095", path);
	CHECK_STR(err, want);
	unlink(path);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	CHECK_INT(ml_dataset_load_csv(path, &ds, err, sizeof err), -ENOENT);
	CHECK_STR(err, want);
	rmdir(dir);
}

static void test_targets(const char *src, const char *build)
{
	char path[1024], err[512];
	struct ml_dataset *bc = NULL, *dg = NULL;
	snprintf(path, sizeof path, "%s/data/breast_cancer.csv", src);
	CHECK_INT(ml_dataset_load_csv(path, &bc, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/data/digits.csv.gz", src);
	CHECK_INT(ml_dataset_load_csv(path, &dg, err, sizeof err), 0);
	if (!bc || !dg) {
		fprintf(stderr, "cannot load datasets: %s\n", err);
		check_failures++;
		return;
	}
	CHECK_INT(bc->n_rows, 569);
	CHECK_INT(bc->n_features, 30);
	CHECK_STR(bc->class_names[0], "malignant");
	CHECK_INT(dg->n_rows, 1797);
	CHECK_INT(dg->n_features, 64);
	CHECK_INT(dg->n_classes, 10);

	/* The models the build trained. */
	const struct {
		const char *file;
		struct ml_dataset *ds;
		enum ml_kind kind;
	} built[] = {
		{ "breast_cancer_logistic.model", bc, ML_KIND_LINEAR },
		{ "digits_mlp.model", dg, ML_KIND_MLP },
		{ "digits_softmax.model", dg, ML_KIND_LINEAR },
	};
	for (size_t i = 0; i < 3; i++) {
		struct ml_model *m = NULL;
		snprintf(path, sizeof path, "%s/models/%s", build, built[i].file);
		CHECK_INT(ml_model_load(path, &m, err, sizeof err), 0);
		if (!m) {
			fprintf(stderr, "%s\n", err);
			continue;
		}
		CHECK_INT(m->kind, built[i].kind);
		double acc = held_out_accuracy(m, built[i].ds, 1);
		printf("%s: held-out accuracy %.2f %%\n", built[i].file, acc);
		CHECK(acc >= 95.0);
		ml_model_free(m);
	}

	/* Training here reproduces the targets, deterministically. */
	size_t *train, *test, n_train, n_test, correct;
	CHECK_INT(ml_split(bc->n_rows, 0.2, 1, &train, &n_train, &test, &n_test), 0);
	struct ml_train_opts o;
	ml_train_defaults(ML_KIND_LINEAR, &o);
	struct ml_model *a = NULL, *b = NULL;
	CHECK_INT(ml_train(bc, train, n_train, ML_KIND_LINEAR, &o, &a), 0);
	CHECK_INT(ml_train(bc, train, n_train, ML_KIND_LINEAR, &o, &b), 0);
	CHECK_INT(ml_evaluate(a, bc, test, n_test, &correct), 0);
	CHECK(100.0 * (double)correct / (double)n_test >= 95.0);
	struct buf ia = { 0 }, ib = { 0 };
	CHECK_INT(ml_model_serialize(a, &ia), 0);
	CHECK_INT(ml_model_serialize(b, &ib), 0);
	CHECK(ia.len == ib.len && memcmp(ia.data, ib.data, ia.len) == 0);
	buf_free(&ia);
	buf_free(&ib);
	ml_model_free(a);
	ml_model_free(b);
	free(train);
	free(test);

	CHECK_INT(ml_split(dg->n_rows, 0.2, 1, &train, &n_train, &test, &n_test), 0);
	ml_train_defaults(ML_KIND_MLP, &o);
	CHECK_INT(ml_train(dg, train, n_train, ML_KIND_MLP, &o, &a), 0);
	CHECK_INT(ml_evaluate(a, dg, test, n_test, &correct), 0);
	printf("digits mlp trained here: %.2f %%\n", 100.0 * (double)correct / (double)n_test);
	CHECK(100.0 * (double)correct / (double)n_test >= 95.0);
	CHECK_INT(a->n_layers, 2);
	CHECK_INT(a->layers[0].out, 64);
	ml_model_free(a);
	free(train);
	free(test);

	ml_dataset_free(bc);
	ml_dataset_free(dg);
}

int main(void)
{
	const char *src = check_env("ATOLL_SOURCE_DIR", "..");
	const char *build = check_env("ATOLL_BUILD_DIR", ".");
	test_split();
	test_csv_errors();
	test_targets(src, build);
	CHECK_DONE();
}
