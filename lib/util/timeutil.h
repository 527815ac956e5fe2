/* Clocks and RFC 3339 time text. */
#ifndef ATOLL_UTIL_TIMEUTIL_H
#define ATOLL_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch. */
int64_t time_now_ms(void);
/* Monotonic clock in milliseconds / nanoseconds. */
int64_t time_mono_ms(void);
int64_t time_mono_ns(void);
/* "2026-01-02T03:04:05.678Z" (ms precision; ".000" kept). out >= 32. */
void time_rfc3339_format(int64_t ms, char *out, size_t out_size);
/* Parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" into ms since
 * the epoch. 0 or -EINVAL. */
int time_rfc3339_parse(const char *s, int64_t *ret_ms);
/* pthread_cond_timedwait for at most ms milliseconds from now (the mutex
 * held, as for pthread_cond_timedwait). */
#include <pthread.h>
void time_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);
/* Sleep for ms milliseconds (restarts on EINTR). */
void time_sleep_ms(int64_t ms);

#endif
