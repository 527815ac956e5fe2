/* lib/attest: the policy file reader with its exact errors, the policy
 * check on normalized claims, and attest_judge's three steps against real
 * sim evidence from the real sim driver (dlopen'd): a missing driver or
 * policy, evidence the driver refuses, evidence bound to another key or
 * report data, a policy refusal with claims kept, and a pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atoll/mode.h"
#include "attest/manifest.h"
#include "attest/verifier.h"
#include "check.h"
#include "crypto/envelope.h"
#include "plugin/plugin.h"
#include "simtool.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static char dir[512];
static char sim_path[600];

static const char *write_tmp(const char *name, const char *text)
{
	static char path[800];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0600), 0);
	return path;
}

/* Load a policy file expecting an error that contains want. */
static void config_error(const char *name, const char *text, const char *want)
{
	struct attest_config *ac = NULL;
	char err[1024] = "";
	int e = attest_config_load(write_tmp(name, text), &ac, err, sizeof err);
	CHECK(e < 0);
	if (!strstr(err, want))
		fprintf(stderr, "%s: error '%s' lacks '%s'\n", name, err, want);
	CHECK(strstr(err, want) != NULL);
	attest_config_free(ac);
}

static void test_config(void)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "drivers:\n  - name: sim\n    path: %s\n    config: {ca_file: ca/sim-ca.pem}\n"
		 "policy:\n  reattest_interval: 10m\n  tee:\n    sim:\n      allow_debug: false\n"
		 "      min_svn: 2\n      measurements: [\"%s\"]\n",
		 sim_path, "00112233");
	struct attest_config *ac = NULL;
	char err[1024] = "";
	CHECK_INT(attest_config_load(write_tmp("ok.yaml", text), &ac, err, sizeof err), 0);
	if (ac) {
		CHECK_INT(ac->n_drivers, 1);
		CHECK_STR(ac->drivers[0].name, "sim");
		CHECK_INT(ac->policy.reattest_interval_ms, 600000);
		CHECK_INT(ac->policy.challenge_ttl_ms, ATTEST_DEFAULT_CHALLENGE_TTL_MS);
		const struct attest_tee_policy *p = attest_policy_for(&ac->policy, "sim");
		CHECK(p != NULL);
		CHECK(attest_policy_for(&ac->policy, "sgx") == NULL);
		if (p) {
			CHECK_INT(p->min_svn, 2);
			CHECK_INT(p->n_measurements, 1);
			CHECK_INT(p->measurements[0].len, 4);
			CHECK_INT(p->require_tcb_status, -1); /* unset: the TEE's default */
		}
	}
	attest_config_free(ac);
	ac = NULL;
	snprintf(text, sizeof text,
		 "drivers:\n  - name: sim\n    path: %s\n"
		 "policy:\n  tee:\n    sim: {require_tcb_status: false}\n",
		 sim_path);
	CHECK_INT(attest_config_load(write_tmp("notcb.yaml", text), &ac, err, sizeof err), 0);
	if (ac) {
		const struct attest_tee_policy *p = attest_policy_for(&ac->policy, "sim");
		CHECK(p && p->require_tcb_status == 0 && !attest_tcb_status_needed(p, "sim"));
	}
	attest_config_free(ac);

	config_error("top.yaml", "listen: {address: x:1}\n", "listen: unknown key");
	config_error("nodrv.yaml", "policy:\n  tee:\n    sgx: {}\n",
		     "policy.tee.sgx: no driver named 'sgx' in drivers");
	snprintf(text, sizeof text,
		 "drivers:\n  - {name: sim, path: %s}\n  - {name: sim, path: %s}\n", sim_path,
		 sim_path);
	config_error("twice.yaml", text, "driver 'sim' is already configured (drivers[0])");
	snprintf(text, sizeof text,
		 "drivers:\n  - {name: sim, path: %s}\npolicy:\n  tee:\n    sim: {measurements: [\"zz\"]}\n",
		 sim_path);
	config_error("hex.yaml", text, "policy.tee.sim.measurements[0]");
	snprintf(text, sizeof text,
		 "drivers:\n  - {name: sim, path: %s}\npolicy:\n  tee:\n    sim: {allow_debugs: true}\n",
		 sim_path);
	config_error("key.yaml", text, "allow_debugs");
}

