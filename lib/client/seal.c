/* Judging the listed islands with the client's own policy and sealing to
 * those that pass. */
#include "client/seal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/config.h"
#include "attest/verifier.h"
#include "attest/wire.h"
#include "util/timeutil.h"

struct cl_trust {
	char *path;
	struct attest_config *cfg;
	struct attest_verifier v;
};

int cl_trust_load(const char *policy_path, struct cl_trust **ret, char *err, size_t err_size)
{
	struct cl_trust *t = calloc(1, sizeof *t);
	if (!t || !(t->path = strdup(policy_path))) {
		free(t);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	int e;
	if ((e = attest_config_load(policy_path, &t->cfg, err, err_size)) < 0 ||
	    (e = attest_verifier_load(t->cfg->drivers, t->cfg->n_drivers, &t->v, err, err_size)) <
		    0) {
		cl_trust_free(t);
		return e;
	}
	*ret = t;
	return 0;
}

void cl_trust_free(struct cl_trust *t)
{
	if (!t)
		return;
	attest_verifier_unload(&t->v);
	attest_config_free(t->cfg);
	free(t->path);
	free(t);
}

const char *cl_trust_path(const struct cl_trust *t)
{
	return t->path;
}

int cl_seal_for_workload(const struct cl_keystore *ks, const struct cl_trust *t,
			 const struct cl_key *k, uint32_t workload_id,
			 const Atoll__V1__ListAttestedIslandsResponse *resp, const uint8_t *pt,
			 size_t len, struct buf *out, struct buf *ids, struct cl_sealed *ret_rec,
			 char *err, size_t err_size)
{
	uint8_t(*keys)[ENV_KEY_LEN] = calloc(ENV_MAX_RECIPIENTS, ENV_KEY_LEN);
	struct buf why = { 0 };
	size_t n = 0;
	int e = -ENOMEM;
	if (!keys) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	/* Trust no claim of the coordinator: every island is judged here. */
	for (size_t i = 0; i < resp->n_islands && n < ENV_MAX_RECIPIENTS; i++) {
		const Atoll__V1__AttestedIsland *a = resp->islands[i];
		if (a->enclave_public_key.len != ENV_KEY_LEN || !a->nonce.len) {
			buf_printf(&why, "\n  %s: no enclave key or challenge", a->island_id);
			continue;
		}
		struct attest_input in;
		if (attest_input_from_pb(a->tee_type, &a->evidence, a->collateral, a->n_collateral,
					 &a->nonce, &a->enclave_public_key, &a->manifest, &in) < 0)
			continue;
		in.at_ms = time_now_ms();
		/* The island must run this workload on files the policy pins. */
		in.workload_id = workload_id;
		struct attest_verdict vd;
		int r = attest_judge(&t->v, &t->cfg->policy, &in, &vd);
		attest_input_release(&in);
		attest_verdict_clear(&vd);
		if (r < 0) {
			buf_printf(&why, "\n  %s: %s", a->island_id, vd.why);
			continue;
		}
		memcpy(keys[n++], a->enclave_public_key.data, ENV_KEY_LEN);
		if (ids->len)
			buf_putc(ids, ',');
		buf_puts(ids, a->island_id);
	}
	if (!n) {
		snprintf(err, err_size, "no island serving workload %u passed verification against %s%s",
			 workload_id, t->path,
			 why.len ? buf_cstr(&why) : " (the coordinator lists no attested island)");
		e = -EACCES;
		goto out;
	}
	size_t start = out->len;
	e = env_seal_input(HPKE_AEAD_AES_256_GCM, workload_id, k->pub,
			   (const uint8_t(*)[ENV_KEY_LEN])keys, n, pt, len, out);
	if (e != ENV_OK) {
		snprintf(err, err_size, "cannot seal the input: %s", env_strerror(e));
		e = -EIO;
		goto out;
	}
	/* Remember what was sealed: outputs are checked against it. */
	struct env_input_info info;
	struct cl_sealed rec = { .workload_id = workload_id, .n_recipients = n };
	env_inspect_input(out->data + start, out->len - start, &info);
	memcpy(rec.envelope_id, info.envelope_id, ENV_ID_LEN);
	snprintf(rec.key_id, sizeof rec.key_id, "%s", k->key_id);
	memcpy(rec.recipients, keys, n * ENV_KEY_LEN);
	if ((e = cl_sealed_save(ks, &rec)) < 0) {
		snprintf(err, err_size, "cannot record the sealed input in the keystore: %s",
			 strerror(-e));
		goto out;
	}
	if (ret_rec)
		*ret_rec = rec;
	e = 0;
out:
	free(keys);
	buf_free(&why);
	return e;
}
