#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test — Rust unit, store and HTTP
# tests on SQLite and on PostgreSQL, then the Playwright suite in headless Chromium against the
# release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
# One build per run: incremental artifacts would only cost disk and time.
export CARGO_INCREMENTAL=0

echo "==> PostgreSQL"
export POSTERN_TEST_POSTGRES_URL="$(scripts/pg-test-db.sh)"

echo "==> Rust tests (app, ssr side)"
cargo test -p app --features ssr
echo "==> Rust tests (server: HTTP against the real router, both backends)"
cargo test -p server

echo "==> Release build (site + server)"
cargo leptos build --release --precompress   # also writes .gz and .br of the assets, which the server sends

echo "==> End-to-end tests (Playwright, Debian Chromium)"
rm -f target/e2e-server.log
(cd end2end && npx playwright test)
scripts/check-logs.sh target/e2e-server.log

echo "==> Benchmark smoke run"
scripts/bench.sh --quick --smoke   # the benchmark still runs; no speed thresholds here (bench/results.md has them)
