#!/usr/bin/env bash
# Start a local PostgreSQL for the `postgres`-marked tests and print its SQLAlchemy URL.
#
#   export OPTUNA_ARS_TEST_PG_URL="$(bash tests/integration/postgres_setup.sh)"
#
# Needs root (Debian: installs the `postgresql` package when pg_ctlcluster is missing). Idempotent:
# reuses the first cluster, the role and the database when they exist. The server listens on
# 127.0.0.1 only (Debian's default). All progress goes to stderr; stdout is the URL alone.
# Exits non-zero, with the reason on stderr, when anything fails.
#
#   bash tests/integration/postgres_setup.sh stop
#
# stops that cluster again (`.ci/run` does, on exit, when the server was not running before).
#
# Every step runs with stdout sent to stderr and stdin from /dev/null: the server daemon that
# apt's post-install or pg_ctlcluster starts inherits the step's descriptors, and one holding the
# caller's `$(...)` pipe would keep that substitution waiting for ever.
set -euo pipefail
user=optuna_ars password=optuna_ars db=optuna_ars_test

_setup() {
    if ! command -v pg_ctlcluster >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get update -qq
        timeout 900 apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    if [ -z "$(pg_lsclusters -h)" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -1)
        pg_createcluster "$version" main >/dev/null
    fi
    read -r version cluster port status _ < <(pg_lsclusters -h | head -1)
    if [ "$status" != online ]; then
        pg_ctlcluster "$version" "$cluster" start
    fi
    for _ in $(seq 30); do
        pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 1
    done
    pg_isready -h 127.0.0.1 -p "$port"

    as_postgres() { (cd /tmp && runuser -u postgres -- "$@"); }
    as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') THEN
            CREATE ROLE $user LOGIN PASSWORD '$password';
        END IF; END \$\$;"
    if [ "$(as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        as_postgres createdb -p "$port" -O "$user" "$db"
    fi
    PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$port" -U "$user" -d "$db" -c "SELECT 1" >/dev/null
}
_stop() {
    command -v pg_lsclusters >/dev/null || return 0
    read -r version cluster _ status _ < <(pg_lsclusters -h | head -1)
    if [ "$status" = online ]; then
        pg_ctlcluster "$version" "$cluster" stop
    fi
}
if [ "${1:-}" = stop ]; then
    _stop >&2 </dev/null
    exit
fi
_setup >&2 </dev/null  # runs in this shell: `port` is set
echo "postgresql+psycopg2://$user:$password@127.0.0.1:$port/$db"

