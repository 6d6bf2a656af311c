#!/usr/bin/env bash
# Set everything up (idempotent), then lint, type-check and run the test suite.
# Slow suites run only with FAIRWHEEL_SLOW=1. Extra arguments go to pytest (and skip the
# PostgreSQL pass). A throwaway PostgreSQL cluster (scripts/postgres.sh, installed from Debian's
# packages if missing) serves the store conformance suite's PostgreSQL cases, then the node and
# API suites run again with every node on PostgreSQL; FAIRWHEEL_TEST_POSTGRES=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
echo "== ruff"; ruff check src tests benchmarks
echo "== mypy"; mypy
echo "== pytest"
if [ "${FAIRWHEEL_SLOW:-0}" = 1 ]; then MARK=(); else MARK=(-m "not slow"); fi
PG_SUITES=(tests/conformance tests/test_node_*.py tests/test_api_*.py tests/test_settlement_safety.py
           tests/test_feedback.py tests/test_jobs.py tests/test_close_recovery.py tests/test_x402.py)
if [ "${FAIRWHEEL_TEST_POSTGRES:-1}" = 0 ]; then exec pytest "${MARK[@]}" "$@"; fi
trap './scripts/postgres.sh stop' EXIT
FAIRWHEEL_TEST_POSTGRES_URL=$(./scripts/postgres.sh start)
export FAIRWHEEL_TEST_POSTGRES_URL
pytest "${MARK[@]}" "$@"
if [ $# = 0 ]; then
  echo "== pytest with every node on PostgreSQL (store, node and API suites)"
  FAIRWHEEL_TEST_STORE=postgresql pytest "${MARK[@]}" "${PG_SUITES[@]}"
  if [ "${FAIRWHEEL_SLOW:-0}" != 1 ]; then
    # Slow, but it fits: about two minutes for 25 SIGKILLs per backend.
    echo "== crash safety: SIGKILL a working node, restart, check (SQLite and PostgreSQL)"
    pytest -m slow -s tests/test_crash_safety.py
    echo "== the dashboard in headless Chromium (scripts/browser.sh installs it)"
    pytest -m slow tests/test_web_browser.py
  fi
fi
