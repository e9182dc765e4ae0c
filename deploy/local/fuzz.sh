#!/usr/bin/env bash
# make fuzz: every Fuzz* target in the repository, each for FUZZTIME
# (default 60s; make test runs this with 10s). Prints each target's
# executions and the total. Crashers go to the package's testdata/fuzz/<Name>/
# as go writes them: commit them as regression seeds.
#
#   FUZZTIME=5m deploy/local/fuzz.sh            # all targets
#   FUZZ_PKGS=./schemas/... deploy/local/fuzz.sh  # some packages
#
# When EXCHANGE_TEST_COUNTS is set (test.sh), one line per target
# "passed failed skipped execs" is appended there and no closing line is
# printed; alone, the script ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

FUZZTIME="${FUZZTIME:-60s}"
FUZZ_PKGS="${FUZZ_PKGS:-./...}"
# -fuzztime bounds the fuzzing; -timeout bounds build + seed corpus + fuzzing
# of one target, so that a hang cannot eat a CI run: FUZZTIME + 5 minutes.
# -fuzzminimizetime: the coordinator stops fuzzing while it minimises a new
# corpus entry (up to 60 s by default), which would spend a short budget.
fuzz_seconds() {
  if [[ $1 =~ ^([0-9]+)([smh])$ ]]; then
    case ${BASH_REMATCH[2]} in
    s) echo "${BASH_REMATCH[1]}" ;;
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    h) echo $((BASH_REMATCH[1] * 3600)) ;;
    esac
  else
    echo 3600 # a count such as 10000x, or 1m30s: allow an hour
  fi
}
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-$(($(fuzz_seconds "$FUZZTIME") + 300))s}"

own_tmp=$(mktemp -d)
trap 'rm -rf "$own_tmp"' EXIT
counts="${EXCHANGE_TEST_COUNTS:-$own_tmp/counts}"
touch "$counts"
testsum="${EXCHANGE_TESTSUM:-}"
if [ -z "$testsum" ]; then
  testsum="$own_tmp/testsum"
  go build -o "$testsum" ./deploy/local/testsum
fi

mapfile -t targets < <(list_funcs '^Fuzz' $FUZZ_PKGS)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no Fuzz* targets found in $FUZZ_PKGS"
fi

status=0
total=0
results=()
for t in "${targets[@]}"; do
  pkg=${t% *}
  name=${t#* }
  echo "== fuzz $name ($pkg) for $FUZZTIME"
  before=$(wc -l <"$counts" 2>/dev/null || echo 0)
  # On a loaded machine go's fuzz coordinator sometimes ends a target with
  # "context deadline exceeded" at the end of -fuzztime without any failing
  # input: run such a target once more. A real failure writes its input
  # under testdata/fuzz and is never retried.
  for attempt in 1 2; do
    : >"$own_tmp/attempt.counts"
    ok=1
    go test -json -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 3s -timeout "$FUZZ_TIMEOUT" "$pkg" |
      "$testsum" -label "fuzz $name" -counts "$own_tmp/attempt.counts" | tee "$own_tmp/attempt.out" || ok=0
    if [ "$ok" = 0 ] && [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$own_tmp/attempt.out" &&
      ! grep -q 'Failing input written' "$own_tmp/attempt.out"; then
      echo "fuzz $name: ended on a deadline with no failing input; running it once more"
      continue
    fi
    cat "$own_tmp/attempt.counts" >>"$counts"
    [ "$ok" = 1 ] || status=1
    break
  done
  # The line testsum appended for this target: its executions.
  execs=0
  if [ "$(wc -l <"$counts")" -gt "$before" ]; then
    execs=$(tail -n 1 "$counts" | awk '{ print $4 }')
  fi
  total=$((total + execs))
  results+=("$(printf '%-28s %12d execs  %s' "$name" "$execs" "$pkg")")
done

echo "== fuzz executions ($FUZZTIME per target)"
for r in "${results[@]}"; do
  echo "  $r"
done
echo "fuzz total: $total execs over ${#targets[@]} targets"

if [ -z "${EXCHANGE_TEST_COUNTS:-}" ]; then
  read -r passed failed < <(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' "$counts" 2>/dev/null || echo "0 0")
  echo "$passed passed, $failed failed"
fi
exit "$status"