static void test_policy_check(void)
{
	struct attest_claims cl = { .measurement = { 1, 2, 3 }, .measurement_len = 3, .svn = 5,
				    .tcb = 0x10 };
	struct attest_digest allowed = { { 1, 2, 3 }, 3 }, other = { { 9 }, 1 };
	struct attest_tee_policy p = { .tee = "sim" };
	char why[512];
	int64_t now = 1700000000000LL;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), 0);
	CHECK_INT(attest_policy_check(NULL, "sev_snp", &cl, now, why, sizeof why), 0);

	/* SGX and TDX evidence verified without collateral has no TCB status:
	 * refused unless the policy says so explicitly. */
	struct attest_tee_policy q = { .tee = "sgx", .require_tcb_status = -1 };
	CHECK_INT(attest_policy_check(NULL, "sgx", &cl, now, why, sizeof why), -EACCES);
	CHECK(strstr(why, "no TCB status") && strstr(why, "policy.tee.sgx.require_tcb_status"));
	CHECK_INT(attest_policy_check(NULL, "tdx", &cl, now, why, sizeof why), -EACCES);
	CHECK_INT(attest_policy_check(&q, "sgx", &cl, now, why, sizeof why), -EACCES);
	q.require_tcb_status = 0;
	CHECK_INT(attest_policy_check(&q, "sgx", &cl, now, why, sizeof why), 0);
	q.require_tcb_status = 1;
	CHECK_INT(attest_policy_check(&q, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	cl.has_tcb_status = true;
	snprintf(cl.tcb_status, sizeof cl.tcb_status, "UpToDate");
	CHECK_INT(attest_policy_check(NULL, "sgx", &cl, now, why, sizeof why), 0);
	cl.has_tcb_status = false;
	cl.tcb_status[0] = 0;

	p.measurements = &other;
	p.n_measurements = 1;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK(strstr(why, "measurement 010203 is not in the policy's allowed list") != NULL);
	p.measurements = &allowed;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), 0);

	p.min_svn = 6;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK_STR(why, "svn 5 is below the policy minimum 6");
	p.min_svn = 0;
	p.min_tcb = 0x11;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK(strstr(why, "TCB 0x10 is below") != NULL);
	p.min_tcb = 0;

	cl.debug = 1;
	CHECK_INT(attest_policy_check(NULL, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK_STR(why, "debug enclave refused by policy (allow_debug: false)");
	p.allow_debug = true;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), 0);

	/* The default TCB statuses refuse OutOfDate; a policy may list it. */
	cl.has_tcb_status = true;
	snprintf(cl.tcb_status, sizeof cl.tcb_status, "OutOfDate");
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK_STR(why, "TCB status OutOfDate is not accepted by policy");
	char *statuses[] = { "OutOfDate", NULL };
	p.tcb_statuses = statuses;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), 0);

	cl.issued_at = now / 1000 - 120;
	p.max_evidence_age_ms = 60000;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK_STR(why, "evidence is 120 s old, the policy allows 60 s");
	cl.issued_at = now / 1000 + 3600;
	CHECK_INT(attest_policy_check(&p, "sev_snp", &cl, now, why, sizeof why), -EACCES);
	CHECK_STR(why, "evidence is dated 3600 s in the future");
}

struct sim {
	struct loaded_driver island;  /* collects */
	struct attest_verifier v;     /* verifies */
	struct attest_policy policy;
	struct attest_tee_policy tp;
	uint8_t pub[32], other_pub[32], nonce[32];
	struct buf manifest;          /* what the enclave claims to run */
};

static const uint8_t ECHO_SHA[32] = { 0xec, 0x40 }, MODEL_SHA[32] = { 0x30, 0xde };

