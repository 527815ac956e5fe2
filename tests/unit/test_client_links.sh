#!/bin/sh
# The client judges evidence with lib/attest alone: atollctl must not link
# the coordinator (its core, store, services), SQLite or the gRPC server.
# Checked on the built binary with ldd (shared libraries) and nm (symbols).
set -u
: "${ATOLL_BUILD_DIR:?}"
bin="$ATOLL_BUILD_DIR/tools/atollctl"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

ldd "$bin" >"${TMPDIR:-/tmp}/links.$$" 2>&1 || fail "ldd $bin failed"
if grep -q "libsqlite3" "${TMPDIR:-/tmp}/links.$$"; then
	fail "atollctl links libsqlite3"
fi
rm -f "${TMPDIR:-/tmp}/links.$$"

# Defined functions of the coordinator's modules.
defined=$(nm --defined-only "$bin" | awk '$2 ~ /^[Tt]$/ {print $3}' |
	grep -E '^(core_|store_|svc_|coord_config_|coordinator_|rpc_server_|rpc_call_|auth_tenant|auth_island|jobview_)' || true)
[ -z "$defined" ] || fail "coordinator code linked into atollctl: $(echo $defined)"
# Server-side gRPC and SQLite entry points.
undef=$(nm -u "$bin" | awk '{print $2}' |
	grep -E '^(grpc_server_|sqlite3_)' || true)
[ -z "$undef" ] || fail "server-side libraries used by atollctl: $(echo $undef)"
# And it does link what it needs for trust decisions.
nm --defined-only "$bin" | grep -q " attest_judge$" || fail "attest_judge missing from atollctl"

[ "$fails" -eq 0 ] && echo "ok: atollctl links no coordinator, SQLite or gRPC server code"
exit "$fails"
