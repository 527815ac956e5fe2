/* The Atoll inference backend ABI.
 *
 * A backend is a shared object that runs one kind of model. The enclave
 * runtime (atoll-enclave) loads it; the island host never does, so the host
 * never sees a confidential job's plaintext. A backend is built against this
 * header alone (it includes only atoll/status.h, <stddef.h>, <stdint.h>).
 *
 * Loading follows the TEE driver ABI: dlopen(RTLD_NOW|RTLD_LOCAL), the one
 * exported symbol ATOLL_BACKEND_ENTRY called with the host's
 * ATOLL_BACKEND_ABI_VERSION, abi_version must match, struct_size must cover
 * the version-1 table, fields are only appended.
 *
 * Lifecycle. The host calls init() once per workload that uses the backend,
 * with that workload's configuration (`model: path` and its options), then
 * run() for each job, possibly from several threads at once on one
 * instance, then fini() when no run() is in flight.
 *
 * Input and output. For MODE_PLAIN and MODE_TEE jobs the input is a JSON
 * document such as {"prompt": "..."} or {"features": [...]}; the backend
 * answers with bytes (JSON for the model backends) through io->emit(), in as
 * many chunks as it likes. For MODE_HOMOMORPHIC jobs the document carries
 * Paillier ciphertexts (see docs/homomorphic.md). Sealing output for TEE
 * jobs is the host's work, not the backend's.
 */
#ifndef ATOLL_BACKEND_H
#define ATOLL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/mode.h"
#include "atoll/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATOLL_BACKEND_ABI_VERSION 1u
#define ATOLL_BACKEND_ENTRY "atoll_backend_entry"

/* One job. Borrowed for the duration of run(). */
typedef struct atoll_backend_job {
	uint32_t struct_size;
	/* NUL-terminated job id, for the backend's own bookkeeping. */
	const char *job_id;
	uint32_t workload_id;
	uint32_t mode; /* enum atoll_mode */
	const uint8_t *input;
	size_t input_len;
} atoll_backend_job;

/* The host's side of a run. Borrowed for the duration of run(). */
typedef struct atoll_backend_io {
	uint32_t struct_size;
	/* Opaque; pass it back to the callbacks. */
	void *host;
	/* Hand out the next chunk of output (copied before return). Returns
	 * ATOLL_OK, or ATOLL_E_CANCELLED when the job was cancelled: the
	 * backend then stops and returns ATOLL_E_CANCELLED. Chunks of at most
	 * 1 MiB; larger ones fail with ATOLL_E_INVALID_ARGUMENT. */
	int (*emit)(void *host, const uint8_t *data, size_t len);
	/* Nonzero once the job is cancelled or past its deadline. Long
	 * computations poll it between steps. */
	int (*cancelled)(void *host);
} atoll_backend_io;

typedef struct atoll_backend {
	/* ATOLL_BACKEND_ABI_VERSION the backend was built with. */
	uint32_t abi_version;
	/* sizeof(atoll_backend) as the backend was built. */
	uint32_t struct_size;
	/* Short lowercase name, e.g. "echo", "linear". */
	const char *name;
	const char *description;
	/* Modes the backend can run: ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ... */
	uint32_t modes;

	/* Create an instance for one workload. config holds the workload's
	 * entries: "model" (a file path) when the workload names one, then its
	 * options. Borrowed; copy what you keep. Unknown keys should be
	 * refused with ATOLL_E_CONFIG. */
	int (*init)(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err);
	/* Release an instance. Accepts NULL. */
	void (*fini)(void *ctx);
	/* Run one job to the end, streaming output through io->emit. Returns
	 * ATOLL_OK, ATOLL_E_CANCELLED, ATOLL_E_FORMAT for input the model
	 * cannot take (wrong feature count, bad JSON), ATOLL_E_CRYPTO for
	 * ciphertext that is not valid, or another code with a message. Must
	 * be safe to call from several threads at once on one instance. */
	int (*run)(void *ctx, const atoll_backend_job *job,
		   const atoll_backend_io *io, atoll_err *err);
	/* Optional (may be NULL): ask a running job to stop early, from any
	 * thread. The host also makes io->cancelled() return nonzero, so a
	 * backend that polls needs no cancel(). */
	void (*cancel)(void *ctx, const char *job_id);
} atoll_backend;

typedef const atoll_backend *(*atoll_backend_entry_fn)(uint32_t host_abi);

#ifdef __cplusplus
}
#endif

#endif
