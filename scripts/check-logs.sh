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
[[ $status -eq 0 ]] && echo "check-logs: $(wc -l <"$log") log lines, no password or token"
exit $status