/* A manifest: workload 42 (echo, tee), workload 7 (linear with a model,
 * plain only). */
static void make_manifest(struct buf *out)
{
	struct manifest_option opt = { "chunk_size", "16" };
	uint8_t model[1][32];
	memcpy(model[0], MODEL_SHA, 32);
	struct manifest_workload wl[2] = {
		{ .id = 42, .modes = ATOLL_MODE_BIT(ATOLL_MODE_TEE) | ATOLL_MODE_BIT(ATOLL_MODE_PLAIN),
		  .backend = "echo", .options = &opt, .n_options = 1 },
		{ .id = 7, .modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN), .backend = "linear",
		  .models = model, .n_models = 1 },
	};
	memcpy(wl[0].backend_sha256, ECHO_SHA, 32);
	memcpy(wl[1].backend_sha256, ECHO_SHA, 32);
	wl[1].backend_sha256[0] = 0x11;
	struct manifest m = { .has_driver = true, .driver = "sim", .workloads = wl,
			      .n_workloads = 2 };
	m.runtime_sha256[0] = 0x77;
	buf_reset(out);
	CHECK_INT(manifest_encode(&m, out), 0);
}

static int sim_setup(struct sim *s, const char *debug)
{
	char err[1024], ca[700], keys[700], keyf[800], certf[800], caf[800];
	snprintf(ca, sizeof ca, "%s/ca", dir);
	snprintf(keys, sizeof keys, "%s/keys", dir);
	if (access(ca, F_OK) != 0 &&
	    (simtool_make_ca(ca, "test CA", 30, err, sizeof err) < 0 ||
	     simtool_make_island_key(ca, "isl", 30, keys, err, sizeof err) < 0)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	snprintf(keyf, sizeof keyf, "%s/isl.key", keys);
	snprintf(certf, sizeof certf, "%s/isl.pem", keys);
	snprintf(caf, sizeof caf, "%s/%s", ca, SIMTOOL_CA_CERT);
	atoll_kv ikv[] = { { "key_file", keyf }, { "cert_file", certf }, { "debug", debug } };
	if (plugin_load_driver(sim_path, "sim", ikv, 3, NULL, 0, &s->island, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	atoll_kv vkv[] = { { "ca_file", caf } };
	struct plugin_cfg pc = { .name = "sim", .path = sim_path, .config = vkv, .n_config = 1 };
	if (attest_verifier_load(&pc, 1, &s->v, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	uint8_t priv[32];
	x25519_keygen(priv, s->pub);
	x25519_keygen(priv, s->other_pub);
	memset(s->nonce, 7, sizeof s->nonce);
	s->tp = (struct attest_tee_policy){ .tee = "sim" };
	s->policy = (struct attest_policy){ .tees = &s->tp, .n_tees = 1 };
	make_manifest(&s->manifest);
	return 0;
}

static void sim_teardown(struct sim *s)
{
	buf_free(&s->manifest);
	attest_verifier_unload(&s->v);
	plugin_unload_driver(&s->island);
}

/* Evidence binding nonce and key as the enclave would produce it. */
static atoll_evidence *collect(struct sim *s, const uint8_t *key)
{
	uint8_t rd[64], md[32];
	manifest_digest(s->manifest.data, s->manifest.len, md);
	env_report_data(s->nonce, sizeof s->nonce, key, md, rd);
	atoll_evidence *ev = NULL;
	atoll_err e = { "" };
	CHECK_INT(s->island.d->collect(s->island.ctx, rd, &ev, &e), ATOLL_OK);
	return ev;
}

static struct attest_input input_for(struct sim *s, const atoll_evidence *ev)
{
	return (struct attest_input){
		.tee = "sim",
		.evidence = ev->data,
		.evidence_len = ev->len,
		.collateral = ev->collateral,
		.n_collateral = ev->n_collateral,
		.nonce = s->nonce,
		.nonce_len = sizeof s->nonce,
		.enclave_pub = s->pub,
		.enclave_pub_len = sizeof s->pub,
		.manifest = s->manifest.data,
		.manifest_len = s->manifest.len,
		.at_ms = time_now_ms(),
	};
}

static void test_judge(void)
{
	struct sim s = { 0 };
	if (sim_setup(&s, "false") < 0) {
		CHECK(!"sim setup");
		return;
	}
	struct attest_verdict vd;
	atoll_evidence *ev = collect(&s, s.pub);
	CHECK(ev != NULL);
	if (!ev)
		goto out;
	struct attest_input in = input_for(&s, ev);

	/* Pass, with the claims kept for the caller. The policy asks for
	 * no manifest pins here. */
	s.policy.manifest.require_pins = false;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), 0);
	CHECK(vd.manifest != NULL && vd.manifest->n_workloads == 2);
	CHECK_INT(vd.status, ATOLL_OK);
	CHECK(vd.claims != NULL);
	CHECK_INT(vd.norm.measurement_len, SIMTOOL_MEASUREMENT_LEN);
	struct attest_kv *kv = NULL;
	size_t n = 0;
	if (vd.claims) {
		CHECK_INT(attest_claims_text(vd.claims, &kv, &n), 0);
		CHECK(n >= 5);
		if (n >= 5) {
			CHECK_STR(kv[0].name, "measurement");
			CHECK_INT(strlen(kv[0].value), 2 * SIMTOOL_MEASUREMENT_LEN);
		}
		attest_kv_free(kv, n);
	}
	attest_verdict_clear(&vd);
	CHECK(vd.claims == NULL);

	/* Setup: no driver for the TEE, no policy for it. */
	struct attest_input bad = in;
	bad.tee = "sgx";
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), -EACCES);
	CHECK_INT(vd.step, ATTEST_STEP_SETUP);
	CHECK_INT(vd.status, ATOLL_E_UNAVAILABLE);
	CHECK_STR(vd.why, "no verifier driver for TEE 'sgx'");
	attest_verdict_clear(&vd);
	struct attest_policy empty = { 0 };
	CHECK_INT(attest_judge(&s.v, &empty, &in, &vd), -EACCES);
	CHECK_INT(vd.step, ATTEST_STEP_SETUP);
	CHECK_STR(vd.why, "no attestation policy for TEE 'sim'");
	attest_verdict_clear(&vd);

	/* The driver refuses garbage with its own status. */
	uint8_t junk[64] = { 1, 2, 3 };
	bad = in;
	bad.evidence = junk;
	bad.evidence_len = sizeof junk;
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), -EKEYREJECTED);
	CHECK_INT(vd.step, ATTEST_STEP_DRIVER);
	CHECK_INT(vd.status, ATOLL_E_FORMAT);
	CHECK_STR(attest_status_class(vd.status), "format");
	CHECK(strstr(vd.why, "evidence rejected by the sim driver (ATOLL_E_FORMAT)") != NULL);
	CHECK(vd.claims == NULL);
	attest_verdict_clear(&vd);

	/* Evidence bound to another enclave key, or another nonce. */
	bad = in;
	bad.enclave_pub = s.other_pub;
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), -EKEYREJECTED);
	CHECK_INT(vd.status, ATOLL_E_BINDING); /* the sim driver checks it first */
	attest_verdict_clear(&vd);
	uint8_t other_nonce[32] = { 8 };
	bad = in;
	bad.nonce = other_nonce;
	CHECK(attest_judge(&s.v, &s.policy, &bad, &vd) < 0);
	CHECK_INT(vd.status, ATOLL_E_BINDING);
	CHECK_STR(attest_status_class(vd.status), "binding");
	attest_verdict_clear(&vd);
	/* Without any binding the evidence can only be inspected. */
	bad = in;
	bad.enclave_pub = NULL;
	bad.nonce = NULL;
	bad.nonce_len = 0;
	CHECK_INT(attest_judge(&s.v, NULL, &bad, &vd), 0);
	attest_verdict_clear(&vd);

	/* Policy: genuine evidence, refused, claims still shown. */
	struct attest_digest m = { { 0xab }, SIMTOOL_MEASUREMENT_LEN };
	s.tp.measurements = &m;
	s.tp.n_measurements = 1;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), -EACCES);
	CHECK_INT(vd.step, ATTEST_STEP_POLICY);
	CHECK_INT(vd.status, ATOLL_E_POLICY);
	CHECK(vd.claims != NULL);
	CHECK(strstr(vd.why, "is not in the policy's allowed list") != NULL);
	attest_verdict_clear(&vd);
	s.tp.n_measurements = 0;

	/* The manifest is bound: other bytes than the enclave's break the
	 * binding, whatever they say. */
	struct buf swapped = { 0 };
	buf_append(&swapped, s.manifest.data, s.manifest.len);
	swapped.data[swapped.len - 10] ^= 1;
	bad = in;
	bad.manifest = swapped.data;
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), -EKEYREJECTED);
	CHECK_INT(vd.status, ATOLL_E_BINDING);
	attest_verdict_clear(&vd);
	buf_free(&swapped);

	/* Pins: by default (require_pins) a workload without them is refused,
	 * naming the digests to pin; a client sealing for a workload the
	 * manifest does not run in TEE mode is refused too. */
	s.policy.manifest.require_pins = true;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), -EACCES);
	CHECK_INT(vd.step, ATTEST_STEP_MANIFEST);
	CHECK_STR(attest_verdict_class(&vd), "manifest");
	CHECK(strstr(vd.why, "workload 42: backend echo sha256 ec40") != NULL);
	CHECK(strstr(vd.why, "not pinned by the policy") != NULL);
	attest_verdict_clear(&vd);
	struct attest_digest echo_pin = { .len = 32 }, wrong_pin = { .len = 32 };
	memcpy(echo_pin.v, ECHO_SHA, 32);
	wrong_pin.v[0] = 0x99;
	struct attest_workload_pins pins = { .id = 42, .backends = &wrong_pin, .n_backends = 1 };
	s.policy.manifest.workloads = &pins;
	s.policy.manifest.n_workloads = 1;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), -EACCES);
	CHECK(strstr(vd.why, "workload 42: backend echo sha256 ec40") != NULL &&
	      strstr(vd.why, "is not pinned") != NULL);
	attest_verdict_clear(&vd);
	pins.backends = &echo_pin;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), 0);
	attest_verdict_clear(&vd);
	bad = in;
	bad.workload_id = 42;
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), 0);
	attest_verdict_clear(&vd);
	bad.workload_id = 7;
	CHECK_INT(attest_judge(&s.v, &s.policy, &bad, &vd), -EACCES);
	CHECK_STR(vd.why, "the enclave's manifest does not run workload 7 in TEE mode");
	attest_verdict_clear(&vd);
	/* Whole-manifest and runtime pins. */
	struct attest_digest other_manifest = { .v = { 1 }, .len = 32 };
	s.policy.manifest.manifests = &other_manifest;
	s.policy.manifest.n_manifests = 1;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), -EACCES);
	CHECK(strstr(vd.why, "manifest sha256") != NULL);
	attest_verdict_clear(&vd);
	s.policy.manifest.n_manifests = 0;
	struct attest_digest runtime = { .v = { 0x77 }, .len = 32 };
	s.policy.manifest.runtimes = &runtime;
	s.policy.manifest.n_runtimes = 1;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), 0);
	attest_verdict_clear(&vd);
	runtime.v[0] = 0x78;
	CHECK_INT(attest_judge(&s.v, &s.policy, &in, &vd), -EACCES);
	CHECK(strstr(vd.why, "enclave runtime sha256 77") != NULL);
	attest_verdict_clear(&vd);
	s.policy.manifest = (struct attest_manifest_policy){ 0 };
	s.island.d->evidence_free(s.island.ctx, ev);
