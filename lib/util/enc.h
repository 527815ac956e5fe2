/* Text encodings of bytes (hex, base64, base32 ids) and random ids. */
#ifndef ATOLL_UTIL_ENC_H
#define ATOLL_UTIL_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes into out (2n+1 bytes incl. NUL). */
void enc_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly len hex characters (len even) into out (len/2 bytes).
 * Accepts both cases. 0 or -EINVAL. */
int enc_hex_decode(const char *in, size_t len, uint8_t *out);
/* malloc'd hex string, or NULL. */
char *enc_hex_dup(const uint8_t *in, size_t n);

/* Standard base64 with padding. Encoded length incl. NUL. */
size_t enc_base64_size(size_t n);
void enc_base64_encode(const uint8_t *in, size_t n, char *out);
/* Decode standard or URL-safe base64, padding optional, no whitespace.
 * out must hold len*3/4+3 bytes. Returns decoded length or -EINVAL. */
long enc_base64_decode(const char *in, size_t len, uint8_t *out);

/* A new random id: prefix followed by 26 base32 characters (128 random
 * bits), e.g. "job_" -> "job_k2v...". out must hold strlen(prefix)+27.
 * 0 or -EIO when the random generator fails. */
int enc_random_id(const char *prefix, char *out, size_t out_size);
#define RANDOM_ID_LEN(prefix_len) ((prefix_len) + 27)

/* The length of the valid UTF-8 character p starts with (1 to 4 bytes),
 * or 0 when p[0..n) starts with none (overlong forms and surrogates are
 * not characters). */
size_t enc_utf8_seq(const uint8_t *p, size_t n);
/* Is p[0..n) valid UTF-8 text without NUL (what a proto3 string field
 * and a C string can both carry)? */
bool enc_utf8_text(const uint8_t *p, size_t n);

#endif
