/* Attestation and confidential-job negatives, each with its clear error and
 * no state change:
 *   - a test island speaking the protocol directly: evidence bound to
 *     another key, a reused nonce, a challenge answered too late, then a
 *     correct answer that attests (so the negatives are meaningful);
 *   - real islands: a debug enclave under allow_debug false, a measurement
 *     not in the allowlist; a confidential job sealed only to such an
 *     island waits and fails at its deadline, never running there;
 *   - tampering: a flipped byte in the envelope payload or header fails
 *     the job with no output; a flipped byte in an output chunk is caught
 *     by the client;
 *   - SIGHUP with a policy that no longer lists sim revokes attested
 *     islands over their live streams. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "atoll/v1/islands.pb-c.h"
#include "check.h"
#include "cluster.h"
#include "crypto/envelope.h"
#include "plugin/plugin.h"
#include "simtool.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static struct loaded_driver fake_drv; /* the test island's sim collector */
static uint8_t fake_pub[32], other_pub[32];

static int setup_fake_driver(struct cluster *cl)
{
	char err[1024], keyf[800], certf[800];
	char keys[700];
	snprintf(keys, sizeof keys, "%s/keys", cl->dir);
	if (simtool_make_island_key(cl->ca_dir, "fake", 30, keys, err, sizeof err) < 0)
		return -1;
	snprintf(keyf, sizeof keyf, "%s/fake.key", keys);
	snprintf(certf, sizeof certf, "%s/fake.pem", keys);
	/* The fake island's reports measure this program, which the
	 * coordinator's policy allows beside the real enclave. */
	atoll_kv kv[] = { { "key_file", keyf }, { "cert_file", certf } };
	char path[600];
	snprintf(path, sizeof path, "%s/sim.so", h_module_dir());
	if (plugin_load_driver(path, "sim", kv, 2, NULL, 0, &fake_drv, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	uint8_t priv[32];
	x25519_keygen(priv, fake_pub);
	x25519_keygen(priv, other_pub);
	return 0;
}

/* The test island's heartbeats, from a thread; sends are serialized. */
static pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool hb_stop;

static int send_locked(rpc_stream *s, const ProtobufCMessage *m)
{
	pthread_mutex_lock(&send_mu);
	int r = rpc_stream_send(s, m);
	pthread_mutex_unlock(&send_mu);
	return r;
}

static void *heartbeats(void *arg)
{
	rpc_stream *s = arg;
	while (!atomic_load(&hb_stop)) {
		Atoll__V1__Heartbeat hb = ATOLL__V1__HEARTBEAT__INIT;
		Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
		im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT;
		im.heartbeat = &hb;
		send_locked(s, &im.base);
		time_sleep_ms(200);
	}
	return NULL;
}

static ProtobufCMessage *recv_msg(rpc_stream *s)
{
	ProtobufCMessage *m = NULL;
	return rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor, &m) == 1 ? m : NULL;
}

/* Next message of a kind, skipping others. */
static Atoll__V1__CoordinatorMessage *expect(rpc_stream *s, int kind)
{
	for (int i = 0; i < 20; i++) {
		Atoll__V1__CoordinatorMessage *m = (void *)recv_msg(s);
		if (!m)
			return NULL;
		if ((int)m->msg_case == kind)
			return m;
		protobuf_c_message_free_unpacked(&m->base, NULL);
	}
	return NULL;
}

static void send_evidence(rpc_stream *s, const uint8_t *nonce, const uint8_t *bind_key)
{
	uint8_t rd[64], md[32];
	cluster_fake_manifest_digest(md);
	env_report_data(nonce, 32, bind_key, md, rd);
	atoll_evidence *ev = NULL;
	atoll_err e = { "" };
	CHECK_INT(plugin_driver_collect(&fake_drv, rd, &ev, &e), ATOLL_OK);
	if (!ev)
		return;
	Atoll__V1__Evidence msg = ATOLL__V1__EVIDENCE__INIT;
	msg.nonce.data = (uint8_t *)nonce;
	msg.nonce.len = 32;
	msg.tee_type = "sim";
	msg.evidence.data = ev->data;
	msg.evidence.len = ev->len;
	msg.enclave_public_key.data = fake_pub;
	msg.enclave_public_key.len = 32;
	msg.manifest.data = (uint8_t *)CLUSTER_FAKE_MANIFEST;
	msg.manifest.len = strlen(CLUSTER_FAKE_MANIFEST);
	Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
	im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_EVIDENCE;
	im.evidence = &msg;
	CHECK_INT(send_locked(s, &im.base), 0);
	plugin_driver_evidence_free(&fake_drv, ev);
}

static void expect_result(rpc_stream *s, Atoll__V1__IslandState state, const char *reason_part)
{
	Atoll__V1__CoordinatorMessage *m = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION);
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->attestation->state, state);
	if (!strstr(m->attestation->reason, reason_part))
		fprintf(stderr, "reason '%s' lacks '%s'\n", m->attestation->reason, reason_part);
	CHECK(strstr(m->attestation->reason, reason_part) != NULL);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_fake_island(struct cluster *cl)
{
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Islands/Connect", NULL, &md, 1, 60000, false,
				  &s), 0);
	Atoll__V1__Mode modes[] = { ATOLL__V1__MODE__MODE_TEE };
	Atoll__V1__WorkloadOffer off = ATOLL__V1__WORKLOAD_OFFER__INIT;
	off.workload_id = 42;
	off.backend = "echo";
	off.n_modes = 1;
	off.modes = modes;
	Atoll__V1__WorkloadOffer *offs[] = { &off };
	Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
	h.island_id = "fake";
	h.slots = 1;
	h.n_workloads = 1;
	h.workloads = offs;
	h.tee_type = "sim";
	h.enclave_public_key.data = fake_pub;
	h.enclave_public_key.len = 32;
	Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
	im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
	im.hello = &h;
	CHECK_INT(send_locked(s, &im.base), 0);
	pthread_t hb;
	atomic_store(&hb_stop, false);
	pthread_create(&hb, NULL, heartbeats, s);
	Atoll__V1__CoordinatorMessage *w = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME);
	CHECK(w != NULL);
	if (w)
		protobuf_c_message_free_unpacked(&w->base, NULL);

	/* 1. Evidence bound to another enclave key. */
	Atoll__V1__CoordinatorMessage *ch = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE);
	CHECK(ch && ch->challenge->nonce.len == 32);
	if (!ch)
		goto out;
	uint8_t nonce1[32];
	memcpy(nonce1, ch->challenge->nonce.data, 32);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	send_evidence(s, nonce1, other_pub);
	expect_result(s, ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED, "ATOLL_E_BINDING");

	/* 2. The same nonce again: single use. */
	send_evidence(s, nonce1, fake_pub);
	expect_result(s, ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED,
		      "evidence answers no open challenge (nonce reused, unknown or expired)");

	/* 3. The next challenge, answered after it expired (ttl 1 s). */
	ch = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE);
	CHECK(ch != NULL);
	if (!ch)
		goto out;
	uint8_t nonce2[32];
	memcpy(nonce2, ch->challenge->nonce.data, 32);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	expect_result(s, ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED,
		      "no evidence within 1000 ms of the challenge");
	send_evidence(s, nonce2, fake_pub);
	expect_result(s, ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED,
		      "evidence answers no open challenge");

	/* Nothing of that attested it. */
	Atoll__V1__Stats *st;
	CHECK_INT(c_stats(cl, &st), 0);
	if (st) {
		CHECK_INT(st->attested_hosts, 1); /* the good real island only */
		protobuf_c_message_free_unpacked(&st->base, NULL);
	}

	/* 4. A correct, timely answer attests: the checks above were real. */
	ch = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE);
	CHECK(ch != NULL);
	if (!ch)
		goto out;
	uint8_t nonce3[32];
	memcpy(nonce3, ch->challenge->nonce.data, 32);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	send_evidence(s, nonce3, fake_pub);
	expect_result(s, ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED, "");
