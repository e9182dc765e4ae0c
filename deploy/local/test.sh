#!/usr/bin/env bash
# make test: the whole suite, as CI runs it on a fresh machine.
#
#   1. checks: gofmt, go vet, function length (deploy/local/funclen), go.mod
#      tidy drift, build + smoke run of the binary
#      and chromium for the console's browser tests (deploy/local/chromium.sh;
#      screenshots under $EXCHANGE_TEST_ARTIFACTS, default bin/test-artifacts)
#   2. servers: PostgreSQL (deploy/local/postgres.sh) unless
#      EXCHANGE_TEST_DATABASE_URL is set, Apache Kafka (deploy/local/kafka.sh)
#      unless EXCHANGE_TEST_KAFKA_BROKERS is set, and a second Apache Kafka
#      with SASL/SCRAM and ACLs (kafka.sh --sasl) unless
#      EXCHANGE_TEST_KAFKA_SASL_BROKERS is set or EXCHANGE_TEST_KAFKA_BROKERS
#      alone is (then the SASL tests skip); stopped again on any exit
#   3. go test -count=1 -shuffle=on ./... (unit + integration, both servers)
#   4. go test -race on the packages with concurrency ($RACE_PKGS)
#   5. every Fuzz* target for $FUZZTIME (default 10s) via deploy/local/fuzz.sh
#
# For fault tests, when this script started a server it also exports
# EXCHANGE_TEST_KAFKA_CONTROL / EXCHANGE_TEST_POSTGRES_CONTROL: the script
# path, to run with "down" (kafka: "down --hard" = SIGKILL) and "up" to
# restart that server on the same port with its data (EXCHANGE_LOCAL_STATE
# is exported too, so the scripts find it). The SASL broker is exported as
# EXCHANGE_TEST_KAFKA_SASL_BROKERS and EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS
# (its credentials file: see kafka.sh); fault tests do not control it.
#
# Variables: TEST_PKGS (default ./...), RACE_PKGS (default
# "./exchange/... ./schemas/..."), RACE_SKIP (regexp of import paths left out
# of the race run, default /exchange/faults$), FUZZ_PKGS (default ./...), FUZZTIME
# (default 10s; 0 skips fuzzing beyond the seed corpora, which step 3 runs),
# TEST_TIMEOUT (default 30m), GO_TEST_FLAGS (extra flags for steps 3 and 4).
#
# The last line is "N passed, N failed": passed counts tests (and subtests
# and fuzz targets) that passed in any go test run; failed counts those that
# failed, plus each check or server start that failed, so that nothing fails
# silently. Exit status 1 when failed > 0. The line is also written to
# bin/test-result.txt (.ci/run repeats it after make's own error line).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
local_dir="$root/deploy/local"
# shellcheck source=deploy/local/lib.sh
source "$local_dir/lib.sh"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
# kafka.sh picks its mode from this; here each start says which it wants.
unset EXCHANGE_KAFKA_SASL

TEST_PKGS="${TEST_PKGS:-./...}"
RACE_PKGS="${RACE_PKGS:-./exchange/... ./schemas/...}"
# Packages left out of the race run (a regexp on import paths): the fault
# injection scenarios kill and restart whole processes and run for minutes;
# step 3 runs them, and -race would only multiply their time.
RACE_SKIP="${RACE_SKIP:-/exchange/faults\$}"
FUZZTIME="${FUZZTIME:-10s}"
TEST_TIMEOUT="${TEST_TIMEOUT:-30m}"
GO_TEST_FLAGS="${GO_TEST_FLAGS:-}"

run_start=$EPOCHREALTIME
work=$(mktemp -d "${TMPDIR:-/tmp}/exchange-test.XXXXXX")
# Servers started here keep their state in $work, apart from any other run.
export EXCHANGE_LOCAL_STATE="$work/state"
counts="$work/counts"
touch "$counts"
started_pg=""
started_kafka=""
started_kafka_sasl=""
check_failures=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$started_kafka" ]; then
    bash "$local_dir/kafka.sh" stop || echo "test.sh: stopping Kafka failed" >&2
  fi
  if [ -n "$started_kafka_sasl" ]; then
    bash "$local_dir/kafka.sh" --sasl stop || echo "test.sh: stopping the SASL Kafka failed" >&2
  fi
  if [ -n "$started_pg" ]; then
    bash "$local_dir/postgres.sh" stop || echo "test.sh: stopping PostgreSQL failed" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

