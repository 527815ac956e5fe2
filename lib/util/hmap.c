/* Open addressing with linear probing and tombstones; grows at 3/4 load. */
#include "util/hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((void *)&tombstone_marker)
static const char tombstone_marker;

struct hmap_slot {
	uint8_t *key; /* NULL: empty; TOMBSTONE: deleted */
	size_t len;
	uint64_t hash;
	void *value;
};

/* FNV-1a, then a final mix so that low bits are well spread. */
static uint64_t hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static struct hmap_slot *find(const struct hmap *m, const void *key, size_t len, uint64_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct hmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s;
	}
}

void *hmap_get(const struct hmap *m, const void *key, size_t len)
{
	struct hmap_slot *s = find(m, key, len, hash(key, len));
	return s ? s->value : NULL;
}

static int grow(struct hmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	/* Only tombstones: rehash at the same size. */
	if (m->cap && m->count * 2 < m->cap)
		cap = m->cap;
	struct hmap_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct hmap_slot *s = &m->slots[i];
		if (!s->key || s->key == TOMBSTONE)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	return 0;
}

int hmap_put(struct hmap *m, const void *key, size_t len, void *value)
{
	uint64_t h = hash(key, len);
	struct hmap_slot *s = find(m, key, len, h);
	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	uint8_t *k = malloc(len ? len : 1);
	if (!k)
		return -ENOMEM;
	memcpy(k, key, len);
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct hmap_slot){ k, len, h, value };
	m->count++;
	return 0;
}

void *hmap_del(struct hmap *m, const void *key, size_t len)
{
	struct hmap_slot *s = find(m, key, len, hash(key, len));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = TOMBSTONE;
	s->value = NULL;
	m->count--;
	return v;
}

void hmap_free(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

void *hmap_next(const struct hmap *m, size_t *pos, const void **ret_key, size_t *ret_len)
{
	for (; *pos < m->cap; (*pos)++) {
		struct hmap_slot *s = &m->slots[*pos];
		if (s->key && s->key != TOMBSTONE) {
			(*pos)++;
			if (ret_key)
				*ret_key = s->key;
			if (ret_len)
				*ret_len = s->len;
			return s->value;
		}
	}
	return NULL;
}

void *hmap_gets(const struct hmap *m, const char *key)
{
	return hmap_get(m, key, strlen(key));
}

int hmap_puts(struct hmap *m, const char *key, void *value)
{
	return hmap_put(m, key, strlen(key), value);
}

void *hmap_dels(struct hmap *m, const char *key)
{
	return hmap_del(m, key, strlen(key));
}
