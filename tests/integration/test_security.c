/* Transport and custody: a coordinator on TLS with client certificates
 * required (mTLS) serves TLS clients and islands and refuses others; a
 * custodial coordinator generates keys and serves Encrypt/Decrypt (the
 * seed's bodies too), a non-custodial one refuses them; atoll-proxy
 * reaches the mTLS coordinator with a client certificate and is refused
 * without one, and serves HTTPS itself; a sim island under a policy without sim
 * stays unattested; a store written by a newer schema is refused. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <grpc/grpc.h>
#include <sqlite3.h>

#include "atoll/v1/confidential.pb-c.h"
#include "check.h"
#include "cluster.h"
#include "grpc/health/v1/health.pb-c.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static int sh(const char *dir, const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof full, "cd '%s' && %s >/dev/null 2>&1", dir, cmd);
	return system(full);
}

/* A test CA, a server certificate for 127.0.0.1/localhost, and a client
 * certificate, with the openssl command. */
static int make_pki(const char *dir)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	char cmd[2048];
	h_write(dir, "server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n", NULL, 0);
	snprintf(cmd, sizeof cmd, "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca", ec);
	if (sh(dir, cmd))
		return -1;
	snprintf(cmd, sizeof cmd,
		 "openssl req %s -keyout server.key -out server.csr -subj /CN=localhost && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-out server.pem -days 2 -extfile server.ext", ec);
	if (sh(dir, cmd))
		return -1;
	snprintf(cmd, sizeof cmd,
		 "openssl req %s -keyout client.key -out client.csr -subj /CN=island-1 && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-out client.pem -days 2", ec);
	return sh(dir, cmd) ? -1 : 0;
}

static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	uint8_t *d;
	size_t n;
	return fs_read_file(path, 1 << 20, &d, &n) == 0 ? (char *)d : NULL;
}

static int health(const char *target, const struct rpc_client_opts *o, struct rpc_status *st)
{
	rpc_client *c;
	if (rpc_client_new(target, o, &c) < 0)
		return -1;
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	req.service = "";
	ProtobufCMessage *resp = NULL;
	rpc_unary(c, "/grpc.health.v1.Health/Check", &req.base,
		  &grpc__health__v1__health_check_response__descriptor, NULL, 0, 3000, &resp, st);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	rpc_client_free(c);
	return 0;
}

/* atoll-proxy named name with the given coordinator TLS YAML, serving
 * HTTPS with the server certificate; its port, or -1. */
static int start_proxy(struct cluster *cl, const char *name, const char *tls, struct proc *p)
{
	char yaml[1024], file[128], cfg[1024], log[1024];
	snprintf(yaml, sizeof yaml,
		 "listen: {address: 127.0.0.1:0, tls: {cert: server.pem, key: server.key}}\n"
		 "coordinator: {address: localhost:%d, api_key: ak_demo, tls: {%s}}\n"
		 "keystore: %s-keys\n",
		 cl->coord.port, tls, name);
	snprintf(file, sizeof file, "%s.yaml", name);
	if (h_write(cl->dir, file, yaml, cfg, sizeof cfg) < 0)
		return -1;
	snprintf(log, sizeof log, "%s/%s.log", cl->dir, name);
	char portfile[1100];
	snprintf(portfile, sizeof portfile, "%s/%s.port", cl->dir, name);
	if (strlen(portfile) >= sizeof p->portfile)
		return -1;
	memcpy(p->portfile, portfile, strlen(portfile) + 1);
	char *argv[] = { (char *)h_build_path("tools/atoll-proxy"), "--config", cfg, "--port-file",
			 p->portfile, NULL };
	if (h_spawn(argv, log, p) < 0)
		return -1;
	for (int i = 0; i < 300; i++) {
		char *port = slurp(cl->dir, strrchr(p->portfile, '/') + 1);
		if (port) {
			p->port = atoi(port);
			free(port);
			return p->port;
		}
		usleep(20000);
	}
	return -1;
}

