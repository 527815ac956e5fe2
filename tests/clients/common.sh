# Shell helpers for client tests: a coordinator on an ephemeral port in a
# temporary directory, stopped when the script exits.
set -eu
: "${ATOLL_BUILD_DIR:?}" "${ATOLL_SOURCE_DIR:?}"
NODE_DIR="$ATOLL_BUILD_DIR/node"
BUF="$NODE_DIR/node_modules/.bin/buf"
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/atoll-clients-XXXXXX")
COORD_PID=""

ISLAND_PID=""
ATOLLCTL="$ATOLL_BUILD_DIR/tools/atollctl"

cleanup() {
	for p in $ISLAND_PID $COORD_PID; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p"
			wait "$p" || true
		fi
	done
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for log in coordinator.log island.log; do
		if [ -f "$TEST_DIR/$log" ]; then
			echo "---- $log ----" >&2
			tail -n 40 "$TEST_DIR/$log" >&2
		fi
	done
	exit 1
}

# start_coordinator CONFIG_FILE: sets PORT and ADDR.
start_coordinator() {
	"$ATOLL_BUILD_DIR/server/atoll-coordinator" --config "$1" --listen 127.0.0.1:0 \
		--port-file "$TEST_DIR/port" >"$TEST_DIR/coordinator.log" 2>&1 &
	COORD_PID=$!
	i=0
	while [ ! -s "$TEST_DIR/port" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "coordinator did not start"
		kill -0 "$COORD_PID" 2>/dev/null || fail "coordinator exited"
		sleep 0.05
	done
	PORT=$(cat "$TEST_DIR/port")
	ADDR="http://127.0.0.1:$PORT"
}

# bufcurl ARGS...: buf curl over plaintext HTTP/2 with reflection.
bufcurl() {
	"$BUF" curl --protocol grpc --http2-prior-knowledge "$@"
}

# expect_contains TEXT NEEDLE WHAT
expect_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: expected to find '$2' in: $1" ;;
	esac
}

# A minimal valid coordinator config in $TEST_DIR/coordinator.yaml.
write_config() {
	cat >"$TEST_DIR/coordinator.yaml" <<EOC
listen:
  address: 127.0.0.1:0
store:
  path: atoll.db
tenants:
  - name: demo
    api_key_sha256: [60f052368c9aa3b6a635f3c19380882384224458cbfba3f36af514a6109668a4]
islands:
  tokens:
    - name: i1
      island_ids: [i1]
      token_sha256: $("$ATOLLCTL" hash-key it_demo)
workloads:
  - id: 42
    name: echo
    backend: echo
    modes: [plain, tee]
EOC
}

# A sim TEE island for workload 42 (echo), attested by the coordinator
# from write_config; also a client policy file trusting it and pinning its
# manifest.
start_island() {
	cat >"$TEST_DIR/island.yaml" <<EOI
island: {id: i1, slots: 2}
coordinator: {address: "127.0.0.1:$PORT", token: it_demo, reconnect_min: 100ms}
enclave:
  path: $ATOLL_BUILD_DIR/island/atoll-enclave
  driver: {name: sim, path: $ATOLL_MODULE_DIR/sim.so, config: {key_file: keys/i1.key, cert_file: keys/i1.pem}}
  backends: [{name: echo, path: $ATOLL_MODULE_DIR/echo.so}]
  workloads: [{id: 42, backend: echo, modes: [plain, tee]}]
EOI
	# The client trusts the enclave runtime and pins the files its
	# manifest names, computed offline from the same island.yaml.
	M=$("$ATOLLCTL" sim measure "$ATOLL_BUILD_DIR/island/atoll-enclave")
	pins=$("$ATOLLCTL" manifest --policy "$TEST_DIR/island.yaml") || fail "atollctl manifest"
	cat >"$TEST_DIR/client-policy.yaml" <<EOC
drivers: [{name: sim, path: $ATOLL_MODULE_DIR/sim.so, config: {ca_file: ca/sim-ca.pem}}]
policy:
  tee: {sim: {measurements: [$M], max_evidence_age: 10m}}
$pins
EOC
	"$ATOLL_BUILD_DIR/island/atoll-island" --config "$TEST_DIR/island.yaml" >"$TEST_DIR/island.log" 2>&1 &
	ISLAND_PID=$!
	i=0
	until "$ATOLLCTL" --addr "127.0.0.1:$PORT" --api-key ak_demo --json stats 2>/dev/null |
		grep -q '"attested_hosts": 1'; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "island not attested"
		sleep 0.1
	done
}

# The sim CA and the island's key.
make_sim_keys() {
	"$ATOLLCTL" sim ca --dir "$TEST_DIR/ca" >/dev/null || fail "sim ca"
	"$ATOLLCTL" sim island-key --ca-dir "$TEST_DIR/ca" --name i1 --out "$TEST_DIR/keys" \
		>/dev/null || fail "sim island-key"
}

# write_config with the sim driver and a policy allowing this build's
# enclave runtime (call after the CA exists: start_island makes it).
write_tee_config() {
	M=$("$ATOLLCTL" sim measure "$ATOLL_BUILD_DIR/island/atoll-enclave")
	cat >>"$TEST_DIR/coordinator.yaml" <<EOC
drivers: [{name: sim, path: $ATOLL_MODULE_DIR/sim.so, config: {ca_file: ca/sim-ca.pem}}]
policy: {tee: {sim: {measurements: [$M]}}, manifest: {require_pins: false}}
EOC
}
