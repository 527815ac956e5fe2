/* atollctl manifest: the enclave manifest an island.yaml produces,
 * computed offline from the same files the enclave will load, so that an
 * operator or a client knows which digests to pin before any evidence
 * exists (docs/confidential.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/manifest.h"
#include "ctl.h"
#include "manifest.h"
#include "util/enc.h"

static void hex_list(const uint8_t (*d)[MANIFEST_SHA256_LEN], size_t n)
{
	char hex[2 * MANIFEST_SHA256_LEN + 1];
	printf("[");
	for (size_t i = 0; i < n; i++) {
		enc_hex_encode(d[i], MANIFEST_SHA256_LEN, hex);
		printf("%s%s", i ? ", " : "", hex);
	}
	printf("]");
}

/* The manifest section of a policy, to paste under `policy:`. */
static void print_pins(const struct manifest *m)
{
	printf("  manifest:\n    runtime_sha256: ");
	hex_list((const uint8_t(*)[MANIFEST_SHA256_LEN])m->runtime_sha256, 1);
	printf("\n");
	if (m->has_driver) {
		printf("    driver_sha256: ");
		hex_list((const uint8_t(*)[MANIFEST_SHA256_LEN])m->driver_sha256, 1);
		printf("\n");
	}
	printf("    workloads:\n");
	/* One pin entry per workload id: a workload served by several
	 * backends (one per mode) lists each. */
	for (size_t i = 0; i < m->n_workloads; i++) {
		const struct manifest_workload *w = &m->workloads[i];
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= m->workloads[j].id == w->id;
		if (seen)
			continue;
		printf("      - id: %u\n        backend_sha256: [", w->id);
		size_t models = 0;
		for (size_t j = i; j < m->n_workloads; j++) {
			const struct manifest_workload *x = &m->workloads[j];
			if (x->id != w->id)
				continue;
			char hex[2 * MANIFEST_SHA256_LEN + 1];
			enc_hex_encode(x->backend_sha256, MANIFEST_SHA256_LEN, hex);
			printf("%s%s", j > i ? ", " : "", hex);
			models += x->n_models;
		}
		printf("]   # %s\n", w->backend);
		if (!models)
			continue;
		printf("        model_sha256: [");
		bool first = true;
		for (size_t j = i; j < m->n_workloads; j++) {
			const struct manifest_workload *x = &m->workloads[j];
			for (size_t k = 0; x->id == w->id && k < x->n_models; k++) {
				char hex[2 * MANIFEST_SHA256_LEN + 1];
				enc_hex_encode(x->models[k], MANIFEST_SHA256_LEN, hex);
				printf("%s%s", first ? "" : ", ", hex);
				first = false;
			}
		}
		printf("]\n");
	}
}

int cmd_manifest(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", no_argument, NULL, 'p' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "driver", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool policy = false;
	const char *runtime = NULL, *driver = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': policy = true; break;
		case 'r': runtime = optarg; break;
		case 'd': driver = optarg; break;
		case 'h':
			printf("usage: atollctl manifest [--policy] [--runtime FILE] [--driver NAME] ISLAND_YAML\n"
			       "Computes the enclave manifest the island's enclave will attest to,\n"
			       "from the files its enclave section names: the runtime (enclave.path,\n"
			       "or --runtime for a runtime the island does not start itself), the TEE\n"
			       "driver, and each workload's backend and model files. An island that\n"
			       "names no driver probes enclave.driver_dir; --driver names the one it\n"
			       "finds there (atoll-island --detect tells). Prints the manifest and its\n"
			       "SHA-256, or with --policy the policy.manifest section that pins them\n"
			       "(paste it under `policy:` in coordinator.yaml or in your client\n"
			       "policy file).\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return ctl_usage("manifest needs one island.yaml");
	struct island_config *ic = NULL;
	char err[1024];
	if (island_config_load(argv[optind], ISLAND_CFG_ENCLAVE, &ic, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	struct manifest m = { 0 };
	struct buf bytes = { 0 };
	char *probed = NULL;
	const char *dname = NULL, *dpath = NULL;
	int rc = 1;
	if (!runtime)
		runtime = ic->enclave.path;
	if (!runtime) {
		ctl_fail("%s has no enclave.path: name the runtime with --runtime", argv[optind]);
		goto out;
	}
	if (ic->enclave.has_driver) {
		dname = ic->enclave.driver.name;
		dpath = ic->enclave.driver.path;
		if (driver && strcmp(driver, dname) != 0) {
			ctl_fail("--driver %s, but the island names driver %s", driver, dname);
			goto out;
		}
	} else if (!ic->enclave.no_tee) {
		if (!driver) {
			ctl_fail("%s names no driver (the enclave probes %s): name the one it "
				 "detects with --driver", argv[optind], ic->enclave.driver_dir);
			goto out;
		}
		if (asprintf(&probed, "%s/%s.so", ic->enclave.driver_dir, driver) < 0) {
			ctl_fail("out of memory");
			goto out;
		}
		dname = driver;
		dpath = probed;
	}
	if (island_manifest(ic, runtime, dname, dpath, NULL, &m, err, sizeof err) < 0) {
		ctl_fail("%s", err);
		goto out;
	}
	if (manifest_encode(&m, &bytes) < 0) {
		ctl_fail("cannot encode the manifest");
		goto out;
	}
	if (policy) {
		print_pins(&m);
	} else {
		uint8_t d[MANIFEST_SHA256_LEN];
		char hex[2 * MANIFEST_SHA256_LEN + 1];
		manifest_digest(bytes.data, bytes.len, d);
		enc_hex_encode(d, sizeof d, hex);
		printf("%s\nsha256 %s\n", buf_cstr(&bytes), hex);
	}
	rc = 0;
out:
	free(probed);
	manifest_clear(&m);
	buf_free(&bytes);
	island_config_free(ic);
	(void)c;
	return rc;
}
