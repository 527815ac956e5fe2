/* Logging for programs' top level. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

static const char *prog = "atoll";
static enum log_level min_level = LOG_INFO;

int log_parse_level(const char *s, enum log_level *ret)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	return -1;
}

void log_init(const char *program, enum log_level level)
{
	prog = program;
	min_level = level;
	const char *env = getenv("ATOLL_LOG_LEVEL");
	enum log_level l;
	if (env && log_parse_level(env, &l) == 0)
		min_level = l;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *tags[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
	if (level < min_level)
		return;
	char ts[40], line[2048];
	time_rfc3339_format(time_now_ms(), ts, sizeof ts);
	int n = snprintf(line, sizeof line, "%s %s %s: ", ts, tags[level], prog);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}