out:
	sim_teardown(&s);

	/* A debug enclave passes only where the policy allows debug (no
	 * manifest pins asked here). */
	struct sim d = { 0 };
	if (sim_setup(&d, "true") < 0) {
		CHECK(!"sim setup (debug)");
		return;
	}
	ev = collect(&d, d.pub);
	if (ev) {
		in = input_for(&d, ev);
		d.policy.manifest.require_pins = false;
		CHECK_INT(attest_judge(&d.v, &d.policy, &in, &vd), -EACCES);
		CHECK_STR(vd.why, "debug enclave refused by policy (allow_debug: false)");
		attest_verdict_clear(&vd);
		d.tp.allow_debug = true;
		CHECK_INT(attest_judge(&d.v, &d.policy, &in, &vd), 0);
		CHECK_INT(vd.norm.debug, 1);
		attest_verdict_clear(&vd);
		d.island.d->evidence_free(d.island.ctx, ev);
	}
	sim_teardown(&d);
}

static void test_loader_errors(void)
{
	struct attest_verifier v;
	char err[1024] = "";
	struct plugin_cfg pc = { .name = "sim", .path = "/nonexistent/sim.so" };
	CHECK(attest_verifier_load(&pc, 1, &v, err, sizeof err) < 0);
	CHECK(strstr(err, "cannot open [/nonexistent/sim.so]") != NULL);
	/* The verifier side of sim needs its CA. */
	pc.path = sim_path;
	CHECK(attest_verifier_load(&pc, 1, &v, err, sizeof err) < 0);
	CHECK(strstr(err, "driver 'sim' in [") != NULL && strstr(err, "init failed") != NULL);
}

