/* A bounded cache of verified chains, CRL and collateral signatures. An
 * entry is a SHA-256 over the exact bytes that were verified and the time
 * window in which that verification holds; a lookup hits only inside the
 * window, so verifying "as of" another time redoes the work. Full caches
 * evict the least recently used entry (lru.c). */
#include <stdlib.h>

#include "dcap.h"

struct window {
	int64_t not_before;
	int64_t not_after;
};

struct dcap_cache {
	struct dcap_lru lru; /* of struct window */
	uint64_t hits;
	uint64_t misses;
};

struct dcap_cache *dcap_cache_new(size_t capacity)
{
	struct dcap_cache *c = calloc(1, sizeof(*c));

	if (!c || dcap_lru_init(&c->lru, capacity, sizeof(struct window)) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

struct dcap_cache *dcap_cache_free(struct dcap_cache *c)
{
	if (!c)
		return NULL;
	dcap_lru_done(&c->lru);
	free(c);
	return NULL;
}

bool dcap_cache_check(struct dcap_cache *c, const uint8_t key[32], int64_t t)
{
	bool hit = false;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lru.lock);
	long i = dcap_lru_find(&c->lru, key);
	const struct window *w = i >= 0 ? dcap_lru_val(&c->lru, (size_t)i) : NULL;
	if (w && t >= w->not_before && t <= w->not_after) {
		dcap_lru_touch(&c->lru, (size_t)i);
		hit = true;
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lru.lock);
	return hit;
}

void dcap_cache_put(struct dcap_cache *c, const uint8_t key[32],
		    int64_t not_before, int64_t not_after)
{
	bool evicted;

	if (!c || not_before > not_after)
		return;
	pthread_mutex_lock(&c->lru.lock);
	long i = dcap_lru_find(&c->lru, key);
	if (i >= 0)
		dcap_lru_touch(&c->lru, (size_t)i);
	else
		i = (long)dcap_lru_claim(&c->lru, key, &evicted);
	*(struct window *)dcap_lru_val(&c->lru, (size_t)i) =
		(struct window){ not_before, not_after };
	pthread_mutex_unlock(&c->lru.lock);
}

void dcap_cache_stats(struct dcap_cache *c, uint64_t *ret_hits,
		      uint64_t *ret_misses, size_t *ret_entries)
{
	uint64_t h = 0, m = 0;
	size_t n = 0;

	if (c) {
		pthread_mutex_lock(&c->lru.lock);
		h = c->hits;
		m = c->misses;
		n = c->lru.n;
		pthread_mutex_unlock(&c->lru.lock);
	}
	if (ret_hits)
		*ret_hits = h;
	if (ret_misses)
		*ret_misses = m;
	if (ret_entries)
		*ret_entries = n;
}
