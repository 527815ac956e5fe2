/* Opening a sealed job output against the local record, whole or as it
 * streams: a chunk with seq 0 starts an attempt's stream (header record
 * first); records are opened one by one, in order; the final record says
 * whether the job succeeded or carries its sealed error. */
#ifndef ATOLL_CLIENT_OUTPUT_H
#define ATOLL_CLIENT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/keystore.h"
#include "client/sealed.h"
#include "crypto/envelope.h"
#include "util/buf.h"

/* Where a stream was refused. */
enum cl_live_refusal {
	CL_LIVE_OK,
	CL_LIVE_HEADER,  /* the header record did not open against the record */
	CL_LIVE_ATTEMPT, /* a stream of an earlier attempt than one seen */
	CL_LIVE_CHUNK,   /* a chunk record did not open */
};

struct cl_live {
	const struct cl_sealed *rec;
	const struct cl_key *k;
	env_output_opener *opener;
	uint32_t attempt;
	bool broken;
	enum cl_live_refusal refused;
};

/* One streamed chunk: appends its plaintext to pt. Sets *ret_restarted
 * when a new attempt's stream replaced an unfinished one. An env_status:
 * ENV_OK, or why the chunk was refused (lv->refused says where); the
 * stream is then broken, and later chunks of it are ignored (ENV_OK,
 * nothing appended) until a new attempt's stream starts. */
int cl_live_chunk(struct cl_live *lv, uint64_t seq, const uint8_t *data, size_t len,
		  struct buf *pt, bool *ret_restarted);
/* After the stream: ENV_OK when the final record said success,
 * ENV_E_JOB_FAILED with the sealed code and message, ENV_E_UNFINISHED
 * when no final record came (or the stream broke). */
int cl_live_result(const struct cl_live *lv, const char **ret_code, const char **ret_msg);
void cl_live_clear(struct cl_live *lv);

/* A whole sealed output: env_open_output against rec. */
int cl_open_output(const struct cl_sealed *rec, const struct cl_key *k, const uint8_t *ct,
		   size_t len, struct buf *pt, struct buf *ret_error);

#endif
