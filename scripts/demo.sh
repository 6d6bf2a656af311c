#!/usr/bin/env bash
# Set everything up (idempotent), then run one full turn of the flywheel.
# Extra arguments go to `fairwheel demo`, e.g. ./scripts/demo.sh --data my.csv
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/fairwheel demo "$@"
