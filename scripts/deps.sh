#!/bin/sh
# Installs what Atoll needs to build and test on Debian 12 (bookworm), as
# root. Skips apt entirely when everything is already there.
set -eu
PKGS="build-essential cmake pkg-config git
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev
      libssl-dev libyaml-dev libsqlite3-dev libcbor-dev zlib1g-dev
      clang libclang-rt-14-dev llvm sqlite3 valgrind openssl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "installing:$missing"
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi
