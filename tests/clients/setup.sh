#!/bin/sh
# Installs the third-party clients (buf, @grpc/grpc-js) from the npm
# registry into the build tree, pinned by package-lock.json.
set -eu
src="$(cd "$(dirname "$0")" && pwd)"
dest="$1"
mkdir -p "$dest"
if [ -x "$dest/node_modules/.bin/buf" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
	echo "clients already installed in $dest"
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
npm ci --no-audit --no-fund --loglevel=error
"$dest/node_modules/.bin/buf" --version
