/* The island host's coordinator session: the stream it dials out, what it
 * sends on it, and the threads that keep it up. Internal to atoll-island
 * (session.c). */
#ifndef ATOLL_ISLAND_SESSION_H
#define ATOLL_ISLAND_SESSION_H

#include <stdint.h>

#include "atoll/v1/islands.pb-c.h"
#include "island.h"

/* Send on the current stream, if any (dropped while disconnected). */
void send_current(struct island *is, Atoll__V1__IslandMessage *m);
/* Tell the coordinator that the island gives one attempt back. */
void hand_back(struct island *is, const char *job_id, uint32_t attempt, const char *why);
/* Cancel the current stream, if any: its session ends. */
void cancel_stream(struct island *is);
/* Thread bodies (arg: the struct island): dial the coordinators and run
 * sessions until is->stopping; send heartbeats while a session is up. */
void *conn_thread(void *arg);
void *heartbeat_thread(void *arg);

#endif
