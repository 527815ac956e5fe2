/* Attestation, done by the core and not trusted to drivers: fresh
 * single-use challenges, evidence verified by the island's TEE driver, the
 * binding of report data to the challenge and the enclave key, and the
 * policy of coordinator.yaml. Islands move between UNATTESTED, ATTESTED and
 * REVOKED over their live streams. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core_impl.h"
#include "policy.h"
#include "crypto/envelope.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define ST_UNATTESTED ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED
#define ST_ATTESTED ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED
#define ST_REVOKED ATOLL__V1__ISLAND_STATE__ISLAND_STATE_REVOKED

void attest_clear(struct island *is)
{
	free(is->evidence);
	is->evidence = NULL;
	is->evidence_len = 0;
	for (size_t i = 0; i < is->n_collateral; i++)
		free(is->collateral[i].data);
	free(is->collateral);
	is->collateral = NULL;
	is->n_collateral = 0;
	for (size_t i = 0; i < is->n_claims; i++) {
		free(is->claims[i].name);
		free(is->claims[i].value);
	}
	free(is->claims);
	is->claims = NULL;
	is->n_claims = 0;
}

static void send_result(struct island *is)
{
	Atoll__V1__AttestationResult r = ATOLL__V1__ATTESTATION_RESULT__INIT;
	Google__Protobuf__Timestamp until;
	r.state = (Atoll__V1__IslandState)is->state;
	r.reason = is->reason;
	if (is->state == ST_ATTESTED) {
		google__protobuf__timestamp__init(&until);
		until.seconds = is->valid_until_ms / 1000;
		until.nanos = (int32_t)(is->valid_until_ms % 1000) * 1000000;
		r.valid_until = &until;
	}
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION;
	m.attestation = &r;
	island_send(is, &m);
}

/* Leave ATTESTED (or stay out of it) with a reason operators can read. */
static void set_unattested(struct core *c, struct island *is, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_unattested(struct core *c, struct island *is, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(is->reason, sizeof is->reason, fmt, ap);
	va_end(ap);
	/* Once attested, an island that fails is revoked until it attests
	 * again; one that never attested stays unattested. */
	if (is->state == ST_ATTESTED)
		is->state = ST_REVOKED;
	log_warn("island %s %s: %s", is->id, is->state == ST_REVOKED ? "revoked" : "not attested",
		 is->reason);
	send_result(is);
	island_refresh(c, is);
}

void attest_start(struct core *c, struct island *is)
{
	if (!core_driver(c, is->tee_type)) {
		set_unattested(c, is, "no verifier driver for TEE '%s'", is->tee_type);
		return;
	}
	if (!coord_config_policy(c->pcfg, is->tee_type)) {
		set_unattested(c, is, "no attestation policy for TEE '%s'",
			       is->tee_type);
		return;
	}
	if (RAND_bytes(is->nonce, NONCE_LEN) != 1) {
		set_unattested(c, is, "no randomness for a challenge");
		return;
	}
	int64_t now = time_now_ms();
	is->challenge_open = true;
	is->challenge_expires_ms = now + c->pcfg->policy.challenge_ttl_ms;
	is->next_challenge_ms = 0;
	Atoll__V1__Challenge ch = ATOLL__V1__CHALLENGE__INIT;
	Google__Protobuf__Timestamp exp;
	google__protobuf__timestamp__init(&exp);
	exp.seconds = is->challenge_expires_ms / 1000;
	exp.nanos = (int32_t)(is->challenge_expires_ms % 1000) * 1000000;
	ch.nonce.data = is->nonce;
	ch.nonce.len = NONCE_LEN;
	ch.expires_at = &exp;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE;
	m.challenge = &ch;
	island_send(is, &m);
}

void attest_tick(struct core *c, struct island *is, int64_t now)
{
	if (is->challenge_open && now > is->challenge_expires_ms) {
		is->challenge_open = false;
		OPENSSL_cleanse(is->nonce, NONCE_LEN);
		set_unattested(c, is, "no evidence within %lld ms of the challenge",
			       (long long)c->pcfg->policy.challenge_ttl_ms);
		/* Try again after a while. */
		is->next_challenge_ms = now + c->pcfg->policy.challenge_ttl_ms;
		return;
	}
	if (!is->challenge_open && is->next_challenge_ms && now >= is->next_challenge_ms)
		attest_start(c, is);
}

static int add_claim(struct island *is, const char *name, char *value)
{
	if (!value)
		return -ENOMEM;
	struct claim_kv *n = realloc(is->claims, (is->n_claims + 1) * sizeof *n);
	char *nm = strdup(name);
	if (!n || !nm) {
		if (n)
			is->claims = n;
		free(nm);
		free(value);
		return -ENOMEM;
	}
	is->claims = n;
	n[is->n_claims++] = (struct claim_kv){ nm, value };
	return 0;
}

/* Keep what ListAttestedIslands shows and what policy reloads re-judge. */
static void remember(struct island *is, const Atoll__V1__Evidence *ev, const atoll_claims *cl,
		     const struct policy_claims *pc)
{
	attest_clear(is);
	is->pc = *pc;
	is->evidence = malloc(ev->evidence.len + 1);
	if (is->evidence) {
		memcpy(is->evidence, ev->evidence.data, ev->evidence.len);
		is->evidence_len = ev->evidence.len;
	}
	is->collateral = calloc(ev->n_collateral + 1, sizeof *is->collateral);
	for (size_t i = 0; is->collateral && i < ev->n_collateral; i++) {
		uint8_t *d = malloc(ev->collateral[i].len + 1);
		if (!d)
			break;
		memcpy(d, ev->collateral[i].data, ev->collateral[i].len);
		is->collateral[i].data = d;
		is->collateral[i].len = ev->collateral[i].len;
		is->n_collateral = i + 1;
	}
	memcpy(is->att_nonce, ev->nonce.data, NONCE_LEN);
	add_claim(is, "measurement", enc_hex_dup(cl->measurement, cl->measurement_len));
	if (cl->signer_len)
		add_claim(is, "signer", enc_hex_dup(cl->signer, cl->signer_len));
	add_claim(is, "debug", strdup(cl->debug ? "true" : "false"));
	char num[32];
	snprintf(num, sizeof num, "%" PRIu64, cl->svn);
	add_claim(is, "svn", strdup(num));
	if (cl->tcb) {
		snprintf(num, sizeof num, "0x%016" PRIx64, cl->tcb);
		add_claim(is, "tcb", strdup(num));
	}
	if (cl->tcb_status)
		add_claim(is, "tcb_status", strdup(cl->tcb_status));
	add_claim(is, "report_data", enc_hex_dup(cl->report_data, cl->report_data_len));
	for (size_t i = 0; i < cl->n_extra; i++)
		if (cl->extra[i].name)
			add_claim(is, cl->extra[i].name, claim_value_text(&cl->extra[i]));
}

void attest_evidence(struct core *c, struct island *is, const Atoll__V1__Evidence *ev)
{
	int64_t now = time_now_ms();
	/* Freshness: the nonce must be the open challenge's, used once. */
	if (!is->challenge_open || ev->nonce.len != NONCE_LEN ||
	    CRYPTO_memcmp(ev->nonce.data, is->nonce, NONCE_LEN) != 0) {
		set_unattested(c, is, "evidence answers no open challenge (nonce reused, unknown or expired)");
		return;
	}
	is->challenge_open = false;
	OPENSSL_cleanse(is->nonce, NONCE_LEN);
	is->next_challenge_ms = now + c->pcfg->policy.reattest_interval_ms;
	if (now > is->challenge_expires_ms) {
		set_unattested(c, is, "evidence arrived after the challenge expired");
		return;
	}
	if (strcmp(ev->tee_type, is->tee_type) != 0) {
		set_unattested(c, is, "evidence of TEE '%s' from an island that said '%s'",
			       ev->tee_type, is->tee_type);
		return;
	}
	if (ev->enclave_public_key.len != ENCLAVE_KEY_LEN ||
	    CRYPTO_memcmp(ev->enclave_public_key.data, is->enclave_pub, ENCLAVE_KEY_LEN) != 0) {
		set_unattested(c, is, "evidence names another enclave key than the hello");
		return;
	}
	const struct loaded_driver *d = core_driver(c, is->tee_type);
	const struct tee_policy *p = coord_config_policy(c->pcfg, is->tee_type);
	if (!d || !p) {
		set_unattested(c, is, "no %s for TEE '%s'",
			       d ? "attestation policy" : "verifier driver", is->tee_type);
		return;
	}
	atoll_blob *coll = calloc(ev->n_collateral + 1, sizeof *coll);
	if (!coll) {
		set_unattested(c, is, "out of memory");
		return;
	}
	for (size_t i = 0; i < ev->n_collateral; i++)
		coll[i] = (atoll_blob){ ev->collateral[i].data, ev->collateral[i].len };
	struct evidence_in in = {
		.evidence = ev->evidence.data,
		.evidence_len = ev->evidence.len,
		.collateral = coll,
		.n_collateral = ev->n_collateral,
		.nonce = ev->nonce.data,
		.nonce_len = NONCE_LEN,
		.enclave_pub = is->enclave_pub,
		.now_ms = now,
	};
	atoll_claims *cl = NULL;
	struct policy_claims pc;
	char why[768];
	int r = evidence_judge(d, p, &in, &cl, &pc, why, sizeof why);
	free(coll);
	if (r < 0) {
		set_unattested(c, is, "%s", why);
		return;
	}
	remember(is, ev, cl, &pc);
	is->state = ST_ATTESTED;
	is->reason[0] = 0;
	is->attested_ms = now;
	is->valid_until_ms = is->next_challenge_ms;
	if (cl->not_after && cl->not_after * 1000 < is->valid_until_ms)
		is->valid_until_ms = cl->not_after * 1000;
	plugin_driver_claims_free(d, cl);
	log_info("island %s attested (%s)", is->id, is->tee_type);
	send_result(is);
	island_refresh(c, is);
	island_fill(c, is);
}

void attest_recheck(struct core *c, struct island *is)
{
	if (is->state != ST_ATTESTED)
		return;
	const struct tee_policy *p = coord_config_policy(c->pcfg, is->tee_type);
	char why[512];
	if (!p) {
		set_unattested(c, is, "policy reload: no policy for TEE '%s' any more",
			       is->tee_type);
		return;
	}
	if (policy_check(p, &is->pc, time_now_ms(), why, sizeof why) < 0)
		set_unattested(c, is, "policy reload: %s", why);
}

/* ---- views ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int core_list_islands(struct core *c, uint32_t workload_id, bool include_unattested,
		      Atoll__V1__ListAttestedIslandsResponse *out)
{
	atoll__v1__list_attested_islands_response__init(out);
	pthread_mutex_lock(&c->mu);
	size_t n = c->islands.count, k = 0;
	Atoll__V1__AttestedIsland **list = calloc(n + 1, sizeof *list);
	if (!list) {
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	size_t pos = 0;
	struct island *is;
	while ((is = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if (!include_unattested && is->state != ST_ATTESTED)
			continue;
		bool serves = !workload_id;
		for (size_t i = 0; i < is->n_offers; i++)
			if (is->offers[i].workload_id == workload_id)
				serves = true;
		if (!serves)
			continue;
		Atoll__V1__AttestedIsland *a = calloc(1, sizeof *a);
		if (!a)
			break;
		atoll__v1__attested_island__init(a);
		list[k++] = a;
		a->island_id = strdup(is->id);
		a->state = (Atoll__V1__IslandState)is->state;
		a->reason = dup_or_empty(is->reason);
		a->tee_type = dup_or_empty(is->tee_type);
		if (is->has_pub) {
			a->enclave_public_key.data = malloc(ENCLAVE_KEY_LEN);
			if (a->enclave_public_key.data) {
				memcpy(a->enclave_public_key.data, is->enclave_pub, ENCLAVE_KEY_LEN);
				a->enclave_public_key.len = ENCLAVE_KEY_LEN;
			}
		}
		if (is->evidence && (a->evidence.data = malloc(is->evidence_len + 1))) {
			memcpy(a->evidence.data, is->evidence, is->evidence_len);
			a->evidence.len = is->evidence_len;
		}
		a->collateral = calloc(is->n_collateral + 1, sizeof *a->collateral);
		for (size_t i = 0; a->collateral && i < is->n_collateral; i++) {
			uint8_t *d = malloc(is->collateral[i].len + 1);
			if (!d)
				break;
			memcpy(d, is->collateral[i].data, is->collateral[i].len);
			a->collateral[i].data = d;
			a->collateral[i].len = is->collateral[i].len;
			a->n_collateral = i + 1;
		}
		if (is->attested_ms) {
			if ((a->nonce.data = malloc(NONCE_LEN))) {
				memcpy(a->nonce.data, is->att_nonce, NONCE_LEN);
				a->nonce.len = NONCE_LEN;
			}
			a->attested_at = calloc(1, sizeof *a->attested_at);
			a->valid_until = calloc(1, sizeof *a->valid_until);
			if (a->attested_at) {
				google__protobuf__timestamp__init(a->attested_at);
				a->attested_at->seconds = is->attested_ms / 1000;
				a->attested_at->nanos = (int32_t)(is->attested_ms % 1000) * 1000000;
			}
			if (a->valid_until) {
				google__protobuf__timestamp__init(a->valid_until);
				a->valid_until->seconds = is->valid_until_ms / 1000;
				a->valid_until->nanos = (int32_t)(is->valid_until_ms % 1000) * 1000000;
			}
		}
		a->claims = calloc(is->n_claims + 1, sizeof *a->claims);
		for (size_t i = 0; a->claims && i < is->n_claims; i++) {
			Atoll__V1__AttestedIsland__ClaimsEntry *e = calloc(1, sizeof *e);
			if (!e)
				break;
			atoll__v1__attested_island__claims_entry__init(e);
			e->key = strdup(is->claims[i].name);
			e->value = strdup(is->claims[i].value);
			a->claims[a->n_claims++] = e;
		}
		a->workload_ids = calloc(is->n_offers + 1, sizeof *a->workload_ids);
		for (size_t i = 0; a->workload_ids && i < is->n_offers; i++)
			a->workload_ids[a->n_workload_ids++] = is->offers[i].workload_id;
	}
	pthread_mutex_unlock(&c->mu);
	out->islands = list;
	out->n_islands = k;
	return 0;
}

void core_islands_clear(Atoll__V1__ListAttestedIslandsResponse *r)
{
	/* Every field was allocated with malloc, as protobuf-c would. */
	for (size_t i = 0; i < r->n_islands; i++)
		protobuf_c_message_free_unpacked(&r->islands[i]->base, NULL);
	free(r->islands);
	atoll__v1__list_attested_islands_response__init(r);
}

