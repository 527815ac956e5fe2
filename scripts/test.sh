#!/bin/sh
# The whole test suite: installs dependencies, builds Atoll twice (normal,
# and with AddressSanitizer + UBSan) plus the libFuzzer targets with clang,
# and runs every test of each build. Exits non-zero if anything fails.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs" -LE fuzz

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DATOLL_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
echo "== tests under ASan + UBSan"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE "fuzz|perf"

echo "== fuzz targets (clang, libFuzzer, bounded runs, $jobs at a time)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOLL_FUZZ=ON \
	-DATOLL_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure -j "$jobs" -L fuzz
