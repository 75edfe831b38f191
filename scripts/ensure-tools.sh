#!/usr/bin/env bash
# Make sure promtool and prometheus are on the PATH, for the observability tests.
# Installs the Debian `prometheus` package (/usr/bin/prometheus, /usr/bin/promtool) when
# they are missing and we may (root or sudo, with apt-get). Safe to run again: it only
# prints what it found.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else return 1; fi; }
apt_install() {
  have apt-get || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null \
      && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

if ! have promtool || ! have prometheus; then
  apt_install prometheus || true
  # The package starts a Prometheus service on :9090; we only want the binaries.
  if have systemctl && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  if ! have promtool || ! have prometheus; then
    echo "promtool/prometheus not found and could not be installed: install the Prometheus" \
      "binaries (Debian/Ubuntu: apt-get install prometheus) and put them on the PATH" >&2
    exit 1
  fi
fi
echo "prometheus: ok ($(promtool --version 2>&1 | head -n 1))"
