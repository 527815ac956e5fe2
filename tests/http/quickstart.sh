#!/bin/sh
# The seed's quick start with curl against atoll-proxy, the same four
# requests as README.md: a key, encrypt, submit, decrypt. Prints the
# decrypted text. ATOLL_PROXY is the proxy's URL, PROMPT the input.
set -eu
P=${ATOLL_PROXY:?ATOLL_PROXY is the proxy URL}
H="Authorization: Bearer ${ATOLL_API_KEY:-ak_demo}"
PROMPT=${PROMPT:-Hello}
field() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[sys.argv[1]]).strip("\""))' "$1"; }

# 1. A key pair, made and kept by the proxy; the coordinator gets the public half.
KEY=$(curl -sS --fail-with-body -X POST -H "$H" "$P/api/v1/confidential/keys")
KEY_ID=$(echo "$KEY" | field key_id)

# 2. Encrypt: the seed's body.
ENC=$(curl -sS --fail-with-body -H "$H" "$P/api/v1/confidential/encrypt" \
	-d "{\"input\": {\"prompt\": \"$PROMPT\"}, \"key_id\": \"$KEY_ID\"}")
CT=$(echo "$ENC" | field ciphertext)

# 3. Submit: the seed's body.
JOB=$(curl -sS --fail-with-body -H "$H" "$P/api/v1/jobs" \
	-d "{\"workload_id\": 42, \"confidential\": true, \"encryption_key_id\": \"$KEY_ID\", \"input\": {\"encrypted\": true, \"key_id\": \"$KEY_ID\", \"ciphertext\": \"$CT\"}}")
JOB_ID=$(echo "$JOB" | field id)

# 4. Wait for the job, then decrypt its output: the seed's body.
i=0
while :; do
	J=$(curl -sS --fail-with-body -H "$H" "$P/api/v1/jobs/$JOB_ID")
	STATE=$(echo "$J" | field state)
	[ "$STATE" = JOB_STATE_COMPLETED ] && break
	case $STATE in JOB_STATE_FAILED|JOB_STATE_CANCELLED) echo "job $STATE: $J" >&2; exit 1;; esac
	i=$((i + 1)); [ $i -lt 200 ] || { echo "job not done: $J" >&2; exit 1; }
	sleep 0.1
done
OUT=$(echo "$J" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["output"]))')
curl -sS --fail-with-body -H "$H" "$P/api/v1/confidential/decrypt" \
	-d "{\"output\": $OUT, \"key_id\": \"$KEY_ID\"}" | field text