# step NAME COMMAND...: runs a check; a failure is counted, and the run goes on
# so one CI run reports everything.
step() {
  local name=$1 start=$EPOCHREALTIME
  shift
  echo "== $name"
  if "$@"; then
    echo "   ($name: ok in $(elapsed_since "$start")s)"
  else
    echo "FAILED: $name"
    check_failures+=("$name")
  fi
}

check_gofmt() {
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go') 2>&1) || true
  if [ -n "$unformatted" ]; then
    echo "gofmt needed (make fmt):"
    echo "$unformatted"
    return 1
  fi
}

smoke() {
  go build -o bin/exchange ./cmd/exchange && ./bin/exchange version && ./bin/exchange help >/dev/null 2>&1
}

step "gofmt" check_gofmt
step "go vet" go vet ./...
step "function length" go run "$local_dir/funclen"
step "go mod tidy drift" bash "$local_dir/tidy-check.sh"
step "build + smoke" smoke

# The console's browser tests (exchange/console) drive Debian's chromium;
# install it when missing. Their screenshots go under bin/ (git-ignored).
step "chromium" bash "$local_dir/chromium.sh"
export EXCHANGE_TEST_ARTIFACTS="${EXCHANGE_TEST_ARTIFACTS:-$root/bin/test-artifacts}"

testsum="$work/testsum"
step "build testsum" go build -o "$testsum" "$local_dir/testsum"

start_pg() {
  local url
  url=$(bash "$local_dir/postgres.sh" start) || return 1
  started_pg=1
  export EXCHANGE_TEST_DATABASE_URL="$url"
  # Fault tests may stop and restart a server this run owns (never one given
  # in the environment): `bash $EXCHANGE_TEST_POSTGRES_CONTROL down|up`.
  export EXCHANGE_TEST_POSTGRES_CONTROL="$local_dir/postgres.sh"
  echo "EXCHANGE_TEST_DATABASE_URL=$url"
}
start_kafka() {
  local brokers
  brokers=$(bash "$local_dir/kafka.sh" start) || return 1
  started_kafka=1
  export EXCHANGE_TEST_KAFKA_BROKERS="$brokers"
  # `bash $EXCHANGE_TEST_KAFKA_CONTROL down [--hard]|up` restarts this broker.
  export EXCHANGE_TEST_KAFKA_CONTROL="$local_dir/kafka.sh"
  echo "EXCHANGE_TEST_KAFKA_BROKERS=$brokers"
}
# start_kafka_sasl: the SASL broker keeps its own state file beside the plain
# one's, so EXCHANGE_TEST_KAFKA_CONTROL still reaches only the plain broker.
start_kafka_sasl() {
  local brokers credentials
  brokers=$(bash "$local_dir/kafka.sh" --sasl start) || return 1
  started_kafka_sasl=1
  credentials=$(bash "$local_dir/kafka.sh" --sasl credentials) || return 1
  export EXCHANGE_TEST_KAFKA_SASL_BROKERS="$brokers"
  export EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS="$credentials"
  echo "EXCHANGE_TEST_KAFKA_SASL_BROKERS=$brokers"
  echo "EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS=$credentials"
}
if [ -z "${EXCHANGE_TEST_DATABASE_URL:-}" ]; then
  step "start PostgreSQL" start_pg
else
  echo "== PostgreSQL: using EXCHANGE_TEST_DATABASE_URL from the environment"
fi
kafka_from_env=${EXCHANGE_TEST_KAFKA_BROKERS:-}
if [ -z "$kafka_from_env" ]; then
  step "start Apache Kafka" start_kafka
else
  echo "== Apache Kafka: using EXCHANGE_TEST_KAFKA_BROKERS=$EXCHANGE_TEST_KAFKA_BROKERS from the environment"
fi
if [ -n "${EXCHANGE_TEST_KAFKA_SASL_BROKERS:-}" ]; then
  echo "== Apache Kafka with SASL: using EXCHANGE_TEST_KAFKA_SASL_BROKERS=$EXCHANGE_TEST_KAFKA_SASL_BROKERS from the environment"
