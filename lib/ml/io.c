/* JobInput documents in, prediction documents out, for the model backends. */
#include "ml/io.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/errmsg.h"

/* A proto3 JSON double: a number, or a string holding one. The named
 * non-finite strings ("NaN", "Infinity") are valid proto3 but no model can
 * take them, so they fail like any other non-finite value. */
static int read_number(const json_value *v, double *ret)
{
	double d;
	if (json_type_of(v) == JSON_NUMBER) {
		d = json_number(v);
	} else if (json_type_of(v) == JSON_STRING) {
		size_t n;
		const char *s = json_string(v, &n);
		if (n == 0 || n > 64 || strlen(s) != n)
			return -EINVAL;
		if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (!strchr("0123456789.eE+-", s[i]))
				return -EINVAL;
		char *end;
		errno = 0;
		d = strtod(s, &end);
		if (end != s + n)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (!isfinite(d))
		return -ERANGE;
	*ret = d;
	return 0;
}

static const char *describe(const json_value *v)
{
	return json_type_name(json_type_of(v));
}

static int parse_features(const struct ml_model *m, const json_value *arr,
			  double *x, char *err, size_t err_size)
{
	if (json_type_of(arr) != JSON_ARRAY) {
		err_buf_setf(err, err_size, "features: expected an array, got %s",
			    describe(arr));
		return -EINVAL;
	}
	size_t n = json_count(arr);
	if (n != m->n_features) {
		err_buf_setf(err, err_size, "features: expected %u values, got %zu",
			    m->n_features, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		int r = read_number(json_at(arr, i), &x[i]);
		if (r == -ERANGE) {
			err_buf_setf(err, err_size, "features[%zu] ('%s'): not a finite number",
				    i, m->feature_names[i]);
			return -EINVAL;
		}
		if (r < 0) {
			err_buf_setf(err, err_size, "features[%zu] ('%s'): expected a number, got %s",
				    i, m->feature_names[i], describe(json_at(arr, i)));
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_record(const struct ml_model *m, const json_value *obj,
			double *x, char *err, size_t err_size)
{
	if (json_type_of(obj) != JSON_OBJECT) {
		err_buf_setf(err, err_size, "record: expected an object, got %s",
			    describe(obj));
		return -EINVAL;
	}
	bool *seen = calloc(m->n_features, sizeof *seen);
	if (!seen)
		return -ENOMEM;
	int r = 0;
	size_t n = json_count(obj);
	for (size_t i = 0; i < n; i++) {
		const char *key = json_key_at(obj, i);
		int idx = ml_model_feature_index(m, key);
		if (idx < 0) {
			err_buf_setf(err, err_size, "record: unknown feature '%s'", key);
			r = -EINVAL;
			goto done_seen;
		}
		int nr = read_number(json_at(obj, i), &x[idx]);
		if (nr == -ERANGE) {
			err_buf_setf(err, err_size, "record['%s']: not a finite number", key);
			r = -EINVAL;
			goto done_seen;
		}
		if (nr < 0) {
			err_buf_setf(err, err_size, "record['%s']: expected a number, got %s",
				    key, describe(json_at(obj, i)));
			r = -EINVAL;
			goto done_seen;
		}
		seen[idx] = true;
	}
	for (uint32_t i = 0; i < m->n_features; i++) {
		if (!seen[i]) {
			err_buf_setf(err, err_size, "record: missing feature '%s'",
				    m->feature_names[i]);
			r = -EINVAL;
			goto done_seen;
		}
	}

done_seen:
	free(seen);
	return r;
}

int ml_input_parse(const struct ml_model *m, const uint8_t *doc, size_t len,
		   double *ret_x, char *err, size_t err_size)
{
	if (len > ML_MAX_INPUT) {
		err_buf_setf(err, err_size, "input: %zu bytes, the limit is %u", len,
			    ML_MAX_INPUT);
		return -EINVAL;
	}
	char jerr[128];
	json_value *root;
	double *x = NULL;
	int r = json_parse((const char *)doc, len, &root, jerr, sizeof jerr);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		err_buf_setf(err, err_size, "input is not JSON: %s", jerr);
		return -EINVAL;
	}
	if (json_type_of(root) != JSON_OBJECT) {
		err_buf_setf(err, err_size, "input: expected a JSON object, got %s",
			    describe(root));
		r = -EINVAL;
		goto done_root;
	}
	/* Values go to a scratch vector so that ret_x is untouched on failure. */
	x = malloc(m->n_features * sizeof *x);
	if (!x) {
		r = -ENOMEM;
		goto done_root;
	}
	const json_value *features = NULL, *record = NULL;
	for (size_t i = 0; i < json_count(root); i++) {
		const char *key = json_key_at(root, i);
		const json_value *v = json_at(root, i);
		/* proto3 JSON writes null for a field left at its default. */
		if (json_type_of(v) == JSON_NULL)
			continue;
		if (strcmp(key, "features") == 0) {
			features = v;
		} else if (strcmp(key, "record") == 0) {
			record = v;
		} else {
			err_buf_setf(err, err_size,
				    "input: unexpected field '%s' (this model takes features or record)",
				    key);
			r = -EINVAL;
			goto done_root;
		}
	}
	if (features && record) {
		err_buf_setf(err, err_size, "input: set only one of features and record");
		r = -EINVAL;
	} else if (!features && !record) {
		err_buf_setf(err, err_size, "input: no features or record");
		r = -EINVAL;
	} else if (features) {
		r = parse_features(m, features, x, err, err_size);
	} else {
		r = parse_record(m, record, x, err, err_size);
	}
	if (r == 0)
		memcpy(ret_x, x, m->n_features * sizeof *x);

done_root:
	free(x);
	json_free(root);
	return r;
}

int ml_output_write(const char *const *class_names, uint32_t n_classes,
		    uint32_t cls, const double *probs, struct buf *out)
{
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "label");
	if (class_names) {
		jw_string(&w, class_names[cls]);
	} else {
		char num[16];
		snprintf(num, sizeof num, "%u", cls);
		jw_string(&w, num);
	}
	jw_key(&w, "probability");
	jw_double(&w, probs[cls]);
	jw_key(&w, "class");
	jw_uint(&w, cls);
	if (n_classes > 2) {
		jw_key(&w, "probabilities");
		jw_array_begin(&w);
		for (uint32_t k = 0; k < n_classes; k++)
			jw_double(&w, probs[k]);
		jw_array_end(&w);
	}
	jw_object_end(&w);
	return w.error;
}

int ml_run_json(const struct ml_model *m, const uint8_t *doc, size_t len,
		struct buf *out, char *err, size_t err_size)
{
	double *x = malloc(m->n_features * sizeof *x);
	double *probs = malloc(m->n_classes * sizeof *probs);
	int r = -ENOMEM;
	if (!x || !probs)
		goto done_x;
	if ((r = ml_input_parse(m, doc, len, x, err, err_size)) < 0)
		goto done_x;
	uint32_t cls;
	if ((r = ml_model_predict(m, x, &cls, probs)) == -ERANGE) {
		err_buf_setf(err, err_size,
			    "input: values so large that the model's scores are not finite");
		r = -EINVAL;
	}
	if (r < 0)
		goto done_x;
	r = ml_output_write((const char *const *)m->class_names, m->n_classes,
			    cls, probs, out);

done_x:
	free(x);
	free(probs);
	return r;
}
