#!/usr/bin/env bash
# binsize.sh: the size of examples/functionapp (tenantbridge: federated +
# graphlite) against the same program on azidentity with plain net/http
# (interop/cmd/functionapp-azidentity), both built for linux/amd64 the way a
# Functions custom handler is deployed. Prints a Markdown table for
# docs/performance.md.
#
#   scripts/binsize.sh
#
# Builds use the warm build cache (it measures size, not build time). The
# third program of docs/performance.md, azidentity + msgraph-sdk-go, is
# scripts/msgraph-binsize.sh: heavy, manual, never run by make or CI.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64

# build NAME MODULE_DIR PACKAGE: two binaries, stripped (-s -w) and not.
build() {
	local name=$1 dir=$2 pkg=$3
	(cd "$dir" && go build -trimpath -ldflags='-s -w' -o "$out/$name.stripped" "$pkg")
	(cd "$dir" && go build -trimpath -o "$out/$name.full" "$pkg")
}

size() { wc -c <"$1" | tr -d ' '; }

# modules counts the dependency modules linked in (go version -m "dep" lines).
modules() { go version -m "$1" | awk '$1 == "dep"' | wc -l | tr -d ' '; }

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

build functionapp "$root" ./examples/functionapp
build functionapp-azidentity "$root/interop" ./cmd/functionapp-azidentity

echo "| program | -ldflags='-s -w' | without -s -w | modules |"
echo "|---|---|---|---|"
for name in functionapp functionapp-azidentity; do
	s=$(size "$out/$name.stripped")
	f=$(size "$out/$name.full")
	printf '| %s | %s (%s bytes) | %s (%s bytes) | %s |\n' "$name" "$(mb "$s")" "$s" "$(mb "$f")" "$f" "$(modules "$out/$name.full")"
done
echo
echo "$(go version); CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath"
