#!/bin/sh
# Checks that each plugin module exports exactly one defined dynamic
# symbol, its ABI entry point: nothing from the static libraries linked
# into it may leak into the namespace of the process that loads it.
# usage: test_exports.sh <entry symbol>=<module path> ...
set -eu
if [ $# -eq 0 ]; then
	echo "no modules to check"
	exit 1
fi
bad=0
for arg; do
	want=${arg%%=*}
	module=${arg#*=}
	got=$(nm -D --defined-only "$module" | awk '{ print $NF }' | sort | tr '\n' ' ')
	if [ "$got" != "$want " ]; then
		echo "$module exports [${got% }], want only [$want]"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "$# modules export only their entry point"
exit $bad
