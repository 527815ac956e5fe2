/* Auto-detection: an island that names no driver probes every module of
 * its driver directory. `atoll-island --detect` prints each driver's
 * verdict and exits 0 only when exactly one found its TEE; a running
 * island uses that driver, says so in Hello, and is attested. No driver
 * found, several found, and a module that is not a driver are reported
 * by name. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "check.h"
#include "cluster.h"
#include "simtool.h"
#include "util/buf.h"

static const char *const drivers[] = { "sim", "sev_snp", "tdx", "sgx", "nitro", "psa", "cca" };

/* atoll-island --detect on a config; its stdout+stderr into out. */
static int run_detect(const char *dir, const char *name, const char *enclave_yaml, char *out,
		      size_t out_size)
{
	char y[4096], cfg[700];
	snprintf(y, sizeof y,
		 "island: {id: d, slots: 1}\n"
		 "coordinator: {address: 127.0.0.1:1, token: x}\n"
		 "enclave:\n  path: %s\n%s"
		 "  backends: [{name: echo, path: %s/echo.so}]\n"
		 "  workloads: [{id: 42, backend: echo}]\n",
		 h_build_path("island/atoll-enclave"), enclave_yaml, h_module_dir());
	char file[128];
	snprintf(file, sizeof file, "%s.yaml", name);
	h_write(dir, file, y, cfg, sizeof cfg);
	snprintf(out, out_size, "%s/%s.out", dir, name);
	char *argv[] = { (char *)h_build_path("island/atoll-island"), "--detect", "--config", cfg,
			 NULL };
	struct proc p;
	if (h_spawn(argv, out, &p) < 0)
		return -1;
	int st = 0;
	if (h_stop(&p, 0, 30000, &st) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	struct cluster cl;
	char err[512], out[700], want[1024];
	if (cluster_init(&cl, "detect") < 0)
		return 1;
	grpc_init();
	char keys[700], ddir[700];
	snprintf(keys, sizeof keys, "%s/keys", cl.dir);
	CHECK_INT(simtool_make_island_key(cl.ca_dir, "auto", 30, keys, err, sizeof err), 0);
	/* A driver directory as the package lays it out, plus a stray
	 * backend module that is no driver. */
	snprintf(ddir, sizeof ddir, "%s/drivers", cl.dir);
	CHECK(mkdir(ddir, 0755) == 0);
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
		char from[700], to[800];
		snprintf(from, sizeof from, "%s/%s.so", h_module_dir(), drivers[i]);
		snprintf(to, sizeof to, "%s/%s.so", ddir, drivers[i]);
		CHECK(symlink(from, to) == 0);
	}
	char y[2048], sim_cfg[1024];
	snprintf(sim_cfg, sizeof sim_cfg,
		 "    sim: {key_file: keys/auto.key, cert_file: keys/auto.pem}\n"
		 "    tdx: {tsm_dir: /nonexistent/tsm}\n"
		 "    sev_snp: {device: /nonexistent/sev-guest, tsm_dir: /nonexistent/tsm}\n"
		 "    nitro: {device: /nonexistent/nsm}\n"
		 "    sgx: {attestation_dir: /nonexistent/attestation}\n"
		 "    cca: {tsm_dir: /nonexistent/tsm}\n");

	/* Exactly one driver finds its TEE: sim, since it has its keys. */
	snprintf(y, sizeof y, "  driver_dir: drivers\n  driver_config:\n%s", sim_cfg);
	CHECK_INT(run_detect(cl.dir, "one", y, out, sizeof out), 0);
	CHECK(h_file_contains(out, "sim        found\n"));
	CHECK(h_file_contains(out, "TEE: sim\n"));
	CHECK(h_file_contains(out, "nitro      not found: no Nitro Security Module: /nonexistent/nsm "
				   "does not exist"));
	CHECK(h_file_contains(out, "tdx        not found: not a TDX guest"));
	CHECK(h_file_contains(out, "sev_snp    not found: no SEV-SNP guest interface"));
	CHECK(h_file_contains(out, "sgx        not found:"));
	CHECK(h_file_contains(out, "psa        not found:"));
	CHECK(h_file_contains(out, "cca        not found:"));
	if (check_failures)
		h_dump_log(out);

	/* None: sim has no keys either. Every driver says why. */
	CHECK_INT(run_detect(cl.dir, "none", "  driver_dir: drivers\n", out, sizeof out), 1);
	snprintf(want, sizeof want, "no TEE: nothing detected by the drivers in %s: cca: ", ddir);
	CHECK(h_file_contains(out, want));
	CHECK(h_file_contains(out, "sim        not found: driver 'sim' in ["));
	CHECK(h_file_contains(out, "init failed"));

	/* Two: nitro's device is a file it may read and write here. Guessing
	 * could attest the wrong thing. */
	CHECK_INT(h_write(cl.dir, "nsm", "", NULL, 0), 0);
	snprintf(y, sizeof y, "  driver_dir: drivers\n  driver_config:\n%s    nitro: {device: %s/nsm}\n",
		 sim_cfg, cl.dir);
	/* (the second nitro entry would be a duplicate key: drop the first) */
	char *p = strstr(y, "    nitro: {device: /nonexistent/nsm}\n");
	if (p)
		memmove(p, p + strlen("    nitro: {device: /nonexistent/nsm}\n"),
			strlen(p + strlen("    nitro: {device: /nonexistent/nsm}\n")) + 1);
	CHECK_INT(run_detect(cl.dir, "two", y, out, sizeof out), 1);
	CHECK(h_file_contains(out, "no TEE: several TEEs detected (nitro, sim): name one in "
				   "enclave.driver"));

	/* A module that is not a driver is reported, and the others still
	 * probed. */
	char from[700], to[800];
	snprintf(from, sizeof from, "%s/echo.so", h_module_dir());
	snprintf(to, sizeof to, "%s/echo.so", ddir);
	CHECK(symlink(from, to) == 0);
	snprintf(y, sizeof y, "  driver_dir: drivers\n  driver_config:\n%s", sim_cfg);
	CHECK_INT(run_detect(cl.dir, "stray", y, out, sizeof out), 0);
	snprintf(want, sizeof want, "echo       not found: no entry point [atoll_tee_driver_entry] in [%s]",
		 to);
	CHECK(h_file_contains(out, want));
	CHECK(h_file_contains(out, "TEE: sim\n"));
	unlink(to);

	/* A named driver is used as named: no probing. */
	snprintf(y, sizeof y, "  driver: none\n");
	CHECK_INT(run_detect(cl.dir, "notee", y, out, sizeof out), 1);
	CHECK(h_file_contains(out, "no TEE: enclave.driver is none"));

	/* A running island: it uses the driver it found and is attested. */
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	snprintf(y, sizeof y, "  driver_dir: %s\n  driver_config:\n%s", ddir, sim_cfg);
	int i = cluster_add_island(&cl, "auto", 1, NULL, y, NULL);
	CHECK(i >= 0);
	CHECK_INT(cluster_wait(&cl, 1, 1, 20000), 0);
	if (i >= 0) {
		CHECK(h_file_contains(cl.islands[i].log, "TEE detected: sim"));
		CHECK(h_file_contains(cl.islands[i].log, "enclave ready ("));
		CHECK(h_file_contains(cl.islands[i].log, "tee sim)"));
	}
	Atoll__V1__Stats *stats = NULL;
	CHECK_INT(c_stats(&cl, &stats), 0);
	if (stats) {
		bool sim = false;
		for (size_t k = 0; k < stats->n_tee_types; k++)
			if (strcmp(stats->tee_types[k]->key, "sim") == 0 && stats->tee_types[k]->value == 1)
				sim = true;
		CHECK(sim);
		protobuf_c_message_free_unpacked(&stats->base, NULL);
	}
	if (check_failures)
		cluster_dump_logs(&cl);
	cluster_stop(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
