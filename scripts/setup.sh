#!/usr/bin/env bash
# Installs what building Postern needs, skipping whatever is already there.
#   scripts/setup.sh          — toolchain for building and running (wasm target, cargo-leptos,
#                               wasm-bindgen-cli matching Cargo.lock, wasm-opt)
#   scripts/setup.sh --test   — also the test tools: npm packages, Debian's Chromium, PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=false
[[ "${1:-}" == "--test" ]] && want_tests=true

export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.11 needs rustc 1.96; 0.3.10 builds with --locked on 1.95.
if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"0.3.10"* ]]; then
  log "installing cargo-leptos 0.3.10 (about 16 minutes, once per machine)"
  cargo install cargo-leptos --locked --version 0.3.10
fi

# cargo-leptos would download wasm-bindgen from GitHub unless the exact version is on PATH.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb_version" ]]; then
  log "installing wasm-bindgen-cli $wb_version (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "=$wb_version" --force
fi

# Release builds run wasm-opt; the npm package binaryen ships a working binary.
if ! command -v wasm-opt >/dev/null 2>&1; then
  log "installing wasm-opt (npm package binaryen@123)"
  npm install -g binaryen@123
fi

if $want_tests; then
  if [[ ! -d end2end/node_modules/@playwright/test || ! -d end2end/node_modules/@axe-core/playwright ]]; then
    log "installing the end-to-end test packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
  if [[ ! -x /usr/bin/chromium ]]; then
    log "installing Debian's Chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi
