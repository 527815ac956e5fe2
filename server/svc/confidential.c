/* atoll.v1.Confidential: client keys, custodial encrypt/decrypt, attested
 * islands, statistics; operations (svc/ops.h) that the gRPC service and
 * the HTTP gateway both serve. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "atoll/v1/confidential.pb-c.h"
#include "auth.h"
#include "coordinator.h"
#include "crypto/envelope.h"
#include "svc/ops.h"
#include "svc/pbconv.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_RECIPIENTS ENV_MAX_RECIPIENTS

static const char NOT_CUSTODIAL[] =
	"this coordinator does not hold client keys (keys.custodial is false): make the key "
	"and encrypt or decrypt on your own machine with atollctl, or send the same request "
	"to atoll-proxy on your machine";

/* A Paillier modulus: 2048 to 8192 bits, odd, no leading zero byte. */
static bool paillier_modulus_ok(const ProtobufCBinaryData *n)
{
	return n->len >= 256 && n->len <= 1024 && n->data[0] != 0 && (n->data[n->len - 1] & 1);
}

#define FAIL(code, ...)                                  \
	do {                                             \
		snprintf(err, err_size, __VA_ARGS__);    \
		return (code);                           \
	} while (0)

int svc_op_create_key(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		      const struct svc_reply *out_, char *err, size_t err_size)
{
	const Atoll__V1__CreateKeyRequest *r = (const void *)req;
	int alg = r->algorithm ? (int)r->algorithm : ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE;
	struct key_row k = { 0 };
	uint8_t priv[ENV_KEY_LEN], pub[ENV_KEY_LEN];
	if (strlen(r->label) >= sizeof k.label)
		FAIL(-EINVAL, "label is longer than 255 bytes");
	if (alg == ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE) {
		if (r->public_key.len == 0) {
			if (!co->cfg->keys.custodial)
				FAIL(-ENOTSUP, "%s", NOT_CUSTODIAL);
			if (x25519_keygen(priv, pub) != 0)
				FAIL(-EIO, "cannot generate a key");
			k.private_key = priv;
			k.private_key_len = sizeof priv;
			k.public_key = pub;
			k.public_key_len = sizeof pub;
		} else if (r->public_key.len != ENV_KEY_LEN) {
			FAIL(-EINVAL, "an X25519 public key is 32 bytes");
		} else {
			k.public_key = r->public_key.data;
			k.public_key_len = r->public_key.len;
		}
	} else if (alg == ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER) {
		if (!paillier_modulus_ok(&r->public_key))
			FAIL(-EINVAL, "a Paillier public key is the modulus n, big-endian, 2048 to "
				      "8192 bits and odd (keys are made on the client)");
		k.public_key = r->public_key.data;
		k.public_key_len = r->public_key.len;
	} else {
		FAIL(-EINVAL, "unknown key algorithm");
	}
	k.algorithm = alg;
	enc_random_id("ck_", k.id, sizeof k.id);
	snprintf(k.tenant, sizeof k.tenant, "%s", tenant);
	snprintf(k.label, sizeof k.label, "%s", r->label);
	k.created_ms = time_now_ms();
	int e = store_insert_key(co->store, &k);
	OPENSSL_cleanse(priv, sizeof priv);
	if (e < 0)
		FAIL(-EIO, "cannot store the key");
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
	out_->send(out_->ctx, &out.base);
	return 0;
}

/* A custodial X25519 key of the tenant. */
static int custodial_key(struct coordinator *co, const char *tenant, const char *key_id,
			 struct key_row *k, char *err, size_t err_size)
{
	if (!co->cfg->keys.custodial)
		FAIL(-ENOTSUP, "%s", NOT_CUSTODIAL);
	if (!key_id[0])
		FAIL(-EINVAL, "key_id is required");
	if (!enc_utf8_text((const uint8_t *)key_id, strlen(key_id)))
		FAIL(-EINVAL, "key_id is not valid UTF-8");
	if (store_get_key(co->store, tenant, key_id, k) < 0)
		FAIL(-ENOENT, "no key %s", key_id);
	if (k->algorithm != ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE ||
	    k->private_key_len != ENV_KEY_LEN || k->public_key_len != ENV_KEY_LEN) {
		key_row_clear(k);
		FAIL(-ENOTSUP, "key %s is not a custodial X25519 key", key_id);
	}
	return 0;
}

