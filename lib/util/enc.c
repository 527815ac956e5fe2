/* Hex, base64 and random ids. */
#include "util/enc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static const char HEX[] = "0123456789abcdef";

void enc_hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[in[i] >> 4];
		out[2 * i + 1] = HEX[in[i] & 15];
	}
	out[2 * n] = 0;
}

char *enc_hex_dup(const uint8_t *in, size_t n)
{
	char *s = malloc(2 * n + 1);
	if (s)
		enc_hex_encode(in, n, s);
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int enc_hex_decode(const char *in, size_t len, uint8_t *out)
{
	if (len % 2)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char B64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t enc_base64_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

void enc_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
		out[o++] = B64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long enc_base64_decode(const char *in, size_t len, uint8_t *out)
{
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)))
		return -EINVAL;
	return (long)o;
}

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

int enc_random_id(const char *prefix, char *out, size_t out_size)
{
	size_t pl = strlen(prefix);
	if (out_size < RANDOM_ID_LEN(pl))
		return -EINVAL;
	uint8_t r[17];
	if (RAND_bytes(r, 16) != 1)
		return -EIO;
	r[16] = 0;
	memcpy(out, prefix, pl);
	/* 26 characters of 5 bits cover 130 bits: the last 2 are zero. */
	for (int i = 0; i < 26; i++) {
		int bit = i * 5, byte = bit / 8, off = bit % 8;
		unsigned v = ((unsigned)r[byte] << 8 | r[byte + 1]) >> (11 - off);
		out[pl + (size_t)i] = B32[v & 31];
	}
	out[pl + 26] = 0;
	return 0;
}

size_t enc_utf8_seq(const uint8_t *p, size_t n)
{
	if (!n)
		return 0;
	uint8_t b = p[0];
	size_t k = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 && b >= 0xc2 ? 2
		 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 && b <= 0xf4 ? 4 : 0;
	if (!k || k > n)
		return 0;
	for (size_t m = 1; m < k; m++)
		if ((p[m] & 0xc0) != 0x80)
			return 0;
	if (k == 3) {
		uint32_t cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6;
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	if (k == 4 && ((b == 0xf0 && p[1] < 0x90) || (b == 0xf4 && p[1] > 0x8f)))
		return 0;
	return k;
}

bool enc_utf8_text(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t k = enc_utf8_seq(p + i, n - i);
		if (!k)
			return false;
		if (memchr(p + i, 0, k))
			return false; /* NUL cannot travel in a C string field */
		i += k;
	}
	return true;
}
