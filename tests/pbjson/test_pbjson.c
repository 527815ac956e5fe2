/* pbjson: round trips of Atoll API messages (Stats maps, Jobs with
 * Timestamps, JobInput, JobEvent oneofs, the seed request bodies), every
 * scalar and map key type, proto2 presence, the writer's refusals, and
 * the exact error message for mistyped, out-of-range, unknown, malformed,
 * truncated and too deeply nested input. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "check.h"
#include "pbjson/pbjson.h"
#include "pbjson_legacy.pb-c.h"
#include "pbjson_test.pb-c.h"
#include "util/buf.h"

#define T0 INT64_C(1767323045) /* 2026-01-02T03:04:05Z */

static const ProtobufCMessageDescriptor *const SUBMIT = &atoll__v1__submit_job_request__descriptor;
static const ProtobufCMessageDescriptor *const JOB = &atoll__v1__job__descriptor;
static const ProtobufCMessageDescriptor *const SCALARS = &pbjson__test__scalars__descriptor;

/* JSON text of m (caller frees), or NULL after reporting the code. */
static char *write_json(const ProtobufCMessage *m, unsigned flags)
{
	struct buf b = { 0 };
	int rc = pbjson_write(m, flags, &b);
	char *s = NULL;
	if (rc < 0)
		fprintf(stderr, "pbjson_write: %d\n", rc);
	else if (buf_cstr(&b))
		s = (char *)buf_steal(&b, NULL);
	buf_free(&b);
	return s;
}

static ProtobufCMessage *read_json(const ProtobufCMessageDescriptor *d,
				   const char *json, unsigned flags)
{
	ProtobufCMessage *m = NULL;
	char err[512];
	int rc = pbjson_read(d, json, strlen(json), flags, &m, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "pbjson_read(%s): %d %s\n", json, rc, err);
		return NULL;
	}
	return m;
}

static void free_msg(void *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

static void check_text(int line, const char *what, const char *got, const char *want)
{
	if (!got || strcmp(got, want) != 0) {
		fprintf(stderr, "%s:%d: %s\n   got: %s\n  want: %s\n", __FILE__, line,
			what, got ? got : "(null)", want);
		check_failures++;
	}
}

static void check_write(int line, const void *m, unsigned flags, const char *want)
{
	char *s = write_json(m, flags);
	check_text(line, "pbjson_write", s, want);
	free(s);
}
#define CHECK_WRITE(m, flags, want) check_write(__LINE__, (m), (flags), (want))

/* in, read as d with rflags and written back with wflags, gives want. */
static void check_rewrite(int line, const ProtobufCMessageDescriptor *d,
			  const char *in, unsigned rflags, unsigned wflags,
			  const char *want)
{
	ProtobufCMessage *m = read_json(d, in, rflags);
	char *s = m ? write_json(m, wflags) : NULL;
	check_text(line, in, s, want);
	free(s);
	free_msg(m);
}
#define CHECK_REWRITE(d, in, rflags, wflags, want) \
	check_rewrite(__LINE__, (d), (in), (rflags), (wflags), (want))
#define CHECK_ROUND_TRIP(d, json) CHECK_REWRITE((d), (json), 0, 0, (json))

/* Reading json as d fails with -EINVAL and exactly the message want,
 * leaving *ret alone. */
static void check_error(int line, const ProtobufCMessageDescriptor *d,
			const char *json, unsigned flags, const char *want)
{
	ProtobufCMessage sentinel, *m = &sentinel;
	char err[1024];
	memset(err, 'x', sizeof err);
	int rc = pbjson_read(d, json, strlen(json), flags, &m, err, sizeof err);
	if (rc != -EINVAL || m != &sentinel) {
		fprintf(stderr, "%s:%d: %s: rc %d, want -EINVAL\n", __FILE__, line, json, rc);
		check_failures++;
		if (rc == 0 && m != &sentinel)
			free_msg(m);
		return;
	}
	check_text(line, json, err, want);
}
#define CHECK_ERROR(d, json, want) check_error(__LINE__, (d), (json), 0, (want))

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool bytes_are(ProtobufCBinaryData b, const void *want, size_t len)
{
	return b.len == len && (len == 0 || memcmp(b.data, want, len) == 0);
}

static void test_stats_map(void)
{
	Atoll__V1__Stats__TeeTypesEntry sgx = ATOLL__V1__STATS__TEE_TYPES_ENTRY__INIT;
	Atoll__V1__Stats__TeeTypesEntry snp = ATOLL__V1__STATS__TEE_TYPES_ENTRY__INIT;
	Atoll__V1__Stats__TeeTypesEntry old = ATOLL__V1__STATS__TEE_TYPES_ENTRY__INIT;
	Atoll__V1__Stats__TeeTypesEntry *entries[] = { &sgx, &snp };
	Atoll__V1__Stats stats = ATOLL__V1__STATS__INIT;
	sgx.key = "sgx";
	sgx.value = 12;
	snp.key = "sev_snp";
	snp.value = 5;
	stats.n_tee_types = 2;
	stats.tee_types = entries;
	stats.attested_hosts = 20;

	CHECK_WRITE(&stats, PBJSON_ORIGINAL_NAMES,
		    "{\"tee_types\":{\"sgx\":12,\"sev_snp\":5},\"attested_hosts\":20}");
	CHECK_WRITE(&stats, 0, "{\"teeTypes\":{\"sgx\":12,\"sev_snp\":5},\"attestedHosts\":20}");
	CHECK_WRITE(&stats, PBJSON_ORIGINAL_NAMES | PBJSON_PRETTY,
		    "{\n"
		    "  \"tee_types\": {\n"
		    "    \"sgx\": 12,\n"
		    "    \"sev_snp\": 5\n"
		    "  },\n"
		    "  \"attested_hosts\": 20\n"
		    "}\n");

	/* As the seed prints it, read back field by field. */
	Atoll__V1__Stats *s = (Atoll__V1__Stats *)read_json(
		&atoll__v1__stats__descriptor,
		"{\"tee_types\": {\"sgx\": 12, \"sev_snp\": 5}, \"attested_hosts\": 20}", 0);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->n_tee_types, 2);
		CHECK_STR(s->tee_types[0]->key, "sgx");
		CHECK_INT(s->tee_types[0]->value, 12);
		CHECK_STR(s->tee_types[1]->key, "sev_snp");
		CHECK_INT(s->tee_types[1]->value, 5);
		CHECK_INT(s->attested_hosts, 20);
		CHECK_INT(s->n_connected_tee_types, 0);
		free_msg(s);
	}

	/* A key repeated on the wire: the last entry wins, as in protobuf. */
	Atoll__V1__Stats__TeeTypesEntry *dup[] = { &old, &snp, &sgx };
	old.key = "sgx";
	old.value = 1;
	stats.n_tee_types = 3;
	stats.tee_types = dup;
	CHECK_WRITE(&stats, PBJSON_ORIGINAL_NAMES,
		    "{\"tee_types\":{\"sev_snp\":5,\"sgx\":12},\"attested_hosts\":20}");

	Atoll__V1__Stats empty = ATOLL__V1__STATS__INIT;
	char *all;
	CHECK_WRITE(&empty, 0, "{}");
	CHECK_WRITE(&empty, PBJSON_PRETTY, "{}\n");
	all = write_json(&empty.base, PBJSON_EMIT_DEFAULTS);
	CHECK(starts_with(all, "{\"teeTypes\":{},\"attestedHosts\":0,"));
	CHECK(all && strstr(all, ",\"connectedTeeTypes\":{},"));
	free(all);
}

