/* Jobs in flight on an island and their held-back events (held.h). */
#include "held.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ijob *ijob_new(const char *id, uint32_t attempt, int64_t now_ms)
{
	if (strlen(id) > HELD_MAX_ID)
		return NULL;
	struct ijob *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	snprintf(j->id, sizeof j->id, "%s", id);
	j->attempt = attempt;
	j->assigned_ms = now_ms;
	return j;
}

void ijob_chunks_free(ProtobufCBinaryData *chunks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(chunks[i].data);
	free(chunks);
}

void ijob_free(struct ijob *j)
{
	if (!j)
		return;
	ijob_chunks_free(j->chunks, j->n_chunks);
	free(j);
}

int ijob_hold(struct ijob *j, const uint8_t *data, size_t len, int64_t now_ms)
{
	if (j->n_chunks == j->cap_chunks) {
		size_t cap = j->cap_chunks ? j->cap_chunks * 2 : 4;
		ProtobufCBinaryData *c = realloc(j->chunks, cap * sizeof *c);
		if (!c)
			return -ENOMEM;
		j->chunks = c;
		j->cap_chunks = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	if (!j->n_chunks)
		j->first_held_ms = now_ms;
	j->chunks[j->n_chunks++] = (ProtobufCBinaryData){ .len = len, .data = copy };
	j->bytes += len;
	return 0;
}

int64_t ijob_due_ms(const struct ijob *j)
{
	int64_t due = INT64_MAX;
	if (!j->started_sent)
		due = j->assigned_ms + HELD_WINDOW_MS;
	if (j->n_chunks && j->first_held_ms + HELD_WINDOW_MS < due)
		due = j->first_held_ms + HELD_WINDOW_MS;
	return due;
}

bool ijob_output_due(const struct ijob *j, int64_t now_ms)
{
	return j->n_chunks &&
	       (j->bytes >= HELD_MAX_BYTES || now_ms >= j->first_held_ms + HELD_WINDOW_MS);
}

ProtobufCBinaryData *ijob_take(struct ijob *j, size_t *ret_n)
{
	ProtobufCBinaryData *c = j->chunks;
	*ret_n = j->n_chunks;
	j->chunks = NULL;
	j->n_chunks = j->cap_chunks = j->bytes = 0;
	return c;
}
