#!/usr/bin/env bash
# The run command: installs what is missing, builds the release site, and serves Postern on
# http://127.0.0.1:3000 with a SQLite database in data/ (created on first start, kept across
# restarts). Any flag is passed to the server (see `target/release/server --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build --release --precompress   # also writes .gz and .br of the assets, which the server sends
exec target/release/server "$@"
