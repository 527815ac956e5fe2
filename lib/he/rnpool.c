/* The per-key pool of precomputed full randomizers and the thread that
 * refills it (he/rnpool.h). */
#include "he/rnpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

/* After a failed computation the thread waits this long (or for the next
 * take) before trying again, so that a persistent failure cannot spin. */
#define RETRY_NS 1000000000L

struct rn_key {
	struct rn_key *prev, *next; /* recency list, most recent first */
	struct paillier_pub *pk;    /* own copy: outlives the job that brought it */
	BIGNUM **vals;              /* ready values: vals[0..n_vals) */
	size_t n_vals;
	bool filling;               /* the thread is computing a value for it */
	bool evicted;               /* unlinked while filling: the thread frees it */
};

struct he_rnpool {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a key has room, or stop */
	pthread_t thread;
	bool stop;
	bool busy;           /* the thread is computing a value */
	size_t max_keys, per_key, n_keys;
	struct rn_key *head, *tail;
	struct he_rnpool_stats st; /* the counters; the rest is computed on demand */
};

static struct rn_key *key_free(struct rn_key *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n_vals; i++)
		BN_clear_free(e->vals[i]);
	free(e->vals);
	paillier_pub_free(e->pk);
	free(e);
	return NULL;
}

static int key_new(const struct paillier_pub *pk, size_t per_key, struct rn_key **ret_e)
{
	struct rn_key *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	int r = -ENOMEM;
	if (!(e->vals = calloc(per_key, sizeof *e->vals)) ||
	    (r = paillier_pub_dup(pk, &e->pk)) < 0) {
		key_free(e);
		return r;
	}
	*ret_e = e;
	return 0;
}

/* ---- the recency list; callers hold the lock ---- */

static struct rn_key *find(const struct he_rnpool *pool, const BIGNUM *n)
{
	for (struct rn_key *e = pool->head; e; e = e->next)
		if (BN_cmp(e->pk->n, n) == 0)
			return e;
	return NULL;
}

static void unlink_key(struct he_rnpool *pool, struct rn_key *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		pool->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		pool->tail = e->prev;
	e->prev = e->next = NULL;
	pool->n_keys--;
}

static void push_front(struct he_rnpool *pool, struct rn_key *e)
{
	e->prev = NULL;
	e->next = pool->head;
	if (pool->head)
		pool->head->prev = e;
	else
		pool->tail = e;
	pool->head = e;
	pool->n_keys++;
}

static void to_front(struct he_rnpool *pool, struct rn_key *e)
{
	if (pool->head == e)
		return;
	unlink_key(pool, e);
	push_front(pool, e);
}

/* Unlink the least recently used key. Returns it for the caller to free
 * outside the lock, or NULL when the thread is computing for it and will
 * free it itself. Its values are counted as wiped either way. */
static struct rn_key *evict_tail(struct he_rnpool *pool)
{
	struct rn_key *e = pool->tail;
	unlink_key(pool, e);
	pool->st.evicted++;
	pool->st.wiped += e->n_vals;
	if (e->filling) {
		e->evicted = true;
		return NULL;
	}
	return e;
}

/* The most recently used key with room, or NULL. */
static struct rn_key *next_to_fill(const struct he_rnpool *pool)
{
	for (struct rn_key *e = pool->head; e; e = e->next)
		if (e->n_vals < pool->per_key)
			return e;
	return NULL;
}

/* ---- the thread ---- */

static void retry_wait(struct he_rnpool *pool)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += RETRY_NS % 1000000000L;
	until.tv_sec += RETRY_NS / 1000000000L + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	if (!pool->stop)
		pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
}

static void *fill_main(void *arg)
{
	struct he_rnpool *pool = arg;
	/* Without a context paillier_rand_full makes one per value. */
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *v = NULL;

	pthread_mutex_lock(&pool->lock);
	while (!pool->stop) {
		struct rn_key *e = next_to_fill(pool);
		if (!e) {
			pthread_cond_wait(&pool->wake, &pool->lock);
			continue;
		}
		/* The key stays allocated while we compute: eviction leaves a
		 * filling key to us. */
		e->filling = true;
		pool->busy = true;
		pthread_mutex_unlock(&pool->lock);
		int r = -ENOMEM;
		if (v || (v = BN_new()))
			r = paillier_rand_full(e->pk, v, ctx);
		pthread_mutex_lock(&pool->lock);
		e->filling = false;
		pool->busy = false;
		if (r < 0) {
			pool->st.failures++;
			if (e->evicted)
				key_free(e);
			retry_wait(pool);
			continue;
		}
		if (!e->evicted && !pool->stop && e->n_vals < pool->per_key) {
			e->vals[e->n_vals++] = v;
			v = NULL;
			pool->st.computed++;
		} else {
			/* Not kept: wiped now rather than when next overwritten. */
			BN_clear(v);
			if (e->evicted)
				key_free(e);
		}
	}
	pthread_mutex_unlock(&pool->lock);
	BN_clear_free(v);
	BN_CTX_free(ctx);
	return NULL;
}