int svc_op_encrypt(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		   const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__EncryptRequest *r = (const void *)req;
	struct key_row k;
	int e = custodial_key(co, tenant, r->key_id, &k, err, err_size);
	if (e < 0)
		return e;
	uint8_t(*keys)[32] = calloc(MAX_RECIPIENTS, 32);
	char(*ids)[128] = calloc(MAX_RECIPIENTS, 128);
	char **rec = NULL;
	struct buf env = { 0 }, doc = { 0 };
	const uint8_t *pt = r->plaintext.data;
	size_t pt_len = r->plaintext.len;
	e = -ENOMEM;
	if (!keys || !ids) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	e = -EINVAL;
	if (!r->workload_id) {
		snprintf(err, err_size, "workload_id is required (the envelope is bound to it)");
		goto out;
	}
	if (r->input) {
		/* The seed's form: the input document a plain job would carry. */
		if (r->plaintext.len) {
			snprintf(err, err_size, "give plaintext or input, not both");
			goto out;
		}
		if (r->input->encrypted || r->input->ciphertext.len || r->input->homomorphic) {
			snprintf(err, err_size, "input to encrypt must be plain (prompt, features, "
						"record or data)");
			goto out;
		}
		if ((e = svc_input_doc(r->input, false, &doc, err, err_size)) < 0)
			goto out;
		pt = doc.data;
		pt_len = doc.len;
	}
	size_t n = core_attested_keys(co->core, r->workload_id, keys, ids, MAX_RECIPIENTS);
	if (!n) {
		snprintf(err, err_size, "no attested island serves workload %u in TEE mode right now",
			 r->workload_id);
		e = -EAGAIN;
		goto out;
	}
	e = env_seal_input(HPKE_AEAD_AES_256_GCM, r->workload_id, k.public_key,
			   (const uint8_t(*)[32])keys, n, pt, pt_len, &env);
	if (e != ENV_OK) {
		snprintf(err, err_size, "cannot seal: %s", env_strerror(e));
		e = -EIO;
		goto out;
	}
	Atoll__V1__EncryptResponse resp = ATOLL__V1__ENCRYPT_RESPONSE__INIT;
	rec = calloc(n + 1, sizeof *rec);
	if (!rec) {
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
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
	out->send(out->ctx, &resp.base);
	e = 0;
out:
	free(rec);
	buf_free(&env);
	buf_free(&doc);
	free(keys);
	free(ids);
	key_row_clear(&k);
	return e;
}

int svc_op_decrypt(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		   const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__DecryptRequest *r = (const void *)req;
	const ProtobufCBinaryData *ct = &r->ciphertext;
	const char *key_id = r->key_id;
	if (r->output) {
		/* The seed's form: the job's output as GetJob shows it. */
		if (r->ciphertext.len)
			FAIL(-EINVAL, "give ciphertext or output, not both");
		if (!r->output->encrypted || !r->output->ciphertext.len)
			FAIL(-EINVAL, "output is not encrypted: there is nothing to decrypt");
		if (key_id[0] && r->output->key_id[0] && strcmp(key_id, r->output->key_id))
			FAIL(-EINVAL, "key_id %s differs from output.key_id %s", key_id,
			     r->output->key_id);
		ct = &r->output->ciphertext;
		if (!key_id[0])
			key_id = r->output->key_id;
	}
	struct key_row k;
	int e = custodial_key(co, tenant, key_id, &k, err, err_size);
	if (e < 0)
		return e;
	/* Without job_id, the job the output's header names; its stored input
	 * still decides what the output must match. */
	struct env_output_info hdr;
	const char *job_id = r->job_id;
	size_t hlen;
	if (!job_id[0] && env_output_record_len(ct->data, ct->len, true, &hlen) == ENV_OK &&
	    env_output_header_info(ct->data, hlen, &hdr) == ENV_OK)
		job_id = hdr.job_id;
	struct job_row job;
	struct buf pt = { 0 };
	if (!job_id[0] || core_get_job(co->core, tenant, job_id, &job) < 0) {
		snprintf(err, err_size, "no job %s", job_id);
		key_row_clear(&k);
		return -ENOENT;
	}
	struct env_input_info info;
	e = env_inspect_input(job.input, job.input_len, &info);
	if (e != ENV_OK || job.mode != 2) {
		snprintf(err, err_size, "the job is not a confidential TEE job");
		e = -EINVAL;
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
	e = env_open_output(k.private_key, ct->data, ct->len, &want, &pt, &job_err);
	if (e == ENV_E_JOB_FAILED) {
		snprintf(err, err_size, "the job failed: %s", buf_cstr(&job_err));
		buf_free(&job_err);
		e = -EALREADY;
		goto out;
	}
	buf_free(&job_err);
	if (e != ENV_OK) {
		snprintf(err, err_size, "cannot open the output: %s", env_strerror(e));
		e = -EINVAL;
		goto out;
	}
	Atoll__V1__DecryptResponse resp = ATOLL__V1__DECRYPT_RESPONSE__INIT;
	resp.plaintext.data = pt.data;
	resp.plaintext.len = pt.len;
	char *text = buf_cstr(&pt);
	resp.text = text && strlen(text) == pt.len ? text : "";
	out->send(out->ctx, &resp.base);
	e = 0;
out:
	buf_free(&pt);
	job_row_clear(&job);
	key_row_clear(&k);
	return e;
}

/* The seed names SEV-SNP "sev": that alias follows the driver name. */
static const char *seed_alias(const char *tee)
{
	return strcmp(tee, "sev_snp") == 0 ? "sev" : NULL;
}

int svc_op_stats(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
		 const struct svc_reply *out_, char *err, size_t err_size)
{
	struct core_stats cs;
	if (core_stats(co->core, &cs) < 0)
		FAIL(-ENOMEM, "out of memory");
	int e = 0;
	/* Room for an alias after each entry. */
	size_t na = 2 * cs.n_attested_by_tee, nc = 2 * cs.n_connected_by_tee;
	Atoll__V1__Stats__TeeTypesEntry *att = calloc(na + 1, sizeof *att);
	Atoll__V1__Stats__TeeTypesEntry **attp = calloc(na + 1, sizeof *attp);
	Atoll__V1__Stats__ConnectedTeeTypesEntry *con = calloc(nc + 1, sizeof *con);
	Atoll__V1__Stats__ConnectedTeeTypesEntry **conp = calloc(nc + 1, sizeof *conp);
	if (!att || !attp || !con || !conp) {
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
		goto out;
	}
	na = nc = 0;
	for (size_t i = 0; i < cs.n_attested_by_tee; i++) {
		const char *names[2] = { cs.attested_by_tee[i].name,
					 seed_alias(cs.attested_by_tee[i].name) };
		for (int a = 0; a < 2 && names[a]; a++) {
			atoll__v1__stats__tee_types_entry__init(&att[na]);
			att[na].key = (char *)names[a];
			att[na].value = cs.attested_by_tee[i].n;
			attp[na] = &att[na];
			na++;
		}
	}
	for (size_t i = 0; i < cs.n_connected_by_tee; i++) {
		const char *names[2] = { cs.connected_by_tee[i].name,
					 seed_alias(cs.connected_by_tee[i].name) };
		for (int a = 0; a < 2 && names[a]; a++) {
			atoll__v1__stats__connected_tee_types_entry__init(&con[nc]);
			con[nc].key = (char *)names[a];
			con[nc].value = cs.connected_by_tee[i].n;
			conp[nc] = &con[nc];
			nc++;
		}
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
	out_->send(out_->ctx, &st.base);
out:
	free(att);
	free(attp);
	free(con);
	free(conp);
	core_stats_clear(&cs);
	return e;
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

int svc_op_list_islands(struct coordinator *co, const char *tenant, const ProtobufCMessage *req,
			const struct svc_reply *out, char *err, size_t err_size)
{
	const Atoll__V1__ListAttestedIslandsRequest *r = (const void *)req;
	struct island_view *v = NULL;
	size_t n = 0;
	if (core_list_islands(co->core, r->workload_id, r->include_unattested, &v, &n) < 0)
		FAIL(-ENOMEM, "out of memory");
	int e = 0;
	Atoll__V1__AttestedIsland **list = calloc(n + 1, sizeof *list);
	Google__Protobuf__Timestamp(*ts)[2] = calloc(n + 1, sizeof *ts);
	bool ok = list && ts;
	for (size_t i = 0; ok && i < n; i++)
		ok = (list[i] = island_pb(&v[i], ts[i])) != NULL;
	if (!ok) {
		snprintf(err, err_size, "out of memory");
		e = -ENOMEM;
	} else {
		Atoll__V1__ListAttestedIslandsResponse resp =
			ATOLL__V1__LIST_ATTESTED_ISLANDS_RESPONSE__INIT;
		resp.islands = list;
		resp.n_islands = n;
		out->send(out->ctx, &resp.base);
	}
	for (size_t i = 0; list && i < n; i++)
		island_pb_free(list[i]);
	free(list);
	free(ts);
	island_views_free(v, n);
	return e;
}

int svc_confidential_register(struct coordinator *co)
{
	int e;
	if ((e = svc_bind(co, "/atoll.v1.Confidential/CreateKey",
			  &atoll__v1__create_key_request__descriptor, svc_op_create_key)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Confidential/Encrypt",
			  &atoll__v1__encrypt_request__descriptor, svc_op_encrypt)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Confidential/Decrypt",
			  &atoll__v1__decrypt_request__descriptor, svc_op_decrypt)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Confidential/GetStats",
			  &atoll__v1__get_stats_request__descriptor, svc_op_stats)) < 0 ||
	    (e = svc_bind(co, "/atoll.v1.Confidential/ListAttestedIslands",
			  &atoll__v1__list_attested_islands_request__descriptor,
			  svc_op_list_islands)) < 0)
		return e;
	return 0;
}
