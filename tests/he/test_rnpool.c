/* he/rnpool: pooled randomizers are encryptions of zero, never handed out
 * twice, and take both Legendre symbols mod p (a full uniform r, not a
 * subgroup); the thread fills the most recently used key first and stops
 * at per_key; LRU eviction wipes the evicted key's values, also of the key
 * the thread is computing for; freeing the pool while a 3072-bit value is
 * being computed returns within a second; four threads taking at once;
 * argument checks. Waits for the thread by polling the pool's state, with
 * a generous deadline. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "check.h"
#include "he/paillier.h"
#include "he/rnpool.h"
#include "util/timeutil.h"

#define DEADLINE_NS (120 * 1000000000LL)

static BN_CTX *ctx;

/* Poll until the key has `want` values ready; 0, or -ETIMEDOUT. */
static int wait_ready(struct he_rnpool *pool, const struct paillier_pub *pk, size_t want)
{
	int64_t end = time_mono_ns() + DEADLINE_NS;
	while (he_rnpool_ready(pool, pk) < want) {
		if (time_mono_ns() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static void test_args(void)
{
	struct he_rnpool *pool = (struct he_rnpool *)&pool;
	CHECK_INT(he_rnpool_new(0, 4, &pool), -EINVAL);
	CHECK_INT(he_rnpool_new(4, 0, &pool), -EINVAL);
	CHECK_INT(he_rnpool_new(HE_RNPOOL_MAX_KEYS + 1, 4, &pool), -EINVAL);
	CHECK_INT(he_rnpool_new(4, HE_RNPOOL_MAX_PER_KEY + 1, &pool), -EINVAL);
	CHECK(pool == (struct he_rnpool *)&pool); /* untouched on failure */
	CHECK(he_rnpool_free(NULL) == NULL);
}

/* Legendre symbol of c mod p: +1 or -1 (c a unit mod p). */
static int legendre(const BIGNUM *c, const BIGNUM *p)
{
	BIGNUM *e = BN_new(), *t = BN_new();
	BN_rshift1(e, p);
	BN_mod(t, c, p, ctx);
	BN_mod_exp(t, t, e, p, ctx);
	int s = BN_is_one(t) ? 1 : -1;
	BN_free(e);
	BN_free(t);
	return s;
}

static void test_values(const struct paillier_priv *k)
{
	const struct paillier_pub *pk = &k->pub;
	enum { PER_KEY = 8, ROUNDS = 5, N = PER_KEY * ROUNDS };
	struct he_rnpool *pool = NULL;
	CHECK_INT(he_rnpool_new(2, PER_KEY, &pool), 0);
	if (!pool)
		return;
	struct he_rnpool_stats st;
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.keys, 0);
	CHECK_INT(he_rnpool_ready(pool, pk), 0);

	BIGNUM *v[N + 1], *m = BN_new();
	for (int i = 0; i <= N; i++)
		v[i] = BN_new();
	/* First take: nothing ready, computed by the caller, key registered. */
	CHECK_INT(he_rnpool_take(pool, pk, v[N], ctx), 0);
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.hits, 0);
	CHECK_INT(st.misses, 1);
	CHECK_INT(st.keys, 1);
	/* Then rounds of: wait for a full key, drain it from the pool. */
	int got = 0, plus = 0;
	for (int round = 0; round < ROUNDS; round++) {
		CHECK_INT(wait_ready(pool, pk, PER_KEY), 0);
		he_rnpool_get_stats(pool, &st);
		/* Never more than per_key, and only what the thread made. */
		CHECK_INT(st.ready, PER_KEY);
		CHECK_INT(st.computed, (uint64_t)(round + 1) * PER_KEY);
		for (int i = 0; i < PER_KEY; i++)
			CHECK_INT(he_rnpool_take(pool, pk, v[got++], ctx), 0);
		he_rnpool_get_stats(pool, &st);
		CHECK_INT(st.hits, (uint64_t)(round + 1) * PER_KEY);
		CHECK_INT(st.misses, 1);
	}
	for (int i = 0; i <= N; i++) {
		/* An encryption of zero... */
		CHECK_INT(paillier_check_ct(pk, v[i], ctx), 0);
		CHECK_INT(paillier_decrypt(k, v[i], m, ctx), 0);
		CHECK(BN_is_zero(m));
		/* ...handed out once. */
		for (int j = 0; j < i; j++)
			CHECK(BN_cmp(v[i], v[j]) != 0);
		plus += legendre(v[i], k->p) > 0;
	}
	/* r^n has r's Legendre symbol (n is odd): a uniform r gives both,
	 * a subgroup randomizer h^a only +1. Fails with probability 2^-40. */
	CHECK(plus > 0 && plus < N + 1);
	printf("pool values: %d, all zero, distinct; Legendre +1 for %d of them\n", N + 1, plus);
	for (int i = 0; i <= N; i++)
		BN_free(v[i]);
	BN_free(m);
	he_rnpool_free(pool);
}

static void test_lru(const struct paillier_priv *a, const struct paillier_priv *b,
		     const struct paillier_priv *c)
{
	enum { PER_KEY = 8 };
	struct he_rnpool *pool = NULL;
	CHECK_INT(he_rnpool_new(2, PER_KEY, &pool), 0);
	if (!pool)
		return;
	BIGNUM *v = BN_new();
	/* a then b: b is the most recent and is filled first. The thread may
	 * have started one value for a before b came. */
	CHECK_INT(he_rnpool_take(pool, &a->pub, v, ctx), 0);
	CHECK_INT(he_rnpool_take(pool, &b->pub, v, ctx), 0);
	int64_t end = time_mono_ns() + DEADLINE_NS;
	size_t ra = 0, rb = 0;
	while (time_mono_ns() < end) {
		ra = he_rnpool_ready(pool, &a->pub);
		rb = he_rnpool_ready(pool, &b->pub);
		if (rb == PER_KEY)
			break;
		usleep(500);
	}
	CHECK_INT(rb, PER_KEY);
	CHECK(ra < PER_KEY);
	printf("most recent key first: b full while a had %zu of %d\n", ra, PER_KEY);
	CHECK_INT(wait_ready(pool, &a->pub, PER_KEY), 0);

	/* c evicts a, the least recently used; its values are wiped. */
	struct he_rnpool_stats st;
	CHECK_INT(he_rnpool_take(pool, &c->pub, v, ctx), 0);
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.keys, 2);
	CHECK_INT(st.evicted, 1);
	CHECK_INT(st.wiped, PER_KEY);
	CHECK_INT(he_rnpool_ready(pool, &a->pub), 0);
	CHECK_INT(he_rnpool_ready(pool, &b->pub), PER_KEY);
	/* Taking from b makes c the least recent: a comes back, c goes. */
	uint64_t hits = st.hits, misses = st.misses;
	CHECK_INT(he_rnpool_take(pool, &b->pub, v, ctx), 0);
	CHECK_INT(he_rnpool_take(pool, &a->pub, v, ctx), 0);
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.hits, hits + 1);
	CHECK_INT(st.misses, misses + 1);
	CHECK_INT(st.evicted, 2);
	CHECK_INT(st.keys, 2);
	CHECK_INT(he_rnpool_ready(pool, &c->pub), 0);
	BN_free(v);
	he_rnpool_free(pool);
}

