#!/usr/bin/env bash
# Install the pinned x402 SDK packages (tests/test_x402.py) and ethers
# (tests/test_typed_data_signable.py), the exact versions of package-lock.json. Idempotent; scripts/setup.sh may call it, and the test runs it itself when
# node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
