/* Fixed keys and ids shared by the envelope fuzzer and its seed writer,
 * so that seeds are envelopes and streams the fuzzer can open. */
#ifndef ATOLL_TESTS_FUZZ_COMMON_H
#define ATOLL_TESTS_FUZZ_COMMON_H

#include <stdint.h>

#define FUZZ_WORKLOAD_ID 7
#define FUZZ_JOB_ID "job_fuzz"

/* First input byte: which parser the rest goes to. */
enum fuzz_target {
	FUZZ_INPUT = 0,         /* env_inspect_input + env_open_input */
	FUZZ_OUTPUT_BLOB = 1,   /* env_open_output */
	FUZZ_OUTPUT_RECORDS = 2 /* record_len + incremental opener */
};

struct fuzz_keys {
	uint8_t enclave_priv[32], enclave_pub[32];
	uint8_t client_priv[32], client_pub[32];
	uint8_t envelope_id[16];
};

/* What the fuzzer's client expects: FUZZ_JOB_ID, FUZZ_WORKLOAD_ID, the
 * keys' envelope id, sealed by the one enclave key. */
#define fuzz_expect(k)                                                      \
	((struct env_output_expect){ FUZZ_JOB_ID, FUZZ_WORKLOAD_ID,         \
				     (k)->envelope_id,                      \
				     (const uint8_t(*)[32])(k)->enclave_pub, 1 })

/* Deterministic keys; 0 or a negative errno. */
int fuzz_keys_init(struct fuzz_keys *k);
/* Write a starting corpus into dir (created if missing); 0 or -errno. */
int fuzz_write_seeds(const char *dir);

#endif
