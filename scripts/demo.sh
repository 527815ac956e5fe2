#!/bin/sh
# The main job, end to end on one machine: installs what is missing, builds
# Atoll, starts a coordinator and an island with the sim TEE, and runs the
# confidential quick start — make a key, verify the island and encrypt
# locally, submit with confidential: true, decrypt the result — then OCRs a
# scanned patient letter in the enclave and prints the decrypted text.
#
# Everything it makes (keys, configs, the job store, logs) goes into a fresh
# directory under $TMPDIR, printed at the end; the processes stop on exit.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target atoll-coordinator atoll-island \
	atoll-enclave atollctl atoll_driver_sim atoll_backend_echo atoll_backend_linear atoll_models \
	atoll_backend_ocr

B="$root/build"
work=$(mktemp -d "${TMPDIR:-/tmp}/atoll-demo-XXXXXX")
cd "$work"
ctl="$B/tools/atollctl"
pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait 2>/dev/null || true' EXIT

step() { printf '\n== %s\n' "$*"; }

step "operator: a sim TEE root CA and an island key (development only)"
"$ctl" sim ca --dir ca
"$ctl" sim island-key --ca-dir ca --name island-1 --out keys
measurement=$("$ctl" sim measure "$B/island/atoll-enclave")
echo "enclave runtime measurement: $measurement"

# The island's enclave section: what its enclave loads. The operator (and
# any client) computes the enclave manifest from these files offline and
# pins its digests; an enclave that loads anything else does not attest.
write_island() {
	cat >island.yaml <<EOF
island: {id: island-1, slots: 2}
coordinator: {address: "$1", token: it_demo}
enclave:
  path: $B/island/atoll-enclave
  driver: {name: sim, path: $B/modules/sim.so,
           config: {key_file: keys/island-1.key, cert_file: keys/island-1.pem}}
  backends:
    - {name: echo, path: $B/modules/echo.so}
    - {name: linear, path: $B/modules/linear.so}
    - {name: ocr, path: $B/modules/ocr.so}
  workloads:
    - {id: 42, backend: echo, modes: [plain, tee]}
    - {id: 7, backend: linear, model: $B/models/breast_cancer_logistic.model, modes: [plain, tee]}
    - {id: 9, backend: ocr, models: [/usr/share/tesseract-ocr/5/tessdata/eng.traineddata],
       modes: [plain, tee]}
EOF
}
write_island "127.0.0.1:7443"
step "operator: the enclave manifest to pin (atollctl manifest --policy island.yaml)"
pins=$("$ctl" manifest --policy island.yaml)
echo "$pins"

cat >coordinator.yaml <<EOF
listen: {address: 127.0.0.1:0}
store: {path: atoll.db}
tenants: [{name: demo, api_key_sha256: [$("$ctl" hash-key ak_demo)]}]
islands:
  heartbeat_interval: 1s
  heartbeat_timeout: 5s
  tokens: [{name: island-1, island_ids: [island-1], token_sha256: $("$ctl" hash-key it_demo)}]
drivers: [{name: sim, path: $B/modules/sim.so, config: {ca_file: ca/sim-ca.pem}}]
policy:
  tee:
    sim: {measurements: [$measurement], allow_debug: false, max_evidence_age: 5m}
$pins
workloads:
  - {id: 42, name: echo, backend: echo, modes: [plain, tee], price_per_second: 0.01}
  - {id: 7, name: breast-cancer, backend: linear, modes: [plain, tee], price_per_second: 0.01}
  - {id: 9, name: document-ocr, backend: ocr, modes: [plain, tee], price_per_second: 0.01}
EOF
"$B/server/atoll-coordinator" --config coordinator.yaml --port-file port 2>coordinator.log &
pids="$!"
while [ ! -s port ]; do sleep 0.1; done
export ATOLL_ADDR="127.0.0.1:$(cat port)" ATOLL_API_KEY=ak_demo ATOLL_KEYSTORE="$work/keystore"

write_island "$ATOLL_ADDR"
"$B/island/atoll-island" --config island.yaml 2>island.log &
pids="$! $pids"
i=0
until "$ctl" --json stats 2>/dev/null | grep -q '"attested_hosts": 1'; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "the island did not attest; logs:" >&2
		tail coordinator.log island.log >&2
		exit 1
	fi
	sleep 0.1
done

step "stats: attested islands by TEE type"
"$ctl" --json stats

cat >client-policy.yaml <<EOF
# The client's own trust decision: which TEE drivers and measurements it
# accepts, and which backend and model files the enclave must run for each
# workload (computed from the same files: atollctl manifest --policy).
drivers: [{name: sim, path: $B/modules/sim.so, config: {ca_file: ca/sim-ca.pem}}]
policy:
  tee: {sim: {measurements: [$measurement], max_evidence_age: 5m}}
$pins
EOF

step "client: make a key (the private half stays in $ATOLL_KEYSTORE)"
key_json=$("$ctl" keys create)
echo "$key_json"
key=$(echo "$key_json" | sed -n 's/.*"key_id":"\([^"]*\)".*/\1/p')

step "client: verify the island's evidence against its own policy, encrypt locally"
record='{"features": [17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193, 25.38, 17.33, 184.6, 2019, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189]}'
input=$("$ctl" encrypt --key-id "$key" --workload 7 --policy client-policy.yaml "$record")
echo "$input" | cut -c1-120
echo "  ... (the coordinator and the island host only ever see this ciphertext)"

step "client: submit with confidential: true"
body="{\"workload_id\": 7, \"confidential\": true, \"encryption_key_id\": \"$key\", \"input\": $input}"
job=$("$ctl" --json submit "$body" | sed -n 's/.*"id": "\(job_[a-z0-9]*\)".*/\1/p' | head -n 1)
echo "job $job"
"$ctl" watch "$job" >/dev/null
"$ctl" get "$job"

step "client: decrypt the result"
"$ctl" decrypt --job "$job"

step "the same in one command: atollctl run (echo workload, streamed and decrypted live)"
"$ctl" run --workload 42 --confidential --key-id "$key" --policy client-policy.yaml \
	--prompt "Classify this patient record: age 54, lump in left breast"

step "client: OCR a scanned patient letter in the enclave (sealed in, sealed out, page by page)"
cat >letter.txt <<'EOF'
St. Ursula Hospital, Department of Cardiology

Discharge letter, 14 June

Dear Dr. Moreau,

Mrs. Jane Roe, born 12 March 1961, was admitted on 3 June with chest
pain on exertion. The ECG showed no acute changes; troponin was normal
twice. A stress test confirmed stable angina.

She was discharged today in good health on aspirin 100 mg once daily
and bisoprolol 2.5 mg in the morning. Please review her in six weeks.

Kind regards,
Dr. A. Lindqvist
EOF
sh "$root/scripts/render-text.sh" --size 13 --lines 30 letter.txt letter
echo "rendered letter.png, a 300 dpi page: it leaves this machine only sealed"
"$ctl" run --workload 9 --confidential --key-id "$key" --policy client-policy.yaml \
	--file letter.png >ocr.out
echo "decrypted, as streamed (one JSON line per page, then a summary):"
cat ocr.out
echo "the text of page 1:"
sed -n '1s/^{"page":1,"text":"\(.*\)","confidence":.*$/\1/p' ocr.out | sed 's/\\n/\n/g'

step "usage: confidential jobs billed at the regular rate"
"$ctl" usage
echo
echo "work directory (configs, keys, store, logs): $work"
