#!/bin/sh
# Runs the @grpc/grpc-js client against a real coordinator.
. "$(dirname "$0")/common.sh"
write_config
start_coordinator "$TEST_DIR/coordinator.yaml"
NODE_PATH="$NODE_DIR/node_modules" node "$ATOLL_SOURCE_DIR/tests/clients/test_grpcjs.js" \
	"127.0.0.1:$PORT" "$ATOLL_SOURCE_DIR/proto" || fail "grpc-js client"
