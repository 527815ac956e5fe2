/* The Atoll inference backend ABI, version 1.1.
 *
 * A backend is a shared object that runs one kind of model. The enclave
 * runtime (atoll-enclave) loads it; the island host never does, so the host
 * never sees a confidential job's plaintext. A backend is built against this
 * header alone (it includes only atoll/abi.h, atoll/mode.h, atoll/status.h,
 * <stddef.h>, <stdint.h>).
 *
 * Loading and versions follow the TEE driver ABI (atoll/tee_driver.h):
 * dlopen(RTLD_NOW|RTLD_LOCAL), the one exported symbol ATOLL_BACKEND_ENTRY
 * (written by ATOLL_BACKEND_EXPORT) called with the host's
 * ATOLL_BACKEND_ABI_MAJOR and _MINOR; the host refuses another abi_major
 * or a table smaller than 1.0's, accepts any abi_minor, and reads fields
 * appended later only when struct_size covers them. Likewise a backend
 * reads a field appended to atoll_backend_job or atoll_backend_io only when
 * that struct's struct_size covers it. ATOLL_BACKEND_TARGET_MINOR presents
 * an older table, as ATOLL_TEE_DRIVER_TARGET_MINOR does.
 *
 * Required entries: name, init, fini, run. Optional (may be NULL): cancel,
 * and the description and version strings.
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

#include "atoll/abi.h"
#include "atoll/mode.h"
#include "atoll/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes. */
#define ATOLL_BACKEND_ABI_MAJOR 1u
#ifdef ATOLL_BACKEND_TARGET_MINOR
#if ATOLL_BACKEND_TARGET_MINOR > 1
#error "ATOLL_BACKEND_TARGET_MINOR is newer than this header (ABI 1.1)"
#endif
#define ATOLL_BACKEND_ABI_MINOR ATOLL_BACKEND_TARGET_MINOR
#else
#define ATOLL_BACKEND_ABI_MINOR 1u
#endif

/* The name the host looks up with dlsym(). */
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
	/* ATOLL_BACKEND_ABI_MAJOR and _MINOR the backend was built with
	 * (1.0's uint32_t abi_version = 1 reads as 1.0, as in the driver
	 * ABI). */
	uint16_t abi_major;
	uint16_t abi_minor;
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

#if ATOLL_BACKEND_ABI_MINOR >= 1
	/* Added in ABI 1.1. The backend's own version, e.g. "1.0.0", which
	 * hosts log at load; NULL when it has none. */
	const char *version;
#endif
} atoll_backend;

/* The one exported symbol. Returns a table with static storage duration,
 * or NULL when the backend cannot serve a host of that version. Declared
 * here so that a definition with another signature does not compile. */
ATOLL_ABI_EXPORT const atoll_backend *
atoll_backend_entry(uint32_t host_major, uint32_t host_minor);
typedef const atoll_backend *(*atoll_backend_entry_fn)(uint32_t host_major,
						       uint32_t host_minor);

/* Define the entry point returning &table to hosts of this major, e.g.
 * ATOLL_BACKEND_EXPORT(my_backend) after the table, without a semicolon.
 * The _MIN form also refuses hosts older than min_host_minor. */
#define ATOLL_BACKEND_EXPORT(table) ATOLL_BACKEND_EXPORT_MIN(table, 0)
#define ATOLL_BACKEND_EXPORT_MIN(table, min_host_minor)                       \
	const atoll_backend *atoll_backend_entry(uint32_t host_major,        \
						 uint32_t host_minor)        \
	{                                                                    \
		return atoll_abi_host_fits(host_major, host_minor,           \
					   ATOLL_BACKEND_ABI_MAJOR,          \
					   (min_host_minor))                 \
			       ? &(table)                                    \
			       : NULL;                                       \
	}

#ifdef __cplusplus
}
#endif

#endif
