/* What this client sealed, kept beside its keys: for each input envelope
 * its id, the key the output is sealed to, the workload, the enclave keys
 * it was sealed to and, once submitted, the job id. Opening an output
 * trusts these records, never a coordinator's account of a job: the job
 * id, workload, envelope and senders an output must match all come from
 * here. */
#ifndef ATOLL_CLIENT_SEALED_H
#define ATOLL_CLIENT_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "client/keystore.h"
#include "crypto/envelope.h"

struct cl_sealed {
	uint8_t envelope_id[ENV_ID_LEN];
	char key_id[64];
	uint32_t workload_id;
	uint8_t recipients[ENV_MAX_RECIPIENTS][ENV_KEY_LEN];
	size_t n_recipients;
	char job_id[64]; /* "" until submitted */
};

int cl_sealed_save(const struct cl_keystore *ks, const struct cl_sealed *r);
/* -ENOENT when this keystore sealed no such envelope. */
int cl_sealed_load(const struct cl_keystore *ks, const uint8_t envelope_id[ENV_ID_LEN],
		   struct cl_sealed *out);
/* The record of the input submitted as job_id; -ENOENT when none. */
int cl_sealed_find_job(const struct cl_keystore *ks, const char *job_id, struct cl_sealed *out);
/* Record that r was submitted as job_id; -EEXIST when it already was, as
 * another job. */
int cl_sealed_bind_job(const struct cl_keystore *ks, struct cl_sealed *r, const char *job_id);
/* What an output of r's job must match. */
struct env_output_expect cl_sealed_expect(const struct cl_sealed *r);

#endif
