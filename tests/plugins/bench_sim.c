/* Prints how fast the sim driver collects and verifies reports, through
 * the plugin loader as a host would call it. A benchmark, not a test:
 *   bench_sim [iterations]   (ATOLL_MODULE_DIR must point at sim.so) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin.h"
#include "simtool.h"
#include "util/timeutil.h"

static char tmp[256];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	const char *mods = getenv("ATOLL_MODULE_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct loaded_driver isl = { 0 }, ver = { 0 };
	char path[4096], err[1024], key[512], cert[512], ca[512];
	atoll_evidence *ev = NULL;
	uint8_t rd[64] = { 1 };
	atoll_err e = { "" };
	int64_t t0, when;
	double dt;
	int rc = 1;

	if (!mods || n < 1) {
		fprintf(stderr, "usage: ATOLL_MODULE_DIR=<dir> bench_sim [n]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/sim.so", mods);
	snprintf(tmp, sizeof(tmp), "/tmp/atoll-bench-sim-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(ca, sizeof(ca), "%s/sim-ca.pem", tmp);
	snprintf(key, sizeof(key), "%s/bench.key", tmp);
	snprintf(cert, sizeof(cert), "%s/bench.pem", tmp);
	if (simtool_make_ca(tmp, "bench CA", 1, err, sizeof(err)) < 0 ||
	    simtool_make_island_key(tmp, "bench", 1, tmp, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	{
		atoll_kv ikv[] = { { "key_file", key }, { "cert_file", cert } };
		atoll_kv vkv[] = { { "ca_file", ca } };

		if (plugin_load_driver(path, "sim", ikv, 2, NULL, 0, &isl, err,
				       sizeof(err)) < 0 ||
		    plugin_load_driver(path, "sim", vkv, 1, NULL, 0, &ver, err,
				       sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
	}

	t0 = time_mono_ns();
	for (int i = 0; i < n; i++) {
		plugin_driver_evidence_free(&isl, ev);
		ev = NULL;
		rd[0] = (uint8_t)i;
		if (plugin_driver_collect(&isl, rd, &ev, &e) != ATOLL_OK) {
			fprintf(stderr, "collect: %s\n", e.msg);
			goto out;
		}
	}
	dt = (double)(time_mono_ns() - t0) / 1e9;
	printf("sim collect: %d reports of %zu bytes in %.1f ms: %.0f/s\n", n,
	       ev->len, dt * 1e3, n / dt);

	when = time_now_ms() / 1000;
	t0 = time_mono_ns();
	for (int i = 0; i < n; i++) {
		atoll_verify_args a = {
			.struct_size = sizeof(a),
			.evidence = ev->data,
			.evidence_len = ev->len,
			.expected_report_data = rd,
			.expected_report_data_len = 64,
			.verify_time = when,
		};
		atoll_claims *c = NULL;

		if (plugin_driver_verify(&ver, &a, &c, &e) != ATOLL_OK) {
			fprintf(stderr, "verify: %s\n", e.msg);
			goto out;
		}
		plugin_driver_claims_free(&ver, c);
	}
	dt = (double)(time_mono_ns() - t0) / 1e9;
	printf("sim verify:  %d reports in %.1f ms: %.0f/s (one thread)\n", n,
	       dt * 1e3, n / dt);
	rc = 0;
out:
	if (isl.d)
		plugin_driver_evidence_free(&isl, ev);
	plugin_unload_driver(&isl);
	plugin_unload_driver(&ver);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
