/* A bounded cache of verified chains, CRL and collateral signatures. An
 * entry is a SHA-256 over the exact bytes that were verified and the time
 * window in which that verification holds; a lookup hits only inside the
 * window, so verifying "as of" another time redoes the work. Full caches
 * evict the least recently used entry. One mutex: verify() runs on many
 * threads, and lookups are a short linear scan. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"

struct entry {
	uint8_t key[32];
	int64_t not_before;
	int64_t not_after;
	uint64_t used;
};

struct dcap_cache {
	pthread_mutex_t lock;
	struct entry *e;
	size_t n;
	size_t cap;
	uint64_t tick;
	uint64_t hits;
	uint64_t misses;
};

struct dcap_cache *dcap_cache_new(size_t capacity)
{
	struct dcap_cache *c;

	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(capacity, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->cap = capacity;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

struct dcap_cache *dcap_cache_free(struct dcap_cache *c)
{
	if (!c)
		return NULL;
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
	return NULL;
}

static struct entry *find(struct dcap_cache *c, const uint8_t key[32])
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->e[i].key, key, 32) == 0)
			return &c->e[i];
	return NULL;
}

bool dcap_cache_check(struct dcap_cache *c, const uint8_t key[32], int64_t t)
{
	bool hit = false;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, key);
	if (e && t >= e->not_before && t <= e->not_after) {
		e->used = ++c->tick;
		hit = true;
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void dcap_cache_put(struct dcap_cache *c, const uint8_t key[32],
		    int64_t not_before, int64_t not_after)
{
	if (!c || not_before > not_after)
		return;
	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, key);
	if (!e) {
		if (c->n < c->cap) {
			e = &c->e[c->n++];
		} else {
			e = &c->e[0];
			for (size_t i = 1; i < c->n; i++)
				if (c->e[i].used < e->used)
					e = &c->e[i];
		}
		memcpy(e->key, key, 32);
	}
	e->not_before = not_before;
	e->not_after = not_after;
	e->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
}

void dcap_cache_stats(struct dcap_cache *c, uint64_t *ret_hits,
		      uint64_t *ret_misses, size_t *ret_entries)
{
	uint64_t h = 0, m = 0;
	size_t n = 0;

	if (c) {
		pthread_mutex_lock(&c->lock);
		h = c->hits;
		m = c->misses;
		n = c->n;
		pthread_mutex_unlock(&c->lock);
	}
	if (ret_hits)
		*ret_hits = h;
	if (ret_misses)
		*ret_misses = m;
	if (ret_entries)
		*ret_entries = n;
}
