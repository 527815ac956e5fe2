/* Sealing a job input on the client's machine: each island the
 * coordinator lists is judged here, with the client's own policy file
 * (its verifier drivers, reference values and manifest pins, lib/attest),
 * and the input is sealed only to the enclave keys that pass; the record
 * of what was sealed goes to the keystore (sealed.h). */
#ifndef ATOLL_CLIENT_SEAL_H
#define ATOLL_CLIENT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/v1/confidential.pb-c.h"
#include "client/keystore.h"
#include "client/sealed.h"
#include "util/buf.h"

struct cl_trust;

/* Load the policy file and its drivers. -errno with err. */
int cl_trust_load(const char *policy_path, struct cl_trust **ret, char *err, size_t err_size);
void cl_trust_free(struct cl_trust *t);
const char *cl_trust_path(const struct cl_trust *t);

/* Seal pt for workload_id to every island of `islands` (the coordinator's
 * ListAttestedIslands answer) that passes t, with k's public key as the
 * output's recipient. Appends the envelope to out and the ids of the
 * islands sealed to (comma-separated) to ids, saves the record and, with
 * ret_rec, copies it. -EACCES when no island passed (err says why for
 * each), other -errno with err. */
int cl_seal_for_workload(const struct cl_keystore *ks, const struct cl_trust *t,
			 const struct cl_key *k, uint32_t workload_id,
			 const Atoll__V1__ListAttestedIslandsResponse *islands, const uint8_t *pt,
			 size_t len, struct buf *out, struct buf *ids, struct cl_sealed *ret_rec,
			 char *err, size_t err_size);

#endif
