/* Minimal assertions for the unit test programs: each failed CHECK prints
 * file:line and the expression, and the program exits 1 at the end. */
#ifndef ATOLL_TESTS_CHECK_H
#define ATOLL_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

/* An environment variable, or fallback when it is unset or empty. */
static inline const char *check_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			check_failures++;                                    \
		}                                                            \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!g_ || strcmp(g_, w_) != 0) {                              \
			fprintf(stderr, "%s:%d: %s\n   got: %s\n  want: %s\n",  \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                  \
	do {                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);      \
		if (g_ != w_) {                                               \
			fprintf(stderr, "%s:%d: %s = %lld, want %lld\n",      \
				__FILE__, __LINE__, #got, g_, w_);            \
			check_failures++;                                     \
		}                                                             \
	} while (0)

#define CHECK_DONE()                                                         \
	do {                                                                 \
		if (check_failures) {                                        \
			fprintf(stderr, "%d check(s) failed\n", check_failures); \
			return 1;                                            \
		}                                                            \
		return 0;                                                    \
	} while (0)

#endif
