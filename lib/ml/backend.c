/* Shared body of the linear and mlp inference backends. */
#include "ml/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/io.h"
#include "util/buf.h"
#include "util/errmsg.h"

#define EMIT_CHUNK (1u << 20)

struct ml_backend {
	struct ml_model *model;
};

int ml_backend_init(enum ml_kind kind, const atoll_kv *config, size_t n_config,
		    void **ret_ctx, atoll_err *err)
{
	const char *want = kind == ML_KIND_LINEAR ? "linear" : "mlp";
	const char *path = NULL;
	for (size_t i = 0; i < n_config; i++) {
		if (!config[i].key || !config[i].value)
			return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "config entry %zu is NULL", i);
		if (strcmp(config[i].key, "model") == 0)
			path = config[i].value;
		else
			return err_setf(err, ATOLL_E_CONFIG,
					"unknown option '%s' (the %s backend takes only 'model')",
					config[i].key, want);
	}
	if (!path)
		return err_setf(err, ATOLL_E_CONFIG, "the %s backend needs 'model: <file>'",
				want);
	struct ml_backend *b = calloc(1, sizeof *b);
	if (!b)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	char msg[ATOLL_ERR_MAX];
	int r = ml_model_load(path, &b->model, msg, sizeof msg);
	if (r == -ENOMEM) {
		free(b);
		return err_setf(err, ATOLL_E_NOMEM, "out of memory loading %s", path);
	}
	if (r < 0) {
		free(b);
		return err_setf(err, r == -EBADMSG ? ATOLL_E_CONFIG : ATOLL_E_IO, "%s", msg);
	}
	if (b->model->kind != kind) {
		ml_model_free(b->model);
		free(b);
		return err_setf(err, ATOLL_E_CONFIG, "%s: not %s model", path,
				kind == ML_KIND_LINEAR ? "a linear" : "an mlp");
	}
	*ret_ctx = b;
	return ATOLL_OK;
}

void ml_backend_fini(void *ctx)
{
	struct ml_backend *b = ctx;
	if (!b)
		return;
	ml_model_free(b->model);
	free(b);
}

int ml_backend_emit(const atoll_backend_io *io, const uint8_t *data, size_t len)
{
	size_t off = 0;
	do {
		size_t n = len - off < EMIT_CHUNK ? len - off : EMIT_CHUNK;
		int s = io->emit(io->host, data + off, n);
		if (s != ATOLL_OK)
			return s;
		off += n;
	} while (off < len);
	return ATOLL_OK;
}

int ml_backend_run(void *ctx, const atoll_backend_job *job,
		   const atoll_backend_io *io, atoll_err *err)
{
	struct ml_backend *b = ctx;
	if (!b || !job || !io || !io->emit || (!job->input && job->input_len))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT, "NULL argument");
	if (job->mode != ATOLL_MODE_PLAIN && job->mode != ATOLL_MODE_TEE)
		return err_setf(err, ATOLL_E_UNSUPPORTED,
				"mode %u: this backend runs plaintext (plain or TEE) jobs",
				job->mode);
	if (io->cancelled && io->cancelled(io->host))
		return err_setf(err, ATOLL_E_CANCELLED, "cancelled");
	struct buf out = { 0 };
	char msg[ATOLL_ERR_MAX];
	int r = ml_run_json(b->model, job->input ? job->input : (const uint8_t *)"",
			    job->input_len, &out, msg, sizeof msg);
	int s;
	if (r == -ENOMEM)
		s = err_setf(err, ATOLL_E_NOMEM, "out of memory");
	else if (r < 0)
		s = err_setf(err, ATOLL_E_FORMAT, "%s", msg);
	else if ((s = ml_backend_emit(io, out.data, out.len)) == ATOLL_E_CANCELLED)
		err_setf(err, s, "cancelled");
	else if (s != ATOLL_OK)
		err_setf(err, s, "emit failed");
	buf_free(&out);
	return s;
}