size_t core_attested_keys(struct core *c, uint32_t workload_id, uint8_t (*keys)[32],
			  char (*ids)[128], size_t max)
{
	size_t n = 0, pos = 0;
	struct island *is;
	pthread_mutex_lock(&c->mu);
	while (n < max && (is = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if (is->state != ST_ATTESTED || !is->has_pub)
			continue;
		bool ok = false;
		for (size_t i = 0; i < is->n_offers; i++)
			if ((!workload_id || is->offers[i].workload_id == workload_id) &&
			    (is->offers[i].modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE)))
				ok = true;
		if (!ok)
			continue;
		memcpy(keys[n], is->enclave_pub, 32);
		snprintf(ids[n], 128, "%s", is->id);
		n++;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

void core_reload_policy(struct core *c, const struct coord_config *cfg)
{
	pthread_mutex_lock(&c->mu);
	c->pcfg = cfg;
	size_t pos = 0;
	struct island *is;
	while ((is = hmap_next(&c->islands, &pos, NULL, NULL))) {
		bool was = is->state == ST_ATTESTED;
		attest_recheck(c, is);
		/* Islands the old policy refused get a fresh challenge when the
		 * new one covers their TEE. */
		if (!was && is->tee_type[0] && !is->challenge_open &&
		    coord_config_policy(c->pcfg, is->tee_type))
			attest_start(c, is);
	}
	pthread_mutex_unlock(&c->mu);
}
