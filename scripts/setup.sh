#!/usr/bin/env bash
# Install everything Fairwheel needs on a fresh Debian/Ubuntu machine, idempotently:
# Debian packages (Python 3.11, compilers, Node.js), a virtualenv in .venv with
# torch==2.13.0 (CPU) installed *before* anything that depends on torch, the
# package itself, and the contracts' npm packages (solc, OpenZeppelin).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { echo "[setup] $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
apt_install() {
  log "installing Debian packages: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$(command -v "$cand"); break
    fi
  done
fi
if [ -z "$PY" ]; then
  apt_install python3.11 python3.11-venv python3.11-dev build-essential
  PY=$(command -v python3.11)
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3.11-venv; fi
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then apt_install build-essential; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi

STAMP=.venv/.fairwheel-setup
WANT=$(cat pyproject.toml contracts/package.json contracts/package-lock.json tests/js/package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -d contracts/node_modules ] \
    && [ -d tests/js/node_modules ]; then
  log "up to date"
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
FIND_LINKS=()
[ -d /opt/wheels ] && FIND_LINKS=(--find-links /opt/wheels)
log "installing torch==2.13.0 (CPU) first"
"${PIP[@]}" --upgrade pip wheel setuptools
"${PIP[@]}" "${FIND_LINKS[@]}" torch==2.13.0
log "installing fairwheel and its dependencies"
"${PIP[@]}" "${FIND_LINKS[@]}" -e ".[dev]"

log "installing contract toolchain (npm: solc, OpenZeppelin)"
(cd contracts && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })

log "installing the x402 client SDKs the payment tests pay with (npm: @x402/fetch, viem)"
bash tests/js/install.sh

echo "$WANT" > "$STAMP"
log "done: activate with '. $ROOT/.venv/bin/activate'"