/* ---- the API ---- */

int he_rnpool_new(size_t max_keys, size_t per_key, struct he_rnpool **ret_pool)
{
	if (max_keys < 1 || max_keys > HE_RNPOOL_MAX_KEYS || per_key < 1 ||
	    per_key > HE_RNPOOL_MAX_PER_KEY)
		return -EINVAL;
	struct he_rnpool *pool = calloc(1, sizeof *pool);
	if (!pool)
		return -ENOMEM;
	pool->max_keys = max_keys;
	pool->per_key = per_key;
	pthread_condattr_t ca;
	int r = pthread_mutex_init(&pool->lock, NULL);
	if (r != 0)
		goto fail_pool;
	if ((r = pthread_condattr_init(&ca)) != 0)
		goto fail_lock;
	/* retry_wait measures on the monotonic clock. */
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&pool->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0)
		goto fail_lock;
	/* The thread inherits this mask: the host's signals go to the host's
	 * threads, never to ours. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&pool->thread, NULL, fill_main, pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		goto fail_cond;
	*ret_pool = pool;
	return 0;

fail_cond:
	pthread_cond_destroy(&pool->wake);
fail_lock:
	pthread_mutex_destroy(&pool->lock);
fail_pool:
	free(pool);
	return -r;
}

struct he_rnpool *he_rnpool_free(struct he_rnpool *pool)
{
	if (!pool)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	pthread_join(pool->thread, NULL);
	/* The thread is gone: no key is filling any more. */
	while (pool->head) {
		struct rn_key *e = pool->head;
		unlink_key(pool, e);
		key_free(e);
	}
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	return NULL;
}

int he_rnpool_take(struct he_rnpool *pool, const struct paillier_pub *pk, BIGNUM *ret,
		   BN_CTX *ctx)
{
	if (!pool)
		return paillier_rand_full(pk, ret, ctx);
	BIGNUM *v = NULL;
	struct rn_key *fresh = NULL, *gone = NULL;

	pthread_mutex_lock(&pool->lock);
	struct rn_key *e = find(pool, pk->n);
	if (!e) {
		/* Copying the key takes a Montgomery setup: not under the
		 * lock. Another take may register it meanwhile. */
		pthread_mutex_unlock(&pool->lock);
		int r = key_new(pk, pool->per_key, &fresh);
		pthread_mutex_lock(&pool->lock);
		e = find(pool, pk->n);
		if (!e && r == 0) {
			push_front(pool, fresh);
			e = fresh;
			fresh = NULL;
			if (pool->n_keys > pool->max_keys)
				gone = evict_tail(pool);
		}
	}
	if (e) {
		to_front(pool, e);
		if (e->n_vals > 0) {
			v = e->vals[--e->n_vals];
			e->vals[e->n_vals] = NULL;
		}
		pthread_cond_signal(&pool->wake);
	}
	if (v)
		pool->st.hits++;
	else
		pool->st.misses++;
	pthread_mutex_unlock(&pool->lock);
	key_free(fresh);
	key_free(gone);

	if (!v)
		return paillier_rand_full(pk, ret, ctx);
	int r = BN_copy(ret, v) ? 0 : -ENOMEM;
	BN_clear_free(v);
	return r;
}

size_t he_rnpool_ready(struct he_rnpool *pool, const struct paillier_pub *pk)
{
	if (!pool)
		return 0;
	pthread_mutex_lock(&pool->lock);
	const struct rn_key *e = find(pool, pk->n);
	size_t n = e ? e->n_vals : 0;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

void he_rnpool_get_stats(struct he_rnpool *pool, struct he_rnpool_stats *ret)
{
	pthread_mutex_lock(&pool->lock);
	*ret = pool->st;
	ret->keys = pool->n_keys;
	ret->ready = 0;
	for (const struct rn_key *e = pool->head; e; e = e->next)
		ret->ready += e->n_vals;
	ret->filling = pool->busy;
	pthread_mutex_unlock(&pool->lock);
}