static const char JOB_JSON[] =
	"{\"id\":\"job_abc\",\"workloadId\":7,\"workload\":\"iris\","
	"\"confidential\":true,\"mode\":\"MODE_TEE\",\"encryptionKeyId\":\"ck_abc\","
	"\"state\":\"JOB_STATE_COMPLETED\",\"attempts\":1,"
	"\"createdAt\":\"2026-01-02T03:04:05Z\","
	"\"startedAt\":\"2026-01-02T03:04:06.500Z\","
	"\"completedAt\":\"2026-01-02T03:04:07.123456Z\","
	"\"durationMs\":\"1234\",\"creditsUsed\":0.1,"
	"\"output\":{\"encrypted\":true,\"keyId\":\"ck_abc\",\"ciphertext\":\"AAEC/w==\"},"
	"\"deadline\":\"2026-01-02T04:04:05.000000001Z\"}";

static void test_job(void)
{
	static uint8_t ct[] = { 0, 1, 2, 0xff };
	Google__Protobuf__Timestamp created = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp started = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp completed = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp deadline = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Atoll__V1__JobOutput output = ATOLL__V1__JOB_OUTPUT__INIT;
	Atoll__V1__Job job = ATOLL__V1__JOB__INIT;
	created.seconds = T0;
	started.seconds = T0 + 1;
	started.nanos = 500000000;
	completed.seconds = T0 + 2;
	completed.nanos = 123456000;
	deadline.seconds = T0 + 3600;
	deadline.nanos = 1;
	output.encrypted = 1;
	output.key_id = "ck_abc";
	output.ciphertext = (ProtobufCBinaryData){ sizeof ct, ct };
	job.id = "job_abc";
	job.workload_id = 7;
	job.workload = "iris";
	job.confidential = 1;
	job.mode = ATOLL__V1__MODE__MODE_TEE;
	job.encryption_key_id = "ck_abc";
	job.state = ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
	job.attempts = 1;
	job.created_at = &created;
	job.started_at = &started;
	job.completed_at = &completed;
	job.duration_ms = 1234;
	job.credits_used = 0.1;
	job.output = &output;
	job.deadline = &deadline;

	CHECK_WRITE(&job, 0, JOB_JSON);
	CHECK_ROUND_TRIP(JOB, JOB_JSON);

	Atoll__V1__Job *j = (Atoll__V1__Job *)read_json(JOB, JOB_JSON, 0);
	CHECK(j != NULL);
	if (j) {
		CHECK_STR(j->id, "job_abc");
		CHECK_INT(j->mode, ATOLL__V1__MODE__MODE_TEE);
		CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
		CHECK(j->created_at && j->created_at->seconds == T0 && j->created_at->nanos == 0);
		CHECK(j->completed_at && j->completed_at->nanos == 123456000);
		CHECK(j->deadline && j->deadline->seconds == T0 + 3600 && j->deadline->nanos == 1);
		CHECK_INT(j->duration_ms, 1234);
		CHECK(j->credits_used == 0.1);
		CHECK(j->output && j->output->encrypted && bytes_are(j->output->ciphertext, ct, 4));
		/* Original names carry the same message. */
		char *orig = write_json(&j->base, PBJSON_ORIGINAL_NAMES);
		CHECK(orig && strstr(orig, "\"encryption_key_id\":\"ck_abc\"") != NULL);
		if (orig)
			CHECK_REWRITE(JOB, orig, 0, 0, JOB_JSON);
		free(orig);
		free_msg(j);
	}

	/* A number without a name stays a number. */
	job.mode = 9;
	job.output = NULL;
	job.created_at = job.started_at = job.completed_at = job.deadline = NULL;
	CHECK_WRITE(&job, PBJSON_ORIGINAL_NAMES,
		    "{\"id\":\"job_abc\",\"workload_id\":7,\"workload\":\"iris\","
		    "\"confidential\":true,\"mode\":9,\"encryption_key_id\":\"ck_abc\","
		    "\"state\":\"JOB_STATE_COMPLETED\",\"attempts\":1,"
		    "\"duration_ms\":\"1234\",\"credits_used\":0.1}");
	CHECK_ROUND_TRIP(JOB, "{\"mode\":9}");

	/* Timestamps: any offset in, UTC out; the ends of the range. */
	CHECK_REWRITE(JOB, "{\"createdAt\":\"2024-02-29T12:00:00.25-05:30\"}", 0, 0,
		      "{\"createdAt\":\"2024-02-29T17:30:00.250Z\"}");
	CHECK_REWRITE(JOB, "{\"createdAt\":\"2026-01-02t03:04:05+00:00\"}", 0, 0,
		      "{\"createdAt\":\"2026-01-02T03:04:05Z\"}");
	CHECK_REWRITE(JOB, "{\"createdAt\":\"1970-01-01T00:00:00.000Z\"}", 0, 0,
		      "{\"createdAt\":\"1970-01-01T00:00:00Z\"}");
	CHECK_REWRITE(JOB, "{\"createdAt\":\"1969-12-31T23:59:59.999999999Z\"}", 0, 0,
		      "{\"createdAt\":\"1969-12-31T23:59:59.999999999Z\"}");
	CHECK_ROUND_TRIP(JOB, "{\"createdAt\":\"0001-01-01T00:00:00Z\"}");
	CHECK_ROUND_TRIP(JOB, "{\"createdAt\":\"9999-12-31T23:59:59.999999999Z\"}");
	CHECK_REWRITE(JOB, "{\"createdAt\":\"2000-03-01T00:30:00+01:00\"}", 0, 0,
		      "{\"createdAt\":\"2000-02-29T23:30:00Z\"}");

	/* Fields at their default, but no unset messages. (The exact list
	 * is checked on the test-only Scalars: Job may grow fields.) */
	Atoll__V1__Job empty = ATOLL__V1__JOB__INIT;
	char *all = write_json(&empty.base, PBJSON_EMIT_DEFAULTS | PBJSON_ORIGINAL_NAMES);
	CHECK(starts_with(all, "{\"id\":\"\",\"workload_id\":0,\"workload\":\"\","
				"\"confidential\":false,\"mode\":\"MODE_UNSPECIFIED\","));
	CHECK(all && strstr(all, ",\"duration_ms\":\"0\",\"credits_used\":0"));
	CHECK(all && !strstr(all, "created_at") && !strstr(all, "output"));
	free(all);
}