/* An odd 3072-bit "modulus": the pool needs no factorization. */
static struct paillier_pub *random_pub(int bits)
{
	uint8_t n[PAILLIER_MAX_BITS / 8];
	size_t len = (size_t)bits / 8;
	struct paillier_pub *pk = NULL;
	RAND_bytes(n, (int)len);
	n[0] |= 0x80;
	n[len - 1] |= 1;
	CHECK_INT(paillier_pub_from_bytes(n, len, bits, &pk), 0);
	return pk;
}

static void test_free_while_filling(void)
{
	struct paillier_pub *pk = random_pub(3072);
	struct he_rnpool *pool = NULL;
	CHECK_INT(he_rnpool_new(4, 64, &pool), 0);
	if (!pool || !pk)
		return;
	BIGNUM *v = BN_new();
	CHECK_INT(he_rnpool_take(pool, pk, v, ctx), 0);
	struct he_rnpool_stats st;
	int64_t end = time_mono_ns() + DEADLINE_NS;
	do
		he_rnpool_get_stats(pool, &st);
	while (!(st.computed >= 1 && st.filling) && time_mono_ns() < end);
	CHECK(st.filling);
	/* The thread has just begun its second value. 64 values take over a
	 * second at 3072 bits; it stops after the one under way. */
	int64_t t0 = time_mono_ns();
	he_rnpool_free(pool);
	double ms = (double)(time_mono_ns() - t0) / 1e6;
	printf("free while computing a 3072-bit value: %.1f ms (%llu of 64 made)\n", ms,
	       (unsigned long long)st.computed);
	CHECK(ms < 1000);
	BN_free(v);
	paillier_pub_free(pk);
}

