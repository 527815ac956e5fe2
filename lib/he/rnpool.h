/* A pool of precomputed full Paillier randomizers r^n mod n^2, per public
 * key, refilled by one background thread (docs/homomorphic.md,
 * "Randomizer pool").
 *
 * Every value is paillier_rand_full()'s: r uniform in 1..n-1, then one
 * exponentiation by n, so a pooled value has exactly the distribution of
 * one computed inline. A value leaves the pool once, to one caller, and is
 * wiped from the pool's memory as it leaves; values never handed out are
 * wiped when their key is evicted and when the pool is freed.
 *
 * Keys are registered by use: he_rnpool_take() moves its key to the front
 * of a recency list (inserting it, and evicting the least recently used
 * key past max_keys) and wakes the thread, which fills the keys with room
 * in recency order, most recent first, one value at a time, and sleeps
 * when every key is full. A caller never waits for the thread: with no
 * value ready it computes its own.
 *
 * All functions may be called from several threads at once. */
#ifndef ATOLL_HE_RNPOOL_H
#define ATOLL_HE_RNPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

#include "he/paillier.h"

#define HE_RNPOOL_MAX_KEYS 1024
#define HE_RNPOOL_MAX_PER_KEY 1024

struct he_rnpool;

/* Counters since he_rnpool_new, and the pool's state now. */
struct he_rnpool_stats {
	uint64_t hits;      /* values handed out from the pool */
	uint64_t misses;    /* takes that found none ready (computed by the caller) */
	uint64_t computed;  /* values the thread added */
	uint64_t evicted;   /* keys evicted */
	uint64_t wiped;     /* values wiped unused (eviction) */
	uint64_t failures;  /* the thread's failed computations */
	size_t keys;        /* keys registered now */
	size_t ready;       /* values ready now, all keys */
	bool filling;       /* the thread is computing a value now */
};

/* A pool of at most max_keys keys (1..HE_RNPOOL_MAX_KEYS) holding up to
 * per_key values each (1..HE_RNPOOL_MAX_PER_KEY), with its thread started
 * (all signals blocked in it). -EINVAL for sizes out of range, -ENOMEM, or
 * pthread_create()'s error negated. */
int he_rnpool_new(size_t max_keys, size_t per_key, struct he_rnpool **ret_pool);
/* Stop the thread and wait for it (at most the one value it may be
 * computing), wipe every value, free. Accepts NULL. No take() may be in
 * flight. */
struct he_rnpool *he_rnpool_free(struct he_rnpool *pool);

/* ret = r^n mod n^2 for pk, from the pool when a value is ready, else
 * computed here with paillier_rand_full(); either way pk's key becomes
 * the most recently used and the thread refills it. pool NULL: just
 * paillier_rand_full(). ctx may be NULL. 0, -ENOMEM, -EIO. */
int he_rnpool_take(struct he_rnpool *pool, const struct paillier_pub *pk, BIGNUM *ret,
		   BN_CTX *ctx);

/* Values ready for pk's key (0 when it is not registered). */
size_t he_rnpool_ready(struct he_rnpool *pool, const struct paillier_pub *pk);
void he_rnpool_get_stats(struct he_rnpool *pool, struct he_rnpool_stats *ret);

#endif
