#!/bin/sh
# bench/run-all --quick runs every benchmark briefly and prints its table.
# Asserts only that, and that no row lacks its figure: the values are
# never checked (the machine is shared).
# usage: test_run_all.sh RUN_ALL BUILD_DIR
set -u
out=$(mktemp -d "${TMPDIR:-/tmp}/atoll-perf-test.XXXXXX") || exit 1
sh "$1" --quick --build "$2" --out "$out"
rc=$?
if [ $rc -ne 0 ]; then
	echo "run-all --quick exited $rc; the programs' output:" >&2
	tail -n 40 "$out"/*.log >&2
	exit 1
fi
rows=$(grep -c '^| ' "$out/table.md")
if [ "$rows" -lt 9 ]; then
	echo "the table has $rows row(s)" >&2
	exit 1
fi
# Every headline row found its figure (a program's output the table no
# longer parses shows up as "missing").
if grep -n 'missing' "$out/table.md" >&2; then
	echo "the table lacks figures (above); the programs' output is in $out" >&2
	exit 1
fi
rm -rf "$out"
