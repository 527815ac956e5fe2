/* Minibatch SGD for dense networks (linear and mlp models). */
#include "ml/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ml_train_defaults(enum ml_kind kind, struct ml_train_opts *ret_opts)
{
	memset(ret_opts, 0, sizeof *ret_opts);
	ret_opts->seed = 1;
	ret_opts->batch = 16;
	ret_opts->momentum = 0.9;
	if (kind == ML_KIND_LINEAR) {
		ret_opts->epochs = 200;
		ret_opts->learning_rate = 0.01;
		ret_opts->l2 = 1e-3;
	} else {
		ret_opts->epochs = 60;
		ret_opts->learning_rate = 0.02;
		ret_opts->l2 = 1e-4;
		ret_opts->hidden[0] = 64;
		ret_opts->n_hidden = 1;
	}
}

/* Scratch for one forward/backward pass. */
struct pass {
	double **a;     /* activations per layer boundary: a[0] = input */
	double **delta; /* error at each layer's output */
	double **gw, **gb;
	double **vw, **vb; /* momentum */
};

static void pass_free(struct pass *p, uint32_t n_layers)
{
	double **all[] = { p->a, p->delta, p->gw, p->gb, p->vw, p->vb };
	for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
		if (!all[k])
			continue;
		uint32_t n = k == 0 ? n_layers + 1 : n_layers;
		for (uint32_t i = 0; i < n; i++)
			free(all[k][i]);
		free(all[k]);
	}
}

static int pass_alloc(struct pass *p, const struct ml_model *m)
{
	uint32_t L = m->n_layers;
	memset(p, 0, sizeof *p);
	p->a = calloc(L + 1, sizeof *p->a);
	p->delta = calloc(L, sizeof *p->delta);
	p->gw = calloc(L, sizeof *p->gw);
	p->gb = calloc(L, sizeof *p->gb);
	p->vw = calloc(L, sizeof *p->vw);
	p->vb = calloc(L, sizeof *p->vb);
	if (!p->a || !p->delta || !p->gw || !p->gb || !p->vw || !p->vb)
		return -ENOMEM;
	if (!(p->a[0] = calloc(m->n_features, sizeof(double))))
		return -ENOMEM;
	for (uint32_t l = 0; l < L; l++) {
		size_t nw = (size_t)m->layers[l].in * m->layers[l].out;
		uint32_t out = m->layers[l].out;
		if (!(p->a[l + 1] = calloc(out, sizeof(double))) ||
		    !(p->delta[l] = calloc(out, sizeof(double))) ||
		    !(p->gw[l] = calloc(nw, sizeof(double))) ||
		    !(p->gb[l] = calloc(out, sizeof(double))) ||
		    !(p->vw[l] = calloc(nw, sizeof(double))) ||
		    !(p->vb[l] = calloc(out, sizeof(double))))
			return -ENOMEM;
	}
	return 0;
}

static void forward(const struct ml_model *m, struct pass *p, const double *x)
{
	for (uint32_t i = 0; i < m->n_features; i++)
		p->a[0][i] = (x[i] - m->mean[i]) / m->std[i];
	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct ml_layer *L = &m->layers[l];
		int last = l + 1 == m->n_layers;
		for (uint32_t o = 0; o < L->out; o++) {
			const double *row = L->w + (size_t)o * L->in;
			double s = L->b[o];
			for (uint32_t i = 0; i < L->in; i++)
				s += row[i] * p->a[l][i];
			p->a[l + 1][o] = !last && s < 0 ? 0 : s;
		}
	}
}

/* Add the gradient of the cross-entropy of one example to gw/gb. For
 * both the sigmoid and the softmax output the gradient at the logits is
 * (probabilities - one-hot target). */
static void backward(const struct ml_model *m, struct pass *p, uint32_t y)
{
	uint32_t L = m->n_layers;
	uint32_t n_out = ml_model_outputs(m);
	double *d = p->delta[L - 1];
	if (n_out == 1) {
		double s = p->a[L][0];
		double p1 = s >= 0 ? 1 / (1 + exp(-s)) : exp(s) / (1 + exp(s));
		d[0] = p1 - (y == 1 ? 1.0 : 0.0);
	} else {
		double mx = p->a[L][0];
		for (uint32_t k = 1; k < n_out; k++)
			if (p->a[L][k] > mx)
				mx = p->a[L][k];
		double sum = 0;
		for (uint32_t k = 0; k < n_out; k++) {
			d[k] = exp(p->a[L][k] - mx);
			sum += d[k];
		}
		for (uint32_t k = 0; k < n_out; k++)
			d[k] = d[k] / sum - (k == y ? 1.0 : 0.0);
	}
	for (uint32_t l = L; l-- > 0;) {
		const struct ml_layer *Ly = &m->layers[l];
		const double *in = p->a[l];
		const double *dl = p->delta[l];
		for (uint32_t o = 0; o < Ly->out; o++) {
			double *g = p->gw[l] + (size_t)o * Ly->in;
			for (uint32_t i = 0; i < Ly->in; i++)
				g[i] += dl[o] * in[i];
			p->gb[l][o] += dl[o];
		}
		if (l == 0)
			break;
		/* Error at the previous layer's output, through its ReLU. */
		double *dp = p->delta[l - 1];
		for (uint32_t i = 0; i < Ly->in; i++) {
			double s = 0;
			if (in[i] > 0)
				for (uint32_t o = 0; o < Ly->out; o++)
					s += Ly->w[(size_t)o * Ly->in + i] * dl[o];
			dp[i] = s;
		}
	}
}

