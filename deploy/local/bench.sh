#!/usr/bin/env bash
# make bench: the Go benchmarks of every package that has some, then
# `exchange bench` (the end-to-end ratio against raw Kafka) when the binary
# has that command.
#
#   BENCH_PKGS=./schemas/... BENCHTIME=2s deploy/local/bench.sh
#   EXCHANGE_BENCH_ARGS="--database postgres://..." deploy/local/bench.sh
#
# Variables: BENCH_PKGS (default ./...), BENCH (the -bench regexp, default .),
# BENCHTIME (default 1s), BENCH_COUNT (default 1; use 6+ for benchstat),
# EXCHANGE_BENCH_ARGS (arguments of `exchange bench`).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

BENCH_PKGS="${BENCH_PKGS:-./...}"
BENCH="${BENCH:-.}"
BENCHTIME="${BENCHTIME:-1s}"
BENCH_COUNT="${BENCH_COUNT:-1}"

echo "== machine: $(nproc) cores, $(go version | awk '{ print $3, $4 }'), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
# shellcheck disable=SC2086
mapfile -t pkgs < <(list_funcs '^Benchmark' $BENCH_PKGS | awk '{ print $1 }' | sort -u)
status=0
if [ "${#pkgs[@]}" -eq 0 ]; then
  echo "== no Benchmark* functions in $BENCH_PKGS"
else
  echo "== go test -bench '$BENCH' -benchmem -benchtime $BENCHTIME over ${#pkgs[@]} package(s)"
  go test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" -count "$BENCH_COUNT" -timeout 60m "${pkgs[@]}" || status=1
fi

echo "== exchange bench"
go build -o bin/exchange ./cmd/exchange
if ./bin/exchange help 2>&1 | grep -qE '^[[:space:]]+bench[[:space:]]'; then
  # shellcheck disable=SC2086
  ./bin/exchange bench ${EXCHANGE_BENCH_ARGS:-} || status=1
else
  echo "(this build of exchange has no bench command yet)"
fi
exit "$status"
