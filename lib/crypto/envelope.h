/* Atoll's envelopes (byte layout in docs/envelope.md): the input envelope a
 * client seals to one or more enclave keys, the output stream an enclave
 * seals back to the client, and the attestation report-data binding.
 *
 * Functions return ENV_OK (0) or a negative enum env_status; env_strerror()
 * names each. Out-parameters are untouched on failure and output buffers
 * keep their previous length. */
#ifndef ATOLL_CRYPTO_ENVELOPE_H
#define ATOLL_CRYPTO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hpke.h"
#include "util/buf.h"

#define ENV_VERSION 1
/* The output stream's format version (docs/envelope.md); v1 outputs are
 * refused with ENV_E_LEGACY. */
#define ENV_OUTPUT_VERSION 2
#define ENV_KEY_LEN X25519_KEY_LEN
#define ENV_ID_LEN 16
#define ENV_REPORT_DATA_LEN 64
/* magic, version, aead id, workload id, envelope id, client key */
#define ENV_INPUT_HEADER_LEN (4 + 1 + 2 + 4 + ENV_ID_LEN + ENV_KEY_LEN)
#define ENV_MAX_RECIPIENTS 64
/* Job ids are short text ids; the cap bounds what an opener accepts. */
#define ENV_MAX_JOB_ID_LEN 256
/* A sealed error: a code of [a-z0-9_] and a message. */
#define ENV_MAX_ERROR_CODE 64
#define ENV_MAX_ERROR_MESSAGE 4096

enum env_status {
	ENV_OK = 0,
	/* Caller mistake: NULL, no recipients, a duplicate recipient, a
	 * chunk too large, a seal after the stream was finished. */
	ENV_E_INVALID = -1,
	ENV_E_NOMEM = -2,
	/* Not an Atoll envelope or record of the expected kind. */
	ENV_E_MAGIC = -3,
	ENV_E_VERSION = -4,
	/* Shorter than its own lengths say. */
	ENV_E_TRUNCATED = -5,
	/* Lengths or counts that disagree, trailing bytes, a recipient count
	 * of 0 or above ENV_MAX_RECIPIENTS, a repeated recipient key. */
	ENV_E_FORMAT = -6,
	/* AEAD id unknown, or export-only where data must be encrypted. */
	ENV_E_AEAD = -7,
	/* The envelope holds no recipient block for this enclave key. */
	ENV_E_NOT_RECIPIENT = -8,
	/* Authentication failed: tampered bytes, a wrong key, or (for output
	 * records) a record reordered, dropped or replayed, or a workload or
	 * envelope id other than the one the output was sealed for. */
	ENV_E_AUTH = -9,
	/* Sealed for another job or workload than the caller expected. */
	ENV_E_MISMATCH = -10,
	/* An output record after the final record. */
	ENV_E_ORDER = -11,
	/* The output stream ended without its final record. */
	ENV_E_UNFINISHED = -12,
	/* The crypto library or random generator failed. */
	ENV_E_CRYPTO = -13,
	/* An output in format v1, which does not authenticate the enclave. */
	ENV_E_LEGACY = -14,
	/* An output sealed by an enclave key the caller did not seal to. */
	ENV_E_SENDER = -15,
	/* The stream opened completely and ends with a sealed error. */
	ENV_E_JOB_FAILED = -16,
};

const char *env_strerror(int status);

/* report_data = SHA-512("atoll-attest-v2" || nonce || enclave_pub ||
 * manifest_digest): the verifier's challenge, the key clients seal to, and
 * the SHA-256 of the enclave manifest (lib/attest/manifest.h). */
#define ENV_MANIFEST_DIGEST_LEN 32
int env_report_data(const uint8_t *nonce, size_t nonce_len,
		    const uint8_t enclave_pub[ENV_KEY_LEN],
		    const uint8_t manifest_digest[ENV_MANIFEST_DIGEST_LEN],
		    uint8_t out[ENV_REPORT_DATA_LEN]);

/* What an input envelope says about itself, readable without keys. */
struct env_input_info {
	uint16_t aead_id;
	uint32_t workload_id;
	uint8_t envelope_id[ENV_ID_LEN];
	/* The key the job's output is to be sealed to. */
	uint8_t client_pub[ENV_KEY_LEN];
	size_t n_recipients;
	uint8_t recipients[ENV_MAX_RECIPIENTS][ENV_KEY_LEN];
	/* Length of the plaintext the payload carries. */
	size_t plaintext_len;
};

/* Seal pt for n enclave keys (1..ENV_MAX_RECIPIENTS, no repeats) under a
 * fresh data key, envelope id and nonce; appends the envelope to out. The
 * AEAD is one of HPKE's (not export-only). */
int env_seal_input(uint16_t aead_id, uint32_t workload_id,
		   const uint8_t client_pub[ENV_KEY_LEN],
		   const uint8_t (*recipients)[ENV_KEY_LEN], size_t n,
		   const uint8_t *pt, size_t pt_len, struct buf *out);
/* Check the structure of an envelope and read its header and recipient
 * keys. Authenticates nothing: a coordinator uses it to route only to
 * recipients and to check the workload; the enclave still opens it. */
int env_inspect_input(const uint8_t *env, size_t len,
		      struct env_input_info *ret_info);
/* Open as the enclave holding enclave_priv/enclave_pub: finds its
 * recipient block (ENV_E_NOT_RECIPIENT when none), authenticates the whole
 * envelope, checks that it was sealed for expected_workload_id
 * (ENV_E_MISMATCH otherwise) and appends the plaintext. ret_info may be
 * NULL. */
