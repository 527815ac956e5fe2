/* The echo backend: streams a job's prompt (or its raw input) back in
 * fixed-size chunks, optionally slowly or failing, so that the host's
 * streaming, cancellation and error paths can be exercised end to end
 * without a model. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/backend.h"
#include "json/json.h"
#include "util/timeutil.h"
#include "util/errmsg.h"

#define ECHO_DEFAULT_CHUNK 16
/* The host refuses chunks larger than this (backend.h). */
#define ECHO_MAX_CHUNK (1u << 20)
#define ECHO_MAX_DELAY_MS 600000
/* Longest sleep between two looks at io->cancelled(). */
#define ECHO_POLL_MS 5

struct echo_ctx {
	size_t chunk_size;
	int64_t delay_ms;
	char *fail_with; /* NULL: runs succeed */
};

/* A decimal integer in [min, max], nothing else. */
static int parse_range(const char *s, long long min, long long max,
		       long long *ret)
{
	char *end;
	long long v;

	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void echo_fini(void *vctx)
{
	struct echo_ctx *ctx = vctx;

	if (!ctx)
		return;
	free(ctx->fail_with);
	free(ctx);
}

static int echo_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		     atoll_err *err)
{
	struct echo_ctx *ctx;
	bool seen_chunk = false, seen_delay = false;
	long long v;
	int r;

	if (!ret_ctx || (n_config && !config))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				"bad init arguments");
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return err_setf(err, ATOLL_E_NOMEM, "out of memory");
	ctx->chunk_size = ECHO_DEFAULT_CHUNK;
	for (size_t i = 0; i < n_config; i++) {
		const char *k = config[i].key, *val = config[i].value;

		if (!k || !val) {
			r = err_setf(err, ATOLL_E_CONFIG,
				     "config entry %zu is empty", i);
			goto out_fail;
		}
		if (strcmp(k, "model") == 0) {
			r = err_setf(err, ATOLL_E_CONFIG,
				     "echo takes no model; remove 'model: %s' "
				     "from the workload", val);
			goto out_fail;
		} else if (strcmp(k, "chunk_size") == 0 && !seen_chunk) {
			if (parse_range(val, 1, ECHO_MAX_CHUNK, &v) < 0) {
				r = err_setf(err, ATOLL_E_CONFIG,
					     "chunk_size: '%s' is not a byte "
					     "count in 1..%u", val,
					     ECHO_MAX_CHUNK);
				goto out_fail;
			}
			ctx->chunk_size = (size_t)v;
			seen_chunk = true;
		} else if (strcmp(k, "delay_ms") == 0 && !seen_delay) {
			if (parse_range(val, 0, ECHO_MAX_DELAY_MS, &v) < 0) {
				r = err_setf(err, ATOLL_E_CONFIG,
					     "delay_ms: '%s' is not a number of "
					     "milliseconds in 0..%d", val,
					     ECHO_MAX_DELAY_MS);
				goto out_fail;
			}
			ctx->delay_ms = v;
			seen_delay = true;
		} else if (strcmp(k, "fail_with") == 0 && !ctx->fail_with) {
			ctx->fail_with = strdup(val);
			if (!ctx->fail_with) {
				r = err_setf(err, ATOLL_E_NOMEM, "out of memory");
				goto out_fail;
			}
		} else if (strcmp(k, "chunk_size") == 0 ||
			   strcmp(k, "delay_ms") == 0 ||
			   strcmp(k, "fail_with") == 0) {
			r = err_setf(err, ATOLL_E_CONFIG,
				     "option '%s' given twice", k);
			goto out_fail;
		} else {
			r = err_setf(err, ATOLL_E_CONFIG, "unknown option '%s'",
				     k);
			goto out_fail;
		}
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
out_fail:
	echo_fini(ctx);
	return r;
}

/* Sleep ms in short steps; 1 when the job was cancelled meanwhile. */
static int pause_cancellable(const atoll_backend_io *io, int64_t ms)
{
	int64_t end = time_mono_ms() + ms;

	for (;;) {
		int64_t left;

		if (io->cancelled && io->cancelled(io->host))
			return 1;
		left = end - time_mono_ms();
		if (left <= 0)
			return 0;
		time_sleep_ms(left < ECHO_POLL_MS ? left : ECHO_POLL_MS);
	}
}

static int echo_run(void *vctx, const atoll_backend_job *job,
		    const atoll_backend_io *io, atoll_err *err)
{
	const struct echo_ctx *ctx = vctx;
	json_value *doc = NULL;
	const uint8_t *out;
	size_t out_len, off = 0;
	int status = ATOLL_OK;

	if (!ctx || !job || job->struct_size < sizeof(*job) || !io ||
	    io->struct_size < sizeof(*io) || !io->emit ||
	    (!job->input && job->input_len))
		return err_setf(err, ATOLL_E_INVALID_ARGUMENT,
				"bad run arguments");
	if (job->mode != ATOLL_MODE_PLAIN && job->mode != ATOLL_MODE_TEE)
		return err_setf(err, ATOLL_E_UNSUPPORTED,
				"echo runs plain and tee jobs, not mode %u",
				job->mode);
	if (ctx->fail_with)
		return err_setf(err, ATOLL_E_INTERNAL, "%s", ctx->fail_with);

	out = job->input;
	out_len = job->input_len;
	/* Anything that is not an object with a string prompt, including
	 * text that is not JSON at all, is echoed byte for byte. */
	if (job->input_len &&
	    json_parse((const char *)job->input, job->input_len, &doc, NULL,
		       0) == 0) {
		size_t n = 0;
		const char *prompt =
			json_string(json_get(doc, "prompt"), &n);

		if (prompt) {
			out = (const uint8_t *)prompt;
			out_len = n;
		}
	}
	while (off < out_len) {
		size_t n = out_len - off < ctx->chunk_size ? out_len - off :
							     ctx->chunk_size;
		int r;

		if (off > 0 && ctx->delay_ms > 0 &&
		    pause_cancellable(io, ctx->delay_ms)) {
			status = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
			goto out_free;
		}
		if (io->cancelled && io->cancelled(io->host)) {
			status = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
			goto out_free;
		}
		r = io->emit(io->host, out + off, n);
		if (r == ATOLL_E_CANCELLED) {
			status = err_setf(err, ATOLL_E_CANCELLED, "cancelled");
			goto out_free;
		}
		if (r != ATOLL_OK) {
			status = err_setf(err, r,
					  "the host refused a chunk of %zu bytes "
					  "at offset %zu", n, off);
			goto out_free;
		}
		off += n;
	}
out_free:
	json_free(doc);
	return status;
}

static const atoll_backend echo_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "echo",
	.description = "streams the prompt (or the raw input) back",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = echo_init,
	.fini = echo_fini,
	.run = echo_run,
	.cancel = NULL,
	.version = ATOLL_VERSION,
};

ATOLL_BACKEND_EXPORT(echo_backend)
