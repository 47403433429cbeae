#!/usr/bin/env bash
# The Rust suites under load: builds the tests of `cargo test -p app --features ssr` and
# `cargo test -p server` once (not under load), then runs them ROUNDS times while a CPU hog
# (Debian's stress-ng, `--cpu <cores> --timeout 900s`) keeps every core busy, on SQLite and
# PostgreSQL. Installs stress-ng if missing; stops the hog at the end, also when interrupted.
#
#   scripts/stress-test.sh          3 rounds
#   scripts/stress-test.sh 5        5 rounds
#   STRESS_CPUS=4 scripts/stress-test.sh
#
# The test programs run from copies (in target/stress/bin), so a build meanwhile (another
# checkout sharing the target directory, say) cannot swap them mid-run. Logs: target/stress/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The same as scripts/test.sh, so each reuses the other's build.
export CARGO_INCREMENTAL=0
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

rounds="${1:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: stress-test.sh [ROUNDS]" >&2; exit 2; }
cpus="${STRESS_CPUS:-$(nproc)}"
target="${CARGO_TARGET_DIR:-target}"
out="$target/stress"

if ! command -v stress-ng >/dev/null 2>&1; then
  log "installing stress-ng (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
  fi
fi

if ! pg_url=$(scripts/pg-test-db.sh --admin); then
  echo "stress-test: the tests need PostgreSQL, and scripts/pg-test-db.sh could not provide it" >&2
  exit 1
fi
export POSTERN_TEST_POSTGRES_URL="$pg_url"

hog=""
cleanup() {
  [[ -n "$hog" ]] && kill "$hog" 2>/dev/null && wait "$hog" 2>/dev/null
  scripts/pg-test-db.sh --sweep || true
}
trap cleanup EXIT

# Build once; copy every test program (and the server binary the reliability tests start).
rm -rf "$out/bin"
mkdir -p "$out/bin"
: >"$out/programs"
for spec in "app --features ssr" "server"; do
  pkg=${spec%% *}
  log "building the tests of $pkg"
  # shellcheck disable=SC2086
  cargo test -p $spec --no-run --message-format=json-render-diagnostics >"$out/build-$pkg.json"
  python3 - "$out" "$pkg" <<'PY'
import json, shutil, sys
out, pkg = sys.argv[1], sys.argv[2]
with open(f"{out}/programs", "a") as programs, open(f"{out}/build-{pkg}.json") as build:
    for line in build:
        m = json.loads(line)
        if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
            continue
        kind = m["target"]["kind"][0]
        name = f"{pkg}-{m['target']['name']}" + ("" if kind == "test" else f"-{kind}")
        shutil.copy2(m["executable"], f"{out}/bin/{name}")
        programs.write(f"{pkg} {name}\n")
PY
done
cp "$target/debug/server" "$out/bin/server"
[[ -s "$out/programs" ]] || { echo "stress-test: found no test programs to run" >&2; exit 1; }
bin_dir=$(cd "$out/bin" && pwd)
export POSTERN_TEST_SERVER_BIN="$bin_dir/server"

failures=0
summary=()
for round in $(seq 1 "$rounds"); do
  log "round $round of $rounds: stress-ng --cpu $cpus, then every test program"
  stress-ng --cpu "$cpus" --timeout 900s >/dev/null 2>&1 &
  hog=$!
  round_start=$SECONDS
  while read -r pkg name; do
    logfile="$out/round-$round-$name.log"
    start=$SECONDS
    # Like cargo test: from the package's directory.
    if (cd "$pkg" && "$bin_dir/$name") </dev/null >"$logfile" 2>&1; then status=ok; else status=FAILED; failures=$((failures + 1)); fi
    counts=$(grep -E '^test result:' "$logfile" | tail -1 | sed 's/^test result: //; s/; finished.*//' || true)
    line=$(printf 'round %d  %-22s %-6s %4ds  %s' "$round" "$name" "$status" $((SECONDS - start)) "${counts:-no result line}")
    echo "$line"
    summary+=("$line")
    [[ $status == ok ]] || grep -E '^(test .* FAILED|---- |thread .* panicked)' "$logfile" | head -20 >&2 || true
  done <"$out/programs"
  kill "$hog" 2>/dev/null || true
  wait "$hog" 2>/dev/null || true
  hog=""
  log "round $round took $((SECONDS - round_start)) s"
done

log "summary"
printf '%s\n' "${summary[@]}"
if ((failures)); then
  echo "stress-test: $failures test program run(s) failed; logs in $out/" >&2
  exit 1
fi
echo "stress-test: $rounds round(s) passed under stress-ng --cpu $cpus"