static void test_job_input(void)
{
	double features[] = { 1.5, -0.0, 1e-7, 5e-324, 1e21, NAN, INFINITY, -INFINITY };
	Atoll__V1__JobInput__RecordEntry r1 = ATOLL__V1__JOB_INPUT__RECORD_ENTRY__INIT;
	Atoll__V1__JobInput__RecordEntry r2 = ATOLL__V1__JOB_INPUT__RECORD_ENTRY__INIT;
	Atoll__V1__JobInput__RecordEntry *record[] = { &r1, &r2 };
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	r1.key = "mean radius";
	r1.value = 17.99;
	r2.key = "b";
	r2.value = 0.1;
	in.prompt = "Hello \"q\"\n\x01 \xc3\xa9";
	in.n_features = sizeof features / sizeof features[0];
	in.features = features;
	in.n_record = 2;
	in.record = record;
	in.data = (ProtobufCBinaryData){ 2, (uint8_t *)"hi" };

	static const char want[] =
		"{\"prompt\":\"Hello \\\"q\\\"\\n\\u0001 \xc3\xa9\","
		"\"features\":[1.5,-0,1e-7,5e-324,1e+21,\"NaN\",\"Infinity\",\"-Infinity\"],"
		"\"record\":{\"mean radius\":17.99,\"b\":0.1},\"data\":\"aGk=\"}";
	CHECK_WRITE(&in, 0, want);
	CHECK_ROUND_TRIP(&atoll__v1__job_input__descriptor, want);

	Atoll__V1__JobInput *j = (Atoll__V1__JobInput *)read_json(
		&atoll__v1__job_input__descriptor, want, 0);
	CHECK(j != NULL);
	if (j) {
		CHECK_INT(j->n_features, 8);
		CHECK(j->features[1] == 0 && signbit(j->features[1]));
		CHECK(j->features[3] == 5e-324);
		CHECK(isnan(j->features[5]));
		CHECK(isinf(j->features[7]) && j->features[7] < 0);
		CHECK_INT(j->n_record, 2);
		CHECK_STR(j->record[0]->key, "mean radius");
		CHECK(j->record[0]->value == 17.99);
		CHECK_STR(j->prompt, "Hello \"q\"\n\x01 \xc3\xa9");
		free_msg(j);
	}
	/* Numbers as strings, and the other spellings of bytes. */
	CHECK_REWRITE(&atoll__v1__job_input__descriptor,
		      "{\"features\":[\"1.5\",\"-2e3\",\"NaN\"],\"data\":\"aGk\"}", 0, 0,
		      "{\"features\":[1.5,-2000,\"NaN\"],\"data\":\"aGk=\"}");
	/* Number layout follows JavaScript: plain from 1e-7 to 1e21. */
	CHECK_REWRITE(&atoll__v1__job_input__descriptor,
		      "{\"features\":[100,1e-3,1e-6,1.5e-7,123456789012345680000,1e21,"
		      "1.7976931348623157e308,-0.000001,-12.5e1,2.5e-5]}",
		      0, 0,
		      "{\"features\":[100,0.001,0.000001,1.5e-7,123456789012345680000,1e+21,"
		      "1.7976931348623157e+308,-0.000001,-125,0.000025]}");
	CHECK_REWRITE(&atoll__v1__job_input__descriptor,
		      "{\"ciphertext\":\"-_8\",\"data\":\"+/8=\"}", 0, 0,
		      "{\"data\":\"+/8=\",\"ciphertext\":\"+/8=\"}");
	CHECK_REWRITE(&atoll__v1__job_input__descriptor,
		      "{\"ciphertext\":\"\",\"data\":\"AA\"}", 0, 0, "{\"data\":\"AA==\"}");
}

static void test_oneof(void)
{
	const ProtobufCMessageDescriptor *d = &atoll__v1__job_event__descriptor;
	Atoll__V1__Job job = ATOLL__V1__JOB__INIT;
	Atoll__V1__OutputChunk chunk = ATOLL__V1__OUTPUT_CHUNK__INIT;
	Atoll__V1__JobEvent ev = ATOLL__V1__JOB_EVENT__INIT;

	CHECK_WRITE(&ev, 0, "{}");
	CHECK_WRITE(&ev, PBJSON_EMIT_DEFAULTS, "{}");
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_JOB;
	ev.job = &job;
	CHECK_WRITE(&ev, 0, "{\"job\":{}}");
	ev.event_case = ATOLL__V1__JOB_EVENT__EVENT_CHUNK;
	ev.chunk = &chunk;
	chunk.seq = UINT64_MAX;
	chunk.data = (ProtobufCBinaryData){ 2, (uint8_t *)"\x01\x02" };
	CHECK_WRITE(&ev, 0, "{\"chunk\":{\"seq\":\"18446744073709551615\",\"data\":\"AQI=\"}}");

	Atoll__V1__JobEvent *e = (Atoll__V1__JobEvent *)read_json(d, "{\"job\":{}}", 0);
	CHECK(e && e->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB && e->job);
	free_msg(e);
	e = (Atoll__V1__JobEvent *)read_json(d, "{\"job\":null,\"chunk\":{\"seq\":\"7\"}}", 0);
	CHECK(e && e->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK && e->chunk &&
	      e->chunk->seq == 7);
	free_msg(e);
	CHECK_ROUND_TRIP(d, "{\"chunk\":{\"seq\":\"18446744073709551615\",\"data\":\"AQI=\"}}");

	/* A oneof member at its default is still the set member. */
	CHECK_ROUND_TRIP(SCALARS, "{\"name\":\"\"}");
	CHECK_ROUND_TRIP(SCALARS, "{\"number\":\"0\"}");
	CHECK_ROUND_TRIP(SCALARS, "{\"nested\":{}}");
}

static void test_seed_bodies(void)
{
	Atoll__V1__SubmitJobRequest *r = (Atoll__V1__SubmitJobRequest *)read_json(
		SUBMIT,
		"{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"ck_abc\",\n"
		" \"input\": {\"encrypted\": true, \"key_id\": \"ck_abc\", \"ciphertext\": \"AAEC\"}}",
		0);
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->workload_id, 42);
		CHECK(r->confidential);
		CHECK_STR(r->encryption_key_id, "ck_abc");
		CHECK(r->input && r->input->encrypted);
		CHECK_STR(r->input ? r->input->key_id : NULL, "ck_abc");
		CHECK(r->input && bytes_are(r->input->ciphertext, "\x00\x01\x02", 3));
		CHECK_INT(r->mode, 0);
		free_msg(r);
	}
	r = (Atoll__V1__SubmitJobRequest *)read_json(
		SUBMIT, "{\"workload_id\": 42, \"input\": {\"prompt\": \"Hello\"}}", 0);
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->workload_id, 42);
		CHECK(!r->confidential);
		CHECK_STR(r->input ? r->input->prompt : NULL, "Hello");
		free_msg(r);
	}
	r = (Atoll__V1__SubmitJobRequest *)read_json(
		SUBMIT, "{\"workloadId\": \"42\", \"mode\": \"MODE_TEE\"}", 0);
	CHECK(r && r->workload_id == 42 && r->mode == ATOLL__V1__MODE__MODE_TEE && !r->input);
	free_msg(r);
	r = (Atoll__V1__SubmitJobRequest *)read_json(SUBMIT, "{\"mode\": 2}", 0);
	CHECK(r && r->workload_id == 0 && r->mode == ATOLL__V1__MODE__MODE_TEE);
	free_msg(r);
	/* null is absence, for scalars and messages alike. */
	CHECK_REWRITE(SUBMIT, "{\"workload_id\": null, \"input\": null, \"mode\": null}", 0, 0,
		      "{}");
}

