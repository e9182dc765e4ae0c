# Helpers shared by the deploy/local scripts. Sourced, not run.
#
# State: each server script keeps a small env file under $EXCHANGE_LOCAL_STATE
# (default ~/.cache/exchange/run) so that `url`, `status` and `stop` find what
# `start` started. test.sh points EXCHANGE_LOCAL_STATE at a private temp dir, so
# several runs on one machine never see (or stop) each other's servers.

EXCHANGE_LOCAL_STATE="${EXCHANGE_LOCAL_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/exchange/run}"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

note() {
  echo "$(basename "$0"): $*" >&2
}

# port_in_use PORT: true when something listens on 127.0.0.1:PORT (or any address).
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
    return 1
  fi
  # Fallback: a connect that succeeds means the port is taken.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# free_port [EXCEPT...]: prints a port in 20000-32767 that nothing listens on and
# that is not one of the EXCEPT ports. The range sits below Linux's ephemeral
# ports (32768-60999), so an outgoing connection cannot take it between this
# check and the server's bind. Bounded: 200 attempts.
free_port() {
  local i port except
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12768))
    for except in "$@"; do
      [ "$port" = "$except" ] && continue 2
    done
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found in 20000-32767 after 200 attempts"
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.25 s until it
# succeeds; fails after SECONDS.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local start=$EPOCHREALTIME deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.25
  done
  note "$what ready after $(elapsed_since "$start")s"
}

# elapsed_since EPOCHREALTIME_VALUE: seconds since then, one decimal.
elapsed_since() {
  local now=$EPOCHREALTIME
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

# list_funcs REGEXP PACKAGES...: prints "import/path FuncName" for each test
# function matching REGEXP (e.g. '^Fuzz', '^Benchmark') in PACKAGES. Packages
# that fail to build are reported on stderr and left out (go test reports
# them properly).
list_funcs() {
  local re=$1
  shift
  go test -list "$re" "$@" 2>&1 | awk '
    /^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0; next }
    /^(Fuzz|Benchmark|Test|Example)[A-Za-z0-9_]*$/ { names[n++] = $0; next }
    /^(FAIL|#|\?)/ { if ($0 !~ /no test files/) print "list_funcs: " $0 > "/dev/stderr"; n = 0; next }
  '
}
