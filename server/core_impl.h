/* Internals shared by core.c (registry, router, jobs) and attest.c
 * (challenges, verification, policy). Everything here is guarded by
 * core->mu. */
#ifndef ATOLL_SERVER_CORE_IMPL_H
#define ATOLL_SERVER_CORE_IMPL_H

#include <pthread.h>

#include "core.h"
#include "policy.h"
#include "util/buf.h"
#include "util/hmap.h"

#define NONCE_LEN 32
#define ENCLAVE_KEY_LEN 32
#define MAX_OUTPUT (64u << 20)
/* Pools per workload: plain and homomorphic (TEE jobs route by key). */
#define POOL_PLAIN 0
#define POOL_HE 1

struct job;
struct island;

struct watcher {
	struct watcher *next;
	rpc_call *call;
	struct job *job;
};

/* A TEE job waiting for one of its recipient enclave keys. */
struct tq_entry {
	struct tq_entry *next, *prev;
	struct tee_queue *q;
	struct job *job;
};

struct tee_queue {
	struct tq_entry *head, *tail;
	uint8_t key[ENCLAVE_KEY_LEN];
};

struct pool {
	uint32_t workload_id;
	int kind; /* POOL_PLAIN or POOL_HE */
	struct job *qhead, *qtail;
	size_t qlen;
	/* Min-heap of islands with a free slot, least loaded on top. */
	struct heap_entry {
		struct island *is;
		size_t offer;
	} *heap;
	size_t heap_n, heap_cap;
};

struct job {
	struct job_row row;
	const struct workload_cfg *wl;
	struct island *island; /* running on */
	struct job *inext, *iprev; /* island's running list */
	struct pool *pool;  /* FIFO it waits in, if any */
	struct job *qnext, *qprev;
	uint8_t (*recipients)[ENCLAVE_KEY_LEN]; /* TEE */
	size_t n_recipients;
	struct tq_entry *tq; /* n_recipients entries while waiting */
	bool tq_linked;
	size_t deadline_pos;
	struct buf output;
	uint64_t next_seq;
	struct watcher *watchers;
};

struct offer {
	uint32_t workload_id;
	uint32_t modes; /* ATOLL_MODE_BIT()s, already intersected with the workload's */
	const struct workload_cfg *wl;
	size_t heap_pos[2]; /* SIZE_MAX when not in that pool's heap */
};

struct claim_kv {
	char *name;
	char *value;
};

struct island {
	char id[128];
	char session[32];
	char token_name[128];
	rpc_call *call;
	bool hello;      /* Hello accepted */
	bool registered; /* in the registry; false once dropped */
	uint32_t slots, running;
	struct offer *offers;
	size_t n_offers;
	char tee_type[32];
	uint8_t enclave_pub[ENCLAVE_KEY_LEN];
	bool has_pub;
	int state; /* atoll.v1.IslandState */
	char reason[512];
	int64_t connected_ms, last_seen_ms;
	int64_t pause_until_ms; /* after a hand-back: no new assignment */
	struct job *jobs;       /* running here */

	/* Attestation. */
	uint8_t nonce[NONCE_LEN];
	bool challenge_open;
	int64_t challenge_expires_ms;
	int64_t next_challenge_ms; /* 0: none scheduled */
	uint8_t att_nonce[NONCE_LEN];
	uint8_t *evidence;
	size_t evidence_len;
	ProtobufCBinaryData *collateral;
	size_t n_collateral;
	int64_t attested_ms, valid_until_ms;
	struct claim_kv *claims;
	size_t n_claims;
	struct policy_claims pc;
};

struct core {
	const struct coord_config *cfg;
	/* The policy section in force: cfg's, or a later SIGHUP reload's. */
	const struct coord_config *pcfg;
	struct store *store;
	const struct loaded_driver *drivers;
	size_t n_drivers;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t timer;
	bool timer_started, stopping, shut;

	struct hmap jobs;        /* id -> struct job (active only) */
	struct hmap islands;     /* id -> struct island (registered) */
	struct hmap by_key;      /* enclave key -> struct island (registered) */
	struct hmap tee_queues;  /* enclave key -> struct tee_queue */
	struct hmap watchers;    /* rpc_call pointer -> struct watcher */
	struct hmap wl_index;    /* workload id -> index + 1 */
	struct pool *pools;      /* 2 per workload */
	struct job **deadlines;  /* min-heap by row.deadline_ms */
	size_t n_deadlines, cap_deadlines;
	int64_t last_island_scan_ms;
};

/* core.c, used by attest.c */
void island_send(struct island *is, Atoll__V1__CoordinatorMessage *m);
void island_refresh(struct core *c, struct island *is);
void island_fill(struct core *c, struct island *is);
const struct loaded_driver *core_driver(const struct core *c, const char *name);

/* attest.c */
void attest_start(struct core *c, struct island *is);
void attest_evidence(struct core *c, struct island *is, const Atoll__V1__Evidence *ev);
void attest_tick(struct core *c, struct island *is, int64_t now);
void attest_clear(struct island *is);
/* Re-check an attested island's stored claims against the current policy. */
void attest_recheck(struct core *c, struct island *is);

#endif