static const char SCALARS_JSON[] =
	"{\"i32\":-5,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
	"\"u64\":\"18446744073709551615\",\"s32\":-2147483648,\"s64\":\"-123\","
	"\"f32\":4000000000,\"f64\":\"1\",\"sf32\":-7,\"sf64\":\"9223372036854775807\","
	"\"fl\":0.1,\"db\":-2.5e-300,\"flag\":true,\"text\":\"h\xc3\xa9llo \\u0001\","
	"\"blob\":\"+/8=\",\"color\":\"COLOR_GREEN\","
	"\"fls\":[1.5,3.4028235e+38,\"NaN\",1e-45],\"s64s\":[\"-1\",\"0\",\"1\"],"
	"\"colors\":[\"COLOR_RED\",7],\"texts\":[\"\",\"\"],"
	"\"byId\":{\"-1\":\"a\",\"7\":\"b\"},"
	"\"byFlag\":{\"true\":{\"i32\":1},\"false\":{}},"
	"\"byU64\":{\"18446744073709551615\":\"COLOR_RED\"},"
	"\"at\":{\"-5\":\"1970-01-01T00:00:00Z\"},"
	"\"child\":{\"text\":\"c\"},"
	"\"times\":[\"0001-01-01T00:00:00Z\",\"9999-12-31T23:59:59.999999999Z\"],"
	"\"number\":\"12\",\"children\":[{},{\"flag\":true}]}";

static void test_scalars(void)
{
	CHECK_ROUND_TRIP(SCALARS, SCALARS_JSON);
	Pbjson__Test__Scalars *s = (Pbjson__Test__Scalars *)read_json(SCALARS, SCALARS_JSON, 0);
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->i64, INT64_MIN);
		CHECK(s->u64 == UINT64_MAX);
		CHECK_INT(s->s32, INT32_MIN);
		CHECK(s->f32 == 4000000000u);
		CHECK_INT(s->sf64, INT64_MAX);
		CHECK(s->fl == 0.1f);
		CHECK(s->fls[1] == FLT_MAX);
		CHECK(isnan(s->fls[2]));
		CHECK_INT(s->colors[1], 7);
		CHECK_INT(s->n_by_flag, 2);
		CHECK(s->by_flag[0]->key && s->by_flag[0]->value && s->by_flag[0]->value->i32 == 1);
		CHECK_INT(s->by_id[0]->key, -1);
		CHECK_INT(s->at[0]->key, -5);
		CHECK_INT(s->pick_case, PBJSON__TEST__SCALARS__PICK_NUMBER);
		CHECK_INT(s->number, 12);
		CHECK_INT(s->times[0]->seconds, INT64_C(-62135596800));
		free_msg(s);
	}

	/* Integer spellings: strings, exponents, integral fractions, -0. */
	CHECK_REWRITE(SCALARS,
		      "{\"i32\":\"-2147483648\",\"i64\":1e18,\"u32\":\"4.0e1\",\"u64\":1.0,"
		      "\"s32\":-0,\"s64\":\"123000e-3\",\"f32\":\"0.0e5\",\"f64\":1E+1,"
		      "\"sf32\":2147483647,\"sf64\":\"-9223372036854775808\"}",
		      0, 0,
		      "{\"i32\":-2147483648,\"i64\":\"1000000000000000000\",\"u32\":40,"
		      "\"u64\":\"1\",\"s64\":\"123\",\"f64\":\"10\",\"sf32\":2147483647,"
		      "\"sf64\":\"-9223372036854775808\"}");
	CHECK_REWRITE(SCALARS,
		      "{\"u64\":\"1.8446744073709551615e19\",\"i64\":\"-0.00e-99999999999999999999\"}",
		      0, 0, "{\"u64\":\"18446744073709551615\"}");
	/* Floats: rounded to float before the range check; underflow is 0. */
	CHECK_REWRITE(SCALARS, "{\"fl\":3.4028235e38,\"fls\":[1e-50,\"-Infinity\",-1e-45]}",
		      0, 0, "{\"fl\":3.4028235e+38,\"fls\":[0,\"-Infinity\",-1e-45]}");
	CHECK_REWRITE(SCALARS, "{\"db\":1.7976931348623157e308,\"fl\":0.30000001192092896}",
		      0, 0, "{\"fl\":0.3,\"db\":1.7976931348623157e+308}");
	/* Enums by number, colors and map values included. */
	CHECK_REWRITE(SCALARS, "{\"color\":2,\"colors\":[0,1,-3],\"byU64\":{\"0\":1}}", 0, 0,
		      "{\"color\":\"COLOR_GREEN\",\"colors\":[\"COLOR_UNSPECIFIED\","
		      "\"COLOR_RED\",-3],\"byU64\":{\"0\":\"COLOR_RED\"}}");
	/* Original and JSON names mix freely; maps of messages and Timestamps. */
	CHECK_REWRITE(SCALARS,
		      "{\"by_flag\":{\"false\":{\"by_id\":{\"3\":\"x\"}}},"
		      "\"at\":{\"9\":\"2026-01-02T03:04:05.5+01:00\"},\"opt\":1}",
		      PBJSON_IGNORE_UNKNOWN, PBJSON_ORIGINAL_NAMES,
		      "{\"by_flag\":{\"false\":{\"by_id\":{\"3\":\"x\"}}},"
		      "\"at\":{\"9\":\"2026-01-02T02:04:05.500Z\"}}");

	CHECK_WRITE(&(Pbjson__Test__Scalars)PBJSON__TEST__SCALARS__INIT,
		    PBJSON_EMIT_DEFAULTS,
		    "{\"i32\":0,\"i64\":\"0\",\"u32\":0,\"u64\":\"0\",\"s32\":0,\"s64\":\"0\","
		    "\"f32\":0,\"f64\":\"0\",\"sf32\":0,\"sf64\":\"0\",\"fl\":0,\"db\":0,"
		    "\"flag\":false,\"text\":\"\",\"blob\":\"\",\"color\":\"COLOR_UNSPECIFIED\","
		    "\"fls\":[],\"s64s\":[],\"colors\":[],\"texts\":[],\"byId\":{},"
		    "\"byFlag\":{},\"byU64\":{},\"at\":{},\"times\":[],\"children\":[]}");
	CHECK_REWRITE(SCALARS,
		      "{\"i32\":1,\"texts\":[\"a\",\"b\"],\"byFlag\":{\"true\":{}},\"child\":{},"
		      "\"children\":[]}",
		      0, PBJSON_PRETTY,
		      "{\n"
		      "  \"i32\": 1,\n"
		      "  \"texts\": [\n"
		      "    \"a\",\n"
		      "    \"b\"\n"
		      "  ],\n"
		      "  \"byFlag\": {\n"
		      "    \"true\": {}\n"
		      "  },\n"
		      "  \"child\": {}\n"
		      "}\n");

	/* Unknown members and enum names are skipped when asked to be. */
	CHECK_REWRITE(SCALARS,
		      "{\"bogus\":[1,{\"x\":[[]]}],\"color\":\"COLOR_BLUE\","
		      "\"colors\":[\"COLOR_RED\",\"COLOR_BLUE\"],"
		      "\"byU64\":{\"1\":\"COLOR_BLUE\",\"2\":\"COLOR_GREEN\"},"
		      "\"child\":{\"Bogus\":null}}",
		      PBJSON_IGNORE_UNKNOWN, 0,
		      "{\"colors\":[\"COLOR_RED\"],\"byU64\":{\"2\":\"COLOR_GREEN\"},\"child\":{}}");
}

