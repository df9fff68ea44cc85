#!/usr/bin/env bash
# The README's first command: install into ./.venv, fetch the web client's Meyda, start the service
# on the embedded default (SQLite in ./speakerverify-data of the directory you run it from).
# Extra arguments go to `speakerverify serve` (e.g. --port 8080).
set -euo pipefail
HERE="$PWD"
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
source scripts/venv.sh
npm ci --prefix src/speakerverify/web --ignore-scripts --no-audit --no-fund --silent
cd "$HERE"
exec speakerverify serve "$@"
