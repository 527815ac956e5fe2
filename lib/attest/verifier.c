/* The verifier set and the judgement of evidence. */
#include "attest/verifier.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/envelope.h"
#include "util/enc.h"

int attest_verifier_load(const struct plugin_cfg *drivers, size_t n_drivers,
			 struct attest_verifier *ret, char *err, size_t err_size)
{
	struct driver_set s;
	int e = driver_set_load(drivers, n_drivers, &s, err, err_size);
	if (e < 0)
		return e;
	/* A verifier only verifies: a collect-only driver is a configuration
	 * mistake to report now, not at the first piece of evidence. */
	for (size_t i = 0; i < s.n; i++)
		if (!plugin_driver_can_verify(&s.d[i])) {
			snprintf(err, err_size, "driver '%s' in [%s]: collect-only, a verifier needs "
				 "verify",
				 s.d[i].name, s.d[i].path);
			driver_set_unload(&s);
			return -EINVAL;
		}
	ret->drivers = s;
	return 0;
}

void attest_verifier_unload(struct attest_verifier *v)
{
	if (v)
		driver_set_unload(&v->drivers);
}

const struct loaded_driver *attest_verifier_driver(const struct attest_verifier *v,
						   const char *tee)
{
	return driver_set_find(&v->drivers, tee);
}

static int refuse(struct attest_verdict *vd, enum attest_step step, int status, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct attest_verdict *vd, enum attest_step step, int status, const char *fmt,
		  ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vd->why, sizeof vd->why, fmt, ap);
	va_end(ap);
	vd->step = step;
	vd->status = status;
	return step == ATTEST_STEP_DRIVER ? -EKEYREJECTED : -EACCES;
}

int attest_judge(const struct attest_verifier *v, const struct attest_policy *policy,
		 const struct attest_input *in, struct attest_verdict *vd)
{
	memset(vd, 0, sizeof *vd);
	const struct loaded_driver *d = attest_verifier_driver(v, in->tee);
	if (!d)
		return refuse(vd, ATTEST_STEP_SETUP, ATOLL_E_UNAVAILABLE,
			      "no verifier driver for TEE '%s'", in->tee);
	const struct attest_tee_policy *p = policy ? attest_policy_for(policy, in->tee) : NULL;
	if (policy && !p)
		return refuse(vd, ATTEST_STEP_SETUP, ATOLL_E_POLICY,
			      "no attestation policy for TEE '%s'", in->tee);
	/* The binding is computed here, never taken from the island. */
	uint8_t expected[ATOLL_REPORT_DATA_LEN];
	const uint8_t *want = NULL;
	if (in->manifest_len > MANIFEST_MAX_BYTES)
		return refuse(vd, ATTEST_STEP_MANIFEST, ATOLL_E_FORMAT,
			      "the enclave manifest is larger than %u bytes", MANIFEST_MAX_BYTES);
	manifest_digest(in->manifest, in->manifest_len, vd->manifest_digest);
	if (in->enclave_pub) {
		if (in->enclave_pub_len != ENV_KEY_LEN)
			return refuse(vd, ATTEST_STEP_BINDING, ATOLL_E_BINDING,
				      "the enclave key is %zu bytes, not %d", in->enclave_pub_len,
				      ENV_KEY_LEN);
		if (env_report_data(in->nonce, in->nonce_len, in->enclave_pub, vd->manifest_digest,
				    expected) != ENV_OK)
			return refuse(vd, ATTEST_STEP_BINDING, ATOLL_E_BINDING,
				      "cannot compute the expected report data");
		want = expected;
	} else if (in->report_data) {
		memcpy(expected, in->report_data, sizeof expected);
		want = expected;
	}
	atoll_verify_args args = {
		.struct_size = sizeof args,
		.evidence = in->evidence,
		.evidence_len = in->evidence_len,
		.collateral = in->collateral,
		.n_collateral = in->n_collateral,
		.expected_report_data = want,
		.expected_report_data_len = want ? sizeof expected : 0,
		.verify_time = in->at_ms / 1000,
	};
	atoll_err aerr = { "" };
	int r = plugin_driver_verify(d, &args, &vd->claims, &aerr);
	if (r != ATOLL_OK) {
		vd->claims = NULL;
		return refuse(vd, ATTEST_STEP_DRIVER, r, "evidence rejected by the %s driver (%s): %s",
			      d->name, atoll_status_name(r), aerr.msg[0] ? aerr.msg : "no detail");
	}
	vd->driver = d;
	const atoll_claims *cl = vd->claims;
	if (want && (cl->report_data_len != sizeof expected ||
		     CRYPTO_memcmp(cl->report_data, expected, sizeof expected) != 0))
		return refuse(vd, ATTEST_STEP_BINDING, ATOLL_E_BINDING,
			      in->enclave_pub ? "report data does not bind the challenge nonce, the "
						"enclave key and the enclave manifest"
					      : "report data differs from the expected value");
	if (attest_claims_from(cl, &vd->norm) < 0)
		return refuse(vd, ATTEST_STEP_POLICY, ATOLL_E_POLICY,
			      "the %s driver returned over-long claims", d->name);
	if (attest_policy_check(p, in->tee, &vd->norm, in->at_ms, vd->why, sizeof vd->why) < 0) {
		vd->step = ATTEST_STEP_POLICY;
		vd->status = ATOLL_E_POLICY;
		return -EACCES;
	}
	/* The manifest counts only once bound into genuine evidence. */
	if (in->enclave_pub) {
		char err[256];
		if (manifest_decode(in->manifest, in->manifest_len, &vd->manifest, err,
				    sizeof err) < 0)
			return refuse(vd, ATTEST_STEP_MANIFEST, ATOLL_E_FORMAT, "%s", err);
		if (policy && attest_manifest_check(&policy->manifest, vd->manifest,
						    vd->manifest_digest, in->workload_id, vd->why,
						    sizeof vd->why) < 0) {
			vd->step = ATTEST_STEP_MANIFEST;
			vd->status = ATOLL_E_POLICY;
			return -EACCES;
		}
	}
	vd->status = ATOLL_OK;
	return 0;
}

