/* libFuzzer target: the YAML configs. lib/config (the node tree and the
 * typed readers) under the three schemas that use it: coordinator.yaml
 * (server/config.c), island.yaml (island/config.c) and the policy file of
 * `atollctl verify`. The first byte picks the schema; the rest is the
 * file, read from an in-memory file as the programs read theirs. A
 * refusal must come with a message. The example configs and the config
 * test cases are the seeds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "island/config.h"
#include "server/config.h"
#include "server/policy.h"

enum schema { COORDINATOR = 0, ISLAND = 1, POLICY = 2 };

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
	switch (data[0] % 3) {
	case COORDINATOR: {
		struct coord_config *cc = NULL;

		r = coord_config_load(fuzz_memfd_path(), &cc, err, sizeof(err));
		coord_config_free(cc);
		break;
	}
	case ISLAND: {
		struct island_config *ic = NULL;

		r = island_config_load(fuzz_memfd_path(), &ic, err, sizeof(err));
		island_config_free(ic);
		break;
	}
	default: {
		struct coord_config *cc = NULL;

		r = policy_config_load(fuzz_memfd_path(), &cc, err, sizeof(err));
		coord_config_free(cc);
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
		"  tee:\n"
		"    sev_snp:\n"
		"      allow_debug: false\n"
		"      measurements: [\"00112233\"]\n"
		"      signers: []\n"
		"      min_svn: 2\n"
		"      min_tcb: 0x10\n"
		"      tcb_statuses: [UpToDate, SWHardeningNeeded]\n"
		"      max_evidence_age: 90s\n";
	char path[4096], name[300];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/config/coordinator.yaml",
		 fuzz_source_dir());
	seed_file("coordinator.yaml", COORDINATOR, path);
	seed_file("coordinator-as-policy.yaml", POLICY, path);
	snprintf(path, sizeof(path), "%s/config/island.yaml", fuzz_source_dir());
	seed_file("island.yaml", ISLAND, path);
	fuzz_seed_tagged("policy.yaml", POLICY, policy, strlen(policy));

	snprintf(path, sizeof(path), "%s/tests/config/cases", fuzz_source_dir());
	d = opendir(path);
	if (!d)
		fuzz_die("cannot list %s", path);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		snprintf(name, sizeof(name), "case-%s", e->d_name);
		snprintf(path, sizeof(path), "%s/tests/config/cases/%s",
			 fuzz_source_dir(), e->d_name);
		seed_file(name, COORDINATOR, path);
	}
	closedir(d);
}
