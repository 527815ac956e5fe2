# Shell helpers for client tests: a coordinator on an ephemeral port in a
# temporary directory, stopped when the script exits.
set -eu
: "${ATOLL_BUILD_DIR:?}" "${ATOLL_SOURCE_DIR:?}"
NODE_DIR="$ATOLL_BUILD_DIR/node"
BUF="$NODE_DIR/node_modules/.bin/buf"
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/atoll-clients-XXXXXX")
COORD_PID=""

cleanup() {
	if [ -n "$COORD_PID" ] && kill -0 "$COORD_PID" 2>/dev/null; then
		kill -TERM "$COORD_PID"
		wait "$COORD_PID" || true
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$TEST_DIR/coordinator.log" ]; then
		echo "---- coordinator.log ----" >&2
		tail -n 40 "$TEST_DIR/coordinator.log" >&2
	fi
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
      token_sha256: 0000000000000000000000000000000000000000000000000000000000000001
workloads:
  - id: 42
    name: echo
    backend: echo
EOC
}
