/* Test clusters: configs, processes and client calls. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/manifest.h"
#include "pbjson/pbjson.h"
#include "simtool.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static const char *DEFAULT_WORKLOADS =
	"workloads:\n"
	"  - {id: 42, name: echo, backend: echo, modes: [plain, tee], price_per_second: 0.5,\n"
	"     max_attempts: 3}\n";

int cluster_init(struct cluster *cl, const char *name)
{
	char err[512];
	memset(cl, 0, sizeof *cl);
	int e = h_tmpdir(name, cl->dir, sizeof cl->dir);
	if (e < 0)
		return e;
	snprintf(cl->ca_dir, sizeof cl->ca_dir, "%s/ca", cl->dir);
	if (simtool_make_ca(cl->ca_dir, "test sim CA", 30, err, sizeof err) < 0) {
		fprintf(stderr, "sim CA: %s\n", err);
		return -EIO;
	}
	if (simtool_measure(h_build_path("island/atoll-enclave"), cl->measurement, err,
			    sizeof err) < 0) {
		fprintf(stderr, "measure: %s\n", err);
		return -EIO;
	}
	cl->workloads_yaml = DEFAULT_WORKLOADS;
	return 0;
}

static void sha_line(struct buf *b, const char *secret)
{
	char hex[65];
	h_sha256_hex(secret, hex);
	buf_printf(b, "%s", hex);
}

int cluster_start_coordinator(struct cluster *cl)
{
	struct buf y = { 0 };
	buf_printf(&y, "listen:\n  address: 127.0.0.1:0\n%s", cl->listen_tls_yaml ? cl->listen_tls_yaml : "");
	if (cl->extra_yaml)
		buf_printf(&y, "%s", cl->extra_yaml);
	buf_printf(&y, "%s", cl->limits_yaml ? cl->limits_yaml : "limits: {drain_timeout: 2s}\n");
	if (cl->store_yaml)
		buf_printf(&y, "%s", cl->store_yaml);
	else
		buf_printf(&y, "store: {path: atoll.db, synchronous: %s}\n",
			   cl->store_synchronous ? cl->store_synchronous : "normal");
	buf_printf(&y, "tenants:\n  - name: demo\n    api_key_sha256: [");
	sha_line(&y, "ak_demo");
	buf_printf(&y, "]\n  - name: other\n    api_key_sha256: [");
	sha_line(&y, "ak_other");
	buf_printf(&y, "]\nislands:\n%s  tokens: [{name: it, island_ids: [\"%s\"], token_sha256: ",
		   cl->heartbeat_yaml ? cl->heartbeat_yaml
				      : "  heartbeat_interval: 300ms\n  heartbeat_timeout: 4s\n",
		   cl->token_island_ids ? cl->token_island_ids : "*");
	sha_line(&y, "it_demo");
	buf_printf(&y, "}%s]\n", cl->extra_tokens_yaml ? cl->extra_tokens_yaml : "");
	buf_printf(&y, "drivers:\n  - name: sim\n    path: %s/sim.so\n    config: {ca_file: ca/sim-ca.pem}\n%s",
		   h_module_dir(), cl->extra_drivers_yaml ? cl->extra_drivers_yaml : "");
	if (cl->policy_yaml)
		buf_printf(&y, "%s", cl->policy_yaml);
	else
		buf_printf(&y, "policy:\n  challenge_ttl: 5s\n  tee:\n    sim:\n      measurements: [%s]\n"
			       "      max_evidence_age: 1m\n"
			       /* Clients pin manifests in these tests (their policy
				* files); the coordinator's pins have tests of their
				* own. */
			       "  manifest: {require_pins: false}\n",
			   cl->measurement);
	buf_printf(&y, "%s", cl->workloads_yaml);
	int e = h_write(cl->dir, "coordinator.yaml", buf_cstr(&y), NULL, 0);
	buf_free(&y);
	if (e < 0)
		return e;
	/* A restart keeps the port so that islands find it again. */
	int old_port = cl->coord.port;
	if (!old_port)
		return h_start_coordinator(cl->dir, "coordinator.yaml", &cl->coord);
	char cfg[1024], log[1024], listen[64];
	snprintf(cfg, sizeof cfg, "%s/coordinator.yaml", cl->dir);
	snprintf(log, sizeof log, "%s/coordinator.log", cl->dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", old_port);
	unlink(cl->coord.portfile);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg,
			 "--listen", listen, "--port-file", cl->coord.portfile, NULL };
	if ((e = h_spawn(argv, log, &cl->coord)) < 0)
		return e;
	cl->coord.port = old_port;
	for (int i = 0; i < 200; i++) {
		if (access(cl->coord.portfile, R_OK) == 0)
			return 0;
		if (!h_alive(&cl->coord))
			return -ECHILD;
		time_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

int cluster_add_island(struct cluster *cl, const char *id, int slots, const char *workloads_yaml,
		       const char *driver_yaml, const char *token)
{
	if (cl->n_islands == MAX_ISLANDS)
		return -E2BIG;
	char err[512], keys[700];
	snprintf(keys, sizeof keys, "%s/keys", cl->dir);
	char keyfile[800];
	snprintf(keyfile, sizeof keyfile, "%s/%s.key", keys, id);
	if (access(keyfile, R_OK) != 0 &&
	    simtool_make_island_key(cl->ca_dir, id, 30, keys, err, sizeof err) < 0) {
		fprintf(stderr, "island key: %s\n", err);
		return -EIO;
	}
	struct buf y = { 0 };
	buf_printf(&y, "island: {id: %s, slots: %d}\n", id, slots);
	if (cl->island_addresses)
		buf_printf(&y, "coordinator: {addresses: %s", cl->island_addresses);
	else
		buf_printf(&y, "coordinator: {address: 127.0.0.1:%d", cl->coord.port);
	buf_printf(&y, ", token: %s, reconnect_min: 100ms, reconnect_max: 1s%s%s}\n",
		   token ? token : "it_demo", cl->island_tls_yaml ? ", " : "",
		   cl->island_tls_yaml ? cl->island_tls_yaml : "");
	buf_printf(&y, "shutdown: {grace: 2s}\n");
	/* An empty enclave_path: a runtime the island does not start. */
	buf_printf(&y, "enclave:\n");
	if (!cl->enclave_path || cl->enclave_path[0])
		buf_printf(&y, "  path: %s\n",
			   cl->enclave_path ? cl->enclave_path : h_build_path("island/atoll-enclave"));
	if (driver_yaml)
		buf_printf(&y, "%s", driver_yaml);
	else
		buf_printf(&y, "  driver: {name: sim, path: %s/sim.so, config: {key_file: keys/%s.key,"
			       " cert_file: keys/%s.pem}}\n",
			   h_module_dir(), id, id);
	/* Empty workloads_yaml: none, nor backends (a remote runtime's). */
	if (!workloads_yaml || workloads_yaml[0]) {
		char echo[700];
		snprintf(echo, sizeof echo, "%s/echo.so", h_module_dir());
		buf_printf(&y, "  backends: [{name: echo, path: %s}%s]\n",
			   cl->echo_path ? cl->echo_path : echo,
			   cl->extra_backends_yaml ? cl->extra_backends_yaml : "");
		buf_printf(&y, "  workloads:\n%s",
			   workloads_yaml ? workloads_yaml
					  : "    - {id: 42, backend: echo, modes: [plain, tee]}\n");
	}
	char name[128], path[1024], log[1024];
	snprintf(name, sizeof name, "island-%s.yaml", id);
	int e = h_write(cl->dir, name, buf_cstr(&y), path, sizeof path);
	buf_free(&y);
	if (e < 0)
		return e;
	snprintf(log, sizeof log, "%s/island-%s.log", cl->dir, id);
	int i = cl->n_islands;
	char *argv[] = { (char *)h_build_path("island/atoll-island"), "--config", path, NULL };
	if ((e = h_spawn(argv, log, &cl->islands[i])) < 0)
		return e;
	snprintf(cl->island_ids[i], sizeof cl->island_ids[i], "%s", id);
	cl->n_islands++;
	return i;
}

rpc_client *cluster_client(struct cluster *cl)
{
	if (!cl->client)
		rpc_client_new(h_target(&cl->coord), cl->client_opts, &cl->client);
	return cl->client;
}

int c_call(struct cluster *cl, const char *api_key, const char *method,
	   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp,
	   ProtobufCMessage **ret, struct rpc_status *st)
{
	char auth[256];
	snprintf(auth, sizeof auth, "Bearer %s", api_key);
	struct rpc_md md = { "authorization", auth };
	*ret = NULL;
	return rpc_unary(cluster_client(cl), method, req, resp, &md, 1, 10000, ret, st);
}

int c_stats(struct cluster *cl, Atoll__V1__Stats **ret)
{
	Atoll__V1__GetStatsRequest req = ATOLL__V1__GET_STATS_REQUEST__INIT;
	struct rpc_status st;
	int e = c_call(cl, "ak_demo", "/atoll.v1.Confidential/GetStats", &req.base,
		       &atoll__v1__stats__descriptor, (ProtobufCMessage **)ret, &st);
	return e < 0 || st.code != GRPC_STATUS_OK ? -EIO : 0;
}

int cluster_wait(struct cluster *cl, uint32_t connected, uint32_t attested, int timeout_ms)
{
	int64_t until = time_mono_ms() + timeout_ms;
	while (time_mono_ms() < until) {
		Atoll__V1__Stats *s;
		if (c_stats(cl, &s) == 0) {
			bool ok = s->connected_hosts == connected && s->attested_hosts == attested;
			protobuf_c_message_free_unpacked(&s->base, NULL);
			if (ok)
				return 0;
		}
		time_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

int c_submit(struct cluster *cl, const char *api_key, const char *body_json, Atoll__V1__Job **ret,
	     struct rpc_status *st)
{
	ProtobufCMessage *req;
	char err[256];
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, body_json, strlen(body_json), 0,
			&req, err, sizeof err) < 0) {
		fprintf(stderr, "bad test body %s: %s\n", body_json, err);
		return -EINVAL;
	}
	int e = c_call(cl, api_key, "/atoll.v1.Jobs/SubmitJob", req, &atoll__v1__job__descriptor,
		       (ProtobufCMessage **)ret, st);
	protobuf_c_message_free_unpacked(req, NULL);
	return e;
}

int c_get(struct cluster *cl, const char *api_key, const char *id, Atoll__V1__Job **ret,
	  struct rpc_status *st)
{
	Atoll__V1__GetJobRequest req = ATOLL__V1__GET_JOB_REQUEST__INIT;
	req.job_id = (char *)id;
	return c_call(cl, api_key, "/atoll.v1.Jobs/GetJob", &req.base, &atoll__v1__job__descriptor,
		      (ProtobufCMessage **)ret, st);
}

Atoll__V1__Job *c_wait_final(struct cluster *cl, const char *id, int timeout_ms)
{
	int64_t until = time_mono_ms() + timeout_ms;
	while (time_mono_ms() < until) {
		Atoll__V1__Job *j;
		struct rpc_status st;
		if (c_get(cl, "ak_demo", id, &j, &st) == 0 && j) {
			if (j->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
				return j;
			protobuf_c_message_free_unpacked(&j->base, NULL);
		}
		time_sleep_ms(30);
	}
	return NULL;
}

int cluster_stop(struct cluster *cl)
{
	int bad = 0, st;
	for (int i = 0; i < cl->n_islands; i++) {
		if (cl->islands[i].pid > 0 && h_stop(&cl->islands[i], SIGTERM, 8000, &st) == 0 &&
		    !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			fprintf(stderr, "island %s exited with status %d\n", cl->island_ids[i], st);
			bad++;
		}
	}
	if (cl->coord.pid > 0 && h_stop(&cl->coord, SIGTERM, 8000, &st) == 0 &&
	    !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		fprintf(stderr, "coordinator exited with status %d\n", st);
		bad++;
	}
	rpc_client_free(cl->client);
	cl->client = NULL;
	return bad ? -EIO : 0;
}

void cluster_dump_logs(struct cluster *cl)
{
	h_dump_log(cl->coord.log);
	for (int i = 0; i < cl->n_islands; i++)
		h_dump_log(cl->islands[i].log);
}

int cluster_write_client_policy(struct cluster *cl, const char *name, const char *island_id)
{
	char out[1 << 14], island_yaml[128];
	snprintf(island_yaml, sizeof island_yaml, "island-%s.yaml", island_id);
	const char *args[] = { "manifest", "--policy", island_yaml, NULL };
	if (c_atollctl(cl, out, sizeof out, args) != 0)
		return -EIO;
	struct buf y = { 0 };
	buf_printf(&y,
		   "drivers:\n  - name: sim\n    path: %s/sim.so\n    config: {ca_file: ca/sim-ca.pem}\n"
		   "policy:\n  tee:\n    sim: {measurements: [%s], max_evidence_age: 1m}\n%s",
		   h_module_dir(), cl->measurement, out);
	int e = h_write(cl->dir, name, buf_cstr(&y), NULL, 0);
	buf_free(&y);
	return e;
}

void cluster_fake_manifest_digest(uint8_t out[32])
{
	manifest_digest((const uint8_t *)CLUSTER_FAKE_MANIFEST, strlen(CLUSTER_FAKE_MANIFEST), out);
}

int c_atollctl(struct cluster *cl, char *out, size_t out_size, const char *const *args)
{
	char outfile[700], addr[64], ks[700];
	snprintf(outfile, sizeof outfile, "%s/atollctl.out", cl->dir);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", cl->coord.port);
	snprintf(ks, sizeof ks, "%s/keystore", cl->dir);
	const char *argv[64] = { h_build_path("tools/atollctl"), "--addr", addr, "--api-key",
				 "ak_demo", "--keystore", ks };
	size_t n = 7;
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (chdir(cl->dir) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	uint8_t *data;
	size_t len;
	out[0] = 0;
	if (fs_read_file(outfile, 1 << 20, &data, &len) == 0) {
		snprintf(out, out_size, "%s", (char *)data);
		free(data);
	}
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (rc)
		fprintf(stderr, "atollctl %s exited %d:\n%s\n", args[0], rc, out);
	return rc;
}

Atoll__V1__ListAttestedIslandsResponse *c_list_islands(struct cluster *cl)
{
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	req.include_unattested = true;
	Atoll__V1__ListAttestedIslandsResponse *r = NULL;
	struct rpc_status st;
	c_call(cl, "ak_demo", "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
	       &atoll__v1__list_attested_islands_response__descriptor, (ProtobufCMessage **)&r,
	       &st);
	return r;
}

Atoll__V1__AttestedIsland *c_find_island(Atoll__V1__ListAttestedIslandsResponse *r,
					 const char *id)
{
	for (size_t i = 0; r && i < r->n_islands; i++)
		if (strcmp(r->islands[i]->island_id, id) == 0)
			return r->islands[i];
	return NULL;
}

int cluster_start_proxy(struct cluster *cl, int coord_port, const char *keystore,
			const char *extra_yaml, struct proc *p)
{
	char yaml[4096], cfg[700], log[700];
	snprintf(yaml, sizeof yaml,
		 "listen: {address: 127.0.0.1:0}\n"
		 "coordinator: {address: 127.0.0.1:%d, timeout: 20s}\n"
		 "keystore: %s\n"
		 "policy: client-policy.yaml\n"
		 "%s",
		 coord_port, keystore, extra_yaml ? extra_yaml : "");
	int e = h_write(cl->dir, "proxy.yaml", yaml, cfg, sizeof cfg);
	if (e < 0)
		return e;
	snprintf(log, sizeof log, "%s/proxy.log", cl->dir);
	if ((size_t)snprintf(p->portfile, sizeof p->portfile, "%.500s/proxy.port", cl->dir) >=
	    sizeof p->portfile)
		return -ENAMETOOLONG;
	char *argv[] = { (char *)h_build_path("tools/atoll-proxy"), "--config", cfg, "--port-file",
			 p->portfile, "--log-level", "debug", NULL };
	if ((e = h_spawn(argv, log, p)) < 0)
		return e;
	for (int i = 0; i < 300; i++) {
		uint8_t *d;
		size_t n;
		if (fs_read_file(p->portfile, 64, &d, &n) == 0) {
			p->port = atoi((char *)d);
			free(d);
			return 0;
		}
		if (!h_alive(p))
			return -ECHILD;
		time_sleep_ms(20);
	}
	return -ETIMEDOUT;
}
