#!/bin/sh
# `atollctl verify` on the real, public TEE evidence in $ATOLL_SHARED_DIR/
# evidence (read in place): every sample gives the verdict and the claims
# its PROVENANCE.md states, as of its stated time; tampered and bad samples
# fail with the right error class; a time outside validity fails.
set -u
: "${ATOLL_BUILD_DIR:?}" "${ATOLL_SHARED_DIR:?}" "${ATOLL_MODULE_DIR:?}"
EV="$ATOLL_SHARED_DIR/evidence"
if [ ! -d "$EV" ]; then
	echo "skipped: no evidence dir at $EV"
	exit 0
fi
CTL="$ATOLL_BUILD_DIR/tools/atollctl"
T=$(mktemp -d "${TMPDIR:-/tmp}/atoll-verify-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
n=0

# coll NAME FILE...: a collateral folder of links to the given files.
coll() {
	d="$T/$1"
	shift
	mkdir -p "$d"
	for f in "$@"; do ln -sf "$f" "$d/"; done
	echo "$d"
}

# check NAME WANT_EXIT NEEDLE... -- ARGS: run verify, expect the exit code
# and every needle in its JSON output.
check() {
	name=$1 want=$2
	shift 2
	needles=""
	while [ "$1" != "--" ]; do
		needles="$needles
$1"
		shift
	done
	shift
	n=$((n + 1))
	out=$("$CTL" verify "$@" 2>&1)
	rc=$?
	bad=""
	[ "$rc" -eq "$want" ] || bad="exit $rc, want $want"
	printf '%s\n' "$needles" | while IFS= read -r needle; do
		[ -z "$needle" ] && continue
		case "$out" in *"$needle"*) ;; *) echo "missing: $needle" ;; esac
	done >"$T/missing"
	if [ -n "$bad" ] || [ -s "$T/missing" ]; then
		echo "FAIL $name: $bad"
		cat "$T/missing"
		echo "  output: $out"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

SNP="$EV/sev-snp"
MILAN=$(coll milan "$SNP/virtee-sev/vcek_milan.der" "$SNP/go-sev-guest/ask_ark_milan.pem")
GSG=$(coll gsg "$SNP/go-sev-guest/vcek.testcer" "$SNP/go-sev-guest/ask_ark_milan.pem")
BADVCEK=$(coll badvcek "$SNP/virtee-sev/derived/vcek_milan.byte40xorff.der" "$SNP/go-sev-guest/ask_ark_milan.pem")
AT=2025-06-01T00:00:00Z

check sev-virtee 0 '"verdict":"pass"' \
	'"measurement":"7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"' \
	'"debug":false' -- --tee sev_snp --evidence "$SNP/virtee-sev/report_milan.hex" --collateral "$MILAN" --at $AT
check sev-gsg-debug-refused 1 '"verdict":"fail"' '"error_class":"policy"' 'debug enclave refused' \
	'"measurement":"b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"' \
	-- --tee sev_snp --evidence "$SNP/go-sev-guest/attestation.bin" --collateral "$GSG" --at $AT
cat >"$T/allow-debug.yaml" <<EOP
drivers: [{name: sev_snp, path: $ATOLL_MODULE_DIR/sev_snp.so}]
policy: {tee: {sev_snp: {allow_debug: true}}}
EOP
check sev-gsg-debug-allowed 0 '"verdict":"pass"' '"debug":true' -- --tee sev_snp \
	--evidence "$SNP/go-sev-guest/attestation.bin" --collateral "$GSG" --at $AT --policy "$T/allow-debug.yaml"
cat >"$T/measured.yaml" <<EOP
drivers: [{name: sev_snp, path: $ATOLL_MODULE_DIR/sev_snp.so}]
policy: {tee: {sev_snp: {measurements: [b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01]}}}
EOP
check sev-measurement-not-allowed 1 '"error_class":"policy"' 'is not in the policy' -- --tee sev_snp \
	--evidence "$SNP/virtee-sev/report_milan.hex" --collateral "$MILAN" --at $AT --policy "$T/measured.yaml"
