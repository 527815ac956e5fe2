/* libFuzzer target: pbjson_read on arbitrary text, and the writer on
 * whatever it accepts. The first byte picks the message type, the read
 * flags and the write flags; the rest is the JSON. Every input must either
 * fail with a message, or read into a message whose JSON reads back and
 * writes again to the same text. The checked-in examples (seeds_pbjson/)
 * are a read-only corpus; the seeds are those examples as the writer
 * prints them with each set of write flags. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/confidential.pb-c.h"
#include "fuzz.h"
#include "atoll/v1/jobs.pb-c.h"
#include "pbjson/pbjson.h"
#include "pbjson_test.pb-c.h"
#include "util/buf.h"


static const ProtobufCMessageDescriptor *const TYPES[4] = {
	&pbjson__test__scalars__descriptor,
	&atoll__v1__submit_job_request__descriptor,
	&atoll__v1__job__descriptor,
	&atoll__v1__stats__descriptor,
};

static void die(const char *what, const char *a, const char *b)
{
	fuzz_die("%s\n  %s\n  %s", what, a, b ? b : "");
}

void fuzz_setup(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = TYPES[data[0] & 3];
	unsigned rflags = data[0] & 4 ? PBJSON_IGNORE_UNKNOWN : 0;
	unsigned wflags = (data[0] >> 3) & 7; /* ORIGINAL_NAMES, EMIT_DEFAULTS, PRETTY */
	ProtobufCMessage *m = NULL, *again = NULL;
	struct buf first = { 0 }, second = { 0 };
	char err[256];

	int rc = pbjson_read(d, (const char *)data + 1, size - 1, rflags, &m, err,
			     sizeof err);
	if (rc < 0) {
		if ((rc != -EINVAL && rc != -ENOMEM) || m || !err[0])
			die("failure without a message", err, NULL);
		return 0;
	}
	if (pbjson_write(m, wflags, &first) < 0 || !buf_cstr(&first))
		die("cannot write what was read", (const char *)data + 1, NULL);
	rc = pbjson_read(d, (const char *)first.data, first.len, 0, &again, err,
			 sizeof err);
	if (rc < 0)
		die("own output does not read back", (const char *)first.data, err);
	if (pbjson_write(again, wflags, &second) < 0 || !buf_cstr(&second) ||
	    strcmp((const char *)first.data, (const char *)second.data) != 0)
		die("second write differs", (const char *)first.data,
		    (const char *)second.data);
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	buf_free(&first);
	buf_free(&second);
	return 0;
}

void fuzz_seeds(void)
{
	static const char *const examples[] = {
		"job.json", "scalars.json", "stats.json", "submit_encrypted.json",
		"submit_plain.json",
	};
	char path[4096], name[64];

	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		ProtobufCMessage *m = NULL;
		uint8_t *text;
		size_t len;
		char err[256];

		snprintf(path, sizeof(path), "%s/tests/fuzz/seeds_pbjson/%s",
			 fuzz_source_dir(), examples[i]);
		text = fuzz_read_file(path, &len);
		if (!text || len < 1)
			fuzz_die("cannot read %s", path);
		if (pbjson_read(TYPES[text[0] & 3], (const char *)text + 1, len - 1,
				text[0] & 4 ? PBJSON_IGNORE_UNKNOWN : 0, &m, err,
				sizeof err) < 0)
			fuzz_die("%s does not read: %s", path, err);
		for (unsigned w = 0; w < 8; w++) {
			struct buf out = { 0 };

			if (pbjson_write(m, w, &out) < 0)
				fuzz_die("cannot write %s", path);
			snprintf(name, sizeof(name), "%s-w%u", examples[i], w);
			fuzz_seed_tagged(name, (uint8_t)((text[0] & 3) | w << 3),
					 out.data, out.len);
			buf_free(&out);
		}
		protobuf_c_message_free_unpacked(m, NULL);
		free(text);
	}
}
