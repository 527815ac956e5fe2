/* Growable byte buffers. A zeroed struct buf is an empty buffer. */
#ifndef ATOLL_UTIL_BUF_H
#define ATOLL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Make room for n more bytes. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Keep a NUL after the data (not counted in len); returns the data as a
 * C string, or NULL on allocation failure. */
char *buf_cstr(struct buf *b);
/* Take the contents; the buffer becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *ret_len);
void buf_reset(struct buf *b);
/* Free the storage (wiped first: buffers may hold secrets). */
void buf_free(struct buf *b);

#endif
