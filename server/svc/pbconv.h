/* Conversions between the core's structs and atoll.v1 protobuf messages,
 * shared by the services. Views borrow from what they are made of. */
#ifndef ATOLL_SERVER_SVC_PBCONV_H
#define ATOLL_SERVER_SVC_PBCONV_H

#include <stdint.h>

#include "atoll/v1/jobs.pb-c.h"
#include "store/store.h"

/* Milliseconds since the epoch as a Timestamp. */
void pb_ts_set(Google__Protobuf__Timestamp *ts, int64_t ms);
int64_t pb_ts_ms(const Google__Protobuf__Timestamp *ts);

/* A protobuf view of a job row; strings and blobs point into the row. */
struct jobview {
	Atoll__V1__Job job;
	Google__Protobuf__Timestamp created, started, completed, deadline;
	Atoll__V1__JobOutput output;
	uint8_t envelope_id[16];
};
void jobview_init(struct jobview *v, const struct job_row *r);

#endif
