#!/usr/bin/env bash
# Installs everything the test suite needs, then runs lint, type checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[test]'
# Meyda for the parity test comes from npm, pinned by tests/node/package-lock.json.
npm ci --prefix tests/node --no-audit --no-fund --silent

ruff check .
mypy
python3 -m pytest "$@"
