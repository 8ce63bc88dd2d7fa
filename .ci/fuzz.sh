#!/usr/bin/env bash
# Runs every Fuzz target of the main module for a short while: $1 is a
# -fuzztime value, default 30000x (an execution count; see the Makefile for
# why not a duration).
set -euo pipefail
fuzztime=${1:-30000x}
cd "$(dirname "$0")/.."
found=0
while IFS= read -r file; do
  dir=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    found=$((found + 1))
    echo "fuzz: $dir $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
  done
done < <(git ls-files -co --exclude-standard '*_test.go' | grep -v '^interop/' | sort)
echo "fuzz: $found targets ran"
