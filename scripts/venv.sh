#!/usr/bin/env bash
# Sourced by serve.sh and test.sh: makes ./.venv (never touching the system interpreter, so it works
# where the system Python refuses pip installs, PEP 668) and puts it first on PATH.
# Usage: source scripts/venv.sh [pip extras, e.g. test]
set -euo pipefail
VENV="${SPEAKERVERIFY_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv separately (python3-venv); a half-made folder is removed first.
    rm -rf "$VENV"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$VENV"
  fi
fi
export PATH="$PWD/$VENV/bin:$PATH"
export VIRTUAL_ENV="$PWD/$VENV"
extras="${1:-}"
spec="."
[ -n "$extras" ] && spec=".[$extras]"
python -m pip install --quiet --disable-pip-version-check -e "$spec"
