/* The linear and mlp backends through their real shared objects: dlopen,
 * entry point, init with a workload config, run JSON jobs from several
 * threads, and every rejection (config, corrupted model, bad input, mode,
 * cancellation). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atoll/backend.h"
#include "check.h"
#include "json/json.h"
#include "ml/dataset.h"
#include "ml/model.h"
#include "util/buf.h"
#include "util/fsutil.h"

static char build_dir[512], src_dir[512], module_dir[512];

struct sink {
	struct buf out;
	int cancel_after; /* emit calls before reporting cancellation; -1 never */
	int cancelled;
};

static int sink_emit(void *host, const uint8_t *data, size_t len)
{
	struct sink *s = host;
	if (s->cancel_after == 0)
		return ATOLL_E_CANCELLED;
	if (s->cancel_after > 0)
		s->cancel_after--;
	return buf_append(&s->out, data, len) < 0 ? ATOLL_E_NOMEM : ATOLL_OK;
}

static int sink_cancelled(void *host)
{
	return ((struct sink *)host)->cancelled;
}

static const atoll_backend *open_backend(const char *name, void **ret_handle)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s.so", module_dir, name);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cannot open [%s]: %s\n", path, dlerror());
		return NULL;
	}
	atoll_backend_entry_fn entry;
	*(void **)&entry = dlsym(h, ATOLL_BACKEND_ENTRY);
	CHECK(entry != NULL);
	/* Only the entry point is exported. */
	CHECK(dlsym(h, "ml_model_parse") == NULL);
	CHECK(dlsym(h, "buf_append") == NULL);
	const atoll_backend *b = entry ? entry(ATOLL_BACKEND_ABI_MAJOR, ATOLL_BACKEND_ABI_MINOR) : NULL;
	*ret_handle = h;
	return b;
}

/* Run one job; returns the status, output in *out (caller frees). */
static int run_job(const atoll_backend *b, void *ctx, uint32_t mode,
		   const char *input, struct buf *out, atoll_err *err)
{
	struct sink s = { .cancel_after = -1 };
	atoll_backend_job job = {
		.struct_size = sizeof job,
		.job_id = "job_test",
		.workload_id = 1,
		.mode = mode,
		.input = (const uint8_t *)input,
		.input_len = strlen(input),
	};
	atoll_backend_io io = {
		.struct_size = sizeof io,
		.host = &s,
		.emit = sink_emit,
		.cancelled = sink_cancelled,
	};
	memset(err, 0, sizeof *err);
	int st = b->run(ctx, &job, &io, err);
	*out = s.out;
	return st;
}

static int init_with(const atoll_backend *b, const char *model, void **ctx,
		     atoll_err *err)
{
	atoll_kv kv[1] = { { "model", model } };
	memset(err, 0, sizeof *err);
	*ctx = NULL;
	return b->init(kv, 1, ctx, err);
}

/* The features of dataset row i as a JSON document. */
static void features_doc(const struct ml_dataset *ds, size_t row, struct buf *doc)
{
	struct json_writer w;
	jw_init(&w, doc);
	jw_object_begin(&w);
	jw_key(&w, "features");
	jw_array_begin(&w);
	for (uint32_t f = 0; f < ds->n_features; f++)
		jw_double(&w, ds->x[row * ds->n_features + f]);
	jw_array_end(&w);
	jw_object_end(&w);
	buf_cstr(doc);
}

static void check_answer(const char *json, const struct ml_model *m,
			 const double *x, int multi)
{
	json_value *v = NULL;
	char err[128];
	CHECK_INT(json_parse(json, strlen(json), &v, err, sizeof err), 0);
	if (!v)
		return;
	uint32_t cls;
	double probs[16];
	CHECK_INT(ml_model_predict(m, x, &cls, probs), 0);
	uint64_t got_cls = 99;
	CHECK_INT(json_uint64(json_get(v, "class"), &got_cls), 0);
	CHECK_INT(got_cls, cls);
	CHECK_STR(json_string(json_get(v, "label"), NULL), m->class_names[cls]);
	CHECK(json_number(json_get(v, "probability")) == probs[cls]);
	const json_value *all = json_get(v, "probabilities");
	if (multi) {
		CHECK(all && json_count(all) == m->n_classes);
		for (size_t k = 0; all && k < json_count(all); k++)
			CHECK(json_number(json_at(all, k)) == probs[k]);
	} else {
		CHECK(all == NULL);
	}
	json_free(v);
}

