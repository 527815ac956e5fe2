/* The table under the DCAP caches: a fixed number of slots keyed by a
 * SHA-256, each holding a value of the cache's choosing and stamped when
 * last used, so that a full table gives up its least recently used slot.
 * Lookups are a linear scan: capacities are small and the scan is cheap
 * beside the work a hit saves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"

int dcap_lru_init(struct dcap_lru *l, size_t capacity, size_t val_size)
{
	memset(l, 0, sizeof(*l));
	if (capacity == 0)
		return -EINVAL;
	l->keys = calloc(capacity, sizeof(*l->keys));
	l->used = calloc(capacity, sizeof(*l->used));
	l->vals = calloc(capacity, val_size);
	if (!l->keys || !l->used || !l->vals ||
	    pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l->keys);
		free(l->used);
		free(l->vals);
		return -ENOMEM;
	}
	l->val_size = val_size;
	l->cap = capacity;
	return 0;
}

void dcap_lru_done(struct dcap_lru *l)
{
	pthread_mutex_destroy(&l->lock);
	free(l->keys);
	free(l->used);
	free(l->vals);
}

void *dcap_lru_val(const struct dcap_lru *l, size_t slot)
{
	return (uint8_t *)l->vals + slot * l->val_size;
}

long dcap_lru_find(const struct dcap_lru *l, const uint8_t key[32])
{
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(l->keys[i], key, 32) == 0)
			return (long)i;
	return -1;
}

void dcap_lru_touch(struct dcap_lru *l, size_t slot)
{
	l->used[slot] = ++l->tick;
}

size_t dcap_lru_claim(struct dcap_lru *l, const uint8_t key[32],
		      bool *ret_evicted)
{
	size_t slot = 0;

	*ret_evicted = l->n == l->cap;
	if (!*ret_evicted) {
		slot = l->n++;
	} else {
		for (size_t i = 1; i < l->n; i++)
			if (l->used[i] < l->used[slot])
				slot = i;
	}
	memcpy(l->keys[slot], key, 32);
	dcap_lru_touch(l, slot);
	return slot;
}
