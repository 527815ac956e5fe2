/* Error formatting, the claims builder and config scalar parsers shared by
 * the TEE verifier drivers. */
#include "dc_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#ifdef ATOLL_FUZZ_UNSAFE_ACCEPT_SIGNATURES
/* Kept in the binary, so that a test can tell this build from a release
 * one by its bytes. */
__attribute__((used)) const char dc_fuzz_unsafe_marker[] = DC_FUZZ_UNSAFE_MARKER;

bool dc_fuzz_accept_signature(void)
{
	return dc_fuzz_unsafe_marker[0] != '\0';
}
#endif

int dc_err(atoll_err *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}

int dc_err_prefix(atoll_err *err, int status, const char *what)
{
	char old[ATOLL_ERR_MAX];
	size_t n;

	if (!err)
		return status;
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* Built by hand: the message is cut to fit, never overflowed. */
	n = strlen(what);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, what, n);
	memcpy(err->msg + n, ": ", 2);
	n += 2;
	memcpy(err->msg + n, old,
	       strnlen(old, sizeof(err->msg) - n - 1));
	err->msg[n + strnlen(old, sizeof(err->msg) - n - 1)] = '\0';
	return status;
}

struct dc_claims {
	atoll_claims pub;
	atoll_claim *extra;
	size_t n_extra;
	size_t cap_extra;
	void **owned;
	size_t n_owned;
	size_t cap_owned;
};

struct dc_claims *dc_claims_new(const char *tee_type)
{
	struct dc_claims *c = calloc(1, sizeof(*c));
	const uint8_t *name;

	if (!c)
		return NULL;
	c->pub.struct_size = sizeof(atoll_claims);
	if (dc_claims_keep(c, tee_type, strlen(tee_type) + 1, &name) < 0) {
		free(c);
		return NULL;
	}
	c->pub.tee_type = (const char *)name;
	return c;
}

atoll_claims *dc_claims_pub(struct dc_claims *c)
{
	return &c->pub;
}

