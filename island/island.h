/* The island host's shared state (struct island) and its job list, for the
 * parts of atoll-island: island.c (the job list and held output, the
 * enclave thread, main), session.c (the coordinator session) and link.c
 * (the enclave runtime). Internal to atoll-island. */
#ifndef ATOLL_ISLAND_ISLAND_H
#define ATOLL_ISLAND_ISLAND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "config.h"
#include "held.h"
#include "rpc/client.h"

#define MAX_JOB_ID HELD_MAX_ID

struct island {
	struct island_config *cfg;
	const char *config_path;
	/* A channel per connection attempt, to the address tried (see
	 * conn_thread); NULL between sessions. */
	rpc_client *client;
	const char *address;
	struct rpc_client_opts copts;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* The current coordinator stream (NULL while disconnected). */
	rpc_stream *stream;
	pthread_mutex_t send_mu;
	bool welcomed;
	int64_t heartbeat_ms;

	/* The enclave. */
	pid_t enclave_pid;
	int enclave_fd;
	pthread_mutex_t enclave_wmu;
	Atoll__Enclave__V1__Ready *ready;
	bool enclave_alive;
	uint64_t enclave_generation;

	struct ijob *jobs;
	uint32_t running;
	int wake_fd; /* eventfd: a job was assigned, its JobStarted comes due */
	atomic_bool draining;
	atomic_bool stopping;
};

/* The job list (island.c); the caller holds is->mu. Remove and return
 * one attempt's job (NULL when not held), waking waiters. */
struct ijob *take_job(struct island *is, const char *id, uint32_t attempt);
/* Detach the in-flight jobs (the caller frees them) and wake waiters;
 * takes is->mu itself. */
struct ijob *take_all_jobs(struct island *is);

#endif
