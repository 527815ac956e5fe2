/* atoll.v1.Confidential: client keys, custodial encrypt/decrypt, attested
 * islands, statistics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "atoll/v1/confidential.pb-c.h"
#include "auth.h"
#include "coordinator.h"
#include "crypto/envelope.h"
#include "svc/pbconv.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_RECIPIENTS ENV_MAX_RECIPIENTS

static const char NOT_CUSTODIAL[] =
	"this coordinator does not hold client keys (keys.custodial is false): make the key "
	"and encrypt or decrypt on your own machine with atollctl";

/* A Paillier modulus: 2048 to 8192 bits, odd, no leading zero byte. */
static bool paillier_modulus_ok(const ProtobufCBinaryData *n)
{
	return n->len >= 256 && n->len <= 1024 && n->data[0] != 0 && (n->data[n->len - 1] & 1);
}

static void create_key(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__CreateKeyRequest *r = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	if (!t)
		return;
	int alg = r->algorithm ? (int)r->algorithm : ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE;
	struct key_row k = { 0 };
	uint8_t priv[ENV_KEY_LEN], pub[ENV_KEY_LEN];
	if (strlen(r->label) >= sizeof k.label) {
		rpc_call_fail(call, -EINVAL, "label is longer than 255 bytes");
		return;
	}
	if (alg == ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE) {
		if (r->public_key.len == 0) {
			if (!co->cfg->keys.custodial) {
				rpc_call_fail(call, -ENOTSUP, NOT_CUSTODIAL);
				return;
			}
			if (x25519_keygen(priv, pub) != 0) {
				rpc_call_fail(call, -EIO, "cannot generate a key");
				return;
			}
			k.private_key = priv;
			k.private_key_len = sizeof priv;
			k.public_key = pub;
			k.public_key_len = sizeof pub;
		} else if (r->public_key.len != ENV_KEY_LEN) {
			rpc_call_fail(call, -EINVAL, "an X25519 public key is 32 bytes");
			return;
		} else {
			k.public_key = r->public_key.data;
			k.public_key_len = r->public_key.len;
		}
	} else if (alg == ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER) {
		if (!paillier_modulus_ok(&r->public_key)) {
			rpc_call_fail(call, -EINVAL,
				      "a Paillier public key is the modulus n, big-endian, 2048 to "
				      "8192 bits and odd (keys are made on the client)");
			return;
		}
		k.public_key = r->public_key.data;
		k.public_key_len = r->public_key.len;
	} else {
		rpc_call_fail(call, -EINVAL, "unknown key algorithm");
		return;
	}
	k.algorithm = alg;
	enc_random_id("ck_", k.id, sizeof k.id);
	snprintf(k.tenant, sizeof k.tenant, "%s", t->name);
	snprintf(k.label, sizeof k.label, "%s", r->label);
	k.created_ms = time_now_ms();
	int e = store_insert_key(co->store, &k);
	OPENSSL_cleanse(priv, sizeof priv);
	if (e < 0) {
		rpc_call_fail(call, -EIO, "cannot store the key");
		return;
	}
	Atoll__V1__Key out = ATOLL__V1__KEY__INIT;
	Google__Protobuf__Timestamp ts;
	pb_ts_set(&ts, k.created_ms);
	out.key_id = k.id;
	out.public_key.data = k.public_key;
	out.public_key.len = k.public_key_len;
	out.algorithm = (Atoll__V1__KeyAlgorithm)alg;
	out.custodial = k.private_key != NULL;
	out.label = k.label;
	out.created_at = &ts;
	rpc_call_reply(call, &out.base);
}