elif [ -z "$kafka_from_env" ]; then
  step "start Apache Kafka with SASL" start_kafka_sasl
else
  echo "== Apache Kafka with SASL: not started (EXCHANGE_TEST_KAFKA_BROKERS given without EXCHANGE_TEST_KAFKA_SASL_BROKERS); its tests skip"
fi

# gotest LABEL ARGS...: go test -json ARGS through testsum; counts appended.
gotest() {
  local label=$1 start=$EPOCHREALTIME
  shift
  echo "== $label"
  if [ ! -x "$testsum" ]; then
    echo "FAILED: $label: no testsum binary"
    check_failures+=("$label")
    return 0
  fi
  local lines_before rc
  lines_before=$(wc -l <"$counts")
  rm -f "$work/go.rc"
  { go test -json "$@" 2>&1; echo $? >"$work/go.rc"; } | "$testsum" -label "$label" -counts "$counts" -figures "$work/figures" || true
  rc=$(cat "$work/go.rc" 2>/dev/null || echo "?")
  if [ "$(wc -l <"$counts")" -eq "$lines_before" ]; then
    check_failures+=("$label (no result)")
  elif [ "$rc" != 0 ] && [ "$(tail -n 1 "$counts" | awk '{ print $2 }')" = 0 ]; then
    # go test failed, yet no test or package failure was seen: count it.
    echo "FAILED: $label: go test exited $rc with no failing test reported"
    check_failures+=("$label (go test exit $rc)")
  fi
  echo "   ($label: $(elapsed_since "$start")s)"
}

# shellcheck disable=SC2086
gotest "go test" -count=1 -shuffle=on -timeout "$TEST_TIMEOUT" $GO_TEST_FLAGS $TEST_PKGS
# shellcheck disable=SC2086
race_pkgs=$(go list $RACE_PKGS 2>/dev/null | { if [ -n "$RACE_SKIP" ]; then grep -Ev "$RACE_SKIP" || true; else cat; fi; })
if [ -z "$race_pkgs" ]; then
  race_pkgs=$RACE_PKGS # let go test report what is wrong with the patterns
fi
# shellcheck disable=SC2086
gotest "go test -race" -race -count=1 -timeout "$TEST_TIMEOUT" $GO_TEST_FLAGS $race_pkgs

if [ "$FUZZTIME" != "0" ] && [ "$FUZZTIME" != "0s" ]; then
  fuzz_start=$EPOCHREALTIME
  echo "== fuzz ($FUZZTIME per target)"
  EXCHANGE_TEST_COUNTS="$counts" EXCHANGE_TESTSUM="$testsum" FUZZTIME="$FUZZTIME" \
    bash "$local_dir/fuzz.sh" || true
  echo "   (fuzz: $(elapsed_since "$fuzz_start")s)"
fi

# Stop the servers now, so that the closing line is the last one printed.
if [ -n "$started_kafka" ]; then
  bash "$local_dir/kafka.sh" stop || check_failures+=("stop Apache Kafka")
  started_kafka=""
fi
if [ -n "$started_kafka_sasl" ]; then
  bash "$local_dir/kafka.sh" --sasl stop || check_failures+=("stop Apache Kafka with SASL")
  started_kafka_sasl=""
fi
if [ -n "$started_pg" ]; then
  bash "$local_dir/postgres.sh" stop || check_failures+=("stop PostgreSQL")
  started_pg=""
fi

read -r passed failed skipped execs < <(awk '{ p += $1; f += $2; s += $3; e += $4 } END { print p + 0, f + 0, s + 0, e + 0 }' "$counts")
failed=$((failed + ${#check_failures[@]}))
echo "== summary"
if [ -s "$work/figures" ]; then
  echo "fault-test figures:"
  sed 's/^/  /' "$work/figures"
fi
echo "fuzz executions: $execs"
if [ "${#check_failures[@]}" -gt 0 ]; then
  echo "failed checks: ${check_failures[*]}"
fi
echo "skipped tests: $skipped"
echo "total time: $(elapsed_since "$run_start")s"
mkdir -p bin
echo "$passed passed, $failed failed" | tee bin/test-result.txt
if [ "$failed" -gt 0 ]; then
  exit 1
fi
