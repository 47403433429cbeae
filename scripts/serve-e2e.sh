#!/usr/bin/env bash
# Started by Playwright (end2end/playwright.config.ts): the release server on a fresh SQLite
# database, on 127.0.0.1:POSTERN_E2E_PORT (a free port the config or scripts/test.sh chose), with
# a 1 s poll so notices appear quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${POSTERN_E2E_PORT:?serve-e2e.sh: set POSTERN_E2E_PORT (playwright.config.ts does)}"
db_dir=$(mktemp -d /tmp/postern-e2e.XXXXXX)
export DATABASE_URL="sqlite://$db_dir/postern.db"
export POSTERN_POLL_INTERVAL_MS="${POSTERN_POLL_INTERVAL_MS:-1000}"
export POSTERN_LISTEN="127.0.0.1:$port"
# The origin the cross-site checks compare against must be the one the browser uses
# (https://localhost:PORT for the HTTPS server of the device-bound-session tests).
export POSTERN_PUBLIC_URL="${POSTERN_E2E_PUBLIC_URL:-http://127.0.0.1:$port}"
# Every test signs up its own users, all from 127.0.0.1: a test server may raise the sign-up
# limit (nothing exempts loopback in the server itself).
export POSTERN_SIGNUP_LIMIT_PER_HOUR="${POSTERN_SIGNUP_LIMIT_PER_HOUR:-100000}"
# The main test server knows roughly where the documentation addresses are (a tiny GeoIP database
# of the tests' own, end2end/fixtures/geo-test.mmdb) and believes X-Forwarded-For from loopback,
# so that a browser context can log in "from" 192.0.2.10. POSTERN_E2E_GEOIP=0: neither.
if [[ "${POSTERN_E2E_GEOIP:-1}" == 1 ]]; then
  export POSTERN_GEOIP_DB="$PWD/end2end/fixtures/geo-test.mmdb"
  export POSTERN_TRUSTED_PROXIES=127.0.0.1
fi
export LEPTOS_SITE_ROOT=target/site
export RUST_LOG="${RUST_LOG:-info,server=debug}"
# The log is checked afterwards for leaked passwords and tokens (scripts/check-logs.sh).
mkdir -p target
exec target/release/server >>target/e2e-server.log 2>&1
