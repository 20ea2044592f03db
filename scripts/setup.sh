#!/usr/bin/env bash
# Installs what a fresh machine lacks, and nothing else; quick when all is there.
#  - the wasm32 target for rustc
#  - wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen version, from
#    crates.io into a cache outside the clone ($HOOKGATE_TOOLS, default
#    ~/.cache/hookgate)
#  - node_modules from package-lock.json (npm ci), when the lock changed
#  - Debian's chromium package, for the dashboard's browser test, when
#    /usr/bin/chromium is missing (as root, or through sudo)
# Nothing is downloaded from anywhere but crates.io, the npm registry and
# Debian's archive: esbuild and wasm-opt come from npm (scripts/tools.sh),
# and puppeteer-core drives the system Chromium (it downloads no browser).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
cd "$HOOKGATE_ROOT"

say() { echo "setup: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target" rustup target add wasm32-unknown-unknown
fi

install_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" "$WASM_BINDGEN_BIN" "about 3 minutes on 2 cores"

# npm ci only when package-lock.json differs from what was last installed.
stamp=node_modules/.hookgate-lock
wanted="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  step "installing node modules (npm ci)" npm ci --no-audit --no-fund --loglevel=error
  echo "$wanted" > "$stamp"
fi

# Chromium for tests/e2e/dashboard.test.mjs, from Debian's archive.
install_chromium() {
  local -a as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      say "/usr/bin/chromium is missing (the dashboard's browser test needs it), and installing it needs root:"
      say "  run as root: apt-get update && apt-get install -y chromium"
      return 1
    fi
    sudo -v # asks for a password here, in the foreground, if sudo wants one
    as_root=(sudo -n)
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "/usr/bin/chromium is missing (the dashboard's browser test needs it), and there is no apt-get to install it with"
    return 1
  fi
  step "installing Debian's chromium (apt-get; for the dashboard's browser test)" \
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q chromium'
}
if [ ! -x /usr/bin/chromium ]; then
  install_chromium
  [ -x /usr/bin/chromium ] || { say "apt-get ran, but there is still no /usr/bin/chromium"; exit 1; }
fi

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  say "created .dev.vars from .dev.vars.example"
fi
