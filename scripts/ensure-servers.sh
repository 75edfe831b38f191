#!/usr/bin/env bash
# Make sure Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, for the tests.
# Starts the machine's own servers when they are installed but stopped, and installs them
# from the Debian packages when they are missing and we may (root with apt-get).
# A server given by TEST_POSTGRES_URL or TEST_REDIS_URL is the tests' business, not ours.
#
#   scripts/ensure-servers.sh [--quiet]    --quiet: print nothing when both answer
set -euo pipefail

quiet=false
[ "${1:-}" = --quiet ] && quiet=true

have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else return 1; fi; }
apt_install() {
  have apt-get || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
postgres_up() { have pg_isready && pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { have redis-cli && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }

say() { $quiet || echo "$@"; }

ensure_postgres() {
  postgres_up && return
  have pg_ctlcluster || apt_install postgresql postgresql-client || true
  if have pg_ctlcluster && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  wait_for postgres_up || { echo "Postgres does not answer on 127.0.0.1:5432: install and start it, or set TEST_POSTGRES_URL" >&2; exit 1; }
}

ensure_redis() {
  redis_up && return
  have redis-server || apt_install redis-server || true
  if have redis-server; then
    mkdir -p /tmp/saga-redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /tmp/saga-redis --logfile /tmp/saga-redis/redis.log || true
  fi
  wait_for redis_up || { echo "Redis does not answer on 127.0.0.1:6379: install and start it, or set TEST_REDIS_URL" >&2; exit 1; }
}

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  say "postgres: the tests use TEST_POSTGRES_URL"
else
  ensure_postgres && say "postgres: ok"
fi
if [ -n "${TEST_REDIS_URL:-}" ]; then
  say "redis: the tests use TEST_REDIS_URL"
else
  ensure_redis && say "redis: ok"
fi
