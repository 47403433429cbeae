#!/usr/bin/env bash
# The test command: the gates (format, clippy on each side, a type check of the Playwright suite),
# then every test — Rust unit, store and HTTP tests on SQLite and on PostgreSQL, the Playwright
# suite in headless Chromium against the release build, and a smoke run of the benchmark.
# Installs what is missing first. Its servers take free ports, so it also runs while the app is
# serving on :3000. Fails at the first step that fails, saying which.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# One build per run, reused by every step: incremental artifacts would only cost disk and time.
# Every cargo call below runs with the same CARGO_INCREMENTAL and profile, so none of them
# invalidates another's artifacts (clippy checks, the tests build; each reuses its own next time).
export CARGO_INCREMENTAL=0

start=$SECONDS
step() { printf '\033[1m==> %s\033[0m  [%s]\n' "$*" "$(clock)"; }
clock() { local s=$((SECONDS - start)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
failed_step=""
on_exit() {
  local status=$?
  # The tests drop their own databases; this catches any a killed test process left behind.
  [[ -n "${pg_url:-}" ]] && { scripts/pg-test-db.sh --sweep || true; }
  if [[ $status -ne 0 ]]; then
    printf '\033[1;31m==> FAILED: %s\033[0m  [%s]\n' "${failed_step:-setup}" "$(clock)" >&2
  else
    printf '\033[1m==> all passed\033[0m  [%s]\n' "$(clock)"
  fi
}
trap on_exit EXIT
run() { failed_step="$1"; step "$1"; shift; "$@"; }

# First, and before anything is installed: formatting needs only rustfmt.
run "Format (cargo fmt --check)" cargo fmt --all --check

failed_step="setup (scripts/setup.sh --test)"
scripts/setup.sh --test

failed_step="PostgreSQL"
step "PostgreSQL (local cluster)"
# Not `export X=$(…)`: export would hide the script's failure from `set -e`.
if ! pg_url=$(scripts/pg-test-db.sh --admin); then
  echo "test.sh: the tests need PostgreSQL, and scripts/pg-test-db.sh could not provide it (see above)" >&2
  exit 1
fi
# The same value in every run: app/build.rs turns the PostgreSQL tests on when it is set, and a
# changed value would rebuild the workspace crates.
export POSTERN_TEST_POSTGRES_URL="$pg_url"

run "Type check of the Playwright suite (tsc --noEmit)" bash -c 'cd end2end && npx tsc --noEmit -p .'
run "Clippy, ssr side (app)" cargo clippy -p app --features ssr --all-targets -- -D warnings
run "Clippy, server" cargo clippy -p server --all-targets -- -D warnings
run "Clippy, hydrate side (frontend, wasm32)" cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

run "Rust tests (app, ssr side: unit, store, throttle; SQLite and PostgreSQL)" cargo test -p app --features ssr
run "Rust tests (server: HTTP against the real router, both backends)" cargo test -p server

# The release build and what runs on it never need the variable (and would rebuild without it
# being the same as in scripts/run.sh's builds).
unset POSTERN_TEST_POSTGRES_URL
run "Release build (site + server)" cargo leptos build --release --precompress   # also writes .gz and .br of the assets, which the server sends

# A free port (the app may well be running on :3000): Playwright's web server and baseURL use it.
POSTERN_E2E_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export POSTERN_E2E_PORT
rm -f target/e2e-server.log
run "End-to-end tests (Playwright, Debian Chromium, port $POSTERN_E2E_PORT)" bash -c 'cd end2end && npx playwright test'
run "Server log holds no password or token" scripts/check-logs.sh target/e2e-server.log

# The benchmark still runs (it takes 3900, or a free port when that is taken); no speed
# thresholds here (bench/results.md has them).
run "Benchmark smoke run" scripts/bench.sh --quick --smoke
failed_step=""