/* A custodial X25519 key of the tenant. */
static int custodial_key(struct coordinator *co, rpc_call *call, const char *tenant,
			 const char *key_id, struct key_row *k)
{
	if (!co->cfg->keys.custodial) {
		rpc_call_fail(call, -ENOTSUP, NOT_CUSTODIAL);
		return -1;
	}
	if (!key_id[0] || store_get_key(co->store, tenant, key_id, k) < 0) {
		rpc_call_finishf(call, GRPC_STATUS_NOT_FOUND, "no key %s", key_id);
		return -1;
	}
	if (k->algorithm != ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE ||
	    k->private_key_len != ENV_KEY_LEN || k->public_key_len != ENV_KEY_LEN) {
		key_row_clear(k);
		rpc_call_finishf(call, GRPC_STATUS_FAILED_PRECONDITION,
				 "key %s is not a custodial X25519 key", key_id);
		return -1;
	}
	return 0;
}

static void encrypt(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__EncryptRequest *r = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	struct key_row k;
	if (!t || custodial_key(co, call, t->name, r->key_id, &k) < 0)
		return;
	uint8_t(*keys)[32] = calloc(MAX_RECIPIENTS, 32);
	char(*ids)[128] = calloc(MAX_RECIPIENTS, 128);
	struct buf env = { 0 };
	if (!keys || !ids) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		goto out;
	}
	if (!r->workload_id) {
		rpc_call_fail(call, -EINVAL, "workload_id is required (the envelope is bound to it)");
		goto out;
	}
	size_t n = core_attested_keys(co->core, r->workload_id, keys, ids, MAX_RECIPIENTS);
	if (!n) {
		rpc_call_finishf(call, GRPC_STATUS_UNAVAILABLE,
				 "no attested island serves workload %u in TEE mode right now",
				 r->workload_id);
		goto out;
	}
	int e = env_seal_input(HPKE_AEAD_AES_256_GCM, r->workload_id, k.public_key,
			       (const uint8_t(*)[32])keys, n, r->plaintext.data, r->plaintext.len,
			       &env);
	if (e != ENV_OK) {
		rpc_call_finishf(call, GRPC_STATUS_INTERNAL, "cannot seal: %s", env_strerror(e));
		goto out;
	}
	Atoll__V1__EncryptResponse resp = ATOLL__V1__ENCRYPT_RESPONSE__INIT;
	char **rec = calloc(n + 1, sizeof *rec);
	if (!rec) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rec[i] = ids[i];
	resp.encrypted = true;
	resp.key_id = k.id;
	resp.ciphertext.data = env.data;
	resp.ciphertext.len = env.len;
	resp.n_recipients = n;
	resp.recipients = rec;
	rpc_call_reply(call, &resp.base);
	free(rec);
out:
	buf_free(&env);
	free(keys);
	free(ids);
	key_row_clear(&k);
}

static void decrypt(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__DecryptRequest *r = (const void *)req;
	const struct tenant_cfg *t = auth_tenant_or_fail(co->cfg, call);
	struct key_row k;
	if (!t || custodial_key(co, call, t->name, r->key_id, &k) < 0)
		return;
	struct job_row job;
	struct buf pt = { 0 };
	if (!r->job_id[0] || core_get_job(co->core, t->name, r->job_id, &job) < 0) {
		rpc_call_finishf(call, GRPC_STATUS_NOT_FOUND, "no job %s", r->job_id);
		key_row_clear(&k);
		return;
	}
	struct env_input_info info;
	int e = env_inspect_input(job.input, job.input_len, &info);
	if (e != ENV_OK || job.mode != 2) {
		rpc_call_fail(call, -EINVAL, "the job is not a confidential TEE job");
		goto out;
	}
	/* The custodian trusts its own store for what was sealed. */
	struct env_output_expect want = {
		.job_id = job.id,
		.workload_id = job.workload_id,
		.envelope_id = info.envelope_id,
		.senders = (const uint8_t(*)[ENV_KEY_LEN])info.recipients,
		.n_senders = info.n_recipients,
	};
	struct buf job_err = { 0 };
	e = env_open_output(k.private_key, r->ciphertext.data, r->ciphertext.len, &want, &pt,
			    &job_err);
	if (e == ENV_E_JOB_FAILED) {
		rpc_call_finishf(call, GRPC_STATUS_FAILED_PRECONDITION, "the job failed: %s",
				 buf_cstr(&job_err));
		buf_free(&job_err);
		goto out;
	}
	buf_free(&job_err);
	if (e != ENV_OK) {
		rpc_call_finishf(call, GRPC_STATUS_INVALID_ARGUMENT, "cannot open the output: %s",
				 env_strerror(e));
		goto out;
	}
	Atoll__V1__DecryptResponse resp = ATOLL__V1__DECRYPT_RESPONSE__INIT;
	resp.plaintext.data = pt.data;
	resp.plaintext.len = pt.len;
	char *text = buf_cstr(&pt);
	resp.text = text && strlen(text) == pt.len ? text : "";
	rpc_call_reply(call, &resp.base);
out:
	buf_free(&pt);
	job_row_clear(&job);
	key_row_clear(&k);
}

