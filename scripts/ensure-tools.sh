#!/usr/bin/env bash
# Make sure the programs the tests run that do not come from PyPI are here:
# - psql (postgresql-client): the postgres chart's init script runs against the server;
# - initdb and pg_ctl (postgresql), redis-server: `sagactl up --embedded` starts its own;
# - promtool and prometheus (prometheus): the observability tests;
# - buildah, runc and debootstrap (+ debian-archive-keyring): tests/images/e2e builds the
#   images on a debootstrap'ed Debian and runs them with runc;
# - shellcheck: actionlint checks the workflows' shell steps with it (silently not without).
# Installs the missing Debian/Ubuntu packages when it may (root or sudo, with apt-get);
# otherwise fails with one message naming them. Safe to run again.
#
#   scripts/ensure-tools.sh [--quiet]    --quiet: print nothing when everything is here
set -euo pipefail

quiet=false
[ "${1:-}" = --quiet ] && quiet=true
have() { command -v "$1" >/dev/null 2>&1; }
# Debian keeps the PostgreSQL server programs off the PATH, in versioned folders.
have_pg() { have "$1" || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else return 1; fi; }

missing_packages() {
  local packages=()
  have psql || packages+=(postgresql-client)
  { have_pg initdb && have_pg pg_ctl; } || packages+=(postgresql)
  have redis-server || packages+=(redis-server)
  { have promtool && have prometheus; } || packages+=(prometheus)
  have buildah || packages+=(buildah)
  have runc || packages+=(runc)
  have debootstrap || packages+=(debootstrap)
  have shellcheck || packages+=(shellcheck)
  # debootstrap checks Debian's release signatures with this keyring (not on Ubuntu by default).
  [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || packages+=(debian-archive-keyring)
  echo "${packages[*]}"
}

# apt-get install, after an update when the package lists are stale. Prints why it could not.
apt_install() {
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
  have apt-get || { echo "there is no apt-get here"; return 1; }
  as_root true 2>/dev/null || { echo "installing them needs root or sudo"; return 1; }
  echo "test tools: installing $* (apt-get)" >&2
  as_root "${install[@]}" "$@" >"$log" 2>&1 \
    || { as_root apt-get update -q >>"$log" 2>&1 && as_root "${install[@]}" "$@" >>"$log" 2>&1; } \
    || { tail -n 5 "$log" >&2; echo "apt-get failed (its last lines are above)"; return 1; }
  # The prometheus package starts a service on :9090; the tests only want the binaries.
  if have systemctl && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

read -r -a missing <<<"$(missing_packages)"
if [ ${#missing[@]} -gt 0 ]; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  why=$(apt_install "${missing[@]}") || true
  read -r -a missing <<<"$(missing_packages)"
  if [ ${#missing[@]} -gt 0 ]; then
    echo "The tests need the Debian/Ubuntu packages ${missing[*]}, and ${why:-apt-get installed them but they are not on the PATH}:" \
      "install them (sudo apt-get install --no-install-recommends ${missing[*]}) and run again." >&2
    exit 1
  fi
fi
$quiet && exit 0
echo "test tools: ok (psql, postgresql, redis-server, $(promtool --version 2>&1 | head -n 1)," \
  "$(buildah --version | cut -d' ' -f1-3), $(runc --version | head -n 1)," \
  "debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo '?'))"
