#!/usr/bin/env bash
# The benchmark (issue 7): the hot paths of the release server against GET /healthz, the limit of
# this machine, measured with wrk on 127.0.0.1. Writes bench/results.md and bench/results.json.
#
#   scripts/bench.sh                      SQLite, 10^4, 10^5 and 10^6 sessions, 10 s per measurement
#   scripts/bench.sh --quick              10^4 sessions only, 5 s per measurement
#   scripts/bench.sh --quick --smoke      just checks that it runs (1 s runs, no thresholds,
#                                         results in bench/tmp/smoke/); part of scripts/test.sh
#   scripts/bench.sh --postgres           PostgreSQL instead of SQLite (--backend both: one, then the other)
#   scripts/bench.sh --sizes 10000,100000 --duration 20 --port 3900 --keep
#   scripts/bench.sh --no-build           use target/release as it is, even if older than the sources
#   scripts/bench.sh --quick --repeats 3  alternate the bare hello, /healthz and the poll 3 times (default
#                                         3, --quick 1) and report the medians
#   scripts/bench.sh --only push          only the event streams (10,000 idle, revocations to `ended`)
#                                         and their browser part, merged into bench/results.json;
#                                         --push-streams N
#   scripts/bench.sh --only push-browser  only the push in Chromium (end2end/bench/push-browser.spec.ts:
#                                         a session's end to its browser's notice, an idle tab's
#                                         requests); --browser-trials N, --browser-idle SECONDS
#   scripts/bench.sh --no-site            never build the site (cargo-leptos); without target/site the
#                                         WASM bundle and the push's browser part are not measured,
#                                         everything else is
#   python3 bench/bench.py --render       measures nothing: writes bench/results.md again from
#                                         bench/results.json (after a change of the report's text)
#
# Installs what it needs (Debian's wrk and brotli). Builds, only when missing or older than the
# sources: the release server, the seeding program and the event streams' load generator (`cargo build
# --release -p server --bin server --example postern-seed --example postern-streams --example bare-hello`), and the site (`cargo leptos build --release`, unless --no-site). Honours
# CARGO_TARGET_DIR. Stops every server it started, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

args=()
backend=""
no_build=false
no_site=false
for a in "$@"; do
  case "$a" in
    --postgres) backend=postgres ;;
    --no-build) no_build=true ;;
    --no-site) no_site=true; args+=(--no-site) ;;
    -h|--help) exec python3 bench/bench.py --help ;;
    *) args+=("$a") ;;
  esac
done
[[ -n "$backend" ]] && args+=(--backend "$backend")
wants_pg=false
[[ "$backend" == postgres || " ${args[*]-} " == *" both "* ]] && wants_pg=true

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v brotli >/dev/null 2>&1 || python3 -c 'import brotli' 2>/dev/null || missing+=(brotli)
if $wants_pg && ! command -v pg_ctlcluster >/dev/null 2>&1; then missing+=(postgresql); fi
if ((${#missing[@]})); then
  log "installing ${missing[*]} (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

target="${CARGO_TARGET_DIR:-target}"
server_bin="$target/release/server"
seed_bin="$target/release/examples/postern-seed"
streams_bin="$target/release/examples/postern-streams"
bare_bin="$target/release/examples/bare-hello"
# Whether $1 is missing or older than any of the sources that follow it.
stale() {
  local out="$1"; shift
  [[ ! -e "$out" ]] || [[ -n "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]]
}
rust_sources=(app server migrations Cargo.toml Cargo.lock)

# The site (the WASM bundle, CSS): cargo-leptos, which also builds the server.
if ! $no_site && ! $no_build && stale "$target/site/pkg" "${rust_sources[@]}" frontend style public; then
  scripts/setup.sh
  log "release build of the site (cargo leptos build --release --precompress)"
  nice -n 19 cargo leptos build --release --precompress
fi
# The server, the seeding program and the event streams' load generator.
if stale "$server_bin" "${rust_sources[@]}" || stale "$seed_bin" "${rust_sources[@]}" \
  || stale "$streams_bin" "${rust_sources[@]}" || stale "$bare_bin" "${rust_sources[@]}"; then
  if $no_build; then
    log "the release build is older than the sources; --no-build: benchmarking it anyway"
    [[ -x "$server_bin" && -x "$seed_bin" && -x "$streams_bin" && -x "$bare_bin" ]] || { echo "no release build in $target/release" >&2; exit 2; }
  else
    log "release build (cargo build --release -p server --bin server --example postern-seed --example postern-streams --example bare-hello)"
    # cargo-leptos builds the server with LEPTOS_OUTPUT_NAME set, which leptos reads at compile
    # time (the name of the WASM file pages load): the same here, or this build would recompile
    # leptos and everything above it, and the server it leaves would name a file the site lacks.
    LEPTOS_OUTPUT_NAME=postern nice -n 19 cargo build --release -p server --bin server --example postern-seed \
      --example postern-streams --example bare-hello
  fi
fi
[[ -d "$target/site/pkg" ]] || log "no site build in $target/site: the WASM bundle and the push's browser part are not measured"

exec python3 bench/bench.py --command "scripts/bench.sh${*:+ $*}" "${args[@]+"${args[@]}"}"
