/* Logging for programs' top level (libraries return errors instead).
 * Lines go to stderr: "2026-01-02T03:04:05.678Z INFO  coordinator: ...". */
#ifndef ATOLL_UTIL_LOG_H
#define ATOLL_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Program name shown on each line, and the lowest level printed.
 * ATOLL_LOG_LEVEL=debug|info|warn|error in the environment overrides. */
void log_init(const char *program, enum log_level level);
int log_parse_level(const char *s, enum log_level *ret);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
