#!/usr/bin/env bash
# Installs and starts the services the tests use, on loopback, from Debian's packages, and
# prints the environment that points the tests at them. Idempotent: safe to run again.
#   eval "$(bash .ci/services.sh)"
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# PostgreSQL (the shared cluster below, and private clusters that outage tests stop and start),
# redis-server (private instances per test: rate limits shared by replicas, Redis outages) and
# haproxy (the load balancer in front of several `fact serve` replicas).
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >&2
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    as_root pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -qx online; then
    as_root pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')

psql_admin() { as_root su postgres -c "psql -p $port -qtAc \"$1\""; }
psql_admin "ALTER USER postgres PASSWORD 'postgres';" >&2
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'fact_test'")" != "1" ]; then
    psql_admin "CREATE DATABASE fact_test;" >&2
fi

echo "export FACT_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:$port/fact_test"
echo "export FACT_TEST_PG_BIN=/usr/lib/postgresql/$version/bin"
echo "export FACT_TEST_REDIS_SERVER=$(command -v redis-server)"
echo "export FACT_TEST_HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)"
echo "export FACT_REQUIRE_SERVICES=1"
