/* The core's internal interface, shared by the files of server/core and by
 * nothing else. Everything here is guarded by core->mu.
 *
 *   queue.c     deadline heap, per-workload pools (FIFO of waiting jobs +
 *               heap of islands with a free slot), TEE queues by key
 *   router.c    placing a job on an island, filling an island's slots
 *   submit.c    checking a submit, queuing its insert, answering it
 *   jobs.c      finish (and its write), requeue, cancel, reads
 *   watch.c     watchers of a job
 *   sessions.c  island streams: hello, heartbeats, job messages, close
 *   attest.c    challenges, judging evidence, policy reloads
 *   views.c     stats, island lists, attested keys
 *   timers.c    deadlines, heartbeat timeouts, attestation timers
 *   recover.c   reloading active jobs from the store at start
 *   (store/writer.c writes jobs in batches; jobs.c queues the writes)
 *   core.c      construction, shutdown
 *
 * With a shared store (several coordinators on one PostgreSQL) jobs live
 * in the store until a coordinator claims one for an island of its own:
 *   claim.c     the claimer thread: claims for free slots, leases, sweeps
 *   events.c    the listener thread: store events, cancels, and followers
 *               of jobs in the store (watchers, SubmitJob wait: true)
 *   fleet.c     publishing this coordinator's islands, the fleet's views */
#ifndef ATOLL_SERVER_CORE_INTERNAL_H
#define ATOLL_SERVER_CORE_INTERNAL_H

#include <pthread.h>

#include "core/core.h"
#include "store/writer.h"
#include "util/buf.h"
#include "util/hmap.h"
#include "util/timeutil.h"

/* Pools per workload: plain and homomorphic (TEE jobs route by key). */
#define POOL_PLAIN 0
#define POOL_HE 1

struct job;

/* The output of one attempt of a job, in the chunks it arrived in. The
 * job holds it while running; watchers still sending it hold references,
 * so a slow watcher keeps its place after the job moved on or ended. */
struct outbuf {
	int refs;
	struct buf data;
	size_t *ends; /* ends[i]: offset just past chunk i */
	size_t n, cap;
	/* Shared with later watchers of the final job (core->final_outs). */
	bool cached;
	char job_id[JOB_ID_LEN + 1];
};

/* A watcher sends the chunks of out from cursor on, as fast as its
 * reader takes them (a bounded backlog in its call), then, once the job
 * is final, the final job and the end. */
struct watcher {
	struct watcher *next;
	const struct watch_ops *ops;
	void *peer;
	struct job *job;         /* NULL once the job is final */
	struct outbuf *out;      /* reference held */
	size_t cursor;           /* next chunk to send */
	struct job_row *final;   /* the final job, sent after the last chunk */
	bool ended;
	char tenant[128];
	/* Shared store: the watcher follows the job in the store (events.c),
	 * whoever runs it. out is its own copy of the attempt's output. */
	bool remote;
	struct watcher *rnext;
	uint64_t gen; /* tells a watcher from a later one at the same address */
	char job_id[JOB_ID_LEN + 1];
	uint32_t attempt;
	int last_state;
	char last_island[128];
};

/* A TEE job waiting for one of its recipient enclave keys. */
struct tq_entry {
	struct tq_entry *next, *prev;
	struct tee_queue *q;
	struct job *job;
};

struct tee_queue {
	struct tq_entry *head, *tail;
	uint8_t key[CORE_KEY_LEN];
};

struct heap_entry {
	struct session *s;
	size_t offer;
};

struct pool {
	uint32_t workload_id;
	int kind; /* POOL_PLAIN or POOL_HE */
	struct job *qhead, *qtail;
	size_t qlen;
	/* Min-heap of islands with a free slot, least loaded on top. */
	struct heap_entry *heap;
	size_t heap_n, heap_cap;
};

struct job {
	struct job_row row;
	const struct workload_cfg *wl;
	struct session *island;    /* running on */
	struct job *inext, *iprev; /* island's running list */
	struct pool *pool;         /* FIFO it waits in, if any */
	struct job *qnext, *qprev;
	uint8_t (*recipients)[CORE_KEY_LEN]; /* TEE */
	size_t n_recipients;
	struct tq_entry *tq; /* n_recipients entries while waiting */
	bool tq_linked;
	size_t deadline_pos;
	struct outbuf *out; /* the current attempt's output */
	struct watcher *watchers;