check sev-tampered-report 1 '"error_class":"signature"' -- --tee sev_snp \
	--evidence "$SNP/virtee-sev/derived/report_milan.byte21xor80.bin" --collateral "$MILAN" --at $AT
check sev-tampered-vcek 1 '"error_class":"chain"' -- --tee sev_snp \
	--evidence "$SNP/virtee-sev/report_milan.hex" --collateral "$BADVCEK" --at $AT
check sev-after-validity 1 '"verdict":"fail"' -- --tee sev_snp \
	--evidence "$SNP/virtee-sev/report_milan.hex" --collateral "$MILAN" --at 2031-01-01T00:00:00Z
check sev-no-collateral 1 '"verdict":"fail"' -- --tee sev_snp \
	--evidence "$SNP/virtee-sev/report_milan.hex" --at $AT

NIT="$EV/nitro"
check nitro-blocky 0 '"verdict":"pass"' \
	'"measurement":"e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a"' \
	-- --tee nitro --evidence "$NIT/blocky-nitrite/nitro_attestation.b64" --at 2024-09-07T14:37:39.545Z
check nitro-debug-refused 1 '"error_class":"policy"' '"debug":true' -- --tee nitro \
	--evidence "$NIT/blocky-nitrite/nitro_attestation_debug.b64" --at 2024-09-07T14:38:06.508Z
check nitro-selfsigned 1 '"verdict":"fail"' -- --tee nitro \
	--evidence "$NIT/blocky-nitrite/selfsigned_attestation.b64" --at 2024-04-17T18:51:46Z
check nitro-leaf-expired 1 '"verdict":"fail"' -- --tee nitro \
	--evidence "$NIT/blocky-nitrite/nitro_attestation.b64" --at 2024-09-08T00:00:00Z
check nitro-evervault 0 '"verdict":"pass"' \
	'"measurement":"f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b"' \
	-- --tee nitro --evidence "$NIT/evervault/valid-attestation-doc-bytes" --at 2022-10-13T08:58:02.136Z

PSA="$EV/psa/veraison-psatoken"
check psa-2.0.0 0 '"verdict":"pass"' '"debug":false' -- --tee psa --evidence "$PSA/psa-2_0_0_sign1.bin" \
	--config "iak_keys=$PSA/public.pem"
check psa-iot-1 0 '"verdict":"pass"' -- --tee psa --evidence "$PSA/psa-iot-1_sign1.bin" \
	--config "iak_keys=$PSA/public.pem"
check psa-mac0-unsupported 1 '"verdict":"fail"' -- --tee psa --evidence "$PSA/psa-2_0_0_mac0.bin" \
	--config "iak_keys=$PSA/public.pem"

SGX="$EV/sgx/phala-dcap-qvl"
SGXC=$(coll sgx "$SGX/sgx_quote_collateral.json")
check sgx-phala 0 '"verdict":"pass"' '"tcb_status":"ConfigurationAndSWHardeningNeeded"' \
	'"measurement":"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"' \
	-- --tee sgx --evidence "$SGX/sgx_quote" --collateral "$SGXC" --at 2025-07-19T10:01:17Z
check sgx-phala-stale-collateral 1 '"verdict":"fail"' -- --tee sgx --evidence "$SGX/sgx_quote" \
	--collateral "$SGXC" --at 2025-09-01T00:00:00Z

TDX="$EV/tdx/phala-dcap-qvl"
TDXC=$(coll tdx "$TDX/tdx_quote_collateral.json")
TDXO=$(coll tdxo "$TDX/tdx_quote_outdated_collateral.json")
check tdx-phala-v4 0 '"verdict":"pass"' '"tcb_status":"UpToDate"' \
	'"measurement":"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"' \
	-- --tee tdx --evidence "$TDX/tdx_quote" --collateral "$TDXC" --at 2025-07-01T00:00:00Z
check tdx-outdated-v5 1 '"error_class":"tcb"' -- --tee tdx --evidence "$TDX/tdx_quote_outdated" \
	--collateral "$TDXO" --at 2026-03-01T00:00:00Z

echo "$n verify cases, $fails failed"
[ "$fails" -eq 0 ]
