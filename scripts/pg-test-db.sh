#!/usr/bin/env bash
# Starts the local PostgreSQL 15 cluster and prints the URL of a throw-away test database that
# a password role owns (the socket uses peer auth; 127.0.0.1 uses scram, so tests connect there).
set -euo pipefail
ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
[[ -n "$ver" ]] || { echo "no PostgreSQL cluster found" >&2; exit 1; }
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
db="postern_test_$$_$(date +%s)"
su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postern') THEN
    CREATE ROLE postern LOGIN PASSWORD 'postern' CREATEDB;
  END IF;
END \$\$;
CREATE DATABASE $db OWNER postern;
SQL
echo "postgres://postern:postern@127.0.0.1:5432/$db"