static void get_stats(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	if (!auth_tenant_or_fail(co->cfg, call))
		return;
	struct core_stats cs;
	if (core_stats(co->core, &cs) < 0) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		return;
	}
	size_t na = cs.n_attested_by_tee, nc = cs.n_connected_by_tee;
	Atoll__V1__Stats__TeeTypesEntry *att = calloc(na + 1, sizeof *att);
	Atoll__V1__Stats__TeeTypesEntry **attp = calloc(na + 1, sizeof *attp);
	Atoll__V1__Stats__ConnectedTeeTypesEntry *con = calloc(nc + 1, sizeof *con);
	Atoll__V1__Stats__ConnectedTeeTypesEntry **conp = calloc(nc + 1, sizeof *conp);
	if (!att || !attp || !con || !conp) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < na; i++) {
		atoll__v1__stats__tee_types_entry__init(&att[i]);
		att[i].key = cs.attested_by_tee[i].name;
		att[i].value = cs.attested_by_tee[i].n;
		attp[i] = &att[i];
	}
	for (size_t i = 0; i < nc; i++) {
		atoll__v1__stats__connected_tee_types_entry__init(&con[i]);
		con[i].key = cs.connected_by_tee[i].name;
		con[i].value = cs.connected_by_tee[i].n;
		conp[i] = &con[i];
	}
	Atoll__V1__Stats st = ATOLL__V1__STATS__INIT;
	st.connected_hosts = cs.connected;
	st.attested_hosts = cs.attested;
	st.unattested_hosts = cs.unattested;
	st.revoked_hosts = cs.revoked;
	st.slots = cs.slots;
	st.busy_slots = cs.busy_slots;
	st.n_tee_types = na;
	st.tee_types = attp;
	st.n_connected_tee_types = nc;
	st.connected_tee_types = conp;
	rpc_call_reply(call, &st.base);
out:
	free(att);
	free(attp);
	free(con);
	free(conp);
	core_stats_clear(&cs);
}