static void test_legacy(void)
{
	const ProtobufCMessageDescriptor *d = &pbjson__test__legacy__descriptor;
	Pbjson__Test__Legacy l = PBJSON__TEST__LEGACY__INIT;
	l.id = 3;
	CHECK_WRITE(&l, 0, "{\"id\":3}");
	CHECK_WRITE(&l, PBJSON_EMIT_DEFAULTS, "{\"id\":3}");
	l.id = 0;
	CHECK_WRITE(&l, 0, "{\"id\":0}");
	/* Presence survives a default value. */
	CHECK_ROUND_TRIP(d, "{\"id\":3,\"name\":\"anon\",\"count\":0,\"blob\":\"\"}");
	Pbjson__Test__Legacy *m = (Pbjson__Test__Legacy *)read_json(d, "{\"id\":1}", 0);
	CHECK(m && m->id == 1 && !m->has_count && !m->has_blob && m->name &&
	      strcmp(m->name, "anon") == 0);
	free_msg(m);
	CHECK_ERROR(d, "{\"name\":\"x\"}", "missing required field \"id\"");
	CHECK_ERROR(d, "{\"id\":null}", "missing required field \"id\"");
	CHECK_ERROR(d, "{\"id\":1,\"next\":{\"next\":{}}}", "next.next: missing required field \"id\"");
}

