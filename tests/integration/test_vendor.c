/* The SDK as a vendor uses it. test_vendor.sh installs the build into a
 * temporary prefix and builds the template driver and backend of
 * docs/examples against that prefix alone; this program takes the two
 * modules it built and
 *   - drives them through the host's loader: config refusals, collect and
 *     verify with the right key, another key, other report data, cut
 *     evidence, a verify-only instance, the version each reports, and
 *     unloading;
 *   - unless given --load-only, runs them in a real coordinator and
 *     island: the island attests with the template driver, a plain job
 *     runs on the template backend, and a confidential job is sealed by
 *     atollctl to the island it verified itself with the template driver
 *     (and refused when the client trusts another key).
 * usage: test_vendor [--load-only] <template driver .so> <template backend .so> */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <grpc/grpc.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "check.h"
#include "cluster.h"
#include "plugin/plugin.h"
#include "util/enc.h"
#include "util/fsutil.h"

static const char *driver_path, *backend_path;

/* An Ed25519 key pair as PEM files dir/<name>.key and dir/<name>.pub. */
static int make_key(const char *dir, const char *name)
{
	char path[1024];
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;
	int ok = k != NULL;

	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	f = ok ? fopen(path, "w") : NULL;
	ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "%s/%s.pub", dir, name);
	f = ok ? fopen(path, "w") : NULL;
	ok = f && PEM_write_PUBKEY(f, k) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(k);
	return ok ? 0 : -EIO;
}

/* SHA-256 of a file, as the template driver measures. */
static int sha256_file(const char *path, uint8_t out[32])
{
	uint8_t *data;
	size_t len;
	int e = fs_read_file(path, 1u << 30, &data, &len);

	if (e < 0)
		return e;
	e = EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
	free(data);
	return e;
}

static int load(const char *name, const atoll_kv *kv, size_t n, struct loaded_driver *ld,
		char *err, size_t err_size)
{
	memset(ld, 0, sizeof *ld);
	return plugin_load_driver(driver_path, name, kv, n, NULL, 0, ld, err, err_size);
}

static int verify(const struct loaded_driver *ld, const uint8_t *ev, size_t len,
		  const uint8_t *rd, atoll_claims **ret, atoll_err *e)
{
	atoll_verify_args a = {
		.struct_size = sizeof a,
		.evidence = ev,
		.evidence_len = len,
		.expected_report_data = rd,
		.expected_report_data_len = 64,
		.verify_time = 1750000000,
	};
	atoll_claims *c = NULL;
	int r = plugin_driver_verify(ld, &a, &c, e);
	if (ret)
		*ret = c;
	else
		plugin_driver_claims_free(ld, c);
	return r;
}

