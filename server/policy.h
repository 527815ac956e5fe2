/* Judging attestation evidence, shared by the coordinator and by clients
 * (atollctl verifies islands itself before sealing input to them):
 * the TEE driver checks the evidence is genuine, then this code checks the
 * binding of report data to the challenge nonce and the enclave key, then
 * applies the policy of a YAML file (policy.tee.<name>). */
#ifndef ATOLL_SERVER_POLICY_H
#define ATOLL_SERVER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "plugin/plugin.h"

/* The normalized claims policy decisions use; kept by the coordinator so
 * that a policy reload can re-judge an island without new evidence. */
struct policy_claims {
	uint8_t measurement[64];
	size_t measurement_len;
	uint8_t signer[64];
	size_t signer_len;
	int debug;
	uint64_t svn, tcb;
	char tcb_status[64];
	bool has_tcb_status;
	int64_t issued_at; /* seconds, 0 unknown */
};

/* Normalize a driver's claims. Every field is filled; a measurement or
 * signer longer than the 64 bytes kept is left empty and the result is
 * -EOVERFLOW, else 0. */
int policy_claims_from(const atoll_claims *cl, struct policy_claims *ret_pc);

/* The policy against normalized claims at time now_ms. 0, or -EACCES with
 * the reason. */
int policy_check(const struct tee_policy *p, const struct policy_claims *pc, int64_t now_ms,
		 char *why, size_t why_size);

struct evidence_in {
	const uint8_t *evidence;
	size_t evidence_len;
	const atoll_blob *collateral;
	size_t n_collateral;
	const uint8_t *nonce;
	size_t nonce_len;
	const uint8_t *enclave_pub; /* 32 bytes */
	int64_t now_ms;
};

/* Driver verification, binding and policy. 0 with *ret_claims (free with
 * the driver's claims_free) and *ret_pc; -EKEYREJECTED when the driver
 * refuses the evidence, -EACCES when the binding or the policy does. */
int evidence_judge(const struct loaded_driver *d, const struct tee_policy *p,
		   const struct evidence_in *in, atoll_claims **ret_claims,
		   struct policy_claims *ret_pc, char *why, size_t why_size);

/* A TEE-specific claim as text: hex for bytes, decimal for numbers,
 * true/false. malloc'd; NULL when out of memory. */
char *claim_value_text(const atoll_claim *cl);

/* A client policy file: only `drivers` and `policy` sections (the same
 * schema as in coordinator.yaml). */
int policy_config_load(const char *path, struct coord_config **ret, char *err, size_t err_size);

#endif