static void test_errors(void)
{
	const ProtobufCMessageDescriptor *stats = &atoll__v1__stats__descriptor;
	const ProtobufCMessageDescriptor *list = &atoll__v1__list_jobs_response__descriptor;
	const ProtobufCMessageDescriptor *event = &atoll__v1__job_event__descriptor;

	/* Wrong JSON types. */
	CHECK_ERROR(SUBMIT, "{\"input\": {\"features\": [1, 2, 3, \"x\"]}}",
		    "input.features[3]: expected a number, found string");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": \" 42\"}",
		    "workload_id: expected a number, found string");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": true}", "workload_id: expected a number, found boolean");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": [42]}", "workload_id: expected a number, found array");
	CHECK_ERROR(SUBMIT, "{\"confidential\": \"true\"}",
		    "confidential: expected a boolean, found string");
	CHECK_ERROR(SUBMIT, "{\"confidential\": 1}", "confidential: expected a boolean, found number");
	CHECK_ERROR(SUBMIT, "{\"encryption_key_id\": 5}",
		    "encryption_key_id: expected a string, found number");
	CHECK_ERROR(SUBMIT, "{\"encryption_key_id\": \"a\\u0000b\"}",
		    "encryption_key_id: string contains a NUL character");
	CHECK_ERROR(SUBMIT, "{\"input\": {\"ciphertext\": 5}}",
		    "input.ciphertext: expected a base64 string, found number");
	CHECK_ERROR(SUBMIT, "{\"input\": \"Hello\"}", "input: expected an object, found string");
	CHECK_ERROR(SUBMIT, "[]", "expected an object, found array");
	CHECK_ERROR(SUBMIT, "null", "expected an object, found null");
	CHECK_ERROR(JOB, "{\"creditsUsed\": \"nan\"}", "creditsUsed: expected a number, found string");
	CHECK_ERROR(JOB, "{\"creditsUsed\": \"NaN \"}", "creditsUsed: expected a number, found string");
	CHECK_ERROR(JOB, "{\"creditsUsed\": \"NaN\\u0000\"}",
		    "creditsUsed: expected a number, found string");
	CHECK_ERROR(JOB, "{\"output\": []}", "output: expected an object, found array");
	CHECK_ERROR(stats, "{\"tee_types\": []}", "tee_types: expected an object, found array");
	CHECK_ERROR(stats, "{\"tee_types\": {\"sgx\": null}}",
		    "tee_types[\"sgx\"]: expected a number, found null");
	CHECK_ERROR(stats, "{\"tee_types\": {\"a\\\"b\": \"x\"}}",
		    "tee_types[\"a\\\"b\"]: expected a number, found string");
	CHECK_ERROR(list, "{\"jobs\": {}}", "jobs: expected an array, found object");
	CHECK_ERROR(list, "{\"jobs\": [{}, null]}", "jobs[1]: expected an object, found null");
	CHECK_ERROR(list, "{\"jobs\": [{\"output\": {\"ciphertext\": \"%\"}}]}",
		    "jobs[0].output.ciphertext: invalid base64");
	CHECK_ERROR(SCALARS, "{\"children\": [{}, {\"child\": {\"fls\": [1, \"Infinity\", \"inf\"]}}]}",
		    "children[1].child.fls[2]: expected a number, found string");
	CHECK_ERROR(SCALARS, "{\"colors\": [\"COLOR_RED\", null]}",
		    "colors[1]: expected an enum name or number, found null");
	CHECK_ERROR(SCALARS, "{\"byFlag\": {\"true\": {\"flag\": 1}}}",
		    "byFlag[\"true\"].flag: expected a boolean, found number");

	/* Integers out of range or not integers. */
	CHECK_ERROR(SUBMIT, "{\"workload_id\": 5000000000}",
		    "workload_id: 5000000000 is out of range for uint32");
	CHECK_ERROR(SUBMIT, "{\"workloadId\": \"5000000000\"}",
		    "workloadId: 5000000000 is out of range for uint32");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": -1}", "workload_id: -1 is out of range for uint32");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": 1.5}", "workload_id: 1.5 is not an integer");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": \"1e-1\"}", "workload_id: 1e-1 is not an integer");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": 1e99999999999999999999}",
		    "workload_id: 1e99999999999999999999 is out of range for uint32");
	CHECK_ERROR(JOB, "{\"durationMs\": \"18446744073709551616\"}",
		    "durationMs: 18446744073709551616 is out of range for uint64");
	CHECK_ERROR(JOB, "{\"creditsUsed\": 1e400}", "creditsUsed: 1e400 is out of range for double");
	CHECK_ERROR(SCALARS, "{\"i32\": 2147483648}", "i32: 2147483648 is out of range for int32");
	CHECK_ERROR(SCALARS, "{\"s32\": \"-2147483649\"}", "s32: -2147483649 is out of range for sint32");
	CHECK_ERROR(SCALARS, "{\"sf32\": 2.147483648e9}",
		    "sf32: 2.147483648e9 is out of range for sfixed32");
	CHECK_ERROR(SCALARS, "{\"i64\": \"9223372036854775808\"}",
		    "i64: 9223372036854775808 is out of range for int64");
	CHECK_ERROR(SCALARS, "{\"sf64\": -9223372036854775809}",
		    "sf64: -9223372036854775809 is out of range for sfixed64");
	CHECK_ERROR(SCALARS, "{\"f32\": -0.5}", "f32: -0.5 is not an integer");
	CHECK_ERROR(SCALARS, "{\"fl\": 3.5e38}", "fl: 3.5e38 is out of range for float");
	CHECK_ERROR(SCALARS, "{\"u64\": 123456789012345678901234567890123456789012345678901234567890}",
		    "u64: 123456789012345678901234567890123456789012345678... "
		    "is out of range for uint64");

	/* Enums. */
	CHECK_ERROR(SUBMIT, "{\"mode\": \"MODE_FOO\"}",
		    "mode: unknown enum value \"MODE_FOO\" for atoll.v1.Mode");
	CHECK_ERROR(SUBMIT, "{\"mode\": \"2\"}", "mode: unknown enum value \"2\" for atoll.v1.Mode");
	CHECK_ERROR(SUBMIT, "{\"mode\": 2147483648}", "mode: 2147483648 is out of range for enum");
	CHECK_ERROR(SUBMIT, "{\"mode\": 1.5}", "mode: 1.5 is not an integer");
	CHECK_ERROR(SUBMIT, "{\"mode\": true}", "mode: expected an enum name or number, found boolean");

	/* Base64. */
	static const char *const bad_b64[] = { "AA*C", "A", "AA=", "AAE==", "AB==",
					       "AA==AA==", "AAEC\\n", "AA===", "=" };
	for (size_t i = 0; i < sizeof bad_b64 / sizeof bad_b64[0]; i++) {
		char json[64];
		snprintf(json, sizeof json, "{\"input\": {\"data\": \"%s\"}}", bad_b64[i]);
		check_error(__LINE__, SUBMIT, json, 0, "input.data: invalid base64");
	}

	/* Names. */
	CHECK_ERROR(SUBMIT, "{\"workload\": 1}", "unknown field \"workload\"");
	CHECK_ERROR(SUBMIT, "{\"input\": {\"promt\": \"x\"}}", "input: unknown field \"promt\"");
	CHECK_ERROR(SUBMIT, "{\"Workload_id\": 1}", "unknown field \"Workload_id\"");
	CHECK_ERROR(SUBMIT, "{\"workloadid\": 1}", "unknown field \"workloadid\"");
	CHECK_ERROR(SUBMIT, "{\"a\\\"b\\n\": 1}", "unknown field \"a\\\"b\\n\"");
	CHECK_ERROR(SUBMIT,
		    "{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": 1}",
		    "unknown field \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": 1, \"workloadId\": 2}",
		    "\"workload_id\" and \"workloadId\" name the same field");
	CHECK_ERROR(SUBMIT, "{\"input\": {\"keyId\": null, \"key_id\": \"x\"}}",
		    "input: \"keyId\" and \"key_id\" name the same field");
	CHECK_ERROR(event, "{\"job\": {}, \"chunk\": {}}",
		    "\"job\" and \"chunk\" are members of the same oneof");
	CHECK_ERROR(SCALARS, "{\"child\": {\"name\": \"a\", \"number\": 1}}",
		    "child: \"name\" and \"number\" are members of the same oneof");

	/* Timestamps. */
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-02-30T00:00:00Z\"}",
		    "createdAt: invalid timestamp \"2026-02-30T00:00:00Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2025-02-29T00:00:00Z\"}",
		    "createdAt: invalid timestamp \"2025-02-29T00:00:00Z\"");
	CHECK_ERROR(JOB, "{\"created_at\": \"2026-01-02 03:04:05Z\"}",
		    "created_at: invalid timestamp \"2026-01-02 03:04:05Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T03:04:05\"}",
		    "createdAt: invalid timestamp \"2026-01-02T03:04:05\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T03:04:05.1234567890Z\"}",
		    "createdAt: invalid timestamp \"2026-01-02T03:04:05.1234567890Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T03:04:05.Z\"}",
		    "createdAt: invalid timestamp \"2026-01-02T03:04:05.Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T24:00:00Z\"}",
		    "createdAt: invalid timestamp \"2026-01-02T24:00:00Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T23:59:60Z\"}",
		    "createdAt: invalid timestamp \"2026-01-02T23:59:60Z\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T03:04:05+1:00\"}",
		    "createdAt: invalid timestamp \"2026-01-02T03:04:05+1:00\"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"2026-01-02T03:04:05Z \"}",
		    "createdAt: invalid timestamp \"2026-01-02T03:04:05Z \"");
	CHECK_ERROR(JOB, "{\"createdAt\": \"0001-01-01T00:00:00+00:01\"}",
		    "createdAt: timestamp \"0001-01-01T00:00:00+00:01\" is out of range");
	CHECK_ERROR(JOB, "{\"createdAt\": \"9999-12-31T23:59:59-00:01\"}",
		    "createdAt: timestamp \"9999-12-31T23:59:59-00:01\" is out of range");
	CHECK_ERROR(JOB, "{\"createdAt\": \"0000-12-31T23:59:59Z\"}",
		    "createdAt: timestamp \"0000-12-31T23:59:59Z\" is out of range");
	CHECK_ERROR(JOB, "{\"createdAt\": 1767323045}",
		    "createdAt: expected an RFC 3339 timestamp string, found number");
	CHECK_ERROR(JOB, "{\"createdAt\": {\"seconds\": 1}}",
		    "createdAt: expected an RFC 3339 timestamp string, found object");
	CHECK_ERROR(SCALARS, "{\"at\": {\"1\": \"x\"}}", "at[\"1\"]: invalid timestamp \"x\"");

	/* Map keys. */
	CHECK_ERROR(SCALARS, "{\"byId\": {\"x\": \"a\"}}", "byId[\"x\"]: invalid map key for int32");
	CHECK_ERROR(SCALARS, "{\"byId\": {\"1.0\": \"a\"}}", "byId[\"1.0\"]: invalid map key for int32");
	CHECK_ERROR(SCALARS, "{\"byId\": {\"\": \"a\"}}", "byId[\"\"]: invalid map key for int32");
	CHECK_ERROR(SCALARS, "{\"byId\": {\"2147483648\": \"a\"}}",
		    "byId[\"2147483648\"]: map key out of range for int32");
	CHECK_ERROR(SCALARS, "{\"byU64\": {\"-1\": 1}}", "byU64[\"-1\"]: map key out of range for uint64");
	CHECK_ERROR(SCALARS, "{\"byFlag\": {\"yes\": {}}}", "byFlag[\"yes\"]: invalid map key for bool");

	/* JSON syntax: the parser's position. */
	CHECK_ERROR(SUBMIT, "", "line 1 column 1: value expected");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": }", "line 1 column 17: value expected");
	CHECK_ERROR(SUBMIT, "{\"workload_id\": 4", "line 1 column 18: ',' or '}' expected");
	CHECK_ERROR(SUBMIT, "{\"a\":1,\"a\":2}", "line 1 column 8: duplicate key");
	CHECK_ERROR(SUBMIT, "{\n  \"input\": {\"prompt\": \"x}\n}", "line 2 column 26: control character in string");
	CHECK_ERROR(SUBMIT, "{} {}", "line 1 column 4: trailing characters after JSON value");

	/* Error buffers: cut to size, or absent. */
	ProtobufCMessage *m = NULL;
	char small[8];
	CHECK_INT(pbjson_read(SUBMIT, "{\"x\":1}", 7, 0, &m, small, sizeof small), -EINVAL);
	CHECK_STR(small, "unknown");
	CHECK_INT(pbjson_read(SUBMIT, "{\"x\":1}", 7, 0, &m, NULL, 0), -EINVAL);
	CHECK_INT(pbjson_read(SUBMIT, "{", 1, 0, &m, small, 1), -EINVAL);
	CHECK_STR(small, "");
	CHECK(m == NULL);
	/* Only len bytes are read: the rest of the text is not JSON. */
	CHECK_INT(pbjson_read(SUBMIT, "{\"mode\":2}garbage", 10, 0, &m, small, sizeof small), 0);
	CHECK(m && ((Atoll__V1__SubmitJobRequest *)m)->mode == 2);
	free_msg(m);
	m = NULL;
	CHECK_INT(pbjson_read(NULL, "{}", 2, 0, &m, small, sizeof small), -EINVAL);
	CHECK_INT(pbjson_read(SUBMIT, NULL, 2, 0, &m, small, sizeof small), -EINVAL);
	CHECK(m == NULL);
}

