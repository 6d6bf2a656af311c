#!/usr/bin/env bash
# Static analysis of the Fairwheel contracts with Slither (PyPI), compiled by the pinned solc-js.
#
#   scripts/slither.sh            analyse contracts/src; exit 1 on any finding
#   scripts/slither.sh --json -   extra arguments go to slither
#
# Slither lives in its own virtualenv, .venv-slither (pinned by contracts/requirements-slither.txt;
# it needs web3 7, the node web3 8). No native solc exists for this machine, so crytic-compile is
# pointed at contracts/solc-shim.mjs, which answers --version and --standard-json with solc-js.
# Accepted findings are silenced in the sources with `slither-disable-next-line` and a reason,
# and each is answered in docs/protocol.md ("Static analysis").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv-slither
REQ=$ROOT/contracts/requirements-slither.txt
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [[ ! -x $VENV/bin/slither ]] || ! cmp -s "$REQ" "$VENV/.requirements"; then
  echo "[slither] installing $(grep -m1 '^slither-analyzer' "$REQ") into .venv-slither" >&2
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
cd contracts
if [[ ! -d node_modules/solc || ! -d node_modules/@openzeppelin/contracts ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec "$VENV/bin/slither" src \
  --solc ./solc-shim.mjs --solc-standard-json \
  --solc-remaps "@openzeppelin/=node_modules/@openzeppelin/" \
  --filter-paths node_modules \
  --fail-pedantic "$@"
