/* The coordinator's state: the island registry, the router, active jobs
 * and their watchers, and the timers (job deadlines, heartbeats,
 * attestation). One mutex guards it all; every routing decision takes
 * O(log n) in the number of islands (see docs/routing.md).
 *
 * Jobs: accepted jobs are written to the store before SubmitJob answers.
 * Active jobs (pending, queued, running) also live in memory; final ones
 * only in the store. Each job reaches exactly one final state: results for
 * an older attempt, from an island that no longer holds the job, or after
 * the job became final are ignored. */
#ifndef ATOLL_SERVER_CORE_H
#define ATOLL_SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/islands.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "config.h"
#include "plugin/plugin.h"
#include "rpc.h"
#include "store.h"

struct core;
struct island;

/* Build with the configuration, the store and the verifier drivers (all
 * borrowed; they outlive the core). Loads every active job from the store:
 * running ones go back to the queue. */
int core_new(const struct coord_config *cfg, struct store *st,
	     const struct loaded_driver *drivers, size_t n_drivers, struct core **ret,
	     char *err, size_t err_size);
/* Start the timer thread. */
int core_start(struct core *c);
/* End island streams and watchers (server shutdown hook). */
void core_shutdown(void *c);
/* Stop the timer thread and free. Accepts NULL. */
void core_free(struct core *c);

/* ---- jobs (tenant: the authenticated tenant's name) ---- */

/* 0 with *ret_row (the job as stored), or -errno with err. */
int core_submit(struct core *c, const char *tenant, const Atoll__V1__SubmitJobRequest *req,
		struct job_row *ret_row, char *err, size_t err_size);
int core_cancel(struct core *c, const char *tenant, const char *job_id, const char *reason,
		struct job_row *ret_row, char *err, size_t err_size);
/* Register call as a watcher of the job: it gets the job now, then every
 * change and chunk, and is finished when the job is final. */
int core_watch(struct core *c, const char *tenant, const char *job_id, rpc_call *call,
	       char *err, size_t err_size);
void core_unwatch(struct core *c, rpc_call *call);

/* ---- islands ---- */

/* A new Connect stream authenticated as token `token_name`. */
struct island *core_island_open(struct core *c, rpc_call *call, const char *token_name);
/* One message from the island. */
void core_island_message(struct core *c, struct island *is, const Atoll__V1__IslandMessage *m);
/* The stream ended (on_done). Frees the island. */
void core_island_close(struct core *c, struct island *is);

/* ---- views ---- */

void core_stats(struct core *c, Atoll__V1__Stats *out);
void core_stats_clear(Atoll__V1__Stats *s);
/* Islands with their attestation (attested only unless include_unattested);
 * free with core_islands_clear. */
int core_list_islands(struct core *c, uint32_t workload_id, bool include_unattested,
		      Atoll__V1__ListAttestedIslandsResponse *out);
void core_islands_clear(Atoll__V1__ListAttestedIslandsResponse *r);
/* Enclave keys of attested islands serving workload (TEE mode) into
 * keys[max][32]; returns the count. */
size_t core_attested_keys(struct core *c, uint32_t workload_id, uint8_t (*keys)[32],
			  char (*ids)[128], size_t max);
/* SIGHUP: apply the policy section of a reloaded config (the rest of it
 * is ignored); islands no longer acceptable are revoked over their
 * streams. cfg must outlive the core. */
void core_reload_policy(struct core *c, const struct coord_config *cfg);

/* A protobuf view of a job row; strings and blobs point into the row. */
struct jobview {
	Atoll__V1__Job job;
	Google__Protobuf__Timestamp created, started, completed, deadline;
	Atoll__V1__JobOutput output;
	uint8_t envelope_id[16];
};
void jobview_init(struct jobview *v, const struct job_row *r);

#endif
