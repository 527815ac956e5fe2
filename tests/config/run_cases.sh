#!/bin/sh
# Runs `<program> --check-config` (atoll-coordinator or atoll-island) on every case and compares its
# output with the case's .expect file, line for line. Cases named ok_* must
# exit 0, all others 1.
set -u
bin="$1"
cases="$2"
fail=0
n=0
cd "$cases" || exit 1
for f in *.yaml; do
	n=$((n + 1))
	name="${f%.yaml}"
	out=$("$bin" --check-config "$f" 2>&1)
	rc=$?
	want=$(cat "$name.expect")
	case "$name" in ok_*) want_rc=0 ;; *) want_rc=1 ;; esac
	if [ "$out" != "$want" ] || [ "$rc" -ne "$want_rc" ]; then
		echo "FAIL $f (exit $rc, want $want_rc)"
		echo "   got: $out"
		echo "  want: $want"
		fail=$((fail + 1))
	fi
done
echo "$n config cases, $fail failed"
[ "$fail" -eq 0 ]
