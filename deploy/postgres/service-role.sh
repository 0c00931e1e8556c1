#!/bin/sh
# Runs once, when the database is first created: the role the service connects as.
# It owns nothing; `labledger db grant labledger_app` (the compose `migrate` service)
# gives it read and write on the tables and only SELECT and INSERT on the ledger.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE labledger_app LOGIN PASSWORD :'password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
