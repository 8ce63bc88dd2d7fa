#!/usr/bin/env bash
# Runs the Python interop suite: Debian's azure-identity (python3-azure),
# MSAL Python (python3-msal) and the Azure CLI (azure-cli) against the
# emulator, each mode under its own `fakemsi exec --mode`, with nothing set
# by hand. `make interop-python` calls it; so does `make test`.
#
# When a package is missing it names it and exits 0, except under CI=true,
# where a missing package is a failure (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON3:-/usr/bin/python3}" # not the python3 on PATH: Debian's packages live in the system Python
AZ="${AZ:-/usr/bin/az}"
export AZ

missing=()
[ -x "$PY" ] || missing+=("python3 ($PY)")
if [ -x "$PY" ]; then
	"$PY" -c 'import azure.identity' 2>/dev/null || missing+=("python3-azure (azure-identity)")
	"$PY" -c 'import msal' 2>/dev/null || missing+=("python3-msal")
fi
[ -x "$AZ" ] || missing+=("azure-cli ($AZ)")
if [ ${#missing[@]} -gt 0 ]; then
	echo "interop-python: NOT RUN: missing ${missing[*]}; install with: apt-get install -y python3-azure python3-msal azure-cli"
	if [ "${CI:-}" = true ]; then exit 1; fi
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd ../.. && go build -o "$tmp/fakemsi" ./cmd/fakemsi)
FAKEMSI="$tmp/fakemsi"

# The classes of each mode. Every test class checks its mode in setUpClass
# and fails (never skips) when run in another.
appservice=(test_azure_identity.AppServiceTest test_msal test_recipes test_tls)
if "$FAKEMSI" env | grep -q '^ *FAKEMSI_ARM_URL '; then
	appservice+=(test_azure_cli)
else
	echo "interop-python: test_azure_cli NOT RUN: this emulator has no fake ARM (FAKEMSI_ARM_URL), which az login --identity needs"
	if [ "${CI:-}" = true ]; then exit 1; fi
fi

status=0
run() {
	local mode="$1"; shift
	echo "interop-python: fakemsi exec --mode $mode -- python3 -m unittest $*"
	# The emulator's warnings (the AADSTS700016 answers the tests ask for, a
	# refused TLS handshake) go to a file that test_tls reads.
	export INTEROP_FAKEMSI_LOG="$tmp/fakemsi-$mode.log"
	"$FAKEMSI" exec --mode "$mode" --log-level warn --log-file "$INTEROP_FAKEMSI_LOG" -- \
		"$PY" -W ignore::ResourceWarning -m unittest "$@" || status=1
}
run appservice "${appservice[@]}"
# imds and workload run on a "machine" whose own variables point elsewhere:
# CA variables at the system bundle, an App Service endpoint and Service
# Fabric's thumbprint inherited. exec must replace or drop every one of them.
inherited=(REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
	SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt IDENTITY_ENDPOINT=http://127.0.0.1:9/stale IDENTITY_HEADER=stale
	MSI_ENDPOINT=http://127.0.0.1:9/stale MSI_SECRET=stale IDENTITY_SERVER_THUMBPRINT=00)
export "${inherited[@]}"
run imds test_azure_identity.IMDSTest
run workload test_azure_identity.WorkloadTest
exit $status