/* {"child":{"child":...{}...}} with n messages in all. */
static char *nested_json(int n)
{
	struct buf b = { 0 };
	for (int i = 1; i < n; i++)
		buf_puts(&b, "{\"child\":");
	buf_puts(&b, "{}");
	for (int i = 1; i < n; i++)
		buf_putc(&b, '}');
	return buf_cstr(&b) ? (char *)buf_steal(&b, NULL) : NULL;
}

static void test_nesting(void)
{
	char *ok = nested_json(PBJSON_MAX_DEPTH);
	char *deep = nested_json(PBJSON_MAX_DEPTH + 1);
	CHECK(ok && deep);
	if (!ok || !deep)
		goto free_texts;
	ProtobufCMessage *m = read_json(SCALARS, ok, 0);
	CHECK(m != NULL);
	char *back = m ? write_json(m, 0) : NULL;
	CHECK_STR(back, ok);
	free(back);

	/* The writer refuses one more level. */
	Pbjson__Test__Scalars top = PBJSON__TEST__SCALARS__INIT;
	top.child = (Pbjson__Test__Scalars *)m;
	struct buf out = { 0 };
	buf_puts(&out, "keep");
	CHECK_INT(pbjson_write(&top.base, 0, &out), -E2BIG);
	CHECK(out.len == 4 && memcmp(out.data, "keep", 4) == 0);
	buf_free(&out);
	free_msg(m);

	struct buf want = { 0 };
	for (int i = 0; i < PBJSON_MAX_DEPTH; i++)
		buf_puts(&want, i ? ".child" : "child");
	buf_puts(&want, ": messages nested deeper than 100");
	check_error(__LINE__, SCALARS, deep, 0, buf_cstr(&want));
	buf_free(&want);

	/* Deeper JSON stops in the parser, even inside an ignored member. */
	struct buf arr = { 0 };
	buf_puts(&arr, "{\"skip\":");
	for (int i = 0; i < 300; i++)
		buf_putc(&arr, '[');
	check_error(__LINE__, SUBMIT, buf_cstr(&arr), PBJSON_IGNORE_UNKNOWN,
		    "line 1 column 264: nesting too deep");
	buf_free(&arr);
free_texts:
	free(ok);
	free(deep);
}

static void test_write_refusals(void)
{
	struct buf out = { 0 };
	buf_puts(&out, "prefix");

	Pbjson__Test__Scalars s = PBJSON__TEST__SCALARS__INIT;
	s.text = "bad \xff utf-8";
	CHECK_INT(pbjson_write(&s.base, 0, &out), -EILSEQ);
	s.text = "\xed\xa0\x80"; /* a UTF-16 surrogate */
	CHECK_INT(pbjson_write(&s.base, 0, &out), -EILSEQ);
	s.text = "\xc0\xaf"; /* overlong '/' */
	CHECK_INT(pbjson_write(&s.base, 0, &out), -EILSEQ);
	s.text = "ok";

	Pbjson__Test__Scalars__ByIdEntry e = PBJSON__TEST__SCALARS__BY_ID_ENTRY__INIT;
	Pbjson__Test__Scalars__ByIdEntry *entries[] = { &e };
	e.value = "\x80";
	s.n_by_id = 1;
	s.by_id = entries;
	CHECK_INT(pbjson_write(&s.base, 0, &out), -EILSEQ);
	s.n_by_id = 0;

	Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Atoll__V1__Job job = ATOLL__V1__JOB__INIT;
	job.created_at = &t;
	t.nanos = 1000000000;
	CHECK_INT(pbjson_write(&job.base, 0, &out), -EINVAL);
	t.nanos = -1;
	CHECK_INT(pbjson_write(&job.base, 0, &out), -EINVAL);
	t.nanos = 0;
	t.seconds = INT64_C(253402300800);
	CHECK_INT(pbjson_write(&job.base, 0, &out), -EINVAL);
	t.seconds = INT64_C(-62135596801);
	CHECK_INT(pbjson_write(&job.base, 0, &out), -EINVAL);
	CHECK_INT(pbjson_write(NULL, 0, &out), -EINVAL);
	CHECK(out.len == 6 && memcmp(out.data, "prefix", 6) == 0);

	/* Success appends. */
	t.seconds = T0;
	CHECK_INT(pbjson_write(&job.base, 0, &out), 0);
	CHECK_STR(buf_cstr(&out), "prefix{\"createdAt\":\"2026-01-02T03:04:05Z\"}");
	buf_free(&out);

	/* A Timestamp as the top-level message is a string. */
	t.nanos = 5000;
	CHECK_WRITE(&t, 0, "\"2026-01-02T03:04:05.000005Z\"");
	ProtobufCMessage *m = read_json(&google__protobuf__timestamp__descriptor,
					"\"2026-01-02T03:04:05.000005Z\"", 0);
	CHECK(m && ((Google__Protobuf__Timestamp *)m)->seconds == T0 &&
	      ((Google__Protobuf__Timestamp *)m)->nanos == 5000);
	free_msg(m);
}

