#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum. Uses `go mod tidy
# -diff`, which changes nothing in the working tree and prints the diff.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! diff=$(go mod tidy -diff 2>&1); then
  echo "$diff" | head -n 60
  echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result" >&2
  exit 1
fi
