#!/usr/bin/env bash
# A Python virtual environment with the Confluent Python client, for the
# interoperability test (deploy/interop/confluent_client.py, run by
# cmd/exchange/interop_test.go) and for trying the exchange from Python.
#
#   deploy/local/python-env.sh     # creates or reuses the venv, prints the
#                                  # path of its python on stdout
#
# The venv lives outside the repository, in
# ${XDG_CACHE_HOME:-~/.cache}/exchange/pyenv (EXCHANGE_PYENV overrides it),
# and is reused while it holds the pinned versions below: a second run only
# checks them. Packages come from PyPI through pip (the confluent-kafka wheel
# bundles librdkafka, with SASL/SCRAM and TLS, so nothing is compiled). The
# python3 of the machine is used (EXCHANGE_PYTHON overrides it); if it is
# missing or has no venv module the script fails and says so.
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "$0")/lib.sh"

# Pinned: the client and its [avro] extra, the only packages the script uses.
REQUIREMENT="confluent-kafka[avro]==2.16.1"
VENV="${EXCHANGE_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/exchange/pyenv}"
PYTHON="${EXCHANGE_PYTHON:-python3}"
STAMP="$VENV/.exchange-requirement"

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.9 or later (or set EXCHANGE_PYTHON)"

# ready: the venv exists, was filled with this requirement, and imports it.
ready() {
  [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$REQUIREMENT" ] &&
    "$VENV/bin/python" -c 'import confluent_kafka, fastavro; from confluent_kafka.schema_registry.avro import AvroSerializer' >/dev/null 2>&1
}

if ! ready; then
  start=$EPOCHREALTIME
  note "creating $VENV with $REQUIREMENT"
  # A half-made venv (interrupted install, older pin) is rebuilt from scratch.
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$REQUIREMENT" ||
    die "pip install $REQUIREMENT failed (is PyPI reachable?)"
  echo "$REQUIREMENT" >"$STAMP"
  ready || die "$VENV: confluent_kafka does not import after the install"
  note "venv ready after $(elapsed_since "$start")s"
fi
echo "$VENV/bin/python"
