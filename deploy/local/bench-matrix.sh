#!/usr/bin/env bash
# The figures of BENCHMARKS.md ("The record path against raw Kafka"): a
# calibration of the machine, then `exchange bench` RUNS times (default 3)
# in each configuration, each on fresh servers started and stopped here, so
# nothing idles beside a run:
#
#   embedded   the embedded kfake broker and SQLite (the dev mode)
#   embedded-pg the embedded broker and PostgreSQL (deploy/local/postgres.sh)
#   kafka-pg   Apache Kafka (deploy/local/kafka.sh) and PostgreSQL
#   scale      Apache Kafka, 6 partitions, PostgreSQL, 1, 2 and 3 exchange
#              members in one group (one run each)
#
#   deploy/local/bench-matrix.sh                 # all of them
#   deploy/local/bench-matrix.sh embedded kafka-pg
#
# Variables: RECORDS (default 300000), RUNS (default 3), OUT (a directory
# for the logs, default a temp dir; each run's output is kept there).
# Measure on a quiet machine: no test suite, broker or database left over.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
RECORDS="${RECORDS:-300000}"
RUNS="${RUNS:-3}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
state="$(mktemp -d)"
export EXCHANGE_LOCAL_STATE="$state"
trap 'bash deploy/local/postgres.sh stop >/dev/null 2>&1 || true; bash deploy/local/kafka.sh stop >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

go build -o bin/exchange ./cmd/exchange
echo "== machine: $(nproc) cores, $(go version | awk '{ print $3 }'), $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT"
echo "== calibration: SQLite LedgerAppend, 1 writer"
go test -run '^$' -bench 'LedgerAppendSQLite$' -benchtime 500x ./exchange/store/sqlite/ | grep -E '^Benchmark' | tee "$OUT/calibration.txt"

pg_up() { bash deploy/local/postgres.sh start >/dev/null; bash deploy/local/postgres.sh url; }
pg_down() { bash deploy/local/postgres.sh stop >/dev/null; }
kafka_up() { bash deploy/local/kafka.sh start | tail -1; }
kafka_down() { bash deploy/local/kafka.sh stop >/dev/null; }

# run NAME ARGS...: one exchange bench, its summary lines on stdout.
run() {
  local name="$1"; shift
  echo "-- $name: exchange bench --records $RECORDS $*"
  ./bin/exchange bench --records "$RECORDS" "$@" >"$OUT/$name.log" 2>&1 || { echo "FAILED (see $OUT/$name.log)"; tail -5 "$OUT/$name.log"; return 1; }
  grep -E '^(raw|exchange to|e2e latency|ratio)' "$OUT/$name.log"
}

configs=("$@")
[ "${#configs[@]}" -gt 0 ] || configs=(embedded embedded-pg kafka-pg scale)
for c in "${configs[@]}"; do
  echo "== $c"
  if [ "$c" = scale ]; then
    for n in 1 2 3; do
      url="$(pg_up)"; brokers="$(kafka_up)"
      run "$c-$n" --brokers "$brokers" --database "$url" --partitions 6 --processes "$n"
      kafka_down; pg_down
    done
    continue
  fi
  for i in $(seq 1 "$RUNS"); do
    case "$c" in
      embedded) run "$c-$i" ;;
      embedded-pg) url="$(pg_up)"; run "$c-$i" --database "$url"; pg_down ;;
      kafka-pg) url="$(pg_up)"; brokers="$(kafka_up)"; run "$c-$i" --brokers "$brokers" --database "$url"; kafka_down; pg_down ;;
      *) echo "unknown configuration $c" >&2; exit 2 ;;
    esac
  done
done
