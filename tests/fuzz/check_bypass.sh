#!/bin/sh
# check_bypass.sh absent|present MARKER FILE...
# Every FILE lacks (absent) or holds (present) MARKER: the bytes that only a
# build with the fuzz-only signature switch contains (DC_FUZZ_UNSAFE_MARKER
# in drivers/common/dc_util.h). A missing file or an empty list fails, so
# the check cannot pass by looking at nothing.
set -u
want=$1
marker=$2
shift 2
[ $# -gt 0 ] || { echo "no files to check"; exit 1; }
bad=0
for f in "$@"; do
	if [ ! -f "$f" ]; then
		echo "$f: missing"
		bad=1
		continue
	fi
	if grep -q -a -F -e "$marker" "$f"; then
		has=present
	else
		has=absent
	fi
	if [ "$has" != "$want" ]; then
		echo "$f: signature bypass $has, want $want"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "$# files: signature bypass $want"
exit $bad
