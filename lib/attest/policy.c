/* The policy check on normalized claims. */
#include "attest/policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "atoll/mode.h"
#include "attest/manifest.h"
#include "util/buf.h"
#include "util/enc.h"

/* Evidence may be stamped this far in the future (clock skew). */
#define MAX_SKEW_S 60

/* Accepted when collateral gives a TCB status and the policy names none. */
static const char *const DEFAULT_TCB_STATUSES[] = {
	"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded", NULL,
};

static const struct attest_tee_policy SAFE_DEFAULT = { .allow_debug = false,
							.require_tcb_status = -1 };

bool attest_tcb_status_needed(const struct attest_tee_policy *p, const char *tee)
{
	if (p && p->require_tcb_status >= 0)
		return p->require_tcb_status == 1;
	return tee && (strcmp(tee, "sgx") == 0 || strcmp(tee, "tdx") == 0);
}

const struct attest_tee_policy *attest_policy_for(const struct attest_policy *p,
						  const char *tee)
{
	for (size_t i = 0; p && i < p->n_tees; i++)
		if (strcmp(p->tees[i].tee, tee) == 0)
			return &p->tees[i];
	return NULL;
}

static bool digest_listed(const struct attest_digest *list, size_t n, const uint8_t *v,
			  size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].len == len && CRYPTO_memcmp(list[i].v, v, len) == 0)
			return true;
	return false;
}

int attest_policy_check(const struct attest_tee_policy *p, const char *tee,
			const struct attest_claims *pc,
			int64_t now, char *why, size_t why_size)
{
	char hex[2 * ATTEST_MAX_DIGEST + 1];
	if (!p)
		p = &SAFE_DEFAULT;
	if (pc->debug && !p->allow_debug) {
		snprintf(why, why_size, "debug enclave refused by policy (allow_debug: false)");
		return -EACCES;
	}
	if (p->n_measurements &&
	    !digest_listed(p->measurements, p->n_measurements, pc->measurement, pc->measurement_len)) {
		enc_hex_encode(pc->measurement, pc->measurement_len, hex);
		snprintf(why, why_size, "measurement %s is not in the policy's allowed list", hex);
		return -EACCES;
	}
	if (p->n_signers && !digest_listed(p->signers, p->n_signers, pc->signer, pc->signer_len)) {
		enc_hex_encode(pc->signer, pc->signer_len, hex);
		snprintf(why, why_size, "signer %s is not in the policy's allowed list", hex);
		return -EACCES;
	}
	if (pc->svn < p->min_svn) {
		snprintf(why, why_size, "svn %" PRIu64 " is below the policy minimum %" PRIu64, pc->svn,
			 p->min_svn);
		return -EACCES;
	}
	if (pc->tcb < p->min_tcb) {
		snprintf(why, why_size, "TCB 0x%" PRIx64 " is below the policy minimum 0x%" PRIx64,
			 pc->tcb, p->min_tcb);
		return -EACCES;
	}
	if (!pc->has_tcb_status && attest_tcb_status_needed(p, tee)) {
		snprintf(why, why_size,
			 "the evidence has no TCB status (it was verified without collateral); give "
			 "the %s driver collateral, or set policy.tee.%s.require_tcb_status: false",
			 tee, tee);
		return -EACCES;
	}
	if (pc->has_tcb_status) {
		const char *const *ok = p->tcb_statuses ? (const char *const *)p->tcb_statuses
							: DEFAULT_TCB_STATUSES;
		bool found = false;
		for (; *ok; ok++)
			if (strcmp(*ok, pc->tcb_status) == 0)
				found = true;
		if (!found) {
			snprintf(why, why_size, "TCB status %s is not accepted by policy", pc->tcb_status);
			return -EACCES;
		}
	}
	if (pc->issued_at) {
		int64_t age_ms = now - pc->issued_at * 1000;
		if (age_ms < -MAX_SKEW_S * 1000) {
			snprintf(why, why_size, "evidence is dated %lld s in the future",
				 (long long)(-age_ms / 1000));
			return -EACCES;
		}
		if (p->max_evidence_age_ms && age_ms > p->max_evidence_age_ms) {
			snprintf(why, why_size, "evidence is %lld s old, the policy allows %lld s",
				 (long long)(age_ms / 1000), (long long)(p->max_evidence_age_ms / 1000));
			return -EACCES;
		}
	}
	return 0;
}