/* Evicting the key the thread is computing for: the thread frees it. */
static void test_evict_while_filling(const struct paillier_priv *small)
{
	struct paillier_pub *big = random_pub(3072);
	struct he_rnpool *pool = NULL;
	CHECK_INT(he_rnpool_new(1, 4, &pool), 0);
	if (!pool || !big)
		return;
	BIGNUM *v = BN_new();
	struct he_rnpool_stats st;
	CHECK_INT(he_rnpool_take(pool, big, v, ctx), 0);
	int64_t end = time_mono_ns() + DEADLINE_NS;
	do
		he_rnpool_get_stats(pool, &st);
	while (!(st.computed >= 1 && st.filling) && time_mono_ns() < end);
	CHECK_INT(he_rnpool_take(pool, &small->pub, v, ctx), 0);
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.evicted, 1);
	CHECK_INT(st.keys, 1);
	CHECK_INT(he_rnpool_ready(pool, big), 0);
	CHECK_INT(wait_ready(pool, &small->pub, 4), 0);
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.ready, 4);
	BN_free(v);
	he_rnpool_free(pool);
	paillier_pub_free(big);
}

struct taker {
	struct he_rnpool *pool;
	const struct paillier_priv *k;
	BIGNUM *v[50];
	int ok;
};

static void *taker_main(void *arg)
{
	struct taker *t = arg;
	BN_CTX *tctx = BN_CTX_new();
	BIGNUM *m = BN_new();
	for (int i = 0; i < 50; i++) {
		t->v[i] = BN_new();
		if (he_rnpool_take(t->pool, &t->k->pub, t->v[i], tctx) == 0 &&
		    paillier_decrypt(t->k, t->v[i], m, tctx) == 0 && BN_is_zero(m))
			t->ok++;
	}
	BN_free(m);
	BN_CTX_free(tctx);
	return NULL;
}

static void test_threads(const struct paillier_priv *a, const struct paillier_priv *b)
{
	struct he_rnpool *pool = NULL;
	CHECK_INT(he_rnpool_new(1, 16, &pool), 0);
	if (!pool)
		return;
	/* Two keys for a pool of one: evictions race with takes and fills. */
	struct taker t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof t[i]);
		t[i].pool = pool;
		t[i].k = i % 2 ? b : a;
		pthread_create(&th[i], NULL, taker_main, &t[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct he_rnpool_stats st;
	he_rnpool_get_stats(pool, &st);
	CHECK_INT(st.hits + st.misses, 200);
	CHECK(st.keys == 1);
	int dup = 0;
	for (int i = 0; i < 4; i++) {
		CHECK_INT(t[i].ok, 50);
		for (int j = 0; j < 50; j++)
			for (int i2 = 0; i2 <= i; i2++)
				for (int j2 = 0; j2 < (i2 == i ? j : 50); j2++)
					dup += BN_cmp(t[i].v[j], t[i2].v[j2]) == 0;
	}
	CHECK_INT(dup, 0);
	printf("4 threads, 200 takes: %llu from the pool, %llu evictions, no value twice\n",
	       (unsigned long long)st.hits, (unsigned long long)st.evicted);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 50; j++)
			BN_free(t[i].v[j]);
	he_rnpool_free(pool);
}

static void test_no_pool(const struct paillier_priv *k)
{
	BIGNUM *v = BN_new(), *m = BN_new();
	CHECK_INT(he_rnpool_take(NULL, &k->pub, v, ctx), 0);
	CHECK_INT(paillier_decrypt(k, v, m, ctx), 0);
	CHECK(BN_is_zero(m));
	CHECK_INT(he_rnpool_ready(NULL, &k->pub), 0);
	BN_free(v);
	BN_free(m);
}

int main(void)
{
	ctx = BN_CTX_new();
	struct paillier_priv *a = NULL, *b = NULL, *c = NULL;
	CHECK_INT(paillier_keygen(1024, &a), 0);
	CHECK_INT(paillier_keygen(2048, &b), 0);
	CHECK_INT(paillier_keygen(1024, &c), 0);
	if (!a || !b || !c)
		CHECK_DONE();
	test_args();
	test_no_pool(a);
	test_values(a);
	test_lru(a, b, c);
	test_free_while_filling();
	test_evict_while_filling(a);
	test_threads(a, c);
	paillier_priv_free(a);
	paillier_priv_free(b);
	paillier_priv_free(c);
	BN_CTX_free(ctx);
	CHECK_DONE();
}
