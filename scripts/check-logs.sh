#!/usr/bin/env bash
# Fails if a server log holds a password the end-to-end tests typed or anything shaped like a
# session token (43 URL-safe base64 characters).
set -euo pipefail
log="${1:?usage: check-logs.sh LOGFILE}"
[[ -s "$log" ]] || { echo "check-logs: $log is missing or empty (the server logged nothing?)" >&2; exit 1; }
passwords=$(sed -n 's/^export const [A-Z_]*PASSWORD = "\(.*\)";$/\1/p' "$(dirname "$0")/../end2end/tests/fixtures/users.ts")
[[ -n "$passwords" ]] || { echo "check-logs: found no test passwords to look for" >&2; exit 1; }
status=0
while IFS= read -r pw; do
  if grep -qF -- "$pw" "$log"; then echo "check-logs: a test password appears in $log" >&2; status=1; fi
done <<<"$passwords"
if grep -qE '(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)' "$log"; then
  echo "check-logs: something shaped like a session token appears in $log:" >&2
  grep -nE '(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)' "$log" | head -3 >&2
  status=1
fi
# Lines written with --log-format json must each be one JSON object.
if ! python3 - "$log" <<'PY'
import json, sys
for number, line in enumerate(open(sys.argv[1], errors="replace"), 1):
    if line.startswith("{"):
        try:
            json.loads(line)
        except ValueError:
            print(f"check-logs: line {number} is not JSON: {line[:200]!r}", file=sys.stderr)
            sys.exit(1)
PY
then
  status=1
fi
json_lines=$(grep -c '^{' "$log" || true)
[[ $status -eq 0 ]] && echo "check-logs: $(wc -l <"$log") log lines ($json_lines of them JSON, all parse), no password or token"
exit $status
