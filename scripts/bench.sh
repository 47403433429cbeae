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
#
# Installs what it needs (Debian's wrk and brotli), builds the release site + server with
# `cargo leptos build --release` only when it is missing or older than the sources, and stops
# every server it started, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

args=()
backend=""
no_build=false
for a in "$@"; do
  case "$a" in
    --postgres) backend=postgres ;;
    --no-build) no_build=true ;;
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

# The release build: only when it is missing or a source file is newer than the server binary.
need_build=false
if [[ ! -x target/release/server || ! -d target/site/pkg ]]; then
  need_build=true
elif [[ -n "$(find app server frontend migrations style public Cargo.toml Cargo.lock -newer target/release/server -type f -print -quit 2>/dev/null)" ]]; then
  need_build=true
fi
if $need_build && $no_build; then
  log "the release build is older than the sources; --no-build: benchmarking it anyway"
  need_build=false
  [[ -x target/release/server && -d target/site/pkg ]] || { echo "no release build" >&2; exit 2; }
fi
if $need_build; then
  scripts/setup.sh
  log "release build (cargo leptos build --release --precompress)"
  nice -n 19 cargo leptos build --release --precompress
fi

exec python3 bench/bench.py --command "scripts/bench.sh${*:+ $*}" "${args[@]+"${args[@]}"}"