/* HTTP status of GET path on a proxy over HTTPS (curl, the test CA). */
static int proxy_get(struct cluster *cl, int port, const char *path)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s/ca.pem' "
		 "'https://localhost:%d%s'",
		 cl->dir, port, path);
	FILE *f = popen(cmd, "r");
	char out[16] = "";
	if (f) {
		if (!fgets(out, sizeof out, f))
			out[0] = 0;
		pclose(f);
	}
	return atoi(out);
}

/* atoll-proxy over mTLS to the coordinator: with the client certificate
 * it gets through; with only the CA the coordinator refuses it. */
static void test_proxy_mtls(struct cluster *cl)
{
	struct proc good = { 0 }, bad = { 0 };
	int pg = start_proxy(cl, "proxy-mtls", "ca: ca.pem, cert: client.pem, key: client.key", &good);
	int pb = start_proxy(cl, "proxy-nocert", "ca: ca.pem", &bad);
	CHECK(pg > 0 && pb > 0);
	if (pg > 0) {
		CHECK_INT(proxy_get(cl, pg, "/api/v1/confidential/stats"), 200);
		CHECK_INT(proxy_get(cl, pg, "/healthz"), 200);
	}
	if (pb > 0)
		CHECK_INT(proxy_get(cl, pb, "/api/v1/confidential/stats"), 503);
	int st;
	if (good.pid)
		CHECK_INT(h_stop(&good, SIGTERM, 10000, &st), 0);
	if (bad.pid)
		CHECK_INT(h_stop(&bad, SIGTERM, 10000, &st), 0);
}

/* The seed's bodies on a custodial coordinator: Encrypt takes `input`,
 * Decrypt takes `output` and finds the job from the output itself. */
static void test_custodial_seed_shapes(struct cluster *cl, const char *key_id)
{
	struct rpc_status st;
	Atoll__V1__JobInput plain = ATOLL__V1__JOB_INPUT__INIT;
	plain.prompt = "shaped like the seed";
	Atoll__V1__EncryptRequest er = ATOLL__V1__ENCRYPT_REQUEST__INIT;
	er.key_id = (char *)key_id;
	er.workload_id = 42;
	er.input = &plain;
	er.plaintext.data = (uint8_t *)"x";
	er.plaintext.len = 1;
	Atoll__V1__EncryptResponse *enc = NULL;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Confidential/Encrypt", &er.base,
			 &atoll__v1__encrypt_response__descriptor, (ProtobufCMessage **)&enc, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strstr(st.message, "plaintext or input") != NULL);
	er.plaintext.len = 0;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Confidential/Encrypt", &er.base,
			 &atoll__v1__encrypt_response__descriptor, (ProtobufCMessage **)&enc, &st), 0);
	CHECK(enc && enc->encrypted);
	if (!enc)
		return;
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	in.encrypted = true;
	in.key_id = (char *)key_id;
	in.ciphertext = enc->ciphertext;
	Atoll__V1__SubmitJobRequest sr = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
	sr.workload_id = 42;
	sr.confidential = true;
	sr.encryption_key_id = (char *)key_id;
	sr.input = &in;
	Atoll__V1__Job *j = NULL;
	CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Jobs/SubmitJob", &sr.base,
			 &atoll__v1__job__descriptor, (ProtobufCMessage **)&j, &st), 0);
	Atoll__V1__Job *f = j ? c_wait_final(cl, j->id, 10000) : NULL;
	CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && f->output);
	if (f && f->output) {
		Atoll__V1__DecryptRequest dr = ATOLL__V1__DECRYPT_REQUEST__INIT;
		dr.output = f->output;
		Atoll__V1__DecryptResponse *d = NULL;
		CHECK_INT(c_call(cl, "ak_demo", "/atoll.v1.Confidential/Decrypt", &dr.base,
				 &atoll__v1__decrypt_response__descriptor, (ProtobufCMessage **)&d,
				 &st), 0);
		CHECK(d && !strcmp(d->text, "shaped like the seed"));
		if (d)
			protobuf_c_message_free_unpacked(&d->base, NULL);
	}
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	protobuf_c_message_free_unpacked(&enc->base, NULL);
}

