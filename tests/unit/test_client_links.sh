#!/bin/sh
# The client judges evidence with lib/attest alone: atollctl and
# atoll-proxy must not link the coordinator (its core, store, services),
# SQLite or the gRPC server. Checked on the built binaries with ldd
# (shared libraries) and nm (symbols).
set -u
: "${ATOLL_BUILD_DIR:?}"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for bin in "$ATOLL_BUILD_DIR/tools/atollctl" "$ATOLL_BUILD_DIR/tools/atoll-proxy"; do

ldd "$bin" >"${TMPDIR:-/tmp}/links.$$" 2>&1 || fail "ldd $bin failed"
if grep -q "libsqlite3" "${TMPDIR:-/tmp}/links.$$"; then
	fail "$bin links libsqlite3"
fi
rm -f "${TMPDIR:-/tmp}/links.$$"

# Defined functions of the coordinator's modules.
defined=$(nm --defined-only "$bin" | awk '$2 ~ /^[Tt]$/ {print $3}' |
	grep -E '^(core_|store_|svc_|coord_config_|coordinator_|rpc_server_|rpc_call_|auth_tenant|auth_island|jobview_)' || true)
[ -z "$defined" ] || fail "coordinator code linked into $bin: $(echo $defined)"
# Server-side gRPC and SQLite entry points.
undef=$(nm -u "$bin" | awk '{print $2}' |
	grep -E '^(grpc_server_|sqlite3_)' || true)
[ -z "$undef" ] || fail "server-side libraries used by $bin: $(echo $undef)"
# And it does link what it needs for trust decisions.
nm --defined-only "$bin" | grep -q " attest_judge$" || fail "attest_judge missing from $bin"
done

[ "$fails" -eq 0 ] && echo "ok: atollctl and atoll-proxy link no coordinator, SQLite or gRPC server code"
exit "$fails"
