/* The Atoll TEE driver ABI, version 1.1.
 *
 * A TEE driver is a shared object that knows one kind of trusted execution
 * environment. Islands use it to find their hardware (detect) and to produce
 * evidence (collect); coordinators and clients use it to check evidence
 * (verify). The same .so may serve all three, or only one side. A vendor
 * builds one against this header alone (it includes only atoll/abi.h,
 * atoll/status.h, <stddef.h>, <stdint.h>) and adds it with a YAML stanza;
 * nothing else is rebuilt.
 *
 * Loading. The host dlopen()s the file with RTLD_NOW|RTLD_LOCAL, looks up
 * the one exported symbol ATOLL_TEE_DRIVER_ENTRY (declared below, so that
 * the compiler checks its signature) and calls it with the host's
 * ATOLL_TEE_DRIVER_ABI_MAJOR and ATOLL_TEE_DRIVER_ABI_MINOR. The driver
 * returns its table, or NULL when it cannot serve that host (another major,
 * or an older minor than it needs). ATOLL_TEE_DRIVER_EXPORT() writes that
 * function. The host then refuses a table whose abi_major differs from its
 * own or whose struct_size is smaller than the 1.0 table, accepts any
 * abi_minor, and reads a field appended after 1.0 only when struct_size
 * covers it (ATOLL_ABI_HAS). Fields are only ever appended, each marked
 * with the version that added it.
 *
 * Two sides. The collect side is detect, collect and evidence_free; the
 * verify side is verify and claims_free. Each side is all there or all
 * NULL, and a driver has at least one: a verify-only driver (a TEE whose
 * evidence is produced by firmware or a vendor library) leaves the collect
 * side NULL, a collect-only driver the verify side. The host answers
 * ATOLL_E_UNSUPPORTED for a side that is absent; drivers need no stubs.
 *
 * Building for an older host. Defining ATOLL_TEE_DRIVER_TARGET_MINOR to an
 * older minor (0) before including this header presents that version's
 * table: later fields disappear and ATOLL_TEE_DRIVER_ABI_MINOR takes that
 * value. Hosts from before 1.1 compared the whole first 32-bit word with 1,
 * so only a table built this way for minor 0 loads in them.
 *
 * What the core checks, not the driver. The coordinator itself compares
 * claims->report_data with the value it expects (freshness of its nonce and
 * binding of the enclave key) and applies policy (measurements, debug,
 * minimum SVN, evidence age). A driver checks that the evidence is genuine:
 * format, signatures, certificate chain to its pinned root, validity at the
 * verification time, and TCB status where its collateral gives one.
 *
 * Errors. Every function returning int returns an atoll_status; on failure
 * it writes a message to err->msg. Out-parameters are written only on
 * success.
 */
#ifndef ATOLL_TEE_DRIVER_H
#define ATOLL_TEE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/abi.h"
#include "atoll/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes. */
#define ATOLL_TEE_DRIVER_ABI_MAJOR 1u
#ifdef ATOLL_TEE_DRIVER_TARGET_MINOR
#if ATOLL_TEE_DRIVER_TARGET_MINOR > 1
#error "ATOLL_TEE_DRIVER_TARGET_MINOR is newer than this header (ABI 1.1)"
#endif
#define ATOLL_TEE_DRIVER_ABI_MINOR ATOLL_TEE_DRIVER_TARGET_MINOR
#else
#define ATOLL_TEE_DRIVER_ABI_MINOR 1u
#endif

/* The name the host looks up with dlsym(). */
#define ATOLL_TEE_DRIVER_ENTRY "atoll_tee_driver_entry"

/* Size of the report data an enclave binds into its evidence. TEEs with a
 * smaller field (none of the supported ones) would carry a prefix. */
#define ATOLL_REPORT_DATA_LEN 64

/* A borrowed or driver-owned byte string. */
typedef struct atoll_blob {
	const uint8_t *data;
	size_t len;
} atoll_blob;

/* Types of TEE-specific claims. */
enum atoll_claim_type {
	ATOLL_CLAIM_BYTES = 1,  /* bytes/len */
	ATOLL_CLAIM_STRING = 2, /* bytes/len, UTF-8, also NUL-terminated */
	ATOLL_CLAIM_UINT = 3,   /* u64 */
	ATOLL_CLAIM_BOOL = 4,   /* u64: 0 or 1 */
};

/* One TEE-specific claim, e.g. {"pcr4", BYTES}, {"tcb_status", STRING}. */
typedef struct atoll_claim {
	const char *name;
	uint32_t type; /* enum atoll_claim_type */
	const uint8_t *bytes;
	size_t len;
	uint64_t u64;
} atoll_claim;

/* Evidence as the driver's verify() understood it, normalized across TEEs.
 * Owned by the driver; released with claims_free(). Byte fields not known
 * for a TEE have len 0. */
typedef struct atoll_claims {
	uint32_t struct_size;
	/* The driver's name, e.g. "sev_snp". */
	const char *tee_type;
	/* What runs: MRENCLAVE (sgx), MEASUREMENT (sev_snp), MRTD (tdx),
	 * PCR0 (nitro), the hash of the enclave runtime (sim). */
	const uint8_t *measurement;
	size_t measurement_len;
	/* Who built or signed it: MRSIGNER (sgx), ID key digest (sev_snp),
	 * MRSIGNERSEAM (tdx), PCR8 (nitro), implementation id (psa). */
	const uint8_t *signer;
	size_t signer_len;
	/* 1 when the TEE is debuggable (its memory readable by the host). */
	int32_t debug;
	/* The enclave's own security version (ISVSVN, GUEST_SVN, ...). */
	uint64_t svn;
	/* The platform TCB as one number where the TEE has one (SNP
	 * REPORTED_TCB), else 0. */
	uint64_t tcb;
	/* TCB status from collateral ("UpToDate", "OutOfDate", ...) or NULL. */
	const char *tcb_status;
	/* The 64 bytes the enclave bound (REPORT_DATA, nonce, challenge). */
	const uint8_t *report_data;
	size_t report_data_len;
	/* When the evidence was produced (unix seconds), 0 if the format does
	 * not say. */
	int64_t issued_at;
	/* Validity of the evidence and its chain (unix seconds), 0 if none. */
	int64_t not_before;
	int64_t not_after;
	/* Everything else the TEE reports. */
	const atoll_claim *extra;
	size_t n_extra;
} atoll_claims;