out:
	atomic_store(&hb_stop, true);
	pthread_join(hb, NULL);
	rpc_stream_cancel(s);
	struct rpc_status rs;
	rpc_stream_finish(s, &rs);
}

/* The real islands: debug and wrong measurement stay unattested. */


/* A registered client key, and an envelope sealed to the given enclave key. */
static uint8_t client_priv[32], client_pub[32];
static char client_key_id[64];

static void register_key(struct cluster *cl)
{
	x25519_keygen(client_priv, client_pub);
	Atoll__V1__CreateKeyRequest req = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	req.public_key.data = client_pub;
	req.public_key.len = 32;
	Atoll__V1__Key *k = NULL;
	struct rpc_status st;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Confidential/CreateKey", &req.base,
			 &atoll__v1__key__descriptor, (ProtobufCMessage **)&k, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	if (k) {
		snprintf(client_key_id, sizeof client_key_id, "%s", k->key_id);
		protobuf_c_message_free_unpacked(&k->base, NULL);
	}
}

/* Submit a confidential job whose envelope (after an optional flip of
 * byte at flip_at) is sealed to enclave_pub; returns the final job. */
static Atoll__V1__Job *run_sealed(struct cluster *cl, const uint8_t *enclave_pub, long flip_at,
				  int timeout_s, struct buf *env_out)
{
	const char *doc = "{\"prompt\":\"sealed\"}";
	struct buf env = { 0 };
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_256_GCM, 42, client_pub,
				 (const uint8_t(*)[32])enclave_pub, 1, (const uint8_t *)doc,
				 strlen(doc), &env), ENV_OK);
	if (flip_at >= 0)
		env.data[flip_at] ^= 0x01;
	char *b64 = malloc(enc_base64_size(env.len));
	enc_base64_encode(env.data, env.len, b64);
	char *body;
	if (asprintf(&body,
		     "{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"%s\","
		     " \"timeout_seconds\": %d, \"input\": {\"encrypted\": true, \"ciphertext\": \"%s\"}}",
		     client_key_id, timeout_s, b64) < 0)
		body = NULL;
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	CHECK_INT(c_submit(cl, "ak_demo", body, &j, &st), 0);
	if (st.code != GRPC_STATUS_OK)
		fprintf(stderr, "submit: %s\n", st.message);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	free(b64);
	free(body);
	if (env_out)
		*env_out = env;
	else
		buf_free(&env);
	if (!j)
		return NULL;
	Atoll__V1__Job *f = c_wait_final(cl, j->id, (timeout_s + 10) * 1000);
	protobuf_c_message_free_unpacked(&j->base, NULL);
	return f;
}