static void test_mtls_custodial(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "security") < 0 || make_pki(cl.dir) < 0) {
		CHECK(!"PKI setup");
		return;
	}
	char *ca = slurp(cl.dir, "ca.pem"), *cert = slurp(cl.dir, "client.pem"),
	     *key = slurp(cl.dir, "client.key");
	struct rpc_client_opts with_cert = { .tls_ca_pem = ca, .tls_cert_pem = cert, .tls_key_pem = key };
	struct rpc_client_opts no_cert = { .tls_ca_pem = ca };
	cl.listen_tls_yaml = "  tls: {cert: server.pem, key: server.key, client_ca: ca.pem}\n";
	cl.island_tls_yaml = "tls: {ca: ca.pem, cert: client.pem, key: client.key}";
	cl.client_opts = &with_cert;
	cl.extra_yaml = "keys: {custodial: true}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "t1", 2, NULL, NULL, NULL) >= 0);
	/* An island over mTLS connects and attests. */
	CHECK_INT(cluster_wait(&cl, 1, 1, 15000), 0);

	struct rpc_status st;
	CHECK_INT(health(h_target(&cl.coord), &with_cert, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	CHECK_INT(health(h_target(&cl.coord), &no_cert, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNAVAILABLE);
	CHECK_INT(health(h_target(&cl.coord), NULL, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_UNAVAILABLE);

	/* Custody: the coordinator makes the key, seals and opens. */
	Atoll__V1__CreateKeyRequest ck = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	Atoll__V1__Key *k = NULL;
	CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/CreateKey", &ck.base,
			 &atoll__v1__key__descriptor, (ProtobufCMessage **)&k, &st), 0);
	CHECK(k && k->custodial && k->public_key.len == 32);
	Atoll__V1__EncryptRequest er = ATOLL__V1__ENCRYPT_REQUEST__INIT;
	er.key_id = k ? k->key_id : "";
	er.workload_id = 42;
	er.plaintext.data = (uint8_t *)"{\"prompt\":\"held by the coordinator\"}";
	er.plaintext.len = strlen((char *)er.plaintext.data);
	Atoll__V1__EncryptResponse *enc = NULL;
	CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/Encrypt", &er.base,
			 &atoll__v1__encrypt_response__descriptor, (ProtobufCMessage **)&enc, &st), 0);
	CHECK(enc && enc->encrypted && enc->n_recipients == 1 && !strcmp(enc->recipients[0], "t1"));
	if (k && enc) {
		Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
		in.encrypted = true;
		in.key_id = k->key_id;
		in.ciphertext = enc->ciphertext;
		Atoll__V1__SubmitJobRequest sr = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
		sr.workload_id = 42;
		sr.confidential = true;
		sr.encryption_key_id = k->key_id;
		sr.input = &in;
		Atoll__V1__Job *j = NULL;
		CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Jobs/SubmitJob", &sr.base,
				 &atoll__v1__job__descriptor, (ProtobufCMessage **)&j, &st), 0);
		Atoll__V1__Job *f = j ? c_wait_final(&cl, j->id, 10000) : NULL;
		CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED && f->output);
		if (f && f->output) {
			Atoll__V1__DecryptRequest dr = ATOLL__V1__DECRYPT_REQUEST__INIT;
			dr.key_id = k->key_id;
			dr.job_id = f->id;
			dr.ciphertext = f->output->ciphertext;
			Atoll__V1__DecryptResponse *d = NULL;
			CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/Decrypt", &dr.base,
					 &atoll__v1__decrypt_response__descriptor,
					 (ProtobufCMessage **)&d, &st), 0);
			CHECK(d && !strcmp(d->text, "held by the coordinator"));
			if (d)
				protobuf_c_message_free_unpacked(&d->base, NULL);
			/* Bound to its job: another job id does not open it. */
			dr.job_id = "job_aaaaaaaaaaaaaaaaaaaaaaaaaa";
			CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/Decrypt", &dr.base,
					 &atoll__v1__decrypt_response__descriptor,
					 (ProtobufCMessage **)&d, &st), 0);
			CHECK_INT(st.code, GRPC_STATUS_NOT_FOUND);
		}
		if (f)
			protobuf_c_message_free_unpacked(&f->base, NULL);
		if (j)
			protobuf_c_message_free_unpacked(&j->base, NULL);
		test_custodial_seed_shapes(&cl, k->key_id);
		test_proxy_mtls(&cl);
	}
	if (enc)
		protobuf_c_message_free_unpacked(&enc->base, NULL);
	if (k)
		protobuf_c_message_free_unpacked(&k->base, NULL);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	free(ca);
	free(cert);
	free(key);
}

