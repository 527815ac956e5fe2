/* atoll-train: train a linear or mlp model on a CSV dataset with a seeded
 * held-out split, print the held-out accuracy, write the model file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/dataset.h"
#include "ml/model.h"
#include "ml/train.h"
#include "util/fsutil.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atoll-train --kind linear|mlp --data FILE.csv[.gz] [options]\n"
		"       atoll-train --evaluate MODEL --data FILE.csv[.gz] [--seed N]\n"
		"\n"
		"  --features FILE       feature names, one per line, in column order\n"
		"  --out MODEL           write the trained model here\n"
		"  --seed N              split and training seed (default 1)\n"
		"  --test-fraction F     held-out share of the rows (default 0.2)\n"
		"  --epochs N --batch N --lr X --momentum X --l2 X\n"
		"  --hidden N[,N...]     mlp hidden widths (default 64)\n"
		"  --min-accuracy PCT    exit 1 when held-out accuracy is below PCT\n");
}

static int read_feature_names(const char *path, struct ml_model *m)
{
	uint8_t *data;
	size_t len;
	int r = fs_read_file(path, 1 << 20, &data, &len);
	if (r < 0) {
		fprintf(stderr, "atoll-train: %s: %s\n", path, strerror(-r));
		return r;
	}
	uint32_t i = 0;
	char *save = NULL;
	for (char *line = strtok_r((char *)data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = 0;
		if (n == 0)
			continue;
		if (i >= m->n_features) {
			fprintf(stderr, "atoll-train: %s: more names than the %u features\n",
				path, m->n_features);
			r = -EINVAL;
			goto done_data;
		}
		if ((r = ml_model_set_feature_name(m, i, line)) < 0) {
			fprintf(stderr, "atoll-train: %s: bad name '%s'\n", path, line);
			goto done_data;
		}
		i++;
	}
	if (i != m->n_features) {
		fprintf(stderr, "atoll-train: %s: %u names for %u features\n", path, i,
			m->n_features);
		r = -EINVAL;
	}

done_data:
	free(data);
	return r;
}

static int parse_hidden(const char *s, struct ml_train_opts *o)
{
	o->n_hidden = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || end == p || v < 1 || v > ML_MAX_WIDTH ||
		    o->n_hidden == ML_MAX_LAYERS - 1)
			return -EINVAL;
		o->hidden[o->n_hidden++] = (uint32_t)v;
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return o->n_hidden ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	enum { O_KIND = 256, O_DATA, O_FEATURES, O_OUT, O_SEED, O_TEST, O_EPOCHS,
	       O_BATCH, O_LR, O_MOM, O_L2, O_HIDDEN, O_MIN, O_EVAL, O_HELP };
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, O_KIND },
		{ "data", required_argument, NULL, O_DATA },
		{ "features", required_argument, NULL, O_FEATURES },
		{ "out", required_argument, NULL, O_OUT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "test-fraction", required_argument, NULL, O_TEST },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "lr", required_argument, NULL, O_LR },
		{ "momentum", required_argument, NULL, O_MOM },
		{ "l2", required_argument, NULL, O_L2 },
		{ "hidden", required_argument, NULL, O_HIDDEN },
		{ "min-accuracy", required_argument, NULL, O_MIN },
		{ "evaluate", required_argument, NULL, O_EVAL },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	const char *kind_s = NULL, *data = NULL, *features = NULL, *out = NULL,
		   *eval = NULL;
	/* Options given on the command line override the kind's defaults,
	 * which are only known once --kind is read: keep them aside. */
	const char *epochs_s = NULL, *batch_s = NULL, *lr_s = NULL, *mom_s = NULL,
		   *l2_s = NULL, *hidden_s = NULL;
	unsigned long long seed = 1;
	double test_fraction = 0.2, min_accuracy = -1;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_KIND: kind_s = optarg; break;
		case O_DATA: data = optarg; break;
		case O_FEATURES: features = optarg; break;
		case O_OUT: out = optarg; break;
		case O_SEED: seed = strtoull(optarg, NULL, 0); break;
		case O_TEST: test_fraction = strtod(optarg, NULL); break;
		case O_EPOCHS: epochs_s = optarg; break;
		case O_BATCH: batch_s = optarg; break;
		case O_LR: lr_s = optarg; break;
		case O_MOM: mom_s = optarg; break;
		case O_L2: l2_s = optarg; break;
		case O_HIDDEN: hidden_s = optarg; break;
		case O_MIN: min_accuracy = strtod(optarg, NULL); break;
		case O_EVAL: eval = optarg; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !data || (!eval && !kind_s)) {
		usage(stderr);
		return 2;
	}
	enum ml_kind kind = ML_KIND_LINEAR;
	if (kind_s && strcmp(kind_s, "linear") == 0) {
		kind = ML_KIND_LINEAR;
	} else if (kind_s && strcmp(kind_s, "mlp") == 0) {
		kind = ML_KIND_MLP;
	} else if (kind_s) {
		fprintf(stderr, "atoll-train: --kind must be linear or mlp\n");
		return 2;
	}
	struct ml_train_opts to;
	ml_train_defaults(kind, &to);
	to.seed = seed;
	if (epochs_s)
		to.epochs = (uint32_t)strtoul(epochs_s, NULL, 10);
	if (batch_s)
		to.batch = (uint32_t)strtoul(batch_s, NULL, 10);
	if (lr_s)
		to.learning_rate = strtod(lr_s, NULL);
	if (mom_s)
		to.momentum = strtod(mom_s, NULL);
	if (l2_s)
		to.l2 = strtod(l2_s, NULL);
	if (hidden_s && parse_hidden(hidden_s, &to) < 0) {
		fprintf(stderr, "atoll-train: bad --hidden '%s'\n", hidden_s);
		return 2;
	}

	char err[256];
	struct ml_dataset *ds = NULL;
	struct ml_model *m = NULL;
	size_t *train = NULL, *test = NULL, n_train, n_test, correct;
	int ret = 1, r;
	if (ml_dataset_load_csv(data, &ds, err, sizeof err) < 0) {
		fprintf(stderr, "atoll-train: %s\n", err);
		goto done;
	}
	if ((r = ml_split(ds->n_rows, test_fraction, seed, &train, &n_train, &test,
			  &n_test)) < 0) {
		fprintf(stderr, "atoll-train: cannot split %zu rows with test fraction %g\n",
			ds->n_rows, test_fraction);
		goto done;
	}
	if (eval) {
		if (ml_model_load(eval, &m, err, sizeof err) < 0) {
			fprintf(stderr, "atoll-train: %s\n", err);
			goto done;
		}
	} else {
		if ((r = ml_train(ds, train, n_train, kind, &to, &m)) < 0) {
			fprintf(stderr, "atoll-train: training failed: %s\n", strerror(-r));
			goto done;
		}
		if (features && read_feature_names(features, m) < 0)
			goto done;
	}
	if ((r = ml_evaluate(m, ds, test, n_test, &correct)) < 0) {
		fprintf(stderr, "atoll-train: the model does not fit %s (%u features, %u classes)\n",
			data, ds->n_features, ds->n_classes);
		goto done;
	}
	double acc = 100.0 * (double)correct / (double)n_test;
	printf("%s: %zu rows, %u features, %u classes; trained on %zu, held out %zu (seed %llu)\n",
	       data, ds->n_rows, ds->n_features, ds->n_classes, n_train, n_test, seed);
	printf("held-out accuracy: %.2f %% (%zu/%zu)\n", acc, correct, n_test);
	if (out && !eval) {
		if ((r = ml_model_save(m, out)) < 0) {
			fprintf(stderr, "atoll-train: cannot write %s: %s\n", out,
				strerror(-r));
			goto done;
		}
		printf("wrote %s\n", out);
	}
	if (min_accuracy >= 0 && acc < min_accuracy) {
		fprintf(stderr, "atoll-train: held-out accuracy %.2f %% is below %.2f %%\n",
			acc, min_accuracy);
		goto done;
	}
	ret = 0;

done:
	free(train);
	free(test);
	ml_model_free(m);
	ml_dataset_free(ds);
	return ret;
}
