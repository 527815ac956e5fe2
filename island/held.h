/* A job in flight on an island, and what the island holds back for it.
 *
 * To spare the coordinator a message per event, the island holds a job's
 * JobStarted and output chunks back for up to HELD_WINDOW_MS (or until
 * HELD_MAX_BYTES of output wait): a job that ends within the window is one
 * JobResult carrying its output and includes_start; a longer one sends
 * JobStarted and its output in batches at most HELD_WINDOW_MS late.
 * Not thread-safe: the island guards its job list with its own lock. */
#ifndef ATOLL_ISLAND_HELD_H
#define ATOLL_ISLAND_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define HELD_WINDOW_MS 5
#define HELD_MAX_BYTES (64u << 10)
#define HELD_MAX_ID 256

struct ijob {
	struct ijob *next;
	char id[HELD_MAX_ID + 1];
	uint32_t attempt;
	int64_t assigned_ms;
	bool started_sent;
	uint64_t next_seq; /* of the next IslandOutput sent */
	/* Output chunks not sent yet, in order. */
	ProtobufCBinaryData *chunks;
	size_t n_chunks, cap_chunks, bytes;
	int64_t first_held_ms; /* when the oldest held chunk arrived */
};

struct ijob *ijob_new(const char *id, uint32_t attempt, int64_t now_ms);
void ijob_free(struct ijob *j);
/* Hold a copy of a chunk. -ENOMEM (nothing held) or 0. */
int ijob_hold(struct ijob *j, const uint8_t *data, size_t len, int64_t now_ms);
/* When something held is due (JobStarted or output), INT64_MAX for never. */
int64_t ijob_due_ms(const struct ijob *j);
/* Whether the held output should go now: due, or over HELD_MAX_BYTES. */
bool ijob_output_due(const struct ijob *j, int64_t now_ms);
/* Move the held chunks out (the caller frees each .data and the array). */
ProtobufCBinaryData *ijob_take(struct ijob *j, size_t *ret_n);
void ijob_chunks_free(ProtobufCBinaryData *chunks, size_t n);

#endif