	/* The store (store/writer.h): the insert, then the final write. */
	bool stored;               /* the insert landed: SubmitJob may answer */
	struct submit_waiter *waiters; /* SubmitJob calls waiting on the insert */
	struct submit_waiter *final_waiters; /* ... and then on the end */
	struct store_op *fin_op;   /* final: its write, until it lands (the job
				    * is then in core->finishing) */
};

/* A SubmitJob call that answers once the job's insert has landed (the
 * submitter, or a retry with the same idempotency key). */
struct submit_waiter {
	struct submit_waiter *next;
	core_submit_cb cb;
	void *ud;
	bool want_final;
};

struct offer {
	uint32_t workload_id;
	uint32_t modes; /* ATOLL_MODE_BIT()s, already intersected with the workload's */
	const struct workload_cfg *wl;
	size_t heap_pos[2]; /* SIZE_MAX when not in that pool's heap */
};

struct session {
	struct session *snext, *sprev; /* every open stream */
	char id[CORE_ISLAND_ID_MAX + 1];
	char session_id[32];
	const struct island_token_cfg *token;
	const struct session_ops *ops;
	void *peer;
	bool hello;      /* Hello accepted */
	bool registered; /* in the registry; false once dropped */
	/* Waiting to attest before it replaces the attested session of the
	 * same island id (in core->pending, not the registry). */
	bool pending;
	bool closing; /* the core ended the stream; it lingers until done */
	uint32_t slots, running;
	struct offer *offers;
	size_t n_offers;
	char tee_type[32];
	uint8_t enclave_pub[CORE_KEY_LEN];
	bool has_pub;
	int state; /* enum island_state */
	char reason[512];
	int64_t connected_ms, last_seen_ms;
	int64_t pause_until_ms; /* after a hand-back: no new assignment */
	struct job *jobs;       /* running here */

	/* Attestation. */
	uint8_t nonce[CORE_NONCE_LEN];
	bool challenge_open;
	int64_t challenge_expires_ms;
	int64_t next_challenge_ms; /* 0: none scheduled */
	uint8_t att_nonce[CORE_NONCE_LEN];
	uint8_t *evidence;
	size_t evidence_len;
	atoll_blob *collateral; /* each data malloc'd */
	size_t n_collateral;
	int64_t attested_ms, valid_until_ms;
	struct attest_kv *claims;
	size_t n_claims;
	struct attest_claims norm;
	uint8_t *manifest; /* the attested enclave manifest's bytes */
	size_t manifest_len;
};

struct core {
	const struct coord_config *cfg;
	/* The policy in force: cfg's, or a later SIGHUP reload's. */
	const struct attest_policy *policy;
	struct store *store;
	struct store_writer *writer;
	const struct attest_verifier *verifier;

	pthread_mutex_t mu;
	pthread_mutex_t lmu; /* limits only, taken with or without mu */
	pthread_cond_t cond;
	pthread_t timer;
	bool timer_started, stopping, shut;

	struct hmap jobs;       /* id -> struct job (active only) */
	struct hmap finishing;  /* id -> struct job final, its write not landed yet */
	struct hmap idem;       /* tenant NUL key -> struct job, until its end landed */
	struct hmap islands;    /* id -> struct session (registered) */
	struct hmap pending;    /* id -> struct session waiting to attest */
	struct hmap by_key;     /* enclave key -> struct session (attested only) */
	struct session *sessions; /* every open stream, hello or not */
	size_t n_sessions;
	struct hmap tee_queues; /* enclave key -> struct tee_queue */
	struct hmap watchers;   /* peer pointer -> struct watcher */
	struct hmap final_outs; /* job id -> struct outbuf of a final job being watched */
	struct hmap tenant_jobs; /* tenant -> active jobs (as uintptr_t) */
	struct hmap wl_index;   /* workload id -> index + 1 */
	struct pool *pools;     /* 2 per workload */
	struct limit_count {
		const char *what;
		uint64_t n;
	} limits[16];
	size_t n_limits;
	/* The lock's use (core_lock): acquisitions, how many waited, for how
	 * long in all, and how long it was held in all. */
	uint64_t lock_n, lock_contended;
	int64_t lock_wait_ns, lock_hold_ns, lock_since_ns, started_ns;
	struct job **deadlines; /* min-heap by row.deadline_ms */
	size_t n_deadlines, cap_deadlines;
	int64_t last_island_scan_ms;

