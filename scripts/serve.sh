#!/usr/bin/env bash
# The README's first command: install into ./.venv, fetch the web client's Meyda, start the service
# on the embedded default (SQLite in ./speakerverify-data). Extra arguments go to `speakerverify serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
source scripts/venv.sh
npm ci --prefix src/speakerverify/web --no-audit --no-fund --silent
exec speakerverify serve "$@"
