#!/usr/bin/env bash
# Install what the dashboard's browser tests (tests/test_web_browser.py) need, idempotently:
# Debian's chromium (at /usr/bin/chromium) when it is missing, and the exact playwright-core of
# tests/browser/package-lock.json. No browser is ever downloaded by npm: playwright-core drives
# the system chromium (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 for any package that would try).
#
#   ./scripts/browser.sh          # install both (prints the chromium path on stdout)
#   ./scripts/browser.sh check    # exit 0 if both are installed, 1 otherwise; installs nothing
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${FAIRWHEEL_CHROMIUM:-/usr/bin/chromium}
PKG=tests/browser
log() { echo "[browser] $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

have_chromium() { [ -x "$CHROMIUM" ]; }
have_playwright() { [ -f "$PKG/node_modules/playwright-core/package.json" ]; }

install_chromium() {
  if have_chromium; then return; fi
  log "installing Debian's chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-liberation >/dev/null
  have_chromium || { log "chromium is not at $CHROMIUM after apt-get install"; exit 1; }
}

install_playwright() {
  if ! command -v npm >/dev/null; then
    log "installing Debian's nodejs and npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  local want have
  want=$(sed -n 's/.*"playwright-core": "\([^"]*\)".*/\1/p' "$PKG/package.json")
  have=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$PKG/node_modules/playwright-core/package.json" 2>/dev/null | head -n1 || true)
  if [ "$want" = "$have" ]; then return; fi
  log "installing playwright-core $want (npm ci; no browser download)"
  (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)
}

case "${1:-install}" in
  install)
    install_chromium
    install_playwright
    log "ready: $("$CHROMIUM" --version 2>/dev/null || echo chromium), playwright-core in $PKG"
    echo "$CHROMIUM"
    ;;
  check) have_chromium && have_playwright ;;
  *) echo "usage: $0 [install|check]" >&2; exit 2 ;;
esac