	/* Shared store (claim.c, events.c, fleet.c): c->jobs holds only the
	 * jobs this coordinator claimed. */
	bool shared;
	pthread_t claimer, listener;
	bool shared_started;
	pthread_mutex_t kmu; /* the claimer's wake-ups; taken after mu */
	pthread_cond_t kcond;
	bool kicked, kstop;
	struct hmap inserting;   /* id -> struct job whose insert is on the way */
	struct hmap final_waits; /* id -> struct submit_waiter list (wait: true) */
	struct watcher *remote;  /* watchers following jobs in the store */
	uint64_t watch_gen;
	bool remote_due;         /* followers have news to look for */
	struct island_row *fleet; /* the other coordinators' islands */
	size_t n_fleet;
};

/* The core's lock, measured (core_lock_stats). */
static inline void core_lock(struct core *c)
{
	int64_t t0 = time_mono_ns();
	if (pthread_mutex_trylock(&c->mu) != 0) {
		pthread_mutex_lock(&c->mu);
		c->lock_contended++;
		c->lock_wait_ns += time_mono_ns() - t0;
	}
	c->lock_n++;
	c->lock_since_ns = time_mono_ns();
}

static inline void core_unlock(struct core *c)
{
	c->lock_hold_ns += time_mono_ns() - c->lock_since_ns;
	pthread_mutex_unlock(&c->mu);
}

/* queue.c */
int deadline_push(struct core *c, struct job *j);
void deadline_remove(struct core *c, struct job *j);
struct pool *pool_for(struct core *c, uint32_t workload_id, int kind);
uint64_t session_load(const struct session *s);
bool session_can_take(const struct session *s, int64_t now);
/* Put the island in (or out of) the heaps of the pools it serves, at its
 * current load. */
void session_refresh(struct core *c, struct session *s);
void fifo_push(struct pool *p, struct job *j);
void fifo_remove(struct job *j);
int tq_link(struct core *c, struct job *j);
void tq_unlink(struct core *c, struct job *j);

/* router.c */
const struct offer *session_offer(const struct session *s, uint32_t workload_id);
/* Place a queued job on the least loaded eligible island other than
 * exclude, or leave it waiting. */
void route(struct core *c, struct job *j, struct session *exclude);
/* Give an island with free slots the jobs waiting for it. */
void session_fill(struct core *c, struct session *s);
/* The job no longer runs on its island. */
void job_detach(struct core *c, struct job *j);

/* submit.c */
/* The job ended: answer the submits that wait for its end (lock held). */
void job_answer_final(struct core *c, struct job *j);
/* Shutdown: answer them with -ESHUTDOWN. */
void job_answer_shutdown(struct job *j);
/* The key of core->idem for a tenant's idempotency key. */
size_t idem_key(const char *tenant, const char *key, char *out, size_t out_size);
/* Drop j from the idempotency index, if the index holds j under its key. */
void idem_forget(struct core *c, struct job *j);

/* jobs.c */
void job_free(struct core *c, struct job *j);
/* A copy of the job as it stands (with its output once final). */
int job_snapshot(const struct job *j, struct job_row *out);
size_t tenant_active(struct core *c, const char *tenant);
void tenant_count(struct core *c, const char *tenant, int delta);
void job_finish(struct core *c, struct job *j, int state, const char *error);
/* Back to the queue after the island lost it or gave it back. */
void job_requeue(struct core *c, struct job *j, struct session *from, const char *why);
void job_deadline_error(const struct job *j, char *err, size_t size);
/* Tell the job's island to stop it. */
void job_cancel_on_island(struct job *j, const char *reason);