int attest_claims_from(const atoll_claims *cl, struct attest_claims *ret)
{
	struct attest_claims pc = { 0 };
	bool fits = cl->measurement_len <= sizeof pc.measurement &&
		    cl->signer_len <= sizeof pc.signer;
	if (fits) {
		memcpy(pc.measurement, cl->measurement, cl->measurement_len);
		pc.measurement_len = cl->measurement_len;
		memcpy(pc.signer, cl->signer, cl->signer_len);
		pc.signer_len = cl->signer_len;
	}
	pc.debug = cl->debug;
	pc.svn = cl->svn;
	pc.tcb = cl->tcb;
	if (cl->tcb_status) {
		snprintf(pc.tcb_status, sizeof pc.tcb_status, "%s", cl->tcb_status);
		pc.has_tcb_status = true;
	}
	pc.issued_at = cl->issued_at;
	*ret = pc;
	return fits ? 0 : -EOVERFLOW;
}

static const struct attest_workload_pins *pins_for(const struct attest_manifest_policy *p,
						   uint32_t id)
{
	for (size_t i = 0; i < p->n_workloads; i++)
		if (p->workloads[i].id == id)
			return &p->workloads[i];
	return NULL;
}

/* A workload's files against its pins. */
static int check_workload(const struct attest_manifest_policy *p,
			  const struct manifest_workload *wl, char *why, size_t why_size)
{
	char hex[2 * MANIFEST_SHA256_LEN + 1];
	const struct attest_workload_pins *pins = pins_for(p, wl->id);
	if (!pins) {
		if (!p->require_pins)
			return 0;
		struct buf b = { 0 };
		enc_hex_encode(wl->backend_sha256, MANIFEST_SHA256_LEN, hex);
		buf_printf(&b, "workload %u: backend %s sha256 %s", wl->id, wl->backend, hex);
		for (size_t i = 0; i < wl->n_models; i++) {
			enc_hex_encode(wl->models[i], MANIFEST_SHA256_LEN, hex);
			buf_printf(&b, "%s%s", i ? ", " : " and model sha256 ", hex);
		}
		snprintf(why, why_size,
			 "%s: not pinned by the policy (add them under policy.manifest.workloads, or "
			 "set policy.manifest.require_pins: false)",
			 b.data ? buf_cstr(&b) : "out of memory");
		buf_free(&b);
		return -EACCES;
	}
	if (!digest_listed(pins->backends, pins->n_backends, wl->backend_sha256,
			   MANIFEST_SHA256_LEN)) {
		enc_hex_encode(wl->backend_sha256, MANIFEST_SHA256_LEN, hex);
		snprintf(why, why_size, "workload %u: backend %s sha256 %s is not pinned", wl->id,
			 wl->backend, hex);
		return -EACCES;
	}
	for (size_t i = 0; i < wl->n_models; i++)
		if (!digest_listed(pins->models, pins->n_models, wl->models[i],
				   MANIFEST_SHA256_LEN)) {
			enc_hex_encode(wl->models[i], MANIFEST_SHA256_LEN, hex);
			snprintf(why, why_size, "workload %u: model sha256 %s is not pinned", wl->id,
				 hex);
			return -EACCES;
		}
	return 0;
}

int attest_manifest_check(const struct attest_manifest_policy *p, const struct manifest *m,
			  const uint8_t *digest, uint32_t workload_id, char *why, size_t why_size)
{
	char hex[2 * MANIFEST_SHA256_LEN + 1];
	if (p->n_manifests &&
	    !digest_listed(p->manifests, p->n_manifests, digest, MANIFEST_SHA256_LEN)) {
		enc_hex_encode(digest, MANIFEST_SHA256_LEN, hex);
		snprintf(why, why_size, "manifest sha256 %s is not pinned", hex);
		return -EACCES;
	}
	if (p->n_runtimes &&
	    !digest_listed(p->runtimes, p->n_runtimes, m->runtime_sha256, MANIFEST_SHA256_LEN)) {
		enc_hex_encode(m->runtime_sha256, MANIFEST_SHA256_LEN, hex);
		snprintf(why, why_size, "enclave runtime sha256 %s is not pinned", hex);
		return -EACCES;
	}
	if (p->n_drivers && (!m->has_driver || !digest_listed(p->drivers, p->n_drivers,
							       m->driver_sha256,
							       MANIFEST_SHA256_LEN))) {
		enc_hex_encode(m->driver_sha256, MANIFEST_SHA256_LEN, hex);
		snprintf(why, why_size, "TEE driver sha256 %s is not pinned",
			 m->has_driver ? hex : "(none)");
		return -EACCES;
	}
	if (workload_id) {
		const struct manifest_workload *wl = manifest_workload(m, workload_id,
								       ATOLL_MODE_TEE);
		if (!wl) {
			snprintf(why, why_size, "the enclave's manifest does not run workload %u in "
						"TEE mode",
				 workload_id);
			return -EACCES;
		}
		return check_workload(p, wl, why, why_size);
	}
	for (size_t i = 0; i < m->n_workloads; i++)
		if ((m->workloads[i].modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE)) &&
		    check_workload(p, &m->workloads[i], why, why_size) < 0)
			return -EACCES;
	return 0;
}
