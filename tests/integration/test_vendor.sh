#!/bin/sh
# The SDK as a vendor sees it: install the build into a temporary prefix,
# check that every installed header compiles on its own against that
# prefix, build docs/examples with CMake (find_package(AtollTee)) and with
# the pkg-config one-liners of docs/plugins.md against the prefix alone,
# check what the modules export, then hand them to test_vendor, which loads
# them and runs jobs through them in a real coordinator and island.
# usage: test_vendor.sh <build dir> <source dir> <test_vendor program>
#        [compiler and linker flags of a sanitized build]
set -eu
build=$1
src=$2
prog=$3
san=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/atoll-sdk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
examples=$src/docs/examples

step() {
	echo "== $*"
}

fail() {
	echo "FAILED: $*"
	exit 1
}

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }

pc=$(find "$prefix" -name atoll-tee.pc)
[ -n "$pc" ] || fail "no atoll-tee.pc under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
cflags=$(pkg-config --cflags atoll-tee)
libs=$(pkg-config --libs atoll-tee)
case "$cflags $libs" in
*"$src"*) fail "pkg-config points into the source tree: $cflags $libs" ;;
esac

step "each installed header compiles alone"
n=0
for h in $(cd "$prefix/include" && find atoll -name '*.h' | sort); do
	printf '#include <%s>\n' "$h" |
		cc -std=c17 -Wall -Wextra -Werror -fsyntax-only $cflags -x c - ||
		fail "$h does not compile against $prefix alone"
	n=$((n + 1))
done
echo "$n headers"

step "the headers from C++: syntax, and C linkage at link time"
{
	for h in $(cd "$prefix/include" && find atoll -name '*.h' | sort); do
		printf '#include <%s>\n' "$h"
	done
	cat <<'CXX'
int main()
{
	/* Mangled names would not resolve against the C archive. */
	struct dc_collateral *c = dc_collateral_new();
	dc_collateral_free(c);
	char hex[16];
	const unsigned char b[2] = { 1, 2 };
	dc_hex_short(b, 2, 2, hex, sizeof hex);
	return hex[0] == '0' ? 0 : 1;
}
CXX
} >"$tmp/cxx.cc"
c++ -std=c++17 -Wall -Wextra -Werror $san $cflags "$tmp/cxx.cc" -o "$tmp/cxx" $libs ||
	fail "the installed headers do not serve a C++ program"
"$tmp/cxx" || fail "the C++ program did not run"

step "CMake builds of docs/examples against $prefix"
for ex in template_driver template_backend; do
	cmake -S "$examples/$ex" -B "$tmp/$ex" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="-Werror $san" \
		-DCMAKE_MODULE_LINKER_FLAGS="$san" >"$tmp/$ex.log" 2>&1 ||
		{ cat "$tmp/$ex.log"; fail "configuring $ex"; }
	grep -q "^AtollTee_DIR:PATH=$prefix/" "$tmp/$ex/CMakeCache.txt" ||
		fail "$ex found AtollTee outside $prefix"
	cmake --build "$tmp/$ex" >>"$tmp/$ex.log" 2>&1 ||
		{ cat "$tmp/$ex.log"; fail "building $ex"; }
done

step "pkg-config builds of docs/examples (the commands of docs/plugins.md)"
cc -std=c17 -shared -fPIC -fvisibility=hidden -O2 -Wall -Wextra -Werror $san \
	-o "$tmp/pc_template.so" "$examples/template_driver/template_driver.c" \
	$(pkg-config --cflags --libs atoll-tee) -Wl,--exclude-libs,ALL -Wl,--no-undefined ||
	fail "pkg-config build of the template driver"
cc -std=c17 -shared -fPIC -fvisibility=hidden -O2 -Wall -Wextra -Werror $san \
	-o "$tmp/pc_upper.so" "$examples/template_backend/template_backend.c" \
	$(pkg-config --cflags atoll-tee) -Wl,--no-undefined ||
	fail "pkg-config build of the template backend"

step "exports"
sh "$src/tests/plugins/test_exports.sh" \
	"atoll_tee_driver_entry=$tmp/template_driver/template.so" \
	"atoll_backend_entry=$tmp/template_backend/upper.so" \
	"atoll_tee_driver_entry=$tmp/pc_template.so" \
	"atoll_backend_entry=$tmp/pc_upper.so"

step "the pkg-config builds in the host's loader"
"$prog" --load-only "$tmp/pc_template.so" "$tmp/pc_upper.so"

step "the CMake builds in a coordinator and an island"
"$prog" "$tmp/template_driver/template.so" "$tmp/template_backend/upper.so"