/* watch.c */
struct outbuf *outbuf_new(void);
struct outbuf *outbuf_ref(struct outbuf *o);
void outbuf_release(struct core *c, struct outbuf *o);
int outbuf_append(struct outbuf *o, const uint8_t *data, size_t len);
/* The job's state changed (not final). */
void watch_notify_state(struct job *j);
/* A chunk was appended to j->out: send it where readers keep up. */
void watch_notify_chunk(struct core *c, struct job *j);
/* A new attempt: watchers follow j->out from its first chunk. */
void watch_new_attempt(struct core *c, struct job *j);
/* The job is final (j->row as stored): each watcher ends after its last
 * chunk. */
void watch_end_all(struct core *c, struct job *j);

/* sessions.c */
/* Remove from the registry: its jobs go back to the queue; a session
 * waiting to replace it takes its place. */
void session_drop(struct core *c, struct session *s, const char *why);
/* s attested: it now holds its enclave key, and a pending s replaces the
 * attested session it was waiting on. 0, or -EEXIST (with why) when
 * another island attested with the same key. */
int session_attested(struct core *c, struct session *s, char *why, size_t why_size);
/* s is no longer attested: its enclave key is free again. */
void session_unattested(struct core *c, struct session *s);

/* limits.c */
/* A configured limit refused something: counted, logged the first time. */
void core_limit_hit(struct core *c, const char *what, const char *detail);

/* recover.c */
int core_recover(struct core *c, char *err, size_t err_size);

/* claim.c */
int claim_start(struct core *c);
void claim_stop(struct core *c);
/* Wake the claimer: an island has room, or jobs were queued. */
void claim_kick(struct core *c);
/* A claimed job back to the store's queue, and out of memory (unclaim:
 * its attempt never ran). */
void claim_release(struct core *c, struct job *j, bool unclaim);
/* An output chunk (the last of j->out) for followers elsewhere. */
void claim_output(struct core *c, struct job *j);
/* The job is no longer this coordinator's (cancelled elsewhere, taken
 * over): stop it on its island and forget it, writing nothing. */
void claim_drop(struct core *c, struct job *j, const char *why);

/* events.c */
int events_start(struct core *c);
/* Join the listener (after claim_stop, which tells both threads). */
void events_stop(struct core *c);
/* Follow a job in the store (core_watch with a shared store). */
int events_watch(struct core *c, const char *tenant, const char *job_id,
		 const struct watch_ops *ops, void *peer, char *err, size_t err_size);
/* Answer ws once job id is final (SubmitJob wait: true). Lock held. */
int events_wait_final(struct core *c, const char *id, struct submit_waiter *ws);
void events_unlink(struct core *c, struct watcher *w);
/* Shutdown: answer the waits with -ESHUTDOWN (lock held). */
void events_shutdown(struct core *c);

/* fleet.c */
/* Publish this coordinator's islands, refresh the copy of the others'
 * (claimer thread, without the lock). */
void fleet_sync(struct core *c);
void fleet_free(struct core *c);
/* Lock held: whether c->fleet[i] is shown (not held here, not a
 * duplicate); whether a row serves workload_id (0: any) in a mode bit
 * (0: any); a row as a view. */
bool fleet_row_shown(struct core *c, size_t i);
bool fleet_row_serves(const struct island_row *r, uint32_t workload_id, uint32_t mode_bit);
int fleet_view(const struct island_row *r, struct island_view *v);

/* watch.c (also for followers) */
void watch_pump(struct core *c, struct watcher *w);
struct job_row *watch_final_copy(const struct job_row *r);
int watch_limit(struct core *c, const char *tenant, char *err, size_t err_size);
/* A new watcher of peer, in c->watchers (NULL: out of memory). */
struct watcher *watch_add(struct core *c, const struct watch_ops *ops, void *peer,
			  const char *tenant);

/* attest.c */
void attest_start(struct core *c, struct session *s);
void attest_evidence(struct core *c, struct session *s, const struct attest_input *ev);
void attest_tick(struct core *c, struct session *s, int64_t now);
void attest_forget(struct session *s);

#endif
