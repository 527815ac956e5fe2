/* Counting the limits of coordinator.yaml as they refuse things: each
 * limit is logged the first time it is hit (so an operator learns that a
 * limit is in play without a log line per refusal) and counted always
 * (core_limit_counts, for stats and metrics). */
#include "core/internal.h"

#include <string.h>

#include "util/log.h"

void core_limit_hit(struct core *c, const char *what, const char *detail)
{
	pthread_mutex_lock(&c->lmu);
	size_t i = 0;
	while (i < c->n_limits && strcmp(c->limits[i].what, what) != 0)
		i++;
	bool first = i == c->n_limits;
	if (first && i < sizeof c->limits / sizeof c->limits[0]) {
		c->limits[i].what = what;
		c->limits[i].n = 0;
		c->n_limits++;
	}
	if (i < c->n_limits)
		c->limits[i].n++;
	pthread_mutex_unlock(&c->lmu);
	if (first)
		log_warn("limit %s hit (%s); later hits are counted, not logged", what,
			 detail ? detail : "-");
}

size_t core_limit_counts(struct core *c, struct core_limit *out, size_t max)
{
	pthread_mutex_lock(&c->lmu);
	size_t n = c->n_limits < max ? c->n_limits : max;
	for (size_t i = 0; i < n; i++)
		out[i] = (struct core_limit){ c->limits[i].what, c->limits[i].n };
	pthread_mutex_unlock(&c->lmu);
	return n;
}

void core_limit_report(struct core *c, const char *what, const char *detail)
{
	core_limit_hit(c, what, detail);
}