int env_open_input(const uint8_t *env, size_t len,
		   uint32_t expected_workload_id,
		   const uint8_t enclave_priv[ENV_KEY_LEN],
		   const uint8_t enclave_pub[ENV_KEY_LEN],
		   struct env_input_info *ret_info, struct buf *ret_plaintext);

/* Output stream: one header record, then chunk records, the last of which
 * is the final record (empty for success, or a sealed error). Records are
 * whole units; the stream is their concatenation. Sealed with HPKE auth
 * mode: the enclave's static key authenticates the stream, so only a
 * recipient of the input can produce output the client opens. */
typedef struct env_output_sealer env_output_sealer;
typedef struct env_output_opener env_output_opener;

/* What the header record says, readable without keys. */
struct env_output_info {
	uint16_t aead_id;
	uint8_t sender[ENV_KEY_LEN]; /* the sealing enclave's key */
	uint32_t attempt;
	char job_id[ENV_MAX_JOB_ID_LEN + 1];
};

/* What a client expects of an output stream: what it asked for and what
 * it sealed (its own records), never what a coordinator reports. */
struct env_output_expect {
	const char *job_id;
	uint32_t workload_id;
	const uint8_t *envelope_id; /* ENV_ID_LEN bytes */
	/* The enclave keys the input was sealed to; the stream's sender must
	 * be one of them. */
	const uint8_t (*senders)[ENV_KEY_LEN];
	size_t n_senders;
};

/* Start an output stream from the enclave holding enclave_priv/pub to
 * client_pub (from the input header), bound to the job id
 * (1..ENV_MAX_JOB_ID_LEN bytes of text), workload id, envelope id and
 * attempt; appends the header record. */
int env_output_sealer_new(uint16_t aead_id,
			  const uint8_t client_pub[ENV_KEY_LEN],
			  const uint8_t enclave_priv[ENV_KEY_LEN],
			  const uint8_t enclave_pub[ENV_KEY_LEN],
			  const char *job_id, uint32_t workload_id,
			  const uint8_t envelope_id[ENV_ID_LEN], uint32_t attempt,
			  env_output_sealer **ret_sealer,
			  struct buf *header_record);
/* Append one non-final chunk record carrying pt (may be empty; at most
 * UINT32_MAX - HPKE_TAG_LEN bytes). */
int env_output_seal(env_output_sealer *s, const uint8_t *pt, size_t len,
		    struct buf *record);
/* Append the empty final record of a job that succeeded. */
int env_output_finish(env_output_sealer *s, struct buf *record);
/* Append the final record of a job that failed: code is 1..64 of
 * [a-z0-9_], message at most ENV_MAX_ERROR_MESSAGE bytes (longer is cut).
 * The sealer accepts nothing after either final record. */
int env_output_fail(env_output_sealer *s, const char *code, const char *message,
		    struct buf *record);
env_output_sealer *env_output_sealer_free(env_output_sealer *s);

/* Parse a header record (exactly one) without keys. */
int env_output_header_info(const uint8_t *header_record, size_t len,
			   struct env_output_info *ret);

/* Start opening a stream from its header record: ENV_E_LEGACY for a v1
 * stream, ENV_E_MISMATCH when the header names another job id,
 * ENV_E_SENDER when its sender is none of want->senders. The workload,
 * envelope id and attempt are bound through the HPKE info and the sender
 * through auth mode: a mismatch there fails the first record with
 * ENV_E_AUTH. */
int env_output_opener_new(const uint8_t client_priv[ENV_KEY_LEN],
			  const uint8_t *header_record, size_t len,
			  const struct env_output_expect *want,
			  env_output_opener **ret_opener);
/* The header of the stream being opened (attempt, sender). */
const struct env_output_info *env_output_opener_info(const env_output_opener *o);
/* Open the next chunk record (exactly one record), appending its plaintext
 * to pt. *ret_final is set to whether it was the final record. A failed
 * record leaves the opener where it was. */
int env_output_open(env_output_opener *o, const uint8_t *record, size_t len,
		    struct buf *pt, bool *ret_final);
/* ENV_OK once the final record was opened, ENV_E_UNFINISHED before. */
int env_output_opener_done(const env_output_opener *o);
/* After the final record: ENV_OK when the job succeeded, ENV_E_JOB_FAILED
 * with the sealed code and message (valid until the opener is freed). */
int env_output_opener_result(const env_output_opener *o, const char **ret_code,
			     const char **ret_message);
env_output_opener *env_output_opener_free(env_output_opener *o);

/* Length of the record at the start of data (the header record when
 * header is true, else a chunk record), for splitting a concatenated
 * stream. ENV_E_TRUNCATED when data holds less than one whole record. */
int env_output_record_len(const uint8_t *data, size_t len, bool header,
			  size_t *ret_len);
/* Open a whole stream (header record followed by chunk records) and
 * append the concatenated plaintext; ENV_E_UNFINISHED when it lacks the
 * final record, ENV_E_FORMAT when bytes follow it. A stream ending in a
 * sealed error returns ENV_E_JOB_FAILED with its output so far in pt and
 * "code: message" appended to ret_error (may be NULL). */
int env_open_output(const uint8_t client_priv[ENV_KEY_LEN],
		    const uint8_t *blob, size_t len,
		    const struct env_output_expect *want, struct buf *pt,
		    struct buf *ret_error);

#endif
