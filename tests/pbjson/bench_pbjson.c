/* bench_pbjson: rates of pbjson_write and pbjson_read for a finished Job
 * (strings, enums, Timestamps, a 1 KiB sealed output) and a JobInput of
 * 256 features, with protobuf-c pack/unpack of the same message beside
 * them for scale. Prints figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/jobs.pb-c.h"
#include "pbjson/pbjson.h"
#include "util/buf.h"
#include "util/timeutil.h"

static void report(const char *what, int iters, int64_t ns, size_t bytes)
{
	double s = (double)ns / 1e9;
	printf("%-28s %9.0f msg/s %8.1f MB/s (%zu bytes)\n", what, iters / s,
	       (double)bytes * iters / s / 1e6, bytes);
}

static int bench(const char *name, const ProtobufCMessage *m, int iters)
{
	struct buf json = { 0 };
	char label[64], err[256];
	if (pbjson_write(m, 0, &json) < 0)
		return 1;

	int64_t t = time_mono_ns();
	for (int i = 0; i < iters; i++) {
		struct buf b = { 0 };
		if (pbjson_write(m, 0, &b) < 0)
			return 1;
		buf_free(&b);
	}
	snprintf(label, sizeof label, "%s pbjson_write", name);
	report(label, iters, time_mono_ns() - t, json.len);

	t = time_mono_ns();
	for (int i = 0; i < iters; i++) {
		ProtobufCMessage *r = NULL;
		if (pbjson_read(m->descriptor, (const char *)json.data, json.len, 0, &r,
				err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		protobuf_c_message_free_unpacked(r, NULL);
	}
	snprintf(label, sizeof label, "%s pbjson_read", name);
	report(label, iters, time_mono_ns() - t, json.len);

	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *wire = malloc(n + 1);
	if (!wire)
		return 1;
	protobuf_c_message_pack(m, wire);
	t = time_mono_ns();
	for (int i = 0; i < iters; i++) {
		ProtobufCMessage *r = protobuf_c_message_unpack(m->descriptor, NULL, n, wire);
		if (!r)
			return 1;
		protobuf_c_message_free_unpacked(r, NULL);
	}
	snprintf(label, sizeof label, "%s protobuf-c unpack", name);
	report(label, iters, time_mono_ns() - t, n);
	free(wire);
	buf_free(&json);
	return 0;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 20000;
	if (iters <= 0)
		iters = 20000;

	static uint8_t sealed[1024];
	for (size_t i = 0; i < sizeof sealed; i++)
		sealed[i] = (uint8_t)(i * 7);
	Google__Protobuf__Timestamp t1 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp t2 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp t3 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	t1.seconds = 1767323045;
	t2.seconds = 1767323046;
	t2.nanos = 250000000;
	t3.seconds = 1767323047;
	t3.nanos = 123456789;
	Atoll__V1__JobOutput out = ATOLL__V1__JOB_OUTPUT__INIT;
	out.encrypted = 1;
	out.key_id = "ck_abcdefghijklmnopqrstuvwxyz";
	out.ciphertext = (ProtobufCBinaryData){ sizeof sealed, sealed };
	Atoll__V1__Job job = ATOLL__V1__JOB__INIT;
	job.id = "job_abcdefghijklmnopqrstuvwxyz";
	job.workload_id = 42;
	job.workload = "breast-cancer-logreg";
	job.confidential = 1;
	job.mode = ATOLL__V1__MODE__MODE_TEE;
	job.encryption_key_id = out.key_id;
	job.state = ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
	job.island_id = "island-eu-west-1a-07";
	job.attempts = 1;
	job.created_at = &t1;
	job.started_at = &t2;
	job.completed_at = &t3;
	job.duration_ms = 1873;
	job.credits_used = 0.0468;
	job.output = &out;

	double features[256];
	for (int i = 0; i < 256; i++)
		features[i] = (i - 128) / 7.0;
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	in.n_features = 256;
	in.features = features;

	if (bench("Job", &job.base, iters) || bench("JobInput[256]", &in.base, iters / 4)) {
		fprintf(stderr, "bench_pbjson: failed\n");
		return 1;
	}
	return 0;
}