static void test_enum_helpers(void)
{
	const ProtobufCEnumDescriptor *mode = &atoll__v1__mode__descriptor;
	int v = -1;
	CHECK_STR(pbjson_enum_name(mode, 2), "MODE_TEE");
	CHECK(pbjson_enum_name(mode, 42) == NULL);
	CHECK_INT(pbjson_enum_value(mode, "MODE_HOMOMORPHIC", &v), 0);
	CHECK_INT(v, 3);
	CHECK_INT(pbjson_enum_value(mode, "-2147483648", &v), 0);
	CHECK_INT(v, INT32_MIN);
	CHECK_INT(pbjson_enum_value(mode, "7", &v), 0);
	CHECK_INT(v, 7);
	v = -1;
	CHECK_INT(pbjson_enum_value(mode, "2147483648", &v), -EINVAL);
	CHECK_INT(pbjson_enum_value(mode, "mode_tee", &v), -EINVAL);
	CHECK_INT(pbjson_enum_value(mode, "", &v), -EINVAL);
	CHECK_INT(pbjson_enum_value(mode, "-", &v), -EINVAL);
	CHECK_INT(v, -1);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bit patterns in every numeric field: writing, reading and
 * writing again is stable, and (without NaN payloads) the wire bytes are
 * those of the original, so number formatting loses nothing. */
static void test_random_round_trips(void)
{
	int unstable = 0, changed = 0;
	for (int i = 0; i < 3000; i++) {
		Pbjson__Test__Scalars s = PBJSON__TEST__SCALARS__INIT;
		float fls[3];
		int64_t s64s[2];
		uint64_t r = rnd();
		s.i32 = (int32_t)r;
		s.u32 = (uint32_t)(r >> 32);
		s.i64 = (int64_t)rnd();
		s.u64 = rnd();
		s.s32 = (int32_t)rnd();
		s.s64 = (int64_t)rnd();
		s.f32 = (uint32_t)rnd();
		s.f64 = rnd();
		s.sf32 = (int32_t)rnd();
		s.sf64 = (int64_t)rnd();
		uint64_t db = rnd();
		uint32_t fl = (uint32_t)rnd();
		memcpy(&s.db, &db, sizeof db);
		memcpy(&s.fl, &fl, sizeof fl);
		for (int k = 0; k < 3; k++) {
			uint32_t b = (uint32_t)rnd();
			memcpy(&fls[k], &b, sizeof b);
		}
		s64s[0] = (int64_t)rnd();
		s64s[1] = -1;
		s.n_fls = 3;
		s.fls = fls;
		s.n_s64s = 2;
		s.s64s = s64s;
		s.color = (Pbjson__Test__Color)(int32_t)rnd();

		char *a = write_json(&s.base, 0);
		ProtobufCMessage *m = a ? read_json(SCALARS, a, 0) : NULL;
		char *b = m ? write_json(m, 0) : NULL;
		if (!b || strcmp(a, b) != 0) {
			if (unstable++ == 0)
				fprintf(stderr, "unstable:\n  %s\n  %s\n", a, b ? b : "(null)");
		}
		bool nan = isnan(s.db) || isnan(s.fl);
		for (int k = 0; k < 3; k++)
			nan = nan || isnan(fls[k]);
		if (m && !nan) {
			size_t n1 = protobuf_c_message_get_packed_size(&s.base);
			size_t n2 = protobuf_c_message_get_packed_size(m);
			uint8_t *p1 = malloc(n1 + 1), *p2 = malloc(n2 + 1);
			if (p1 && p2) {
				protobuf_c_message_pack(&s.base, p1);
				protobuf_c_message_pack(m, p2);
				if (n1 != n2 || memcmp(p1, p2, n1) != 0) {
					if (changed++ == 0)
						fprintf(stderr, "changed: %s\n", a);
				}
			}
			free(p1);
			free(p2);
		}
		free(a);
		free(b);
		free_msg(m);
	}
	CHECK_INT(unstable, 0);
	CHECK_INT(changed, 0);
}

/* Significant digits of a JSON number, e.g. 3 for "-0.00125" and
 * "125000", 17 for "1.7976931348623157e+308". */
static int sig_digits(const char *s, size_t n)
{
	char d[64];
	int k = 0;
	for (size_t i = 0; i < n && s[i] != 'e' && k < 63; i++)
		if (s[i] >= '0' && s[i] <= '9' && (k > 0 || s[i] != '0'))
			d[k++] = s[i];
	while (k > 1 && d[k - 1] == '0')
		k--;
	return k ? k : 1;
}

/* The least number of digits that reads back, by trying them all. */
static int min_digits(double x, bool is_float)
{
	char s[64];
	for (int p = 1; p < 17; p++) {
		snprintf(s, sizeof s, "%.*e", p - 1, x);
		if (is_float ? strtof(s, NULL) == (float)x : strtod(s, NULL) == x)
			return p;
	}
	return 17;
}

/* Floating point output is the shortest that reads back, for random bit
 * patterns (normal and subnormal) and for short decimals. */
static void test_shortest_numbers(void)
{
	int wrong = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t r = rnd();
		double x;
		float f;
		uint32_t fb = (uint32_t)r;
		if (i % 3 == 0) {
			memcpy(&x, &r, sizeof x);
		} else if (i % 3 == 1) {
			x = (double)(int64_t)(r % 2000001 - 1000000) /
			    pow(10, (double)(r >> 40) / (double)(1 << 24) * 30 - 10);
		} else {
			/* Subnormals: small exponent field. */
			r &= ~(UINT64_C(0x7fe) << 52);
			memcpy(&x, &r, sizeof x);
			fb &= ~(UINT32_C(0xfe) << 23);
		}
		memcpy(&f, &fb, sizeof f);
		if (!isfinite(x) || !isfinite(f))
			continue;
		Pbjson__Test__Scalars s = PBJSON__TEST__SCALARS__INIT;
		s.db = x;
		s.fl = f;
		s.flag = 1; /* keeps the object non-empty when both are zero */
		char *json = write_json(&s.base, 0);
		if (!json) {
			wrong++;
			continue;
		}
		/* {"fl":F,"db":D,"flag":true}, each number present unless +0. */
		const char *pf = strstr(json, "\"fl\":"), *pd = strstr(json, "\"db\":");
		if (pf) {
			pf += 5;
			size_t n = strcspn(pf, ",}");
			if (strtof(pf, NULL) != f || sig_digits(pf, n) != min_digits(f, true)) {
				if (wrong++ < 3)
					fprintf(stderr, "float %.9g: %.*s\n", (double)f, (int)n, pf);
			}
		}
		if (pd) {
			pd += 5;
			size_t n = strcspn(pd, ",}");
			if (strtod(pd, NULL) != x || sig_digits(pd, n) != min_digits(x, false)) {
				if (wrong++ < 3)
					fprintf(stderr, "double %.17g: %.*s\n", x, (int)n, pd);
			}
		}
		free(json);
	}
	CHECK_INT(wrong, 0);
}

/* Every truncation and many byte changes of a valid document either parse
 * or fail with a message; under ASan this also shows no read goes astray. */
static void test_mutations(void)
{
	size_t len = strlen(SCALARS_JSON);
	char *copy = malloc(len);
	int bad = 0;
	if (!copy) {
		CHECK(copy != NULL);
		return;
	}
	for (size_t n = 0; n < len; n++) {
		ProtobufCMessage *m = NULL;
		char err[128];
		memcpy(copy, SCALARS_JSON, n);
		int rc = pbjson_read(SCALARS, copy, n, 0, &m, err, sizeof err);
		if (rc != -EINVAL || m || !err[0])
			bad++;
	}
	static const char subst[] = { '"', '0', '-', 'e', '.', '}', ']', '\\', 'x', '\0', ' ', 'A' };
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof subst; k++) {
			ProtobufCMessage *m = NULL;
			char err[128];
			memcpy(copy, SCALARS_JSON, len);
			copy[i] = subst[k];
			int rc = pbjson_read(SCALARS, copy, len, PBJSON_IGNORE_UNKNOWN, &m,
					     err, sizeof err);
			if (rc == 0) {
				char *back = write_json(m, PBJSON_PRETTY);
				if (!back)
					bad++;
				free(back);
				free_msg(m);
			} else if (rc != -EINVAL || !err[0]) {
				bad++;
			}
		}
	}
	CHECK_INT(bad, 0);
	free(copy);
}

int main(void)
{
	test_stats_map();
	test_job();
	test_job_input();
	test_oneof();
	test_seed_bodies();
	test_scalars();
	test_legacy();
	test_errors();
	test_nesting();
	test_write_refusals();
	test_enum_helpers();
	test_random_round_trips();
	test_shortest_numbers();
	test_mutations();
	CHECK_DONE();
}
