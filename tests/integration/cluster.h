/* A test cluster of real processes on 127.0.0.1: a coordinator, islands
 * with the sim TEE (a sim CA made for the test) and the echo backend, and a
 * C client on the gRPC core API. */
#ifndef ATOLL_TESTS_CLUSTER_H
#define ATOLL_TESTS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "harness.h"
#include "rpc/client.h"

#define MAX_ISLANDS 8

struct cluster {
	char dir[512];
	char ca_dir[600];
	char measurement[97]; /* of atoll-enclave, as the sim driver sees it */
	struct proc coord;
	struct proc islands[MAX_ISLANDS];
	char island_ids[MAX_ISLANDS][64];
	int n_islands;
	rpc_client *client;
	/* Extra YAML for coordinator.yaml: workloads and policy sections. */
	const char *workloads_yaml;
	const char *policy_yaml;
	const char *limits_yaml;
	/* Extra entries for islands' enclave.backends, e.g.
	 * ", {name: x, path: /p/x.so}". */
	const char *extra_backends_yaml;
	/* Heartbeat settings for coordinator.yaml's islands section (default:
	 * 300ms interval, 4s timeout). */
	const char *heartbeat_yaml;
	/* The island ids the cluster's token it_demo may use (default "*"),
	 * and more token entries (", {name: ..., ...}"). */
	const char *token_island_ids;
	const char *extra_tokens_yaml;
	/* TLS: extra keys under coordinator.yaml's listen (e.g. "  tls: {...}\n"),
	 * under island.yaml's coordinator ("tls: {...}"), and the options of the
	 * cluster's own client. */
	const char *listen_tls_yaml;
	const char *island_tls_yaml;
	const struct rpc_client_opts *client_opts;
	/* coordinator.yaml's whole store section, replacing the one
	 * store_synchronous picks (e.g. PostgreSQL's). */
	const char *store_yaml;
	/* island.yaml's coordinator addresses for the next island added, as a
	 * YAML list ("[127.0.0.1:1, 127.0.0.1:2]"), instead of the
	 * coordinator's address. */
	const char *island_addresses;
	/* Extra top-level YAML for coordinator.yaml (e.g. "keys: {...}\n"). */
	const char *extra_yaml;
	/* The enclave runtime of the next island added (default: the built
	 * atoll-enclave; "" for none: a runtime the island connects to), and
	 * its echo backend (default: the built echo.so). */
	const char *enclave_path;
	const char *echo_path;
	/* Extra items for coordinator.yaml's drivers list, after sim (e.g.
	 * "  - {name: x, path: /p/x.so}\n"). */
	const char *extra_drivers_yaml;
	/* coordinator.yaml's store.synchronous (default "normal": the tests
	 * restart coordinators often and need no power-loss durability; the
	 * benchmarks use the shipped "full"). */
	const char *store_synchronous;
};

/* Temporary directory, sim CA, the enclave measurement. */
int cluster_init(struct cluster *cl, const char *name);
/* Write coordinator.yaml (tenants demo=ak_demo and other=ak_other, island
 * token it_demo, the sim driver) and start it. When the coordinator was
 * started before, it reuses the port and store. */
int cluster_start_coordinator(struct cluster *cl);
/* An island: a key from the sim CA, island.yaml with the given enclave
 * workloads YAML (a list; "" for no backends and workloads) and driver
 * options, started. Returns its index. */
int cluster_add_island(struct cluster *cl, const char *id, int slots, const char *workloads_yaml,
		       const char *driver_yaml, const char *token);
/* Poll GetStats until connected/attested counts are reached. */
int cluster_wait(struct cluster *cl, uint32_t connected, uint32_t attested, int timeout_ms);
/* Stop every process with SIGTERM; 0 when all exited 0. */
int cluster_stop(struct cluster *cl);
void cluster_dump_logs(struct cluster *cl);

/* The cluster's client to the coordinator (made on first use). */
rpc_client *cluster_client(struct cluster *cl);

/* Calls with the demo tenant's key (or another). */
int c_stats(struct cluster *cl, Atoll__V1__Stats **ret);
int c_submit(struct cluster *cl, const char *api_key, const char *body_json, Atoll__V1__Job **ret,
	     struct rpc_status *st);
int c_get(struct cluster *cl, const char *api_key, const char *id, Atoll__V1__Job **ret,
	  struct rpc_status *st);
/* GetJob until the job is final or timeout; NULL on timeout. */
Atoll__V1__Job *c_wait_final(struct cluster *cl, const char *id, int timeout_ms);
/* Any unary call with an API key. */
int c_call(struct cluster *cl, const char *api_key, const char *method,
	   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp,
	   ProtobufCMessage **ret, struct rpc_status *st);
/* ListAttestedIslands with unattested islands too (NULL on failure), and
 * one island of its answer by id (NULL when absent). */
Atoll__V1__ListAttestedIslandsResponse *c_list_islands(struct cluster *cl);
Atoll__V1__AttestedIsland *c_find_island(Atoll__V1__ListAttestedIslandsResponse *r,
					 const char *id);
/* A client policy file dir/name trusting the sim CA and the enclave
 * measurement, with the manifest pins `atollctl manifest --policy` prints
 * for island-<island_id>.yaml. */
int cluster_write_client_policy(struct cluster *cl, const char *name, const char *island_id);
/* atoll-proxy on 127.0.0.1 (port into p->port), in front of the
 * coordinator at coord_port, with dir/proxy.yaml naming keystore (relative
 * to dir), client-policy.yaml and extra_yaml (NULL or more lines). */
int cluster_start_proxy(struct cluster *cl, int coord_port, const char *keystore,
			const char *extra_yaml, struct proc *p);

/* A minimal enclave manifest (no workloads) for test islands that speak
 * the protocol themselves, and its SHA-256 for the report data. */
#define CLUSTER_FAKE_MANIFEST \
	"{\"version\":1,\"runtime_sha256\":\"" \
	"0000000000000000000000000000000000000000000000000000000000000000\",\"workloads\":[]}"
void cluster_fake_manifest_digest(uint8_t out[32]);

/* Run atollctl with args (NULL-terminated) against the cluster; output
 * into out (NUL-terminated, truncated). Returns its exit status. */
int c_atollctl(struct cluster *cl, char *out, size_t out_size, const char *const *args);

#endif
