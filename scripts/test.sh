#!/usr/bin/env bash
# The one test command: installs what the tests need when missing, then lint, types and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Debian packages the tests use: headless Chromium and its driver for the browser tests,
# and PostgreSQL, which the SQL connector tests start as a real server (tests/pg_fixtures.py).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  echo "Installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages: quick when everything is already installed.
"$PYTHON" -m pip install -q --disable-pip-version-check -r requirements-dev.txt

echo "== ruff"
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .
echo "== mypy"
"$PYTHON" -m mypy .
echo "== pytest"
rm -rf test-artifacts/screens && mkdir -p test-artifacts/screens
"$PYTHON" -m pytest "$@"