static void test_real_islands(struct cluster *cl)
{
	Atoll__V1__ListAttestedIslandsResponse *r = c_list_islands(cl);
	CHECK(r != NULL);
	if (!r)
		return;
	Atoll__V1__AttestedIsland *good = c_find_island(r, "good"), *dbg = c_find_island(r, "debug"),
				  *meas = c_find_island(r, "measured");
	CHECK(good && good->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED);
	CHECK(dbg && dbg->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED);
	CHECK(meas && meas->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_UNATTESTED);
	if (dbg)
		CHECK_STR(dbg->reason, "debug enclave refused by policy (allow_debug: false)");
	if (meas)
		CHECK(strstr(meas->reason, "is not in the policy's allowed list") != NULL);
	if (good) {
		/* The evidence, nonce and claims a client needs are there. */
		CHECK(good->evidence.len > 0 && good->nonce.len == 32 &&
		      good->enclave_public_key.len == 32);
		bool has_meas = false;
		for (size_t i = 0; i < good->n_claims; i++)
			has_meas |= !strcmp(good->claims[i]->key, "measurement") &&
				    !strcmp(good->claims[i]->value, cl->measurement);
		CHECK(has_meas);
	}
	register_key(cl);

	/* Sealed only to the unattested debug island: it waits, even though
	 * that island is idle, and fails at its deadline. */
	if (dbg) {
		Atoll__V1__Job *j = run_sealed(cl, dbg->enclave_public_key.data, -1, 2, NULL);
		CHECK(j != NULL);
		if (j) {
			CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
			CHECK_STR(j->error, "deadline exceeded: not finished 2 s after submission");
			CHECK_INT(j->attempts, 0);
			protobuf_c_message_free_unpacked(&j->base, NULL);
		}
	}
	if (!good) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return;
	}
	uint8_t gpub[32];
	memcpy(gpub, good->enclave_public_key.data, 32);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Untampered: completes, and the client opens the output. */
	struct buf env = { 0 };
	Atoll__V1__Job *j = run_sealed(cl, gpub, -1, 10, &env);
	CHECK(j && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	if (j && j->output && j->output->encrypted) {
		struct buf pt = { 0 };
		struct env_input_info info;
		env_inspect_input(env.data, env.len, &info);
		struct env_output_expect want = { j->id, 42, info.envelope_id,
						  (const uint8_t(*)[32])gpub, 1 };
		CHECK_INT(env_open_output(client_priv, j->output->ciphertext.data,
					  j->output->ciphertext.len, &want, &pt, NULL),
			  ENV_OK);
		CHECK(pt.len == 6 && memcmp(pt.data, "sealed", 6) == 0);
		buf_free(&pt);
		/* A flipped byte in the last chunk record: the client refuses it. */
		j->output->ciphertext.data[j->output->ciphertext.len - 3] ^= 0x40;
		CHECK_INT(env_open_output(client_priv, j->output->ciphertext.data,
					  j->output->ciphertext.len, &want, &pt, NULL),
			  ENV_E_AUTH);
		buf_free(&pt);
	}
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	buf_free(&env);

	/* A flipped byte in the payload, then in the header's envelope id:
	 * the enclave refuses, the job fails precisely, no output. */
	long flips[] = { -2, 12 };
	for (int i = 0; i < 2; i++) {
		struct buf e2 = { 0 };
		CHECK_INT(env_seal_input(HPKE_AEAD_AES_256_GCM, 42, client_pub,
					 (const uint8_t(*)[32])gpub, 1, (const uint8_t *)"x", 1, &e2),
			  ENV_OK);
		long at = flips[i] < 0 ? (long)e2.len + flips[i] : flips[i];
		buf_free(&e2);
		j = run_sealed(cl, gpub, at, 10, NULL);
		CHECK(j != NULL);
		if (j) {
			CHECK_INT(j->state, ATOLL__V1__JOB_STATE__JOB_STATE_FAILED);
			CHECK(strstr(j->error, "cannot open the input envelope") != NULL);
			CHECK(j->output == NULL);
			protobuf_c_message_free_unpacked(&j->base, NULL);
		}
	}
}