/* Evidence produced by collect(). Owned by the driver; released with
 * evidence_free(). */
typedef struct atoll_evidence {
	uint32_t struct_size;
	/* The native evidence: report, quote, document or token. */
	uint8_t *data;
	size_t len;
	/* Material a verifier needs besides the evidence, e.g. the VCEK and
	 * its chain from an extended report. May be empty. */
	atoll_blob *collateral;
	size_t n_collateral;
} atoll_evidence;

/* Arguments of verify(). All borrowed for the call. */
typedef struct atoll_verify_args {
	uint32_t struct_size;
	const uint8_t *evidence;
	size_t evidence_len;
	/* Certificates, CRLs, TCB info... in PEM or DER, in any order. */
	const atoll_blob *collateral;
	size_t n_collateral;
	/* When non-NULL, the driver also compares the evidence's report data
	 * with this (ATOLL_E_BINDING on mismatch). The core checks again. */
	const uint8_t *expected_report_data;
	size_t expected_report_data_len;
	/* Unix seconds at which signatures, certificates and CRLs must be
	 * valid. Verifying old evidence "as of" its own time is legitimate. */
	int64_t verify_time;
} atoll_verify_args;

typedef struct atoll_tee_driver {
	/* ATOLL_TEE_DRIVER_ABI_MAJOR and _MINOR the driver was built with.
	 * (Version 1.0 had one uint32_t abi_version = 1 here, which reads as
	 * major 1, minor 0 on the little-endian machines Atoll runs on.) */
	uint16_t abi_major;
	uint16_t abi_minor;
	/* sizeof(atoll_tee_driver) as the driver was built. */
	uint32_t struct_size;
	/* Short lowercase name, unique among loaded drivers, e.g. "sgx". */
	const char *name;
	/* One line for operators. */
	const char *description;

	/* Create a driver instance from its YAML `config:` entries (borrowed;
	 * copy what you keep). Called once per load, before anything else, on
	 * the host's main thread. Unknown keys should be refused with
	 * ATOLL_E_CONFIG naming the key. Required. */
	int (*init)(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err);
	/* Release the instance. Accepts NULL. No call is in flight.
	 * Required. */
	void (*fini)(void *ctx);

	/* Island side: ATOLL_OK when this TEE's hardware interface is present
	 * and usable here, ATOLL_E_UNAVAILABLE (with the reason) when not.
	 * Collect side: NULL in verify-only drivers. */
	int (*detect)(void *ctx, atoll_err *err);
	/* Island side: produce evidence binding report_data (64 bytes). Calls
	 * are serialized by the host. Collect side: NULL in verify-only
	 * drivers. */
	int (*collect)(void *ctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err);
	/* Release what collect() returned. Accepts NULL. Collect side: NULL
	 * in verify-only drivers. */
	void (*evidence_free)(void *ctx, atoll_evidence *evidence);

	/* Coordinator and client side: check evidence and return its claims.
	 * Must be safe to call from several threads at once on one ctx.
	 * Verify side: NULL in collect-only drivers. */
	int (*verify)(void *ctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err);
	/* Release what verify() returned. Accepts NULL. Verify side: NULL in
	 * collect-only drivers. */
	void (*claims_free)(void *ctx, atoll_claims *claims);

#if ATOLL_TEE_DRIVER_ABI_MINOR >= 1
	/* Added in ABI 1.1. The driver's own version, e.g. "1.0.0", which
	 * hosts log at load; NULL when it has none. */
	const char *version;
#endif
} atoll_tee_driver;

/* The one exported symbol. Returns a table with static storage duration,
 * or NULL when the driver cannot serve a host of that version. Declared
 * here so that a definition with another signature does not compile. */
ATOLL_ABI_EXPORT const atoll_tee_driver *
atoll_tee_driver_entry(uint32_t host_major, uint32_t host_minor);
typedef const atoll_tee_driver *(*atoll_tee_driver_entry_fn)(
	uint32_t host_major, uint32_t host_minor);

/* Define the entry point returning &table to hosts of this major, e.g.
 * ATOLL_TEE_DRIVER_EXPORT(my_driver) after the table, without a
 * semicolon. The _MIN form also refuses hosts older than min_host_minor,
 * for a driver that relies on something the host hands over only since
 * that minor (a field of atoll_verify_args, say). */
#define ATOLL_TEE_DRIVER_EXPORT(table) ATOLL_TEE_DRIVER_EXPORT_MIN(table, 0)
#define ATOLL_TEE_DRIVER_EXPORT_MIN(table, min_host_minor)                    \
	const atoll_tee_driver *atoll_tee_driver_entry(uint32_t host_major,  \
						       uint32_t host_minor)  \
	{                                                                    \
		return atoll_abi_host_fits(host_major, host_minor,           \
					   ATOLL_TEE_DRIVER_ABI_MAJOR,       \
					   (min_host_minor))                 \
			       ? &(table)                                    \
			       : NULL;                                       \
	}

#ifdef __cplusplus
}
#endif

#endif
