#!/usr/bin/env bash
# The local PostgreSQL for the tests and the benchmark. Starts the local cluster and makes sure the
# password role `postern` (CREATEDB) exists: the socket uses peer auth, 127.0.0.1 uses scram, so
# clients connect there. Only the URL goes to stdout; a failure says why on stderr and exits 1.
#
#   scripts/pg-test-db.sh              creates a throw-away database and prints its URL
#   scripts/pg-test-db.sh --drop URL   drops that throw-away database again
#   scripts/pg-test-db.sh --admin      prints the URL the Rust tests create (and drop) their own
#                                      databases through: the maintenance database `postgres`,
#                                      nothing created, the same URL every time (so setting it
#                                      does not rebuild anything, see app/build.rs)
#   scripts/pg-test-db.sh --sweep      drops the databases of test processes that are gone (the
#                                      tests name theirs postern_t_<pid>_…, and drop them
#                                      themselves; this catches a run that was killed)
set -euo pipefail

fail() { echo "pg-test-db: $*" >&2; exit 1; }
psql_admin() { su postgres -c "psql -q -X -v ON_ERROR_STOP=1 $*"; }

mode=create
case "${1:-}" in
  "") ;;
  --admin) mode=admin ;;
  --sweep) mode=sweep ;;
  --drop)
    mode=drop
    url="${2:?usage: pg-test-db.sh --drop URL}"
    db="${url##*/}"
    db="${db%%\?*}"
    # Only what this script creates: never anybody else's database.
    [[ "$db" =~ ^postern_test_[0-9]+_[0-9]+$ ]] || fail "not a database this script created: $db"
    ;;
  *) fail "unknown option $1 (see the top of $0)" ;;
esac

command -v pg_ctlcluster >/dev/null 2>&1 || fail "PostgreSQL is not installed (scripts/setup.sh --test installs it)"
ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
[[ -n "$ver" ]] || fail "no PostgreSQL cluster found in /etc/postgresql"
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
ready=false
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1; then ready=true; break; fi
  sleep 0.5
done
$ready || fail "PostgreSQL $ver did not accept connections on 127.0.0.1:5432 within 30 s"

case "$mode" in
  drop)
    psql_admin "-c 'DROP DATABASE IF EXISTS $db WITH (FORCE)'" >/dev/null || fail "could not drop $db"
    exit 0
    ;;
  sweep)
    names=$(su postgres -c "psql -X -qAt -c \"SELECT datname FROM pg_database WHERE datname ~ '^postern_t_[0-9]+_'\"") \
      || fail "could not list the databases"
    for name in $names; do
      pid=${name#postern_t_}
      pid=${pid%%_*}
      kill -0 "$pid" 2>/dev/null && continue   # its test process still runs
      psql_admin "-c 'DROP DATABASE IF EXISTS $name WITH (FORCE)'" >/dev/null || fail "could not drop $name"
      echo "pg-test-db: dropped $name, left behind by test process $pid" >&2
    done
    exit 0
    ;;
esac

psql_admin >/dev/null <<SQL || fail "could not create the role postern"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postern') THEN
    CREATE ROLE postern LOGIN PASSWORD 'postern' CREATEDB;
  END IF;
END \$\$;
SQL

if [[ "$mode" == admin ]]; then
  echo "postgres://postern:postern@127.0.0.1:5432/postgres"
  exit 0
fi
db="postern_test_$$_$(date +%s)"
psql_admin "-c 'CREATE DATABASE $db OWNER postern'" >/dev/null || fail "could not create the database $db"
echo "postgres://postern:postern@127.0.0.1:5432/$db"