static void step(struct ml_model *m, struct pass *p, size_t batch, double lr,
		 const struct ml_train_opts *o)
{
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct ml_layer *L = &m->layers[l];
		size_t nw = (size_t)L->in * L->out;
		for (size_t i = 0; i < nw; i++) {
			double g = p->gw[l][i] / (double)batch + o->l2 * L->w[i];
			p->vw[l][i] = o->momentum * p->vw[l][i] - lr * g;
			L->w[i] += p->vw[l][i];
			p->gw[l][i] = 0;
		}
		for (uint32_t i = 0; i < L->out; i++) {
			double g = p->gb[l][i] / (double)batch;
			p->vb[l][i] = o->momentum * p->vb[l][i] - lr * g;
			L->b[i] += p->vb[l][i];
			p->gb[l][i] = 0;
		}
	}
}

static void fit_standardization(struct ml_model *m, const struct ml_dataset *ds,
				const size_t *rows, size_t n_rows)
{
	for (uint32_t f = 0; f < m->n_features; f++) {
		double sum = 0;
		for (size_t r = 0; r < n_rows; r++)
			sum += ds->x[rows[r] * ds->n_features + f];
		double mean = sum / (double)n_rows;
		double var = 0;
		for (size_t r = 0; r < n_rows; r++) {
			double d = ds->x[rows[r] * ds->n_features + f] - mean;
			var += d * d;
		}
		double sd = sqrt(var / (double)n_rows);
		m->mean[f] = mean;
		/* A constant feature carries nothing; std 1 keeps it harmless. */
		m->std[f] = sd > 1e-9 ? sd : 1.0;
	}
}

int ml_train(const struct ml_dataset *ds, const size_t *rows, size_t n_rows,
	     enum ml_kind kind, const struct ml_train_opts *opts,
	     struct ml_model **ret_model)
{
	if (n_rows == 0 || opts->batch == 0 || opts->epochs == 0)
		return -EINVAL;
	for (size_t r = 0; r < n_rows; r++)
		if (rows[r] >= ds->n_rows)
			return -EINVAL;
	struct ml_model *m;
	int r = ml_model_new(kind, ds->n_features, ds->n_classes, opts->hidden,
			     kind == ML_KIND_MLP ? opts->n_hidden : 0, &m);
	if (r < 0)
		return r;
	uint32_t n_layers = m->n_layers;
	struct pass p;
	size_t *order = malloc(n_rows * sizeof *order);
	if ((r = pass_alloc(&p, m)) < 0 || !order) {
		r = -ENOMEM;
		goto done_pass;
	}
	for (uint32_t k = 0; k < ds->n_classes; k++)
		if ((r = ml_model_set_class_name(m, k, ds->class_names[k])) < 0)
			goto done_pass;
	fit_standardization(m, ds, rows, n_rows);

	struct ml_rng g;
	ml_rng_seed(&g, opts->seed);
	/* He initialisation for layers followed by a ReLU; the last layer of
	 * an mlp gets the same scale, a linear model starts at zero. */
	if (kind == ML_KIND_MLP) {
		for (uint32_t l = 0; l < m->n_layers; l++) {
			struct ml_layer *L = &m->layers[l];
			double sd = sqrt(2.0 / L->in);
			for (size_t i = 0; i < (size_t)L->in * L->out; i++)
				L->w[i] = sd * ml_rng_normal(&g);
		}
	}
	memcpy(order, rows, n_rows * sizeof *order);
	for (uint32_t e = 0; e < opts->epochs; e++) {
		double lr = opts->learning_rate * 0.5 *
			    (1 + cos(M_PI * e / (double)opts->epochs));
		ml_rng_shuffle(&g, order, n_rows);
		for (size_t s = 0; s < n_rows; s += opts->batch) {
			size_t end = s + opts->batch < n_rows ? s + opts->batch : n_rows;
			for (size_t i = s; i < end; i++) {
				size_t row = order[i];
				forward(m, &p, ds->x + row * ds->n_features);
				backward(m, &p, ds->y[row]);
			}
			step(m, &p, end - s, lr, opts);
		}
	}
	*ret_model = m;
	m = NULL;
	r = 0;

done_pass:
	pass_free(&p, n_layers);
	free(order);
	ml_model_free(m);
	return r;
}

int ml_evaluate(const struct ml_model *m, const struct ml_dataset *ds,
		const size_t *rows, size_t n_rows, size_t *ret_correct)
{
	if (m->n_features != ds->n_features || m->n_classes < ds->n_classes)
		return -EINVAL;
	double *probs = malloc(m->n_classes * sizeof *probs);
	if (!probs)
		return -ENOMEM;
	size_t correct = 0;
	int r = 0;
	for (size_t i = 0; i < n_rows; i++) {
		if (rows[i] >= ds->n_rows) {
			r = -EINVAL;
			break;
		}
		uint32_t cls;
		if ((r = ml_model_predict(m, ds->x + rows[i] * ds->n_features, &cls,
					  probs)) < 0)
			break;
		if (cls == ds->y[rows[i]])
			correct++;
	}
	free(probs);
	if (r == 0)
		*ret_correct = correct;
	return r;
}
