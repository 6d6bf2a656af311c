#!/usr/bin/env bash
# Set everything up (idempotent), then lint, type-check and run the test suite.
# Slow suites run only with FAIRWHEEL_SLOW=1. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
echo "== ruff"; ruff check src tests benchmarks
echo "== mypy"; mypy
echo "== pytest"
if [ "${FAIRWHEEL_SLOW:-0}" = 1 ]; then MARK=(); else MARK=(-m "not slow"); fi
exec pytest "${MARK[@]}" "$@"
