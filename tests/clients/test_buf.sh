#!/bin/sh
# buf curl (a grpcurl-style client) against a real coordinator: lists
# services and methods through reflection, calls Health/Check and GetStats
# with JSON bodies.
. "$(dirname "$0")/common.sh"
write_config
start_coordinator "$TEST_DIR/coordinator.yaml"

out=$(bufcurl --list-services "$ADDR") || fail "list-services"
for s in atoll.v1.Confidential atoll.v1.Jobs atoll.v1.Islands grpc.health.v1.Health \
	grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection; do
	expect_contains "$out" "$s" "list-services"
done

out=$(bufcurl --reflect-protocol grpc-v1alpha --list-services "$ADDR") || fail "list-services v1alpha"
expect_contains "$out" "atoll.v1.Jobs" "list-services v1alpha"

out=$(bufcurl --list-methods "$ADDR") || fail "list-methods"
for m in atoll.v1.Jobs/SubmitJob atoll.v1.Jobs/WatchJob atoll.v1.Confidential/GetStats \
	atoll.v1.Confidential/ListAttestedIslands atoll.v1.Islands/Connect; do
	expect_contains "$out" "$m" "list-methods"
done

out=$(bufcurl -d '{"service": ""}' "$ADDR/grpc.health.v1.Health/Check") || fail "Health/Check"
expect_contains "$out" '"status": "SERVING"' "Health/Check"

out=$(bufcurl --emit-defaults -d '{}' "$ADDR/atoll.v1.Confidential/GetStats") || fail "GetStats"
expect_contains "$out" '"attestedHosts": 0' "GetStats"
expect_contains "$out" '"teeTypes": {}' "GetStats"

# An unknown service answers UNIMPLEMENTED with the method named.
if out=$(bufcurl -d '{}' "$ADDR/atoll.v1.Nope/Nothing" 2>&1); then
	fail "unknown service answered: $out"
fi
expect_contains "$out" "failed to find service named \"atoll.v1.Nope\"" "unknown service"
echo "buf curl: ok"
