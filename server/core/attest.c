/* Attestation of island sessions: fresh single-use challenges, evidence
 * judged by lib/attest (driver, binding to the challenge and the enclave
 * key, policy), and the states an island moves through over its live
 * stream: UNATTESTED, ATTESTED, REVOKED. The judgement itself lives in
 * lib/attest; this file owns only the session side. */
#include "core/internal.h"
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util/log.h"
#include "util/timeutil.h"

void attest_forget(struct session *s)
{
	free(s->evidence);
	s->evidence = NULL;
	s->evidence_len = 0;
	for (size_t i = 0; i < s->n_collateral; i++)
		free((void *)s->collateral[i].data);
	free(s->collateral);
	s->collateral = NULL;
	s->n_collateral = 0;
	attest_kv_free(s->claims, s->n_claims);
	s->claims = NULL;
	s->n_claims = 0;
	free(s->manifest);
	s->manifest = NULL;
	s->manifest_len = 0;
}

static void send_result(struct session *s)
{
	s->ops->attestation(s->peer, s->state, s->reason,
			    s->state == ISLAND_ATTESTED ? s->valid_until_ms : 0);
}

/* Leave ATTESTED (or stay out of it) with a reason operators can read. */
static void set_unattested(struct core *c, struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_unattested(struct core *c, struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof s->reason, fmt, ap);
	va_end(ap);
	/* Once attested, an island that fails is revoked until it attests
	 * again; one that never attested stays unattested. Either way its
	 * enclave key is free for a stream that proves it holds it. */
	if (s->state == ISLAND_ATTESTED)
		s->state = ISLAND_REVOKED;
	session_unattested(c, s);
	log_warn("island %s %s: %s", s->id, s->state == ISLAND_REVOKED ? "revoked" : "not attested",
		 s->reason);
	send_result(s);
	session_refresh(c, s);
}

void attest_start(struct core *c, struct session *s)
{
	if (!attest_verifier_driver(c->verifier, s->tee_type)) {
		set_unattested(c, s, "no verifier driver for TEE '%s'", s->tee_type);
		return;
	}
	if (!attest_policy_for(c->policy, s->tee_type)) {
		set_unattested(c, s, "no attestation policy for TEE '%s'", s->tee_type);
		return;
	}
	if (RAND_bytes(s->nonce, CORE_NONCE_LEN) != 1) {
		set_unattested(c, s, "no randomness for a challenge");
		return;
	}
	int64_t now = time_now_ms();
	s->challenge_open = true;
	s->challenge_expires_ms = now + c->policy->challenge_ttl_ms;
	s->next_challenge_ms = 0;
	s->ops->challenge(s->peer, s->nonce, CORE_NONCE_LEN, s->challenge_expires_ms);
}

void attest_tick(struct core *c, struct session *s, int64_t now)
{
	if (s->challenge_open && now > s->challenge_expires_ms) {
		s->challenge_open = false;
		OPENSSL_cleanse(s->nonce, CORE_NONCE_LEN);
		set_unattested(c, s, "no evidence within %lld ms of the challenge",
			       (long long)c->policy->challenge_ttl_ms);
		/* Try again after a while. */
		s->next_challenge_ms = now + c->policy->challenge_ttl_ms;
		return;
	}
	if (!s->challenge_open && s->next_challenge_ms && now >= s->next_challenge_ms)
		attest_start(c, s);
}

/* Keep what ListAttestedIslands shows and what policy reloads re-judge. */
static void remember(struct session *s, const struct attest_input *ev,
		     const struct attest_verdict *vd)
{
	attest_forget(s);
	s->norm = vd->norm;
	s->evidence = malloc(ev->evidence_len + 1);
	if (s->evidence) {
		memcpy(s->evidence, ev->evidence, ev->evidence_len);
		s->evidence_len = ev->evidence_len;
	}
	s->collateral = calloc(ev->n_collateral + 1, sizeof *s->collateral);
	for (size_t i = 0; s->collateral && i < ev->n_collateral; i++) {
		uint8_t *d = malloc(ev->collateral[i].len + 1);
		if (!d)
			break;
		memcpy(d, ev->collateral[i].data, ev->collateral[i].len);
		s->collateral[i] = (atoll_blob){ d, ev->collateral[i].len };
		s->n_collateral = i + 1;
	}
	memcpy(s->att_nonce, ev->nonce, CORE_NONCE_LEN);
	if ((s->manifest = malloc(ev->manifest_len + 1))) {
		memcpy(s->manifest, ev->manifest, ev->manifest_len);
		s->manifest_len = ev->manifest_len;
	}
	if (attest_claims_text(vd->claims, &s->claims, &s->n_claims) < 0) {
		s->claims = NULL;
		s->n_claims = 0;
	}
}

