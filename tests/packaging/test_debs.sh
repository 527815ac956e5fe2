#!/bin/sh
# The Debian packages, from the operator's side. As root:
#
#   sh tests/packaging/test_debs.sh            build the .debs (prefix /usr)
#                                              and run every check below
#   sh tests/packaging/test_debs.sh --contents DIR
#                                              only check the .debs in DIR:
#                                              contents, control fields,
#                                              systemd-analyze verify on a
#                                              staged tree (what ctest runs)
#
# The full run debootstraps a fresh Debian 12 (minbase) root, installs the
# packages into it with apt (which must find every dependency), checks the
# system user, directories and token the maintainer scripts made, checks
# the installed configs with --check-config, runs `atoll-island --detect`,
# then runs a job through an installed coordinator and island (the island
# finds the sim TEE by probing, and is attested), and verifies the units
# with systemd-analyze inside the root. Run it on a fresh machine too:
#
#   ../shared/tools/fresh-check -- sh tests/packaging/test_debs.sh
#
# It takes minutes (build, debootstrap, apt), so it is not part of the
# normal ctest run; --contents is.
set -eu
cd "$(dirname "$0")/../.."
src=$(pwd)

say() { echo "== $*"; }
fail() {
	echo "FAILED: $*"
	exit 1
}

# ---- contents ------------------------------------------------------------------

want_files() { # deb file...
	deb=$1
	shift
	list=$(dpkg-deb -c "$deb" | awk '{print $6}')
	for f in "$@"; do
		echo "$list" | grep -qx "./$f" || fail "$(basename "$deb") lacks /$f"
	done
}

