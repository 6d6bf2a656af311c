#!/usr/bin/env bash
# Run a local anvil node (the npm package @foundry-rs/anvil, pinned in contracts/package.json),
# for a node whose chain must outlive its process: FAIRWHEEL_CHAIN_URL=http://127.0.0.1:8545.
# Prague rules and chain id 31337, like the tests; port $ANVIL_PORT (default 8545); the state
# lives in memory unless you pass --state FILE. Extra arguments go to anvil.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
if [[ ! -d node_modules/@foundry-rs/anvil ]]; then
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
fi
BIN=$(ls node_modules/@foundry-rs/anvil-*/bin/anvil 2>/dev/null | head -n1 || true)
exec "${BIN:-node_modules/.bin/anvil}" --host 127.0.0.1 --port "${ANVIL_PORT:-8545}" \
  --hardfork prague --chain-id 31337 "$@"
