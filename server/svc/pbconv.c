/* Conversions between the core's structs and atoll.v1 messages. */
#include "svc/pbconv.h"

#include <stdbool.h>
#include <string.h>

#include "atoll/mode.h"
#include "crypto/envelope.h"
#include "util/enc.h"

void pb_ts_set(Google__Protobuf__Timestamp *ts, int64_t ms)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	ts->nanos = (int32_t)((ms - ts->seconds * 1000) * 1000000);
}

void jobview_init(struct jobview *v, const struct job_row *r)
{
	memset(v, 0, sizeof *v);
	atoll__v1__job__init(&v->job);
	Atoll__V1__Job *j = &v->job;
	j->id = (char *)r->id;
	j->workload_id = r->workload_id;
	j->workload = (char *)r->workload;
	j->confidential = r->confidential;
	j->mode = (Atoll__V1__Mode)r->mode;
	j->encryption_key_id = (char *)r->key_id;
	j->state = (Atoll__V1__JobState)r->state;
	j->error = (char *)r->error;
	j->island_id = (char *)r->island_id;
	j->attempts = r->attempts;
	pb_ts_set(&v->created, r->created_ms);
	j->created_at = &v->created;
	if (r->started_ms) {
		pb_ts_set(&v->started, r->started_ms);
		j->started_at = &v->started;
	}
	if (r->completed_ms) {
		pb_ts_set(&v->completed, r->completed_ms);
		j->completed_at = &v->completed;
	}
	pb_ts_set(&v->deadline, r->deadline_ms);
	j->deadline = &v->deadline;
	j->duration_ms = (uint64_t)r->duration_ms;
	j->credits_used = r->credits;
	struct env_input_info info;
	if (r->mode == ATOLL_MODE_TEE && r->input &&
	    env_inspect_input(r->input, r->input_len, &info) == ENV_OK) {
		memcpy(v->envelope_id, info.envelope_id, sizeof v->envelope_id);
		j->input_envelope_id.data = v->envelope_id;
		j->input_envelope_id.len = sizeof v->envelope_id;
	}
	if (r->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED ||
	    (r->output_encrypted && r->output_len)) {
		atoll__v1__job_output__init(&v->output);
		if (r->output_encrypted) {
			v->output.encrypted = true;
			v->output.key_id = (char *)r->key_id;
			v->output.ciphertext.data = r->output;
			v->output.ciphertext.len = r->output_len;
		} else if (r->output && enc_utf8_text(r->output, r->output_len)) {
			/* The store keeps a NUL after every blob it returns, and
			 * active rows are built the same way (see output_cstr). */
			v->output.text = (char *)r->output;
		} else {
			v->output.data.data = r->output;
			v->output.data.len = r->output_len;
		}
		j->output = &v->output;
	}
}

int64_t pb_ts_ms(const Google__Protobuf__Timestamp *ts)
{
	return ts ? ts->seconds * 1000 + ts->nanos / 1000000 : 0;
}