struct worker {
	const atoll_backend *b;
	void *ctx;
	const struct ml_dataset *ds;
	const struct ml_model *m;
	size_t first;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (size_t i = w->first; i < w->ds->n_rows; i += 2) {
		struct buf doc = { 0 }, out = { 0 };
		atoll_err err;
		features_doc(w->ds, i, &doc);
		int st = run_job(w->b, w->ctx, ATOLL_MODE_PLAIN, (char *)doc.data, &out, &err);
		uint32_t cls;
		double probs[16];
		ml_model_predict(w->m, w->ds->x + i * w->ds->n_features, &cls, probs);
		char want[64];
		snprintf(want, sizeof want, "\"class\":%u", cls);
		if (st != ATOLL_OK || !strstr(buf_cstr(&out), want))
			w->failures++;
		buf_free(&doc);
		buf_free(&out);
	}
	return NULL;
}

static void test_linear(void)
{
	void *h = NULL;
	const atoll_backend *b = open_backend("linear", &h);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_INT(b->abi_major, ATOLL_BACKEND_ABI_MAJOR);
	CHECK_INT(b->abi_minor, ATOLL_BACKEND_ABI_MINOR);
	CHECK(b->struct_size >= sizeof(atoll_backend));
	CHECK_STR(b->name, "linear");
	CHECK(b->modes == (ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE)));

	char model[1024], data[1024], msg[1200];
	snprintf(model, sizeof model, "%s/models/breast_cancer_logistic.model", build_dir);
	snprintf(data, sizeof data, "%s/data/breast_cancer.csv", src_dir);
	struct ml_model *m = NULL;
	struct ml_dataset *ds = NULL;
	CHECK_INT(ml_model_load(model, &m, msg, sizeof msg), 0);
	CHECK_INT(ml_dataset_load_csv(data, &ds, msg, sizeof msg), 0);
	if (!m || !ds)
		goto done;

	void *ctx;
	atoll_err err;
	CHECK_INT(init_with(b, model, &ctx, &err), ATOLL_OK);

	/* The first record of the dataset, by vector and by name. */
	struct buf doc = { 0 }, out = { 0 };
	features_doc(ds, 0, &doc);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, (char *)doc.data, &out, &err), ATOLL_OK);
	check_answer(buf_cstr(&out), m, ds->x, 0);
	CHECK(strstr(buf_cstr(&out), "\"label\":\"malignant\"") != NULL);
	buf_free(&out);
	buf_reset(&doc);
	struct json_writer w;
	jw_init(&w, &doc);
	jw_object_begin(&w);
	jw_key(&w, "record");
	jw_object_begin(&w);
	for (uint32_t f = m->n_features; f-- > 0;) {
		jw_key(&w, m->feature_names[f]);
		jw_double(&w, ds->x[f]);
	}
	jw_object_end(&w);
	jw_object_end(&w);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_TEE, buf_cstr(&doc), &out, &err), ATOLL_OK);
	check_answer(buf_cstr(&out), m, ds->x, 0);
	buf_free(&out);
	buf_free(&doc);

	/* Every record, from two threads at once on one instance. */
	struct worker wk[2] = { { b, ctx, ds, m, 0, 0 }, { b, ctx, ds, m, 1, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker_main, &wk[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(wk[0].failures + wk[1].failures, 0);

	/* Bad inputs. */
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, "{\"features\": [1, 2, 3]}", &out, &err),
		  ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "features: expected 30 values, got 3");
	CHECK_INT(out.len, 0);
	buf_free(&out);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, "{\"record\": {\"mean radius\": 1}}", &out, &err),
		  ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "record: missing feature 'mean texture'");
	buf_free(&out);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, "{\"record\": {\"radius\": 1}}", &out, &err),
		  ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "record: unknown feature 'radius'");
	buf_free(&out);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, "not json", &out, &err), ATOLL_E_FORMAT);
	CHECK(strncmp(err.msg, "input is not JSON", 17) == 0);
	buf_free(&out);
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_HOMOMORPHIC, "{\"features\": []}", &out, &err),
		  ATOLL_E_UNSUPPORTED);
	buf_free(&out);

	/* Cancellation: before the start, and at emit. */
	struct sink s = { .cancel_after = 0 };
	features_doc(ds, 1, &doc);
	atoll_backend_job job = { sizeof job, "job_c", 1, ATOLL_MODE_PLAIN, doc.data, doc.len };
	atoll_backend_io io = { sizeof io, &s, sink_emit, sink_cancelled };
	CHECK_INT(b->run(ctx, &job, &io, &err), ATOLL_E_CANCELLED);
	s.cancel_after = -1;
	s.cancelled = 1;
	CHECK_INT(b->run(ctx, &job, &io, &err), ATOLL_E_CANCELLED);
	CHECK_INT(s.out.len, 0);
	buf_free(&doc);
	b->fini(ctx);
	b->fini(NULL);

	/* Config errors. */
	atoll_kv extra[2] = { { "model", model }, { "threshold", "0.4" } };
	CHECK_INT(b->init(extra, 2, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "unknown option 'threshold' (the linear backend takes only 'model')");
	CHECK_INT(b->init(NULL, 0, &ctx, &err), ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "the linear backend needs 'model: <file>'");
	CHECK_INT(init_with(b, "/nonexistent.model", &ctx, &err), ATOLL_E_IO);
	CHECK_STR(err.msg, "/nonexistent.model: No such file or directory");
	char other[1024];
	snprintf(other, sizeof other, "%s/models/digits_mlp.model", build_dir);
	CHECK_INT(init_with(b, other, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: not a linear model", other);
	CHECK_STR(err.msg, msg);

	/* A corrupted copy of the model. */
	uint8_t *img;
	size_t len;
	CHECK_INT(fs_read_file(model, 1 << 20, &img, &len), 0);
	char bad[] = "/tmp/atoll-ml-bad-XXXXXX";
	int fd = mkstemp(bad);
	close(fd);
	img[len / 2] ^= 0x40;
	CHECK_INT(fs_write_atomic(bad, img, len, 0600), 0);
	CHECK_INT(init_with(b, bad, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: checksum mismatch: file is corrupted", bad);
	CHECK_STR(err.msg, msg);
	CHECK_INT(fs_write_atomic(bad, img, len - 100, 0600), 0);
	CHECK_INT(init_with(b, bad, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: truncated: header says %zu bytes, file has %zu", bad,
		 len, len - 100);
	CHECK_STR(err.msg, msg);
	unlink(bad);
	free(img);

done:
	ml_model_free(m);
	ml_dataset_free(ds);
	dlclose(h);
}

static void test_mlp(void)
{
	void *h = NULL;
	const atoll_backend *b = open_backend("mlp", &h);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_STR(b->name, "mlp");
	char model[1024], data[1024], msg[1200];
	snprintf(model, sizeof model, "%s/models/digits_mlp.model", build_dir);
	snprintf(data, sizeof data, "%s/data/digits.csv.gz", src_dir);
	struct ml_model *m = NULL;
	struct ml_dataset *ds = NULL;
	CHECK_INT(ml_model_load(model, &m, msg, sizeof msg), 0);
	CHECK_INT(ml_dataset_load_csv(data, &ds, msg, sizeof msg), 0);
	if (!m || !ds)
		goto done;
	void *ctx;
	atoll_err err;
	CHECK_INT(init_with(b, model, &ctx, &err), ATOLL_OK);
	size_t agree = 0;
	for (size_t i = 0; i < 50; i++) {
		struct buf doc = { 0 }, out = { 0 };
		features_doc(ds, i, &doc);
		CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, (char *)doc.data, &out, &err), ATOLL_OK);
		check_answer(buf_cstr(&out), m, ds->x + i * ds->n_features, 1);
		char want[32];
		snprintf(want, sizeof want, "\"class\":%u,", ds->y[i]);
		agree += strstr(buf_cstr(&out), want) != NULL;
		buf_free(&doc);
		buf_free(&out);
	}
	CHECK(agree >= 45);
	struct buf out = { 0 };
	CHECK_INT(run_job(b, ctx, ATOLL_MODE_PLAIN, "{\"features\": [0, 1]}", &out, &err),
		  ATOLL_E_FORMAT);
	CHECK_STR(err.msg, "features: expected 64 values, got 2");
	buf_free(&out);
	b->fini(ctx);

	char other[1024];
	snprintf(other, sizeof other, "%s/models/breast_cancer_logistic.model", build_dir);
	CHECK_INT(init_with(b, other, &ctx, &err), ATOLL_E_CONFIG);
	snprintf(msg, sizeof msg, "%s: not an mlp model", other);
	CHECK_STR(err.msg, msg);

done:
	ml_model_free(m);
	ml_dataset_free(ds);
	dlclose(h);
}

int main(void)
{
	snprintf(build_dir, sizeof build_dir, "%s", check_env("ATOLL_BUILD_DIR", "."));
	snprintf(src_dir, sizeof src_dir, "%s", check_env("ATOLL_SOURCE_DIR", ".."));
	char fallback[600];
	snprintf(fallback, sizeof fallback, "%s/modules", build_dir);
	snprintf(module_dir, sizeof module_dir, "%s", check_env("ATOLL_MODULE_DIR", fallback));
	test_linear();
	test_mlp();
	CHECK_DONE();
}
