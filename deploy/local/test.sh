#!/usr/bin/env bash
# make test: the whole suite, as CI runs it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== go mod tidy drift"
bash deploy/local/tidy-check.sh

echo "== build + smoke"
go build -o bin/exchange ./cmd/exchange
./bin/exchange version

echo "== go test"
go test -count=1 -timeout 30m ./...
