/* libFuzzer target: the enclave pipe (island/frame.c) and the messages
 * each side reads from it: the enclave reads HostMessage frames, the
 * island EnclaveMessage frames.
 *
 * Input: one byte choosing the side (even: the enclave's reader, odd: the
 * island's), then the bytes of the pipe, read frame by frame with
 * frame_read() as the programs do, up to the first error. Every message
 * read is sent again with frame_write() over a socket pair and read back:
 * it must come out the same. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "frame.h"
#include "fuzz.h"

/* Small enough that a frame fits a socket buffer, so that the round trip
 * needs no second thread. */
#define MAX_FRAME (64u * 1024)

static int sv[2];

void fuzz_setup(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_die("socketpair: %s", strerror(errno));
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n + 1);

	if (!b)
		fuzz_die("out of memory");
	if (protobuf_c_message_pack(m, b) != n)
		fuzz_die("packed size changed while packing");
	*ret_len = n;
	return b;
}

/* protobuf-c 1.4 reads a field number 0 written as an overlong varint
 * (as an unknown field) but refuses the one-byte tag it writes for it:
 * such messages do not survive a second trip through any protobuf-c
 * reader, which is the library's doing. Atoll never forwards unknown
 * fields, so the round trip below skips them. */
static bool has_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(base + f->offset);

			for (size_t k = 0; k < n; k++)
				if (has_field_zero(v[k]))
					return true;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		const ProtobufCMessage *sub =
			*(const ProtobufCMessage *const *)(base + f->offset);
		if (sub && has_field_zero(sub))
			return true;
	}
	return false;
}