check_contents() { # dir
	d=$1
	v=$(ls "$d"/atoll-island_*.deb 2>/dev/null | sed 's/.*atoll-island_\(.*\)_.*\.deb/\1/')
	[ -n "$v" ] || fail "no atoll-island .deb in $d"
	for p in atoll-coordinator atoll-island atoll-drivers atoll-tools atoll-tee-sdk; do
		[ -f "$d/${p}_${v}_$(dpkg --print-architecture).deb" ] || fail "no $p .deb in $d"
	done
	deb() { echo "$d/$1_${v}_$(dpkg --print-architecture).deb"; }
	say "contents of the packages ($v)"
	want_files "$(deb atoll-coordinator)" usr/bin/atoll-coordinator etc/atoll/coordinator.yaml \
		usr/lib/systemd/system/atoll-coordinator.service
	want_files "$(deb atoll-island)" usr/bin/atoll-island usr/bin/atoll-enclave \
		etc/atoll/island.yaml etc/atoll/enclave.yaml \
		usr/lib/systemd/system/atoll-island.service usr/lib/systemd/system/atoll-enclave.service \
		usr/lib/udev/rules.d/70-atoll.rules usr/lib/tmpfiles.d/atoll.conf \
		usr/lib/atoll/backends/echo.so usr/lib/atoll/backends/linear.so
	want_files "$(deb atoll-drivers)" usr/lib/atoll/drivers/sev_snp.so usr/lib/atoll/drivers/tdx.so \
		usr/lib/atoll/drivers/sgx.so usr/lib/atoll/drivers/nitro.so usr/lib/atoll/drivers/cca.so \
		usr/lib/atoll/drivers/psa.so usr/lib/atoll/drivers/sim.so
	want_files "$(deb atoll-tools)" usr/bin/atollctl
	want_files "$(deb atoll-tee-sdk)" usr/include/atoll/tee_driver.h usr/include/atoll/tee/dc_tsm.h
	sdk=$(dpkg-deb -c "$(deb atoll-tee-sdk)")
	echo "$sdk" | grep -q 'libatoll-tee\.a$' || fail "no libatoll-tee.a"
	echo "$sdk" | grep -q 'pkgconfig/atoll-tee\.pc$' || fail "no atoll-tee.pc"
	# Drivers only in atoll-drivers, backends only in atoll-island.
	dpkg-deb -c "$(deb atoll-island)" | grep 'atoll/drivers/' >/dev/null && fail "atoll-island ships drivers"
	for p in atoll-coordinator atoll-island atoll-tools; do
		dpkg-deb -f "$(deb $p)" Depends | grep -q "atoll-drivers (= $v)" ||
			fail "$p does not depend on atoll-drivers (= $v)"
	done
	for p in atoll-coordinator atoll-island; do
		ctl=$(dpkg-deb --ctrl-tarfile "$(deb $p)" | tar -t)
		echo "$ctl" | grep -qx './postinst' || fail "$p has no postinst"
		echo "$ctl" | grep -qx './conffiles' || fail "$p has no conffiles"
	done
	dpkg-deb -I "$(deb atoll-island)" conffiles | grep -qx /etc/atoll/island.yaml ||
		fail "island.yaml is not a conffile"
	say "units (systemd-analyze verify on the staged packages)"
	if ! command -v systemd-analyze >/dev/null; then
		echo "skipped: systemd-analyze is not installed (apt-get install systemd)"
		return 0
	fi
	stage=$(mktemp -d "${TMPDIR:-/tmp}/atoll-debs-XXXXXX")
	for f in "$d"/*.deb; do dpkg-deb -x "$f" "$stage"; done
	# The units name /usr/bin programs, not installed on this machine:
	# verify copies that name the staged ones.
	mkdir "$stage/units"
	for u in atoll-coordinator atoll-island atoll-enclave; do
		sed "s|/usr/bin/atoll|$stage/usr/bin/atoll|g" "$stage/usr/lib/systemd/system/$u.service" \
			>"$stage/units/$u.service"
	done
	out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$stage/units/atoll-coordinator.service" \
		"$stage/units/atoll-island.service" "$stage/units/atoll-enclave.service" 2>&1) || {
		echo "$out"
		rm -rf "$stage"
		fail "systemd-analyze verify"
	}
	rm -rf "$stage"
	# It exits 0 on unknown keys and bad values, and says so: any word
	# from it is a failure.
	[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify has remarks"; }
	echo "units ok"
}

if [ "${1:-}" = "--contents" ]; then
	check_contents "$2"
	echo "packages ok"
	exit 0
fi

# ---- build ---------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot)"
say "dependencies"
sh scripts/deps.sh
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y \
	--no-install-recommends debootstrap >/dev/null
build=${ATOLL_DEB_BUILD:-$src/build-deb}
say "build with CMAKE_INSTALL_PREFIX=/usr in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >"$build/build.log" 2>&1 ||
	{ tail -30 "$build/build.log"; fail "build"; }
debs="$build/debs"
rm -rf "$debs"
say "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$debs" >cpack.log 2>&1) || { tail -30 "$build/cpack.log"; fail "cpack"; }
rm -rf "$debs/_CPack_Packages"
ls -l "$debs"
check_contents "$debs"

# ---- a fresh root ------------------------------------------------------------------
work=$(mktemp -d /var/tmp/atoll-debs.XXXXXX)
root="$work/root"
mounted=""
cleanup() {
	set +e
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	for m in $mounted; do umount "$m" 2>/dev/null || umount --lazy "$m"; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT INT TERM
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' |
	awk '$2 == "bookworm" { print $1; exit }')
[ -n "$mirror" ] || fail "no bookworm mirror in this machine's apt sources"
say "debootstrap bookworm (minbase) into $root from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/"
find /etc/apt/sources.list.d -maxdepth 1 \( -name '*.list' -o -name '*.sources' \) \
	-exec cp {} "$root/etc/apt/sources.list.d/" \;
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc" && mounted="$root/proc $mounted"
mount -t tmpfs -o mode=755,size=16m atoll-dev "$root/dev" && mounted="$root/dev $mounted"
cp -a /dev/null /dev/zero /dev/random /dev/urandom "$root/dev/"
mkdir -p "$root/dev/shm" && mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && mounted="$root/dev/shm $mounted"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }

say "apt install ./atoll-*.deb into the fresh root"
mkdir -p "$root/tmp/debs"
cp "$debs"/*.deb "$root/tmp/debs/"
in_root apt-get update -q >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; fail "apt-get update"; }
in_root sh -c 'apt-get install -y --no-install-recommends /tmp/debs/atoll-*.deb' >"$work/install.log" 2>&1 ||
	{ tail -30 "$work/install.log"; fail "apt install"; }
grep -E '^(atoll-|  made|islands\.tokens|atoll-island:)' "$work/install.log" || true

say "what the maintainer scripts made"
in_root getent passwd atoll | grep -q ':/var/lib/atoll:/usr/sbin/nologin$' || fail "no system user atoll"
[ "$(in_root stat -c '%U:%G %a' /var/lib/atoll)" = "atoll:atoll 750" ] || fail "/var/lib/atoll"
[ "$(in_root stat -c '%U:%G %a' /etc/atoll/island.token)" = "root:atoll 640" ] || fail "island.token"
grep -q '^it_[0-9a-f]\{64\}$' "$root/etc/atoll/island.token" || fail "island.token content"
[ "$(in_root stat -c '%G %a' /etc/atoll/coordinator.yaml)" = "atoll 640" ] || fail "coordinator.yaml mode"
echo "user atoll, /var/lib/atoll, /etc/atoll/island.token: ok"

say "--check-config on the installed configs"
in_root atoll-coordinator --check-config /etc/atoll/coordinator.yaml
in_root atoll-island --check-config /etc/atoll/island.yaml

say "atoll-island --detect (no TEE in a chroot: exit 1, every driver says why)"
rc=0
in_root atoll-island --detect >"$work/detect.out" 2>&1 || rc=$?
cat "$work/detect.out"
[ "$rc" -eq 1 ] || fail "--detect exited $rc"
for drv in cca nitro psa sev_snp sgx sim tdx; do
	grep -q "^$drv  *not found: " "$work/detect.out" || fail "--detect says nothing of $drv"
done

say "a job through the installed coordinator and island"
in_root atollctl sim ca --dir /var/lib/atoll/sim --name "fresh root sim CA" >/dev/null
in_root atollctl sim island-key --ca-dir /var/lib/atoll/sim --name island-1 --out /var/lib/atoll/sim >/dev/null
in_root chown -R atoll:atoll /var/lib/atoll/sim
key_hash=$(in_root atollctl hash-key ak_fresh)
tok_hash=$(in_root atollctl hash-key "$(cat "$root/etc/atoll/island.token")")
zero=0000000000000000000000000000000000000000000000000000000000000000
c=$root/etc/atoll/coordinator.yaml
sed -i "0,/$zero/s//$key_hash/" "$c"
sed -i "0,/$zero/s//$tok_hash/" "$c"
sed -i '/^drivers:/a\  - {name: sim, path: /usr/lib/atoll/drivers/sim.so, config: {ca_file: /var/lib/atoll/sim/sim-ca.pem}}' "$c"
sed -i '/^  tee:/a\    sim: {allow_debug: false}' "$c"
i=$root/etc/atoll/island.yaml
sed -i 's/coordinator.example:7443/127.0.0.1:7443/' "$i"
sed -i '/^  driver_dir:/a\  driver_config:\n    sim: {key_file: /var/lib/atoll/sim/island-1.key, cert_file: /var/lib/atoll/sim/island-1.pem}' "$i"
# Pin what the enclave will run, as an operator does.
in_root atollctl manifest --policy --driver sim /etc/atoll/island.yaml >"$work/pins.yaml"
cat "$work/pins.yaml"
sed -i "/^policy:/r $work/pins.yaml" "$c"
in_root atoll-coordinator --check-config /etc/atoll/coordinator.yaml
in_root atoll-island --check-config /etc/atoll/island.yaml
# As the units run them: user atoll, state in /var/lib/atoll.
chroot --userspec=atoll:atoll "$root" env -i PATH=/usr/bin:/bin HOME=/var/lib/atoll \
	sh -c 'cd /var/lib/atoll && exec atoll-coordinator --config /etc/atoll/coordinator.yaml' \
	>"$work/coordinator.log" 2>&1 &
n=0
until grep -q 'listening on' "$work/coordinator.log" 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -le 150 ] || { cat "$work/coordinator.log"; fail "the coordinator did not start"; }
	sleep 0.2
done
chroot --userspec=atoll:atoll "$root" env -i PATH=/usr/bin:/bin HOME=/var/lib/atoll \
	sh -c 'cd /var/lib/atoll && exec atoll-island --config /etc/atoll/island.yaml' \
	>"$work/island.log" 2>&1 &
n=0
until grep -q 'attested$' "$work/island.log" 2>/dev/null; do
	n=$((n + 1))
	if [ "$n" -gt 150 ]; then
		cat "$work/coordinator.log" "$work/island.log"
		fail "the island was not attested within 30 s"
	fi
	sleep 0.2
done
grep -E 'TEE detected|enclave ready|attested' "$work/island.log"
out=$(in_root env ATOLL_ADDR=127.0.0.1:7443 ATOLL_API_KEY=ak_fresh \
	atollctl submit '{"workload_id": 42, "input": {"prompt": "hello from a fresh root"}}' --wait 2>&1) ||
	{ echo "$out"; cat "$work/island.log"; fail "atollctl submit"; }
echo "$out"
echo "$out" | grep -q '] completed$' || fail "the job did not complete"
echo "$out" | grep -q 'hello from a fresh root' || fail "the job's output is not its input"
[ -f "$root/var/lib/atoll/coordinator.db" ] || fail "no job store in /var/lib/atoll"

say "systemd-analyze verify inside the root"
in_root apt-get install -y --no-install-recommends systemd >"$work/systemd.log" 2>&1 ||
	{ tail -20 "$work/systemd.log"; fail "apt-get install systemd"; }
out=$(in_root systemd-analyze verify /usr/lib/systemd/system/atoll-coordinator.service \
	/usr/lib/systemd/system/atoll-island.service /usr/lib/systemd/system/atoll-enclave.service 2>&1) ||
	{ echo "$out"; fail "systemd-analyze verify"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify has remarks"; }
echo "units ok"
echo "fresh-root package test: passed"
