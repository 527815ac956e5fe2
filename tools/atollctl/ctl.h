/* atollctl: shared state and helpers of the subcommands. */
#ifndef ATOLL_TOOLS_CTL_H
#define ATOLL_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "atoll/v1/jobs.pb-c.h"
#include "client/keystore.h"
#include "client/output.h"
#include "client/sealed.h"
#include "crypto/envelope.h"
#include "rpc/client.h"
#include "util/buf.h"

struct ctl {
	const char *addr;
	const char *api_key;
	const char *keystore;
	const char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
	bool json;
	int64_t timeout_ms;
	rpc_client *client; /* opened on first use */
	char auth[1100];
	struct cl_keystore ks; /* opened on first use */
	bool ks_open;
};

/* Print "atollctl: ..." to stderr; returns 1 (the exit status). */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: message, then exit status 2. */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A unary call with the API key; 0 with *ret, or prints the error and
 * returns 1. */
int ctl_call(struct ctl *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret);
/* Open a stream with the API key. */
int ctl_stream(struct ctl *c, const char *method, const ProtobufCMessage *req,
	       rpc_stream **ret);
rpc_client *ctl_client(struct ctl *c);

/* Print a message as JSON (proto field names, indented). */
int ctl_print_json(const ProtobufCMessage *m, bool emit_defaults);
/* Read an argument that is inline text, @file, or "-" for stdin. */
int ctl_read_arg(const char *arg, struct buf *out);

/* Subcommands: argc/argv start at the subcommand's own name. */
int cmd_submit(struct ctl *c, int argc, char **argv);
int cmd_get(struct ctl *c, int argc, char **argv);
int cmd_watch(struct ctl *c, int argc, char **argv);
int cmd_list(struct ctl *c, int argc, char **argv);
int cmd_cancel(struct ctl *c, int argc, char **argv);
int cmd_stats(struct ctl *c, int argc, char **argv);
int cmd_usage(struct ctl *c, int argc, char **argv);
int cmd_islands(struct ctl *c, int argc, char **argv);
int cmd_keys(struct ctl *c, int argc, char **argv);
int cmd_encrypt(struct ctl *c, int argc, char **argv);
int cmd_decrypt(struct ctl *c, int argc, char **argv);
int cmd_run(struct ctl *c, int argc, char **argv);
int cmd_hash_key(struct ctl *c, int argc, char **argv);
int cmd_sim(struct ctl *c, int argc, char **argv);
int cmd_verify(struct ctl *c, int argc, char **argv);
int cmd_manifest(struct ctl *c, int argc, char **argv);

/* The local keystore (lib/client), opened on first use (sealed.c). */
int ctl_keystore(struct ctl *c, const struct cl_keystore **ret);
int keystore_dir_path(struct ctl *c, char *out, size_t size);
int keystore_load(struct ctl *c, const char *key_id, struct cl_key *out);

/* Seal input to the islands that pass the client's own policy (keys.c).
 * Appends the envelope to out and the ids of the recipients to ids. */
int seal_for_workload(struct ctl *c, const char *policy_path, const struct cl_key *k,
		      uint32_t workload_id, const uint8_t *pt, size_t len, struct buf *out,
		      struct buf *ids);
/* Watch a job to its end, printing output as it comes. With rec and k
 * (a job whose input was sealed here), every chunk must open against the
 * record, whatever mode the coordinator reports, and a retried job's new
 * stream is followed. Returns the exit status: 0 completed, 1 otherwise. */
int watch_job(struct ctl *c, const char *job_id, const struct cl_sealed *rec,
	      const struct cl_key *k, bool quiet_state);

/* Records of what this client sealed (lib/client/sealed.h, through the
 * keystore of c; sealed.c). */
int sealed_load(struct ctl *c, const uint8_t envelope_id[ENV_ID_LEN], struct cl_sealed *out);
int sealed_find_job(struct ctl *c, const char *job_id, struct cl_sealed *out);
int sealed_bind_job(struct ctl *c, struct cl_sealed *r, const char *job_id);
/* The record and key of a job sealed here: 0, -ENOENT when it was not,
 * -ENOKEY (after printing why) when its key is gone (jobs.c). */
int job_sealed_here(struct ctl *c, const char *job_id, struct cl_sealed *rec,
		    struct cl_key *k);
/* After submitting in as job_id: bind the record of its envelope to the
 * job. -ENOENT when the input was not sealed here; other errors printed. */
int job_bind_sealed(struct ctl *c, const Atoll__V1__JobInput *in, const char *job_id,
		    struct cl_sealed *rec);
/* Open and print a whole sealed output against rec; 0 when the job
 * succeeded. */
int job_open_output(const struct cl_sealed *rec, const struct cl_key *k,
		    const Atoll__V1__JobOutput *o, struct buf *pt);

/* Homomorphic mode (he.c). */
/* Make a Paillier key here and register it. Prints the seed's
 * {"key_id", "public_key"} unless ret_key_id is given. */
int he_key_create(struct ctl *c, int bits, const char *label, char *ret_key_id, size_t id_size);
int he_encrypt_input(struct ctl *c, const char *key_id, const char *arg, uint32_t records,
		     unsigned scale_bits, struct buf *out);
int he_decrypt_job(struct ctl *c, const char *job_id, const char *key_id, const char *classes,
		   bool aggregate);

#endif
