/* template_backend.c: a complete Atoll inference backend, meant to be
 * copied.
 *
 * Its "model" upper-cases text: for a job whose input is {"prompt": "..."}
 * it streams the prompt back in upper case (ASCII letters only), for any
 * other input the input itself. A real backend loads its model in init()
 * and runs it in run(); everything around that stays as it is here.
 *
 * Configuration (a workload's `options:` in island.yaml, plus `model`
 * when the workload names a model file):
 *   prefix      text emitted before the answer (default none)
 *   chunk_size  bytes per emitted chunk, 1..65536 (default 4096)
 *
 * It needs only the ABI header (atoll/backend.h); build it with the
 * CMakeLists.txt beside it, or see docs/plugins.md for a one-line cc
 * command with pkg-config.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atoll/backend.h>

#define UPPER_VERSION "1.0.0"
#define UPPER_DEFAULT_CHUNK 4096
#define UPPER_MAX_CHUNK 65536
/* Nesting a JSON input may have before it is refused. */
#define UPPER_MAX_DEPTH 32

/* One instance per workload. run() may be called from several threads at
 * once, so it only reads this. */
struct upper_ctx {
	char *prefix;
	size_t chunk_size;
};

/* Write a message into the host's error buffer and return status. */
static int fail(atoll_err *err, int status, const char *fmt, const char *arg)
{
	if (err)
		snprintf(err->msg, sizeof(err->msg), fmt, arg);
	return status;
}

/* fini(): release an instance; the host calls it when no run() is in
 * flight, and it must accept NULL. */
static void upper_fini(void *vctx)
{
	struct upper_ctx *ctx = vctx;

	if (!ctx)
		return;
	free(ctx->prefix);
	free(ctx);
}

/* init(): one call per workload, with its options. Copy what you keep and
 * refuse keys you do not know, naming them. */
static int upper_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		      atoll_err *err)
{
	struct upper_ctx *ctx = calloc(1, sizeof(*ctx));
	int r = ATOLL_OK;

	if (!ctx)
		return fail(err, ATOLL_E_NOMEM, "%s", "out of memory");
	ctx->chunk_size = UPPER_DEFAULT_CHUNK;
	for (size_t i = 0; i < n_config && r == ATOLL_OK; i++) {
		const char *k = config[i].key, *v = config[i].value;
		char *end;

		if (strcmp(k, "prefix") == 0) {
			free(ctx->prefix);
			ctx->prefix = malloc(strlen(v) + 1);
			if (ctx->prefix)
				strcpy(ctx->prefix, v);
			else
				r = fail(err, ATOLL_E_NOMEM, "%s", "out of memory");
		} else if (strcmp(k, "chunk_size") == 0) {
			errno = 0;
			unsigned long n = strtoul(v, &end, 10);
			if (errno || !*v || *end || n < 1 || n > UPPER_MAX_CHUNK)
				r = fail(err, ATOLL_E_CONFIG,
					 "chunk_size: '%s' is not in 1..65536", v);
			ctx->chunk_size = n;
		} else {
			r = fail(err, ATOLL_E_CONFIG, "unknown key '%s'", k);
		}
	}
	if (r != ATOLL_OK) {
		upper_fini(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return ATOLL_OK;
}

/* A little JSON reader, enough to find the top-level "prompt" string of an
 * input document. A real backend would use a JSON library. */
struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && strchr(" \t\r\n", *c->p))
		c->p++;
}

static int hex4(const char *p, uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at c->p: decoded into out (which needs as many bytes as the
 * escaped text; decoding never grows it) when out is not NULL. */
static int read_string(struct cursor *c, char *out, size_t *ret_len)
{
	size_t n = 0;

	if (c->p >= c->end || *c->p != '"')
		return -1;
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
		char ch = *c->p;
		uint32_t cp, lo;

		if ((unsigned char)ch < 0x20)
			return -1;
		if (ch != '\\') {
			if (out)
				out[n] = ch;
			n++;
			continue;
		}
		if (++c->p >= c->end)
			return -1;
		switch (*c->p) {
		case '"': case '\\': case '/': ch = *c->p; break;
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 't': ch = '\t'; break;
		case 'u':
			if (c->end - c->p < 5 || hex4(c->p + 1, &cp) < 0)
				return -1;
			c->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (c->end - c->p < 7 || c->p[1] != '\\' ||
				    c->p[2] != 'u' || hex4(c->p + 3, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				c->p += 6;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return -1;
			}
			if (out)
				n += put_utf8(out + n, cp);
			else
				n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
			continue;
		default:
			return -1;
		}
		if (out)
			out[n] = ch;
		n++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	if (ret_len)
		*ret_len = n;
	return 0;
}

/* Step over any value: strings, numbers and literals, nested containers. */
static int skip_value(struct cursor *c, int depth)
{
	skip_ws(c);
	if (c->p >= c->end || depth > UPPER_MAX_DEPTH)
		return -1;
	if (*c->p == '"')
		return read_string(c, NULL, NULL);
	if (*c->p == '{' || *c->p == '[') {
		char close = *c->p == '{' ? '}' : ']';

		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == close) {
			c->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				skip_ws(c);
				if (read_string(c, NULL, NULL) < 0)
					return -1;
				skip_ws(c);
				if (c->p >= c->end || *c->p++ != ':')
					return -1;
			}
			if (skip_value(c, depth + 1) < 0)
				return -1;
			skip_ws(c);
			if (c->p >= c->end)
				return -1;
			if (*c->p == close) {
				c->p++;
				return 0;
			}
			if (*c->p++ != ',')
				return -1;
		}
	}
	/* A number or true/false/null: up to the next delimiter. */
	const char *start = c->p;
	while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
		c->p++;
	return c->p > start ? 0 : -1;
}