static Atoll__V1__AttestedIsland *island_pb(const struct island_view *v,
					    Google__Protobuf__Timestamp ts[2])
{
	Atoll__V1__AttestedIsland *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	atoll__v1__attested_island__init(a);
	a->island_id = (char *)v->id;
	a->state = (Atoll__V1__IslandState)v->state;
	a->reason = (char *)v->reason;
	a->tee_type = (char *)v->tee_type;
	if (v->has_pub) {
		a->enclave_public_key.data = (uint8_t *)v->enclave_pub;
		a->enclave_public_key.len = CORE_KEY_LEN;
	}
	a->evidence.data = v->evidence;
	a->evidence.len = v->evidence_len;
	a->manifest.data = v->manifest;
	a->manifest.len = v->manifest_len;
	a->collateral = calloc(v->n_collateral + 1, sizeof *a->collateral);
	a->claims = calloc(v->n_claims + 1, sizeof *a->claims);
	Atoll__V1__AttestedIsland__ClaimsEntry *ce = calloc(v->n_claims + 1, sizeof *ce);
	if (!a->collateral || !a->claims || !ce) {
		free(a->collateral);
		free(a->claims);
		free(ce);
		free(a);
		return NULL;
	}
	for (size_t i = 0; i < v->n_collateral; i++)
		a->collateral[i] = (ProtobufCBinaryData){ v->collateral[i].len,
							  (uint8_t *)v->collateral[i].data };
	a->n_collateral = v->n_collateral;
	for (size_t i = 0; i < v->n_claims; i++) {
		atoll__v1__attested_island__claims_entry__init(&ce[i]);
		ce[i].key = v->claims[i].name;
		ce[i].value = v->claims[i].value;
		a->claims[i] = &ce[i];
	}
	a->n_claims = v->n_claims;
	if (!v->n_claims)
		free(ce); /* island_pb_free finds the entries through claims[0] */
	if (v->attested_ms) {
		a->nonce.data = (uint8_t *)v->nonce;
		a->nonce.len = CORE_NONCE_LEN;
		pb_ts_set(&ts[0], v->attested_ms);
		pb_ts_set(&ts[1], v->valid_until_ms);
		a->attested_at = &ts[0];
		a->valid_until = &ts[1];
	}
	a->workload_ids = v->workload_ids;
	a->n_workload_ids = v->n_workload_ids;
	return a;
}

static void island_pb_free(Atoll__V1__AttestedIsland *a)
{
	if (!a)
		return;
	free(a->collateral);
	if (a->claims)
		free(a->claims[0]);
	free(a->claims);
	free(a);
}

static void list_islands(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const Atoll__V1__ListAttestedIslandsRequest *r = (const void *)req;
	if (!auth_tenant_or_fail(co->cfg, call))
		return;
	struct island_view *v = NULL;
	size_t n = 0;
	if (core_list_islands(co->core, r->workload_id, r->include_unattested, &v, &n) < 0) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
		return;
	}
	Atoll__V1__AttestedIsland **list = calloc(n + 1, sizeof *list);
	Google__Protobuf__Timestamp(*ts)[2] = calloc(n + 1, sizeof *ts);
	bool ok = list && ts;
	for (size_t i = 0; ok && i < n; i++)
		ok = (list[i] = island_pb(&v[i], ts[i])) != NULL;
	if (!ok) {
		rpc_call_fail(call, -ENOMEM, "out of memory");
	} else {
		Atoll__V1__ListAttestedIslandsResponse resp =
			ATOLL__V1__LIST_ATTESTED_ISLANDS_RESPONSE__INIT;
		resp.islands = list;
		resp.n_islands = n;
		rpc_call_reply(call, &resp.base);
	}
	for (size_t i = 0; list && i < n; i++)
		island_pb_free(list[i]);
	free(list);
	free(ts);
	island_views_free(v, n);
}

int svc_confidential_register(struct coordinator *co)
{
	const rpc_method methods[] = {
		{ "/atoll.v1.Confidential/CreateKey", RPC_UNARY,
		  &atoll__v1__create_key_request__descriptor, create_key, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/Encrypt", RPC_UNARY,
		  &atoll__v1__encrypt_request__descriptor, encrypt, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/Decrypt", RPC_UNARY,
		  &atoll__v1__decrypt_request__descriptor, decrypt, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/GetStats", RPC_UNARY,
		  &atoll__v1__get_stats_request__descriptor, get_stats, NULL, NULL, NULL, co },
		{ "/atoll.v1.Confidential/ListAttestedIslands", RPC_UNARY,
		  &atoll__v1__list_attested_islands_request__descriptor, list_islands, NULL, NULL,
		  NULL, co },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		int e = rpc_server_add_method(co->srv, &methods[i]);
		if (e < 0)
			return e;
	}
	return 0;
}