static void round_trip(const ProtobufCMessageDescriptor *desc,
		       const ProtobufCMessage *m)
{
	ProtobufCMessage *back = NULL;
	size_t a_len, b_len;
	uint8_t *a = pack(m, &a_len), *b;
	int r;

	if (a_len > MAX_FRAME || has_field_zero(m)) {
		free(a);
		return;
	}
	if ((r = frame_write(sv[0], m)) < 0)
		fuzz_die("frame_write: %s", strerror(-r));
	if ((r = frame_read(sv[1], desc, MAX_FRAME, &back)) < 0)
		fuzz_die("own frame does not read back: %s", strerror(-r));
	b = pack(back, &b_len);
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fuzz_die("message changed on the pipe");
	protobuf_c_message_free_unpacked(back, NULL);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	int fd;

	if (size < 1)
		return 0;
	desc = data[0] & 1 ? &atoll__enclave__v1__enclave_message__descriptor :
			     &atoll__enclave__v1__host_message__descriptor;
	fd = fuzz_memfd(data + 1, size - 1);
	for (;;) {
		ProtobufCMessage *m = NULL;
		int r = frame_read(fd, desc, MAX_FRAME, &m);

		if (r < 0) {
			if (m)
				fuzz_die("frame_read failed but returned a message");
			if (r != -EPIPE && r != -EBADMSG && r != -EMSGSIZE)
				fuzz_die("frame_read: unexpected %d", r);
			break;
		}
		round_trip(desc, m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

/* ---- seeds: the pipe as both programs write it ---- */

static void put_stream(const char *name, uint8_t side,
		       const ProtobufCMessage *const *msgs, size_t n)
{
	uint8_t buf[8192];
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = protobuf_c_message_get_packed_size(msgs[i]);

		if (off + 4 + len > sizeof(buf))
			fuzz_die("seed too large");
		buf[off] = (uint8_t)(len >> 24);
		buf[off + 1] = (uint8_t)(len >> 16);
		buf[off + 2] = (uint8_t)(len >> 8);
		buf[off + 3] = (uint8_t)len;
		protobuf_c_message_pack(msgs[i], buf + off + 4);
		off += 4 + len;
	}
	fuzz_seed_tagged(name, side, buf, off);
}

static void seeds_host(void)
{
	uint8_t nonce[32], input[48], pub[32];
	Atoll__Enclave__V1__AttestRequest ar = ATOLL__ENCLAVE__V1__ATTEST_REQUEST__INIT;
	Atoll__Enclave__V1__RunJob rj = ATOLL__ENCLAVE__V1__RUN_JOB__INIT;
	Atoll__Enclave__V1__CancelJob cj = ATOLL__ENCLAVE__V1__CANCEL_JOB__INIT;
	Atoll__Enclave__V1__HostMessage m[3] = {
		ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT,
		ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT,
		ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT,
	};
	const ProtobufCMessage *all[3] = { &m[0].base, &m[1].base, &m[2].base };

	memset(nonce, 0x11, sizeof(nonce));
	memset(input, 0x22, sizeof(input));
	memset(pub, 0x33, sizeof(pub));
	ar.nonce = (ProtobufCBinaryData){ sizeof(nonce), nonce };
	m[0].msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST;
	m[0].attest = &ar;
	rj.job_id = "job_0123456789";
	rj.attempt = 2;
	rj.workload_id = 7;
	rj.mode = ATOLL__V1__MODE__MODE_TEE;
	rj.input = (ProtobufCBinaryData){ sizeof(input), input };
	rj.client_public_key = (ProtobufCBinaryData){ sizeof(pub), pub };
	rj.deadline_ms = 1750000000000;
	m[1].msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN;
	m[1].run = &rj;
	cj.job_id = "job_0123456789";
	cj.attempt = 2;
	m[2].msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL;
	m[2].cancel = &cj;
	put_stream("host-attest", 0, all, 1);
	put_stream("host-run", 0, all + 1, 1);
	put_stream("host-all", 0, all, 3);
}

static void seeds_enclave(void)
{
	uint8_t key[32], data[40];
	Atoll__V1__Mode modes[2] = { ATOLL__V1__MODE__MODE_PLAIN,
				     ATOLL__V1__MODE__MODE_TEE };
	Atoll__Enclave__V1__Workload w = ATOLL__ENCLAVE__V1__WORKLOAD__INIT;
	Atoll__Enclave__V1__Workload *wp[1] = { &w };
	Atoll__Enclave__V1__Ready rd = ATOLL__ENCLAVE__V1__READY__INIT;
	Atoll__Enclave__V1__AttestResult at = ATOLL__ENCLAVE__V1__ATTEST_RESULT__INIT;
	Atoll__Enclave__V1__JobOutput out = ATOLL__ENCLAVE__V1__JOB_OUTPUT__INIT;
	Atoll__Enclave__V1__JobDone done = ATOLL__ENCLAVE__V1__JOB_DONE__INIT;
	ProtobufCBinaryData coll[2];
	Atoll__Enclave__V1__EnclaveMessage m[4] = {
		ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT,
		ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT,
		ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT,
		ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT,
	};
	const ProtobufCMessage *all[4] = { &m[0].base, &m[1].base, &m[2].base,
					   &m[3].base };

	memset(key, 0x44, sizeof(key));
	memset(data, 0x55, sizeof(data));
	w.workload_id = 7;
	w.backend = "linear";
	w.available = true;
	w.error = "";
	w.n_modes = 2;
	w.modes = modes;
	rd.tee_type = "sim";
	rd.tee_error = "";
	rd.enclave_public_key = (ProtobufCBinaryData){ sizeof(key), key };
	rd.version = "0.1.0";
	rd.n_workloads = 1;
	rd.workloads = wp;
	m[0].msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY;
	m[0].ready = &rd;
	coll[0] = (ProtobufCBinaryData){ 16, data };
	coll[1] = (ProtobufCBinaryData){ 24, data };
	at.ok = true;
	at.nonce = (ProtobufCBinaryData){ 32, data };
	at.tee_type = "sim";
	at.evidence = (ProtobufCBinaryData){ sizeof(data), data };
	at.n_collateral = 2;
	at.collateral = coll;
	at.error = "";
	m[1].msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST;
	m[1].attest = &at;
	out.job_id = "job_0123456789";
	out.attempt = 1;
	out.seq = 3;
	out.data = (ProtobufCBinaryData){ sizeof(data), data };
	m[2].msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT;
	m[2].output = &out;
	done.job_id = "job_0123456789";
	done.attempt = 1;
	done.ok = false;
	done.error = "cancelled";
	done.chunks = 4;
	done.run_ms = 12;
	m[3].msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE;
	m[3].done = &done;
	put_stream("enclave-ready", 1, all, 1);
	put_stream("enclave-all", 1, all, 4);
}

void fuzz_seeds(void)
{
	seeds_host();
	seeds_enclave();
}
