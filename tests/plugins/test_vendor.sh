#!/bin/sh
# Out-of-tree vendor build: install the project into a temporary prefix,
# compile a TEE driver against <prefix>/include alone (no project include
# paths), and load it with the host's loader.
# usage: test_vendor.sh <build dir> <vendor_driver.c> <vendor_load program>
set -eu
build=$1
src=$2
loader=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/atoll-vendor-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "cmake --install failed"
	exit 1
fi
for h in status.h tee_driver.h backend.h; do
	if [ ! -f "$tmp/prefix/include/atoll/$h" ]; then
		echo "installed headers lack atoll/$h"
		exit 1
	fi
done
# The vendor sees only the installed headers and the C library.
cc -std=c17 -Wall -Wextra -Werror -Wno-unused-parameter -shared -fPIC \
	-I"$tmp/prefix/include" -o "$tmp/vendor.so" "$src"
"$loader" "$tmp/vendor.so"
