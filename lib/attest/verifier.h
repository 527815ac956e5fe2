/* Judging attestation evidence: the one place where Atoll decides whether
 * to trust a TEE. The coordinator (before routing to an island), atollctl
 * and atoll-proxy (before sealing input to an island) and `atollctl
 * verify` all call attest_judge().
 *
 * A judgement has four steps, each able to refuse:
 *   1. the TEE's driver checks the evidence is genuine (format, signature,
 *      certificate chain to its pinned root, validity, TCB status);
 *   2. the binding: the evidence's report data must equal the value
 *      computed here from the challenge nonce, the enclave key and the
 *      SHA-256 of the enclave manifest (never taken from the island);
 *   3. the policy for that TEE (measurements, signers, debug, minimum SVN
 *      and TCB, TCB statuses, evidence age);
 *   4. the manifest: what the enclave loaded (backends, models, driver,
 *      runtime) against the policy's pins.
 * The verdict keeps which step refused and the driver's own status
 * (ATOLL_E_CHAIN, ATOLL_E_TCB, ...), not one collapsed error. */
#ifndef ATOLL_ATTEST_VERIFIER_H
#define ATOLL_ATTEST_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/config.h"
#include "attest/manifest.h"
#include "attest/policy.h"
#include "plugin/driver_set.h"

struct attest_verifier {
	struct driver_set drivers;
};

/* Load the drivers of cfg (borrowed for the call). 0, or -errno with the
 * loader's message in err; *ret untouched on failure. */
int attest_verifier_load(const struct plugin_cfg *drivers, size_t n_drivers,
			 struct attest_verifier *ret, char *err, size_t err_size);
void attest_verifier_unload(struct attest_verifier *v);
const struct loaded_driver *attest_verifier_driver(const struct attest_verifier *v,
						   const char *tee);

/* Evidence to judge, all borrowed. */
struct attest_input {
	const char *tee;
	const uint8_t *evidence;
	size_t evidence_len;
	const atoll_blob *collateral;
	size_t n_collateral;
	/* The binding, one of: the challenge nonce and the 32-byte enclave
	 * key (report data recomputed here); an explicit expected report
	 * data of ATOLL_REPORT_DATA_LEN bytes; or neither (no binding check:
	 * only for inspecting evidence, never for trusting an enclave). */
	const uint8_t *nonce;
	size_t nonce_len;
	const uint8_t *enclave_pub;
	size_t enclave_pub_len; /* must be 32 when enclave_pub is set */
	const uint8_t *report_data;
	/* The enclave manifest's bytes as the enclave sent them (every
	 * enclave sends one). Their SHA-256 is part of the binding, and the
	 * decoded manifest is checked against the policy's pins. */
	const uint8_t *manifest;
	size_t manifest_len;
	/* The workload a client is about to seal for: the manifest must run
	 * it in TEE mode, with its files pinned. 0 (the coordinator): every
	 * workload the manifest runs in TEE mode is judged. */
	uint32_t workload_id;
	/* When signatures, certificates and the policy's age limit apply. */
	int64_t at_ms;
};

enum attest_step {
	ATTEST_STEP_SETUP = 1, /* no driver or no policy for the TEE */
	ATTEST_STEP_DRIVER,    /* the driver refused the evidence */
	ATTEST_STEP_BINDING,   /* report data does not bind nonce and key */
	ATTEST_STEP_POLICY,    /* genuine, but the policy refuses it */
	ATTEST_STEP_MANIFEST,  /* the manifest is malformed or not pinned */
};

struct attest_verdict {
	/* ATOLL_OK, or the status of the check that refused: the driver's
	 * own (ATOLL_E_SIGNATURE, ATOLL_E_CHAIN, ATOLL_E_TCB, ...), or
	 * ATOLL_E_BINDING, ATOLL_E_POLICY, ATOLL_E_UNAVAILABLE (no driver). */
	int status;
	enum attest_step step; /* 0 when status is ATOLL_OK */
	char why[768];
	/* The driver's claims when it verified the evidence (also when the
	 * binding or the policy refused), else NULL; released by
	 * attest_verdict_clear with the driver's claims_free. */
	atoll_claims *claims;
	const struct loaded_driver *driver;
	/* The claims the policy judged (valid when claims is set). */
	struct attest_claims norm;
	/* The decoded manifest and its SHA-256, once the binding held;
	 * released by attest_verdict_clear. */
	struct manifest *manifest;
	uint8_t manifest_digest[32];
};

/* Judge in (see above) with the policy entry for in->tee from policy.
 * policy NULL: the safe default of attest_policy_check (for inspection);
 * otherwise a TEE without an entry is refused. Returns 0 when the
 * evidence is trusted, -EKEYREJECTED when the driver refuses it, -EACCES
 * for setup, binding or policy; the verdict says which and why, and must
 * be cleared either way. */
int attest_judge(const struct attest_verifier *v, const struct attest_policy *policy,
		 const struct attest_input *in, struct attest_verdict *ret);
void attest_verdict_clear(struct attest_verdict *vd);

/* "signature", "chain", "tcb", "binding", "policy", "manifest", ... for
 * a verdict's status and step, as
 * metrics and JSON verdicts name reason classes. */
const char *attest_status_class(int status);
const char *attest_verdict_class(const struct attest_verdict *vd);

/* The claims as name/value text (hex for bytes, decimal for numbers,
 * true/false), standard ones first: measurement, signer, debug, svn, tcb,
 * tcb_status, report_data, then the TEE's own. */
struct attest_kv {
	char *name;
	char *value;
};
int attest_claims_text(const atoll_claims *cl, struct attest_kv **ret, size_t *ret_n);
void attest_kv_free(struct attest_kv *kv, size_t n);

#endif
