/* Judging attestation evidence: driver verification, report-data
 * binding, and policy. */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/envelope.h"
#include "util/enc.h"

/* Evidence may be stamped this far in the future (clock skew). */
#define MAX_SKEW_S 60

/* Accepted when collateral gives a TCB status and the policy names none. */
static const char *const DEFAULT_TCB_STATUSES[] = {
	"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded", NULL,
};

static bool digest_listed(const struct digest *list, size_t n, const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].len == len && CRYPTO_memcmp(list[i].v, v, len) == 0)
			return true;
	return false;
}

int policy_check(const struct tee_policy *p, const struct policy_claims *pc, int64_t now,
		 char *why, size_t why_size)
{
	char hex[129];
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

int policy_claims_from(const atoll_claims *cl, struct policy_claims *ret_pc)
{
	struct policy_claims pc = { 0 };
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
	*ret_pc = pc;
	return fits ? 0 : -EOVERFLOW;
}

int evidence_judge(const struct loaded_driver *d, const struct tee_policy *p,
		   const struct evidence_in *in, atoll_claims **ret_claims,
		   struct policy_claims *ret_pc, char *why, size_t why_size)
{
	/* The binding is computed here, never taken from the island. */
	uint8_t expected[ENV_REPORT_DATA_LEN];
	if (env_report_data(in->nonce, in->nonce_len, in->enclave_pub, expected) != ENV_OK) {
		snprintf(why, why_size, "cannot compute the expected report data");
		return -EACCES;
	}
	atoll_verify_args args = {
		.struct_size = sizeof args,
		.evidence = in->evidence,
		.evidence_len = in->evidence_len,
		.collateral = in->collateral,
		.n_collateral = in->n_collateral,
		.expected_report_data = expected,
		.expected_report_data_len = sizeof expected,
		.verify_time = in->now_ms / 1000,
	};
	atoll_claims *cl = NULL;
	atoll_err aerr = { "" };
	int r = plugin_driver_verify(d, &args, &cl, &aerr);
	if (r != ATOLL_OK) {
		snprintf(why, why_size, "evidence rejected by the %s driver (%s): %s", d->name,
			 atoll_status_name(r), aerr.msg[0] ? aerr.msg : "no detail");
		return -EKEYREJECTED;
	}
	struct policy_claims pc = { 0 };
	if (cl->report_data_len != sizeof expected ||
	    CRYPTO_memcmp(cl->report_data, expected, sizeof expected) != 0) {
		snprintf(why, why_size,
			 "report data does not bind the challenge nonce and the enclave key");
		goto refused;
	}
	if (policy_claims_from(cl, &pc) < 0) {
		snprintf(why, why_size, "the %s driver returned over-long claims", d->name);
		goto refused;
	}
	if (policy_check(p, &pc, in->now_ms, why, why_size) < 0)
		goto refused;
	*ret_claims = cl;
	*ret_pc = pc;
	return 0;
refused:
	plugin_driver_claims_free(d, cl);
	return -EACCES;
}

char *claim_value_text(const atoll_claim *cl)
{
	switch (cl->type) {
	case ATOLL_CLAIM_BYTES:
		return enc_hex_dup(cl->bytes, cl->len);
	case ATOLL_CLAIM_STRING:
		return strndup((const char *)cl->bytes, cl->len);
	case ATOLL_CLAIM_UINT: {
		char *s;
		return asprintf(&s, "%" PRIu64, cl->u64) < 0 ? NULL : s;
	}
	case ATOLL_CLAIM_BOOL:
		return strdup(cl->u64 ? "true" : "false");
	}
	return strdup("?");
}

