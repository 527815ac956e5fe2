#!/bin/sh
# The main job: installs what is missing, builds Atoll, starts a coordinator
# and calls it the way a debugging user would (buf curl with reflection).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
sh tests/clients/setup.sh build/node >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/atoll-demo-XXXXXX")
sed "s|path: atoll.db|path: $work/atoll.db|" config/coordinator.yaml >"$work/coordinator.yaml"
build/server/atoll-coordinator --config "$work/coordinator.yaml" --listen 127.0.0.1:0 \
	--port-file "$work/port" 2>"$work/coordinator.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
while [ ! -s "$work/port" ]; do sleep 0.1; done
addr="http://127.0.0.1:$(cat "$work/port")"
buf() { build/node/node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge "$@"; }

echo "== services (reflection)"
buf --list-services "$addr"
echo "== health"
buf -d '{"service": ""}' "$addr/grpc.health.v1.Health/Check"
echo "== stats"
buf --emit-defaults -d '{}' -H 'authorization: Bearer ak_demo' "$addr/atoll.v1.Confidential/GetStats"
