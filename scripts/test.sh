#!/usr/bin/env bash
# Installs everything the test suite needs, then runs lint, type checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
# PostgreSQL server binaries: the API tests start a throw-away server of their own (initdb + pg_ctl).
if ! command -v pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
# initdb refuses to run as root; as root the tests run PostgreSQL as the unprivileged 'postgres' user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
source scripts/venv.sh test
# Meyda for the parity test comes from npm, pinned by tests/node/package-lock.json.
npm ci --prefix tests/node --no-audit --no-fund --silent
# The web client's Meyda (served by the service), pinned by src/speakerverify/web/package-lock.json.
npm ci --prefix src/speakerverify/web --ignore-scripts --no-audit --no-fund --silent
# Debian's Chromium for the browser tests (Playwright drives it; its own browser download is never used).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

ruff check .
mypy
# Three test processes on CI's 2 cores: the browser tests play their takes in real time and mostly wait,
# so a third process fills that wait (quiet 2-core run: 11:25 with 2, 10:09 with 3). -n 0 for one, or -n N.
python -m pytest -n "${SPEAKERVERIFY_TEST_WORKERS:-3}" --dist loadfile "$@"
