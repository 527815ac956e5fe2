/* An open-addressing hash map from byte-string keys to pointers. Keys are
 * copied; values are borrowed. Not thread-safe. */
#ifndef ATOLL_UTIL_HMAP_H
#define ATOLL_UTIL_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot;

struct hmap {
	struct hmap_slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t count; /* live entries */
	size_t used;  /* live + deleted slots */
};

/* NULL when absent. */
void *hmap_get(const struct hmap *m, const void *key, size_t len);
/* Insert or replace. 0 or -ENOMEM. */
int hmap_put(struct hmap *m, const void *key, size_t len, void *value);
/* The removed value, or NULL. */
void *hmap_del(struct hmap *m, const void *key, size_t len);
void hmap_free(struct hmap *m);
/* Iterate: pass *pos = 0 first; returns the next value or NULL at the end. */
void *hmap_next(const struct hmap *m, size_t *pos, const void **ret_key, size_t *ret_len);

/* Convenience for NUL-terminated keys. */
void *hmap_gets(const struct hmap *m, const char *key);
int hmap_puts(struct hmap *m, const char *key, void *value);
void *hmap_dels(struct hmap *m, const char *key);

#endif