void attest_evidence(struct core *c, struct session *s, const struct attest_input *ev)
{
	int64_t now = time_now_ms();
	/* Freshness: the nonce must be the open challenge's, used once. */
	if (!s->challenge_open || ev->nonce_len != CORE_NONCE_LEN ||
	    CRYPTO_memcmp(ev->nonce, s->nonce, CORE_NONCE_LEN) != 0) {
		metrics_attestation(false, "challenge");
		set_unattested(c, s, "evidence answers no open challenge (nonce reused, unknown or expired)");
		return;
	}
	s->challenge_open = false;
	OPENSSL_cleanse(s->nonce, CORE_NONCE_LEN);
	s->next_challenge_ms = now + c->policy->reattest_interval_ms;
	if (now > s->challenge_expires_ms) {
		metrics_attestation(false, "challenge");
		set_unattested(c, s, "evidence arrived after the challenge expired");
		return;
	}
	if (strcmp(ev->tee, s->tee_type) != 0) {
		metrics_attestation(false, "mismatch");
		set_unattested(c, s, "evidence of TEE '%s' from an island that said '%s'",
			       ev->tee, s->tee_type);
		return;
	}
	if (ev->enclave_pub_len != CORE_KEY_LEN ||
	    CRYPTO_memcmp(ev->enclave_pub, s->enclave_pub, CORE_KEY_LEN) != 0) {
		metrics_attestation(false, "mismatch");
		set_unattested(c, s, "evidence names another enclave key than the hello");
		return;
	}
	struct attest_input in = *ev;
	in.enclave_pub = s->enclave_pub; /* the hello's, equal to the evidence's */
	in.enclave_pub_len = CORE_KEY_LEN;
	in.at_ms = now;
	struct attest_verdict vd;
	if (attest_judge(c->verifier, c->policy, &in, &vd) < 0) {
		metrics_attestation(false, attest_verdict_class(&vd));
		set_unattested(c, s, "%s", vd.why);
		attest_verdict_clear(&vd);
		return;
	}
	char why[256];
	if (session_attested(c, s, why, sizeof why) < 0) {
		metrics_attestation(false, "identity");
		attest_verdict_clear(&vd);
		set_unattested(c, s, "%s", why);
		return;
	}
	metrics_attestation(true, "pass");
	remember(s, ev, &vd);
	/* TEE jobs of a workload go only where the attested manifest runs it
	 * in TEE mode: the host's Hello is no authority on that. */
	for (size_t i = 0; i < s->n_offers; i++) {
		if (!manifest_workload(vd.manifest, s->offers[i].workload_id, ATOLL_MODE_TEE))
			s->offers[i].modes &= ~ATOLL_MODE_BIT(ATOLL_MODE_TEE);
	}
	s->state = ISLAND_ATTESTED;
	s->reason[0] = 0;
	s->attested_ms = now;
	s->valid_until_ms = s->next_challenge_ms;
	if (vd.claims->not_after && vd.claims->not_after * 1000 < s->valid_until_ms)
		s->valid_until_ms = vd.claims->not_after * 1000;
	attest_verdict_clear(&vd);
	log_info("island %s attested (%s)", s->id, s->tee_type);
	send_result(s);
	session_refresh(c, s);
	session_fill(c, s);
}

/* Re-check an attested island's stored claims against the current policy. */
static void recheck(struct core *c, struct session *s)
{
	if (s->state != ISLAND_ATTESTED)
		return;
	const struct attest_tee_policy *p = attest_policy_for(c->policy, s->tee_type);
	char why[512];
	if (!p) {
		set_unattested(c, s, "policy reload: no policy for TEE '%s' any more", s->tee_type);
		return;
	}
	if (attest_policy_check(p, s->tee_type, &s->norm, time_now_ms(), why, sizeof why) < 0) {
		set_unattested(c, s, "policy reload: %s", why);
		return;
	}
	/* The new pins against the manifest the island attested with. */
	struct manifest *m = NULL;
	uint8_t digest[MANIFEST_SHA256_LEN];
	manifest_digest(s->manifest, s->manifest_len, digest);
	if (manifest_decode(s->manifest, s->manifest_len, &m, why, sizeof why) < 0 ||
	    attest_manifest_check(&c->policy->manifest, m, digest, 0, why, sizeof why) < 0)
		set_unattested(c, s, "policy reload: %s", why);
	manifest_free(m);
}

void core_reload_policy(struct core *c, const struct attest_policy *policy)
{
	core_lock(c);
	c->policy = policy;
	size_t pos = 0;
	struct session *s;
	while ((s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		bool was = s->state == ISLAND_ATTESTED;
		recheck(c, s);
		/* Islands the old policy refused get a fresh challenge when the
		 * new one covers their TEE. */
		if (!was && s->tee_type[0] && !s->challenge_open &&
		    attest_policy_for(c->policy, s->tee_type))
			attest_start(c, s);
	}
	core_unlock(c);
}