void attest_verdict_clear(struct attest_verdict *vd)
{
	manifest_free(vd->manifest);
	vd->manifest = NULL;
	if (vd->claims && vd->driver)
		plugin_driver_claims_free(vd->driver, vd->claims);
	vd->claims = NULL;
	vd->driver = NULL;
}

const char *attest_status_class(int status)
{
	switch (status) {
	case ATOLL_OK: return "pass";
	case ATOLL_E_FORMAT: return "format";
	case ATOLL_E_SIGNATURE: return "signature";
	case ATOLL_E_CHAIN: return "chain";
	case ATOLL_E_EXPIRED: return "expired";
	case ATOLL_E_TCB: return "tcb";
	case ATOLL_E_BINDING: return "binding";
	case ATOLL_E_POLICY: return "policy";
	case ATOLL_E_CONFIG: return "config";
	case ATOLL_E_UNSUPPORTED: return "unsupported";
	case ATOLL_E_UNAVAILABLE: return "unavailable";
	default: return "error";
	}
}

const char *attest_verdict_class(const struct attest_verdict *vd)
{
	return vd->step == ATTEST_STEP_MANIFEST ? "manifest" : attest_status_class(vd->status);
}

static char *claim_value_text(const atoll_claim *cl)
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

struct kv_list {
	struct attest_kv *kv;
	size_t n;
	bool oom;
};

static void add(struct kv_list *l, const char *name, char *value)
{
	char *nm = strdup(name);
	struct attest_kv *n = value && nm ? realloc(l->kv, (l->n + 1) * sizeof *n) : NULL;
	if (!n) {
		free(nm);
		free(value);
		l->oom = true;
		return;
	}
	l->kv = n;
	n[l->n++] = (struct attest_kv){ nm, value };
}

int attest_claims_text(const atoll_claims *cl, struct attest_kv **ret, size_t *ret_n)
{
	struct kv_list l = { 0 };
	char num[32];
	add(&l, "measurement", enc_hex_dup(cl->measurement, cl->measurement_len));
	if (cl->signer_len)
		add(&l, "signer", enc_hex_dup(cl->signer, cl->signer_len));
	add(&l, "debug", strdup(cl->debug ? "true" : "false"));
	snprintf(num, sizeof num, "%" PRIu64, cl->svn);
	add(&l, "svn", strdup(num));
	if (cl->tcb) {
		snprintf(num, sizeof num, "0x%016" PRIx64, cl->tcb);
		add(&l, "tcb", strdup(num));
	}
	if (cl->tcb_status)
		add(&l, "tcb_status", strdup(cl->tcb_status));
	add(&l, "report_data", enc_hex_dup(cl->report_data, cl->report_data_len));
	for (size_t i = 0; i < cl->n_extra; i++)
		if (cl->extra[i].name)
			add(&l, cl->extra[i].name, claim_value_text(&cl->extra[i]));
	if (l.oom) {
		attest_kv_free(l.kv, l.n);
		return -ENOMEM;
	}
	*ret = l.kv;
	*ret_n = l.n;
	return 0;
}

void attest_kv_free(struct attest_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(kv);
}
