/* libFuzzer target: the YAML configs. lib/config (the node tree and the
 * typed readers) under the schemas that use it: coordinator.yaml
 * (server/config.c with its http section, config_http.c), island.yaml
 * (island/config.c) as the host, the enclave runtime or both read it,
 * a client's policy file (lib/attest/config.c) and proxy.yaml
 * (tools/proxy/config.c). The first byte picks the schema (enum schema;
 * for island.yaml, byte / 4 % 3 picks the reader); the rest is the file,
 * read from an in-memory file as the programs read theirs. A refusal must
 * come with a message. The example configs and the config test cases are
 * the seeds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/config.h"
#include "fuzz.h"
#include "island/config.h"
#include "proxy.h"
#include "server/config.h"

enum schema { COORDINATOR = 0, ISLAND = 1, POLICY = 2, PROXY = 3 };

/* What island_config_load() reads, by (first byte / 4) % 3. */
static const unsigned island_what[3] = { ISLAND_CFG_HOST, ISLAND_CFG_ENCLAVE,
					 ISLAND_CFG_HOST | ISLAND_CFG_ENCLAVE };

void fuzz_setup(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "";
	int r;

	if (size < 1)
		return 0;
	fuzz_memfd(data + 1, size - 1);
	switch (data[0] % 4) {
	case COORDINATOR: {
		struct coord_config *cc = NULL;

		r = coord_config_load(fuzz_memfd_path(), &cc, err, sizeof(err));
		coord_config_free(cc);
		break;
	}
	case ISLAND: {
		struct island_config *ic = NULL;

		r = island_config_load(fuzz_memfd_path(),
				       island_what[data[0] / 4 % 3], &ic, err,
				       sizeof(err));
		island_config_free(ic);
		break;
	}
	case POLICY: {
		struct attest_config *ac = NULL;

		r = attest_config_load(fuzz_memfd_path(), &ac, err, sizeof(err));
		attest_config_free(ac);
		break;
	}
	default: {
		struct proxy_config *pc = NULL;

		r = proxy_config_load(fuzz_memfd_path(), &pc, err, sizeof(err));
		proxy_config_free(pc);
		break;
	}
	}
	if (r < 0 && !err[0])
		fuzz_die("config refused (%d) without a message", r);
	return 0;
}

static void seed_file(const char *name, uint8_t schema, const char *path)
{
	size_t len;
	uint8_t *d = fuzz_read_file(path, &len);

	if (!d)
		fuzz_die("cannot read %s", path);
	fuzz_seed_tagged(name, schema, d, len);
	free(d);
}

/* Every .yaml of tests/config/<sub> as a seed of schema. */
static void seed_dir(const char *sub, uint8_t schema)
{
	char path[4096], name[300];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/tests/config/%s", fuzz_source_dir(), sub);
	d = opendir(path);
	if (!d)
		fuzz_die("cannot list %s", path);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		snprintf(name, sizeof(name), "%s-%s", sub, e->d_name);
		snprintf(path, sizeof(path), "%s/tests/config/%s/%s",
			 fuzz_source_dir(), sub, e->d_name);
		seed_file(name, schema, path);
	}
	closedir(d);
}

void fuzz_seeds(void)
{
	static const char policy[] =
		"drivers:\n"
		"  - name: sev_snp\n"
		"    path: /usr/lib/atoll/sev_snp.so\n"
		"    config:\n"
		"      chain_cache: false\n"
		"      ark_fingerprints: [aa, bb]\n"
		"policy:\n"
		"  reattest_interval: 5m\n"
		"  challenge_ttl: 30s\n"
		"  manifest:\n"
		"    require_pins: true\n"
		"    runtime_sha256: [\"0011\"]\n"
		"    driver_sha256: [\"2233\"]\n"
		"    workloads:\n"
		"      - id: 7\n"
		"        backend_sha256: [\"4455\"]\n"
		"        model_sha256: [\"6677\", \"8899\"]\n"
		"  tee:\n"
		"    sev_snp:\n"
		"      allow_debug: false\n"
		"      measurements: [\"00112233\"]\n"
		"      signers: []\n"
		"      min_svn: 2\n"
		"      min_tcb: 0x10\n"
		"      tcb_statuses: [UpToDate, SWHardeningNeeded]\n"
		"      require_tcb_status: true\n"
		"      max_evidence_age: 90s\n";
	char path[4096];

	snprintf(path, sizeof(path), "%s/config/coordinator.yaml",
		 fuzz_source_dir());
	seed_file("coordinator.yaml", COORDINATOR, path);
	seed_file("coordinator-as-policy.yaml", POLICY, path);
	snprintf(path, sizeof(path), "%s/config/island.yaml", fuzz_source_dir());
	seed_file("island.yaml-host", ISLAND, path);
	seed_file("island.yaml-enclave", ISLAND + 4, path);
	seed_file("island.yaml-both", ISLAND + 8, path);
	snprintf(path, sizeof(path), "%s/config/proxy.yaml", fuzz_source_dir());
	seed_file("proxy.yaml", PROXY, path);
	fuzz_seed_tagged("policy.yaml", POLICY, policy, strlen(policy));

	seed_dir("cases", COORDINATOR);
	/* Read by the host, as atoll-island --check-config reads them. */
	seed_dir("island_cases", ISLAND);
}
