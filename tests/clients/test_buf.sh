#!/bin/sh
# buf curl (a grpcurl-style client) against a real coordinator and island:
# reflection (services, methods, both protocol versions), Health/Check and
# GetStats with JSON, and the seed's job bodies through SubmitJob/GetJob,
# plain and confidential (the sealed input made by atollctl on this machine).
. "$(dirname "$0")/common.sh"
AUTH='authorization: Bearer ak_demo'
write_config
make_sim_keys
write_tee_config
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
out=$(bufcurl --emit-defaults -H "$AUTH" -d '{}' "$ADDR/atoll.v1.Confidential/GetStats") || fail "GetStats"
expect_contains "$out" '"attestedHosts": 0' "GetStats"
expect_contains "$out" '"teeTypes": {}' "GetStats"
if out=$(bufcurl -d '{}' "$ADDR/atoll.v1.Confidential/GetStats" 2>&1); then
	fail "GetStats answered without an API key"
fi
expect_contains "$out" "unauthenticated" "GetStats without a key"
if out=$(bufcurl -d '{}' "$ADDR/atoll.v1.Nope/Nothing" 2>&1); then
	fail "unknown service answered: $out"
fi
expect_contains "$out" "failed to find service named \"atoll.v1.Nope\"" "unknown service"

# An island, then the seed's plain body.
start_island
out=$(bufcurl -H "$AUTH" -d '{"tee_types": {}}' "$ADDR/atoll.v1.Confidential/GetStats" 2>&1) &&
	fail "GetStats accepted a field of its response: $out"
out=$(bufcurl -H "$AUTH" -d '{}' "$ADDR/atoll.v1.Confidential/GetStats") || fail "GetStats"
expect_contains "$out" '"teeTypes": {
    "sim": 1
  }' "GetStats with an island"
expect_contains "$out" '"attestedHosts": 1' "GetStats with an island"

out=$(bufcurl -H "$AUTH" -d '{"workload_id": 42, "input": {"prompt": "Hello"}}' \
	"$ADDR/atoll.v1.Jobs/SubmitJob") || fail "SubmitJob plain"
job=$(printf '%s' "$out" | sed -n 's/.*"id": "\(job_[a-z0-9]*\)".*/\1/p' | head -n 1)
[ -n "$job" ] || fail "no job id in: $out"
for i in $(seq 100); do
	out=$(bufcurl -H "$AUTH" -d "{\"job_id\": \"$job\"}" "$ADDR/atoll.v1.Jobs/GetJob") || fail "GetJob"
	case "$out" in *JOB_STATE_COMPLETED*) break ;; esac
	sleep 0.1
done
expect_contains "$out" '"state": "JOB_STATE_COMPLETED"' "GetJob plain"
expect_contains "$out" '"text": "Hello"' "GetJob plain"

# The confidential half: key and sealed input made locally by atollctl.
CTL="$ATOLLCTL --addr 127.0.0.1:$PORT --api-key ak_demo --keystore $TEST_DIR/keystore"
key=$($CTL keys create | sed -n 's/.*"key_id":"\(ck_[a-z0-9]*\)".*/\1/p')
[ -n "$key" ] || fail "keys create"
input=$(cd "$TEST_DIR" && $CTL encrypt --key-id "$key" --workload 42 --policy client-policy.yaml \
	--prompt "Classify this patient record" 2>/dev/null) || fail "encrypt"
body="{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"$key\", \"input\": $input}"
out=$(bufcurl -H "$AUTH" -d "$body" "$ADDR/atoll.v1.Jobs/SubmitJob") || fail "SubmitJob confidential: $out"
expect_contains "$out" '"mode": "MODE_TEE"' "SubmitJob confidential"
job=$(printf '%s' "$out" | sed -n 's/.*"id": "\(job_[a-z0-9]*\)".*/\1/p' | head -n 1)
for i in $(seq 100); do
	out=$(bufcurl -H "$AUTH" -d "{\"job_id\": \"$job\"}" "$ADDR/atoll.v1.Jobs/GetJob") || fail "GetJob"
	case "$out" in *JOB_STATE_COMPLETED*) break ;; esac
	sleep 0.1
done
expect_contains "$out" '"encrypted": true' "GetJob confidential"
case "$out" in *"patient record"*) fail "plaintext visible to the coordinator" ;; esac
plain=$($CTL decrypt --job "$job") || fail "decrypt"
expect_contains "$plain" "Classify this patient record" "decrypt"

# The seed's Encrypt and Decrypt bodies parse (input, output): this
# coordinator holds no keys, so it says where to encrypt instead.
out=$(bufcurl -H "$AUTH" -d "{\"input\": {\"prompt\": \"Hello\"}, \"key_id\": \"$key\"}" \
	"$ADDR/atoll.v1.Confidential/Encrypt" 2>&1) && fail "Encrypt answered: $out"
expect_contains "$out" "failed_precondition" "Encrypt with the seed's body"
expect_contains "$out" "atoll-proxy" "Encrypt with the seed's body"
out=$(bufcurl -H "$AUTH" -d "{\"output\": {\"encrypted\": true, \"key_id\": \"$key\", \"ciphertext\": \"AAAA\"}, \"key_id\": \"$key\"}" \
	"$ADDR/atoll.v1.Confidential/Decrypt" 2>&1) && fail "Decrypt answered: $out"
expect_contains "$out" "failed_precondition" "Decrypt with the seed's body"
echo "buf curl: ok"