/* Storage of len bytes owned by the claims, uninitialized. */
static int keep_alloc(struct dc_claims *c, size_t len, uint8_t **ret)
{
	uint8_t *p;

	if (c->n_owned == c->cap_owned) {
		size_t cap = c->cap_owned ? c->cap_owned * 2 : 16;
		void **n = realloc(c->owned, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->owned = n;
		c->cap_owned = cap;
	}
	p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	c->owned[c->n_owned++] = p;
	*ret = p;
	return 0;
}

int dc_claims_keep(struct dc_claims *c, const void *data, size_t len,
		   const uint8_t **ret)
{
	uint8_t *copy;
	int r = keep_alloc(c, len, &copy);

	if (r < 0)
		return r;
	if (len)
		memcpy(copy, data, len);
	*ret = copy;
	return 0;
}

static int set_field(struct dc_claims *c, const void *d, size_t n,
		     const uint8_t **field, size_t *field_len)
{
	const uint8_t *p;
	int r;

	if (n == 0) {
		*field = NULL;
		*field_len = 0;
		return 0;
	}
	r = dc_claims_keep(c, d, n, &p);
	if (r < 0)
		return r;
	*field = p;
	*field_len = n;
	return 0;
}

int dc_claims_set_measurement(struct dc_claims *c, const void *d, size_t n)
{
	return set_field(c, d, n, &c->pub.measurement, &c->pub.measurement_len);
}

int dc_claims_set_signer(struct dc_claims *c, const void *d, size_t n)
{
	return set_field(c, d, n, &c->pub.signer, &c->pub.signer_len);
}

int dc_claims_set_report_data(struct dc_claims *c, const void *d, size_t n)
{
	return set_field(c, d, n, &c->pub.report_data, &c->pub.report_data_len);
}

int dc_claims_set_tcb_status(struct dc_claims *c, const char *status)
{
	const uint8_t *p;
	int r;

	r = dc_claims_keep(c, status, strlen(status) + 1, &p);
	if (r < 0)
		return r;
	c->pub.tcb_status = (const char *)p;
	return 0;
}

static int add_claim(struct dc_claims *c, const char *name, uint32_t type,
		     const void *data, size_t len, uint64_t u64)
{
	atoll_claim *cl;
	const uint8_t *n, *b = NULL;
	int r;

	if (c->n_extra == c->cap_extra) {
		size_t cap = c->cap_extra ? c->cap_extra * 2 : 16;
		atoll_claim *e = realloc(c->extra, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		c->extra = e;
		c->cap_extra = cap;
		c->pub.extra = e;
	}
	r = dc_claims_keep(c, name, strlen(name) + 1, &n);
	if (r < 0)
		return r;
	if (type == ATOLL_CLAIM_BYTES || type == ATOLL_CLAIM_STRING) {
		uint8_t *s;

		/* Strings carry a NUL after len, as the ABI promises. */
		r = keep_alloc(c, len + 1, &s);
		if (r < 0)
			return r;
		if (len)
			memcpy(s, data, len);
		s[len] = 0;
		b = s;
	}
	cl = &c->extra[c->n_extra++];
	cl->name = (const char *)n;
	cl->type = type;
	cl->bytes = b;
	cl->len = len;
	cl->u64 = u64;
	c->pub.n_extra = c->n_extra;
	return 0;
}

int dc_claims_add_bytes(struct dc_claims *c, const char *name,
			const void *data, size_t len)
{
	return add_claim(c, name, ATOLL_CLAIM_BYTES, data, len, 0);
}

int dc_claims_add_string(struct dc_claims *c, const char *name,
			 const char *s, size_t len)
{
	return add_claim(c, name, ATOLL_CLAIM_STRING, s, len, 0);
}

int dc_claims_add_uint(struct dc_claims *c, const char *name, uint64_t v)
{
	return add_claim(c, name, ATOLL_CLAIM_UINT, NULL, 0, v);
}

int dc_claims_add_bool(struct dc_claims *c, const char *name, bool v)
{
	return add_claim(c, name, ATOLL_CLAIM_BOOL, NULL, 0, v ? 1 : 0);
}

const atoll_claim *dc_claims_find(const atoll_claims *pub, const char *name)
{
	size_t i;

	if (!pub)
		return NULL;
	for (i = 0; i < pub->n_extra; i++)
		if (strcmp(pub->extra[i].name, name) == 0)
			return &pub->extra[i];
	return NULL;
}

void dc_claims_free(atoll_claims *pub)
{
	struct dc_claims *c = (struct dc_claims *)pub;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c->extra);
	free(c);
}

int dc_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int dc_parse_size(const char *s, size_t min, size_t max, size_t *ret)
{
	unsigned long long v;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = (size_t)v;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dc_parse_hex_exact(const char *s, size_t slen, uint8_t *out,
		       size_t want_len)
{
	size_t i = 0, n = 0;

	while (i < slen) {
		int hi, lo;

		if (s[i] == ':' || isspace((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (i + 1 >= slen || n >= want_len)
			return -EINVAL;
		hi = hexval((unsigned char)s[i]);
		lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return n == want_len ? 0 : -EINVAL;
}

int dc_split_list(const char *s,
		  int (*fn)(const char *item, size_t len, void *userdata),
		  void *userdata)
{
	while (*s) {
		const char *start, *end;
		int r;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		start = s;
		while (*s && *s != ',')
			s++;
		end = s;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		r = fn(start, (size_t)(end - start), userdata);
		if (r)
			return r;
	}
	return 0;
}

bool dc_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool dc_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

void dc_format_time(int64_t t, char *out, size_t out_size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, out_size, "@%lld", (long long)t);
}

void dc_hex_short(const uint8_t *data, size_t n, size_t max_bytes, char *out,
		  size_t out_size)
{
	static const char digits[] = "0123456789abcdef";
	size_t i, o = 0, take = n < max_bytes ? n : max_bytes;

	for (i = 0; i < take && o + 3 < out_size; i++) {
		out[o++] = digits[data[i] >> 4];
		out[o++] = digits[data[i] & 15];
	}
	if (take < n && o + 4 < out_size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (out_size)
		out[o < out_size ? o : out_size - 1] = '\0';
}