/* The top-level "prompt" string of a JSON object, malloc'd into *ret.
 * 1 when found, 0 when the input is not such an object, -1 on no memory. */
static int find_prompt(const uint8_t *in, size_t len, char **ret,
		       size_t *ret_len)
{
	struct cursor c = { (const char *)in, (const char *)in + len };

	skip_ws(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return 0;
	for (;;) {
		struct cursor key;
		char name[8];
		size_t n;

		skip_ws(&c);
		key = c;
		if (read_string(&c, NULL, &n) < 0)
			return 0;
		skip_ws(&c);
		if (c.p >= c.end || *c.p++ != ':')
			return 0;
		skip_ws(&c);
		if (n == 6 && read_string(&key, name, NULL) == 0 &&
		    memcmp(name, "prompt", 6) == 0 && c.p < c.end && *c.p == '"') {
			struct cursor val = c;
			char *out = malloc((size_t)(c.end - c.p) + 1);

			if (!out)
				return -1;
			if (read_string(&val, out, &n) < 0) {
				free(out);
				return 0;
			}
			*ret = out;
			*ret_len = n;
			return 1;
		}
		if (skip_value(&c, 1) < 0)
			return 0;
		skip_ws(&c);
		if (c.p >= c.end || *c.p++ != ',')
			return 0;
	}
}

/* run(): one job, start to end. Stream the answer through io->emit() in
 * chunks the host copies before returning; stop with ATOLL_E_CANCELLED
 * when io->cancelled() says so or emit() answers it. Must be safe from
 * several threads at once on one instance: all job state is local. */
static int upper_run(void *vctx, const atoll_backend_job *job,
		     const atoll_backend_io *io, atoll_err *err)
{
	struct upper_ctx *ctx = vctx;
	char *text = NULL;
	size_t len;
	int r;

	r = find_prompt(job->input, job->input_len, &text, &len);
	if (r < 0)
		return fail(err, ATOLL_E_NOMEM, "%s", "out of memory");
	if (r == 0) {
		text = malloc(job->input_len + 1);
		if (!text)
			return fail(err, ATOLL_E_NOMEM, "%s", "out of memory");
		memcpy(text, job->input, job->input_len);
		len = job->input_len;
	}
	for (size_t i = 0; i < len; i++)
		if (text[i] >= 'a' && text[i] <= 'z')
			text[i] = (char)(text[i] - 'a' + 'A');

	r = ATOLL_OK;
	if (ctx->prefix && ctx->prefix[0])
		r = io->emit(io->host, (const uint8_t *)ctx->prefix,
			     strlen(ctx->prefix));
	for (size_t off = 0; r == ATOLL_OK && off < len; off += ctx->chunk_size) {
		size_t n = len - off < ctx->chunk_size ? len - off : ctx->chunk_size;

		if (io->cancelled(io->host))
			r = ATOLL_E_CANCELLED;
		else
			r = io->emit(io->host, (const uint8_t *)text + off, n);
	}
	free(text);
	if (r == ATOLL_E_CANCELLED)
		return fail(err, r, "%s", "cancelled");
	if (r != ATOLL_OK)
		return fail(err, r, "%s", "the host refused a chunk");
	return ATOLL_OK;
}

/* The table. cancel is optional and left out: run() polls
 * io->cancelled() between chunks, which the host sets on cancellation. */
static const atoll_backend upper_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "upper",
	.description = "template backend: upper-cases the prompt",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = upper_init,
	.fini = upper_fini,
	.run = upper_run,
	.version = UPPER_VERSION,
};

/* The one exported symbol, atoll_backend_entry(). */
ATOLL_BACKEND_EXPORT(upper_backend)
