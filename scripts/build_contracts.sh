#!/usr/bin/env bash
# Build the Fairwheel contracts reproducibly: contracts/src into src/fairwheel/chain/artifacts/
# (shipped) and the test-only contracts/test into tests/artifacts/.
#
#   scripts/build_contracts.sh           install the pinned npm packages and write the artifacts
#   scripts/build_contracts.sh --check   rebuild into a temporary folder; exit 1 if any committed
#                                        artifact differs byte for byte
#
# Needs node (>= 18) and npm; npm packages are pinned by contracts/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
if [[ ! -d node_modules/solc || ! -d node_modules/@openzeppelin/contracts ]]; then
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund || npm install --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi
exec node build.mjs "$@"
