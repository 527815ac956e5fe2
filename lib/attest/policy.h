/* Attestation policy: what a verifier accepts from each TEE, and the
 * check of normalized claims against it.
 *
 * The same policy serves the coordinator (policy: in coordinator.yaml) and
 * clients (a policy file given to atollctl or atoll-proxy); config.h reads
 * it from YAML. This header knows nothing of either program. */
#ifndef ATOLL_ATTEST_POLICY_H
#define ATOLL_ATTEST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"

#define ATTEST_MAX_DIGEST 64

struct attest_digest {
	uint8_t v[ATTEST_MAX_DIGEST];
	size_t len;
};

/* Policy for one TEE type (policy.tee.<name>). */
struct attest_tee_policy {
	char *tee;
	bool allow_debug;
	struct attest_digest *measurements; /* empty: any measurement */
	size_t n_measurements;
	struct attest_digest *signers;      /* empty: any signer */
	size_t n_signers;
	uint64_t min_svn;
	uint64_t min_tcb;
	char **tcb_statuses;         /* NULL-terminated; NULL: the safe default */
	/* Evidence without a TCB status (verified without collateral) is
	 * refused: 1 yes, 0 no, -1 the TEE's default (attest_tcb_status_needed). */
	int require_tcb_status;
	int64_t max_evidence_age_ms; /* 0: no limit beyond the challenge TTL */
};

/* Pins for one workload's files in enclave manifests. */
struct attest_workload_pins {
	uint32_t id;
	struct attest_digest *backends; /* allowed backend .so SHA-256s */
	size_t n_backends;
	struct attest_digest *models;   /* allowed model file SHA-256s */
	size_t n_models;
};

/* What enclave manifests must hold (policy.manifest). */
struct attest_manifest_policy {
	/* A judged workload whose backend and models are not pinned is
	 * refused, naming the digests to pin. On unless set to false. */
	bool require_pins;
	struct attest_digest *manifests; /* whole-manifest SHA-256s; empty: any */
	size_t n_manifests;
	struct attest_digest *runtimes;  /* enclave runtime SHA-256s; empty: any */
	size_t n_runtimes;
	struct attest_digest *drivers;   /* TEE driver .so SHA-256s; empty: any */
	size_t n_drivers;
	struct attest_workload_pins *workloads;
	size_t n_workloads;
};

/* The whole policy: per-TEE entries, manifest pins and the coordinator's
 * timings. */
struct attest_policy {
	int64_t reattest_interval_ms;
	int64_t challenge_ttl_ms;
	struct attest_tee_policy *tees;
	size_t n_tees;
	struct attest_manifest_policy manifest;
};

struct manifest;

/* Defaults of the timings when a policy does not set them. */
#define ATTEST_DEFAULT_REATTEST_MS 300000
#define ATTEST_DEFAULT_CHALLENGE_TTL_MS 30000

/* The claims policy decisions use, copied out of a driver's claims so that
 * a policy reload can re-judge an island without new evidence. */
struct attest_claims {
	uint8_t measurement[ATTEST_MAX_DIGEST];
	size_t measurement_len;
	uint8_t signer[ATTEST_MAX_DIGEST];
	size_t signer_len;
	int debug;
	uint64_t svn, tcb;
	char tcb_status[64];
	bool has_tcb_status;
	int64_t issued_at; /* seconds, 0 unknown */
};

/* The entry for a TEE, or NULL. */
const struct attest_tee_policy *attest_policy_for(const struct attest_policy *p,
						  const char *tee);

/* Copy a driver's claims. Every field is filled; a measurement or signer
 * longer than ATTEST_MAX_DIGEST is left empty and the result is
 * -EOVERFLOW, else 0. */
int attest_claims_from(const atoll_claims *cl, struct attest_claims *ret);

/* Whether evidence of TEE tee must carry a TCB status under p (NULL: the
 * default): by default yes for sgx and tdx, whose TCB status comes only
 * from collateral, and no for the others. */
bool attest_tcb_status_needed(const struct attest_tee_policy *p, const char *tee);

/* Check claims of TEE tee against p at now_ms. 0, or -EACCES with the
 * reason. With p NULL the safe default applies: debug refused, any
 * measurement and signer, the default TCB statuses, a TCB status required
 * where attest_tcb_status_needed says so. */
int attest_policy_check(const struct attest_tee_policy *p, const char *tee,
			const struct attest_claims *cl, int64_t now_ms, char *why, size_t why_size);

/* Check an enclave manifest (whose SHA-256 is digest) against p. With
 * workload_id, that workload must be in the manifest in TEE mode and is
 * judged; with 0, every workload the manifest runs in TEE mode is. 0, or
 * -EACCES with the reason (which names the digests to pin when pins are
 * missing). */
int attest_manifest_check(const struct attest_manifest_policy *p, const struct manifest *m,
			  const uint8_t *digest, uint32_t workload_id, char *why, size_t why_size);

#endif
