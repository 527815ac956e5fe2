/* Formatting an error message into the caller's buffer. Both forms do
 * nothing when there is no buffer, so callers may pass NULL. */
#ifndef ATOLL_UTIL_ERRMSG_H
#define ATOLL_UTIL_ERRMSG_H

#include <stddef.h>

#include "atoll/status.h"

/* Write the message into err[0..size) (truncated, always terminated). */
void err_buf_setf(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write the message into err->msg and return status, so that a failure
 * reads "return err_setf(err, ATOLL_E_..., ...)". */
int err_setf(atoll_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
