#!/bin/sh
# Installs what Atoll needs to build and test on Debian 12 (bookworm), as
# root. Skips apt entirely when everything is already there.
#
# PostgreSQL: libpq-dev for the coordinator's shared store (several
# coordinators on one database), and the server itself (postgresql) for
# test_pg and atoll-bench-fleet, which start their own throwaway cluster
# with initdb and pg_ctl; the package's default cluster is not used.
#
# OCR: Tesseract (LSTM) with its English model, Leptonica for images, and
# MuPDF for PDFs; libmupdf-dev is a static library that declares none of
# the libraries it needs, so they are listed beside it. Ghostscript and
# ImageMagick render the OCR test corpus (scripts/render-text.sh).
#
# Packages: cpack builds the .debs with dpkg-deb and dpkg-shlibdeps
# (dpkg-dev, from build-essential), which needs file; systemd brings
# systemd-analyze, which
# verifies the units (it is not started: nothing here needs it running).
#
# Fuzzing: clang and its runtime build the libFuzzer targets; llvm brings
# llvm-symbolizer, which tests/fuzz/campaign needs for coverage per function.
set -eu
PKGS="build-essential cmake pkg-config git
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev
      libssl-dev libyaml-dev libsqlite3-dev libcbor-dev zlib1g-dev
      libpq-dev postgresql
      clang libclang-rt-14-dev llvm sqlite3 valgrind openssl python3
      libmicrohttpd-dev curl prometheus
      libtesseract-dev libleptonica-dev tesseract-ocr-eng
      libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev
      libfreetype-dev libjpeg-dev
      ghostscript imagemagick
      file systemd"
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