static void test_policy_reload(struct cluster *cl)
{
	/* The same config without a sim policy, rewritten in place, then
	 * SIGHUP: a reload, not a restart. */
	const char *new_policy = "policy:\n  challenge_ttl: 1s\n  reattest_interval: 2s\n";
	struct proc keep = cl->coord;
	char path[700];
	snprintf(path, sizeof path, "%s/coordinator.yaml", cl->dir);
	FILE *f = fopen(path, "r");
	char text[16384];
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = 0;
	char *pol = strstr(text, "policy:");
	char *wl = strstr(text, "workloads:");
	CHECK(pol && wl && wl > pol);
	if (!pol || !wl)
		return;
	char out[16384];
	snprintf(out, sizeof out, "%.*s%s%s", (int)(pol - text), text, new_policy, wl);
	h_write(cl->dir, "coordinator.yaml", out, NULL, 0);
	kill(keep.pid, SIGHUP);
	int64_t until = time_mono_ms() + 5000;
	uint32_t attested = 99;
	while (time_mono_ms() < until) {
		Atoll__V1__Stats *st;
		if (c_stats(cl, &st) == 0) {
			attested = st->attested_hosts;
			protobuf_c_message_free_unpacked(&st->base, NULL);
			if (attested == 0)
				break;
		}
		time_sleep_ms(50);
	}
	CHECK_INT(attested, 0);
	Atoll__V1__ListAttestedIslandsResponse *r = c_list_islands(cl);
	Atoll__V1__AttestedIsland *good = r ? c_find_island(r, "good") : NULL;
	CHECK(good && good->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_REVOKED);
	if (good)
		CHECK_STR(good->reason, "policy reload: no policy for TEE 'sim' any more");
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The coordinator logs the reload after the core has applied it:
	 * the revocation can be seen first. */
	int64_t logged_by = time_mono_ms() + 3000;
	while (!h_file_contains(cl->coord.log, "SIGHUP: attestation policy reloaded") &&
	       time_mono_ms() < logged_by)
		time_sleep_ms(20);
	CHECK(h_file_contains(cl->coord.log, "SIGHUP: attestation policy reloaded"));
	CHECK(h_file_contains(cl->islands[0].log, "not attested: policy reload"));
}

/* A copy of an executable with bytes appended: it runs the same, and
 * hashes differently. */