static void test_no_custody_no_sim_policy(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "security2") < 0)
		return;
	cl.policy_yaml = "policy: {challenge_ttl: 2s}\n";
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "s1", 1, NULL, NULL, NULL) >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 0, 15000), 0);
	Atoll__V1__ListAttestedIslandsRequest lr = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	lr.include_unattested = true;
	Atoll__V1__ListAttestedIslandsResponse *r = NULL;
	struct rpc_status st;
	int64_t until = time_mono_ms() + 5000;
	bool seen = false;
	while (!seen && time_mono_ms() < until) {
		c_call(&cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &lr.base,
		       &atoll__v1__list_attested_islands_response__descriptor, (ProtobufCMessage **)&r,
		       &st);
		seen = r && r->n_islands == 1 &&
		       !strcmp(r->islands[0]->reason, "no attestation policy for TEE 'sim'");
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
		if (!seen)
			time_sleep_ms(50);
	}
	CHECK(seen);

	Atoll__V1__CreateKeyRequest ck = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	ProtobufCMessage *resp;
	CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/CreateKey", &ck.base,
			 &atoll__v1__key__descriptor, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_FAILED_PRECONDITION);
	CHECK(strstr(st.message, "keys.custodial is false") != NULL);
	Atoll__V1__EncryptRequest er = ATOLL__V1__ENCRYPT_REQUEST__INIT;
	er.key_id = "ck_any";
	CHECK_INT(c_call(&cl, "ak_demo", "/atoll.v1.Confidential/Encrypt", &er.base,
			 &atoll__v1__encrypt_response__descriptor, &resp, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_FAILED_PRECONDITION);
	CHECK(strstr(st.message, "encrypt or decrypt on your own machine") != NULL);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
}

static void test_newer_store(void)
{
	char dir[512];
	CHECK_INT(h_tmpdir("store", dir, sizeof dir), 0);
	char db[700];
	snprintf(db, sizeof db, "%s/atoll.db", dir);
	sqlite3 *s;
	CHECK_INT(sqlite3_open(db, &s), SQLITE_OK);
	CHECK_INT(sqlite3_exec(s, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "listen: {address: 127.0.0.1:0}\nstore: {path: atoll.db}\n"
		 "tenants: [{name: d, api_key_sha256: [0000000000000000000000000000000000000000000000000000000000000000]}]\n"
		 "islands: {tokens: [{name: i, island_ids: [i], token_sha256: 0000000000000000000000000000000000000000000000000000000000000000}]}\n"
		 "workloads: [{id: 1, name: e, backend: echo}]\n");
	h_write(dir, "c.yaml", yaml, NULL, 0);
	char cfg[700], log[700];
	snprintf(cfg, sizeof cfg, "%s/c.yaml", dir);
	snprintf(log, sizeof log, "%s/c.log", dir);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg, NULL };
	struct proc p;
	CHECK_INT(h_spawn(argv, log, &p), 0);
	int st;
	int64_t until = time_mono_ms() + 10000;
	while (h_alive(&p) && time_mono_ms() < until)
		time_sleep_ms(20);
	h_stop(&p, SIGKILL, 100, &st);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	CHECK(h_file_contains(log, "the store has schema version 99, newer than this coordinator's 2"));
}

int main(void)
{
	grpc_init();
	test_mtls_custodial();
	test_no_custody_no_sim_policy();
	test_newer_store();
	grpc_shutdown();
	CHECK_DONE();
}