static void test_driver(const char *dir)
{
	char keys[700], key[800], pub[800], other_key[800], measured[800];
	char err[2048], want[2048];
	uint8_t rd[64], other_rd[64], meas[32];
	struct loaded_driver verifier, island, stranger;
	atoll_evidence *ev = NULL, *ev2 = NULL;
	atoll_claims *c = NULL;
	atoll_err e = { "" };

	snprintf(keys, sizeof keys, "%s/keys", dir);
	snprintf(key, sizeof key, "%s/unit.key", keys);
	snprintf(pub, sizeof pub, "%s/unit.pub", keys);
	snprintf(other_key, sizeof other_key, "%s/other.key", keys);
	snprintf(measured, sizeof measured, "%s/measured.bin", keys);
	CHECK(mkdir(keys, 0700) == 0 || errno == EEXIST);
	CHECK_INT(make_key(keys, "unit"), 0);
	CHECK_INT(make_key(keys, "other"), 0);
	CHECK_INT(h_write(keys, "measured.bin", "the code a real TEE would measure", NULL, 0), 0);
	CHECK_INT(sha256_file(measured, meas), 0);
	for (int i = 0; i < 64; i++) {
		rd[i] = (uint8_t)i;
		other_rd[i] = (uint8_t)(i + 1);
	}

	/* Config refusals come back through the loader, naming the key. */
	atoll_kv bogus[] = { { "bogus", "1" } };
	CHECK_INT(load("template", bogus, 1, &verifier, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "driver 'template' in [%s]: init failed: unknown key 'bogus'",
		 driver_path);
	CHECK_STR(err, want);
	CHECK_INT(load("template", NULL, 0, &verifier, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "give signing_key_file (island), public_key_file (verifier) or both"));

	atoll_kv vkv[] = { { "public_key_file", pub } };
	atoll_kv ikv[] = { { "signing_key_file", key }, { "measure_file", measured }, { "svn", "7" } };
	atoll_kv skv[] = { { "signing_key_file", other_key }, { "measure_file", measured } };
	if (load("template", vkv, 1, &verifier, err, sizeof err) < 0 ||
	    load("template", ikv, 3, &island, err, sizeof err) < 0 ||
	    load("template", skv, 2, &stranger, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		check_failures++;
		return;
	}
	char line[1200];
	plugin_driver_describe(&verifier, line, sizeof line);
	snprintf(want, sizeof want, "driver template 1.0.0 (ABI 1.1) loaded from %s", driver_path);
	CHECK_STR(line, want);

	/* A verifier instance has no key to collect with. */
	CHECK_INT(plugin_driver_detect(&verifier, &e), ATOLL_E_UNAVAILABLE);
	CHECK_STR(e.msg, "no signing_key_file: this instance only verifies");
	CHECK_INT(plugin_driver_detect(&island, &e), ATOLL_OK);

	CHECK_INT(plugin_driver_collect(&island, rd, &ev, &e), ATOLL_OK);
	CHECK_INT(plugin_driver_collect(&stranger, rd, &ev2, &e), ATOLL_OK);
	if (ev && ev2) {
		CHECK_INT(verify(&verifier, ev->data, ev->len, rd, &c, &e), ATOLL_OK);
		if (c) {
			CHECK_STR(c->tee_type, "template");
			CHECK(c->measurement_len == 32 && memcmp(c->measurement, meas, 32) == 0);
			CHECK(c->report_data_len == 64 && memcmp(c->report_data, rd, 64) == 0);
			CHECK(c->signer_len == 32);
			CHECK_INT(c->svn, 7);
			CHECK_INT(c->debug, 0);
			CHECK(c->issued_at > 1700000000);
			CHECK(c->n_extra == 1 && strcmp(c->extra[0].name, "key_type") == 0 &&
			      c->extra[0].len == 7 && memcmp(c->extra[0].bytes, "ed25519", 7) == 0);
			plugin_driver_claims_free(&verifier, c);
		}
		CHECK_INT(verify(&verifier, ev->data, ev->len, other_rd, NULL, &e), ATOLL_E_BINDING);
		CHECK_INT(verify(&verifier, ev->data, ev->len - 1, rd, NULL, &e), ATOLL_E_FORMAT);
		CHECK_INT(verify(&verifier, ev->data, 100, rd, NULL, &e), ATOLL_E_FORMAT);
		CHECK_INT(verify(&verifier, ev2->data, ev2->len, rd, NULL, &e), ATOLL_E_SIGNATURE);
		CHECK_STR(e.msg, "signature does not verify with public_key_file");
		ev->data[60] ^= 1;
		CHECK_INT(verify(&verifier, ev->data, ev->len, NULL, NULL, &e), ATOLL_E_SIGNATURE);
		/* An island instance has no key to verify with. */
		CHECK_INT(verify(&island, ev2->data, ev2->len, rd, NULL, &e), ATOLL_E_UNAVAILABLE);
	}
	plugin_driver_evidence_free(&island, ev);
	plugin_driver_evidence_free(&stranger, ev2);
	plugin_unload_driver(&stranger);
	plugin_unload_driver(&island);
	plugin_unload_driver(&verifier);
	/* Every instance released its reference. */
	void *h = dlopen(driver_path, RTLD_NOW | RTLD_NOLOAD);
	CHECK(h == NULL);
	if (h)
		dlclose(h);
}

static void test_backend(void)
{
	struct loaded_backend lb = { 0 };
	char err[2048], want[2048], line[1200];
	atoll_kv bogus[] = { { "bogus", "1" } };
	void *ctx = NULL;

	if (plugin_load_backend(backend_path, &lb, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		check_failures++;
		return;
	}
	plugin_backend_describe(&lb, line, sizeof line);
	snprintf(want, sizeof want, "backend upper 1.0.0 (ABI 1.1) loaded from %s", backend_path);
	CHECK_STR(line, want);
	CHECK(lb.b->modes == (ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE)));
	CHECK_INT(plugin_backend_init(&lb, bogus, 1, &ctx, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "backend 'upper' in [%s]: init failed: unknown key 'bogus'",
		 backend_path);
	CHECK_STR(err, want);
	plugin_unload_backend(&lb);
}

/* A job on workload 50 until final; its text output, or "" on failure. */
static void plain_job(struct cluster *cl, const char *body, char *out, size_t out_size)
{
	Atoll__V1__Job *j = NULL;
	struct rpc_status st;
	out[0] = 0;
	CHECK_INT(c_submit(cl, "ak_demo", body, &j, &st), 0);
	CHECK_INT(st.code, GRPC_STATUS_OK);
	if (!j)
		return;
	Atoll__V1__Job *f = c_wait_final(cl, j->id, 20000);
	CHECK(f && f->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED);
	if (f && f->output && f->output->text)
		snprintf(out, out_size, "%s", f->output->text);
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

/* The client trusts the template TEE's key and measurement, and pins the
 * island's manifest as atollctl computes it from island-v1.yaml. */
static void write_client_policy(struct cluster *cl, const char *file, const char *pubkey,
				const char *measurement)
{
	char yaml[8192], pins[4096];
	const char *args[] = { "manifest", "--policy", "island-v1.yaml", NULL };
	CHECK_INT(c_atollctl(cl, pins, sizeof pins, args), 0);
	snprintf(yaml, sizeof yaml,
		 "drivers:\n  - name: template\n    path: %s\n    config: {public_key_file: %s}\n"
		 "policy:\n  tee:\n    template: {measurements: [%s], max_evidence_age: 1m}\n%s",
		 driver_path, pubkey, measurement, pins);
	h_write(cl->dir, file, yaml, NULL, 0);
}

static void test_cluster(struct cluster *cl)
{
	char keys[700], yaml[4096], drivers[2048], workloads[512], island_drv[2048];
	char backends[1024], want[2048], out[1 << 16], measurement[65];
	uint8_t m[32];

	/* The island's "TEE" key; the policy pins the enclave runtime the
	 * driver measures (it is loaded into atoll-enclave). */
	snprintf(keys, sizeof keys, "%s/keys", cl->dir);
	CHECK_INT(make_key(keys, "tmpl"), 0);
	CHECK_INT(make_key(keys, "stranger"), 0);
	CHECK_INT(sha256_file(h_build_path("island/atoll-enclave"), m), 0);
	enc_hex_encode(m, 32, measurement);

	snprintf(drivers, sizeof drivers,
		 "  - name: template\n    path: %s\n    config: {public_key_file: keys/tmpl.pub}\n",
		 driver_path);
	cl->extra_drivers_yaml = drivers;
	snprintf(yaml, sizeof yaml,
		 "policy:\n  challenge_ttl: 5s\n  tee:\n    template:\n      measurements: [%s]\n"
		 "      max_evidence_age: 1m\n  manifest: {require_pins: false}\n",
		 measurement);
	cl->policy_yaml = yaml;
	cl->workloads_yaml = "workloads:\n"
			     "  - {id: 50, name: upper, backend: upper, modes: [plain, tee],\n"
			     "     price_per_second: 0.5, max_attempts: 3}\n";
	CHECK_INT(cluster_start_coordinator(cl), 0);

	snprintf(island_drv, sizeof island_drv,
		 "  driver: {name: template, path: %s, config: {signing_key_file: keys/tmpl.key}}\n",
		 driver_path);
	snprintf(backends, sizeof backends, ", {name: upper, path: %s}", backend_path);
	cl->extra_backends_yaml = backends;
	snprintf(workloads, sizeof workloads,
		 "    - {id: 50, backend: upper, modes: [plain, tee], options: {prefix: '>> '}}\n");
	CHECK(cluster_add_island(cl, "v1", 2, workloads, island_drv, NULL) >= 0);
	CHECK_INT(cluster_wait(cl, 1, 1, 15000), 0);
	if (check_failures)
		return;

	snprintf(want, sizeof want, "driver template 1.0.0 (ABI 1.1) loaded from %s", driver_path);
	CHECK(h_file_contains(cl->coord.log, want));
	CHECK(h_file_contains(cl->islands[0].log, want));
	snprintf(want, sizeof want, "backend upper 1.0.0 (ABI 1.1) loaded from %s", backend_path);
	CHECK(h_file_contains(cl->islands[0].log, want));

	/* A plain job on the template backend. */
	plain_job(cl, "{\"workload_id\": 50, \"input\": {\"prompt\": \"hello from a vendor\"}}", out,
		  sizeof out);
	CHECK_STR(out, ">> HELLO FROM A VENDOR");

	/* A confidential job: atollctl verifies the island's template
	 * evidence itself, seals to it, and opens the answer. */
	write_client_policy(cl, "client-policy.yaml", "keys/tmpl.pub", measurement);
	const char *run[] = { "run", "--workload", "50", "--confidential", "--policy",
			      "client-policy.yaml", "--prompt", "sealed for the vendor", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, run), 0);
	CHECK(strstr(out, ">> SEALED FOR THE VENDOR") != NULL);
	CHECK(strstr(out, "sealed to v1") != NULL);

	/* A client that trusts another key trusts no island. */
	write_client_policy(cl, "stranger-policy.yaml", "keys/stranger.pub", measurement);
	const char *refused[] = { "run", "--workload", "50", "--confidential", "--policy",
				  "stranger-policy.yaml", "--prompt", "not for them", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, refused), 1);
	CHECK(strstr(out, "no island serving workload 50 passed verification") != NULL);
	CHECK(strstr(out, "signature does not verify with public_key_file") != NULL);
	CHECK(strstr(out, "NOT FOR THEM") == NULL);
}

int main(int argc, char **argv)
{
	int a = 1;
	bool load_only = argc > 1 && strcmp(argv[1], "--load-only") == 0;
	if (load_only)
		a++;
	if (argc - a != 2) {
		fprintf(stderr, "usage: test_vendor [--load-only] <driver.so> <backend.so>\n");
		return 2;
	}
	driver_path = argv[a];
	backend_path = argv[a + 1];

	struct cluster cl;
	if (cluster_init(&cl, "vendor") < 0)
		return 1;
	test_driver(cl.dir);
	test_backend();
	if (load_only || check_failures)
		CHECK_DONE();

	grpc_init();
	test_cluster(&cl);
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