static int copy_modified(const char *from, const char *to)
{
	uint8_t *data;
	size_t len;
	int e = fs_read_file(from, 1 << 28, &data, &len);
	if (e < 0)
		return e;
	struct buf b = { 0 };
	buf_append(&b, data, len);
	buf_puts(&b, "modified by the host");
	free(data);
	e = fs_write_atomic(to, b.data, b.len, 0755);
	buf_free(&b);
	return e;
}

/* The seed calls SEV-SNP "sev": GetStats shows that name beside the
 * driver's, with the same count, for an island claiming sev_snp. */
static void test_seed_tee_names(struct cluster *cl)
{
	struct rpc_md md = { "authorization", "Bearer it_demo" };
	rpc_stream *s;
	CHECK_INT(rpc_stream_open(cl->client, "/atoll.v1.Islands/Connect", NULL, &md, 1, 60000, false,
				  &s), 0);
	Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
	h.island_id = "snp";
	h.slots = 1;
	h.tee_type = "sev_snp";
	h.enclave_public_key.data = other_pub;
	h.enclave_public_key.len = 32;
	Atoll__V1__IslandMessage im = ATOLL__V1__ISLAND_MESSAGE__INIT;
	im.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
	im.hello = &h;
	CHECK_INT(send_locked(s, &im.base), 0);
	Atoll__V1__CoordinatorMessage *w = expect(s, ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME);
	CHECK(w != NULL);
	if (w)
		protobuf_c_message_free_unpacked(&w->base, NULL);
	Atoll__V1__Stats *st = NULL;
	CHECK_INT(c_stats(cl, &st), 0);
	uint32_t snp = 0, sev = 0;
	for (size_t i = 0; st && i < st->n_connected_tee_types; i++) {
		if (!strcmp(st->connected_tee_types[i]->key, "sev_snp"))
			snp = st->connected_tee_types[i]->value;
		if (!strcmp(st->connected_tee_types[i]->key, "sev"))
			sev = st->connected_tee_types[i]->value;
	}
	CHECK_INT(snp, 1);
	CHECK_INT(sev, 1);
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	rpc_stream_cancel(s);
	struct rpc_status rs;
	rpc_stream_finish(s, &rs);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "attest") < 0)
		return 1;
	grpc_init();
	char policy[1024], self[SIMTOOL_MEASUREMENT_HEX], err[256];
	CHECK_INT(simtool_measure("/proc/self/exe", self, err, sizeof err), 0);
	snprintf(policy, sizeof policy,
		 "policy:\n  challenge_ttl: 1s\n  reattest_interval: 2s\n  tee:\n    sim:\n"
		 "      measurements: [%s, %s]\n      allow_debug: false\n      max_evidence_age: 1m\n"
		 "  manifest: {require_pins: false}\n",
		 cl.measurement, self);
	cl.policy_yaml = policy;
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "good", 2, NULL, NULL, NULL) >= 0);
	char drv[1024];
	snprintf(drv, sizeof drv,
		 "  driver: {name: sim, path: %s/sim.so, config: {key_file: keys/debug.key,"
		 " cert_file: keys/debug.pem, debug: true}}\n",
		 h_module_dir());
	CHECK(cluster_add_island(&cl, "debug", 1, NULL, drv, NULL) >= 0);
	/* A modified enclave runtime: another measurement. */
	char modified[700];
	snprintf(modified, sizeof modified, "%s/atoll-enclave-modified", cl.dir);
	CHECK_INT(copy_modified(h_build_path("island/atoll-enclave"), modified), 0);
	cl.enclave_path = modified;
	snprintf(drv, sizeof drv,
		 "  driver: {name: sim, path: %s/sim.so, config: {key_file: keys/measured.key,"
		 " cert_file: keys/measured.pem}}\n",
		 h_module_dir());
	CHECK(cluster_add_island(&cl, "measured", 1, NULL, drv, NULL) >= 0);
	cl.enclave_path = NULL;
	CHECK_INT(cluster_wait(&cl, 3, 1, 15000), 0);
	CHECK_INT(setup_fake_driver(&cl), 0);
	if (!check_failures) {
		test_real_islands(&cl);
		test_fake_island(&cl);
		test_policy_reload(&cl);
		test_seed_tee_names(&cl);
	}
	plugin_unload_driver(&fake_drv);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