/* The canonical encoding and the strict parser. */
static void test_manifest_codec(void)
{
	struct buf b = { 0 };
	make_manifest(&b);
	struct manifest *m = NULL;
	char err[256];
	CHECK_INT(manifest_decode(b.data, b.len, &m, err, sizeof err), 0);
	if (m) {
		CHECK_INT(m->n_workloads, 2);
		CHECK(m->has_driver && !strcmp(m->driver, "sim"));
		const struct manifest_workload *w = manifest_workload(m, 7, 0);
		CHECK(w && w->n_models == 1 && !memcmp(w->models[0], MODEL_SHA, 32));
		CHECK(manifest_workload(m, 8, 0) == NULL);
		CHECK(manifest_workload(m, 7, ATOLL_MODE_TEE) == NULL);
		/* Encoding what was decoded gives the same bytes. */
		struct buf again = { 0 };
		CHECK_INT(manifest_encode(m, &again), 0);
		CHECK(again.len == b.len && !memcmp(again.data, b.data, b.len));
		buf_free(&again);
		manifest_free(m);
	}
	static const char *const bad[] = {
		"",
		"[]",
		"{\"version\":2,\"runtime_sha256\":\"00\",\"workloads\":[]}",
		"{\"version\":1,\"runtime_sha256\":\"00\",\"workloads\":[]}",
		"{\"version\":1,\"runtime_sha256\":\"" /* 32 bytes */
		"0000000000000000000000000000000000000000000000000000000000000000\","
		"\"workloads\":[],\"extra\":1}",
		"{\"version\":1,\"runtime_sha256\":\""
		"0000000000000000000000000000000000000000000000000000000000000000\","
		"\"workloads\":[{\"id\":1,\"modes\":[\"tee\",\"tee\"],\"backend\":{\"name\":\"e\","
		"\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"},"
		"\"models_sha256\":[],\"options\":{}}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		m = NULL;
		CHECK_INT(manifest_decode((const uint8_t *)bad[i], strlen(bad[i]), &m, err, sizeof err),
			  -EBADMSG);
		CHECK(m == NULL && !strncmp(err, "manifest: ", 10));
	}
	buf_free(&b);
}

int main(void)
{
	snprintf(sim_path, sizeof sim_path, "%s/sim.so",
		 check_env("ATOLL_MODULE_DIR", "build/modules"));
	snprintf(dir, sizeof dir, "%s/atoll-attest-XXXXXX", check_env("TMPDIR", "/tmp"));
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_config();
	test_policy_check();
	test_manifest_codec();
	test_loader_errors();
	test_judge();
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	CHECK_DONE();
}
