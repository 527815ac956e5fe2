/* The enclave manifest: what an enclave runs, so that a verifier can pin
 * more than the TEE's launch measurement. For each workload: its id,
 * modes, backend (name and SHA-256 of the .so the enclave loads), the
 * SHA-256 of every model file and the backend options; plus the SHA-256 of
 * the TEE driver .so and of the enclave runtime itself.
 *
 * The enclave sends the manifest's bytes with its evidence and binds
 * SHA-256(bytes) into the report data (docs/envelope.md), so a verifier
 * that checks the binding knows these are the files the attested enclave
 * hashed when it loaded them. The encoding is canonical JSON (fixed key
 * order, no spaces), and verifiers hash the bytes they received, so no
 * re-encoding is ever compared. */
#ifndef ATOLL_ATTEST_MANIFEST_H
#define ATOLL_ATTEST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MANIFEST_VERSION 1
#define MANIFEST_SHA256_LEN 32
#define MANIFEST_MAX_BYTES (64u << 10)
#define MANIFEST_MAX_WORKLOADS 256
#define MANIFEST_MAX_MODELS 16
#define MANIFEST_MAX_OPTIONS 64

struct manifest_option {
	char *key;
	char *value;
};

struct manifest_workload {
	uint32_t id;
	uint32_t modes; /* ATOLL_MODE_BIT()s */
	char backend[64];
	uint8_t backend_sha256[MANIFEST_SHA256_LEN];
	uint8_t (*models)[MANIFEST_SHA256_LEN];
	size_t n_models;
	struct manifest_option *options;
	size_t n_options;
};

struct manifest {
	uint8_t runtime_sha256[MANIFEST_SHA256_LEN];
	bool has_driver;
	char driver[32];
	uint8_t driver_sha256[MANIFEST_SHA256_LEN];
	struct manifest_workload *workloads;
	size_t n_workloads;
};

/* SHA-256 of a file's contents. 0 or -errno. */
int manifest_hash_file(const char *path, uint8_t out[MANIFEST_SHA256_LEN]);
/* SHA-256 of bytes (the manifest digest bound into evidence). */
void manifest_digest(const uint8_t *bytes, size_t len, uint8_t out[MANIFEST_SHA256_LEN]);

/* The canonical encoding, appended to out. Options are written sorted by
 * key. 0 or -errno (-EINVAL for names or values that cannot be encoded,
 * -E2BIG past MANIFEST_MAX_BYTES). */
int manifest_encode(const struct manifest *m, struct buf *out);
/* Parse a manifest (strict: every key known, every digest 32 bytes, no
 * workload with two entries for one mode, sizes bounded). 0 or -EBADMSG
 * with the reason. */
int manifest_decode(const uint8_t *bytes, size_t len, struct manifest **ret, char *err,
		    size_t err_size);
/* Release what m owns and m. Accepts NULL. */
void manifest_free(struct manifest *m);
/* Release the contents of a manifest built in place (not m itself). */
void manifest_clear(struct manifest *m);
/* The entry of workload id that runs mode (an atoll_mode; 0: any entry).
 * A workload may have one entry per backend, with disjoint modes. */
const struct manifest_workload *manifest_workload(const struct manifest *m, uint32_t id,
						  uint32_t mode);

#endif
