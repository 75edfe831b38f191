#!/usr/bin/env bash
# Make sure the test tools that do not come from PyPI are on the PATH:
# - promtool and prometheus (Debian `prometheus`) for the observability tests;
# - buildah, runc and debootstrap for the container tests (tests/images/e2e builds the
#   images on a debootstrap'ed Debian and runs them with runc).
# Installs the Debian/Ubuntu packages when they are missing and we may (root or sudo, with
# apt-get). Safe to run again: it only prints what it found.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else return 1; fi; }
apt_install() {
  have apt-get || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null \
      && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

missing=()
{ have promtool && have prometheus; } || missing+=(prometheus)
have buildah || missing+=(buildah)
have runc || missing+=(runc)
have debootstrap || missing+=(debootstrap)
# debootstrap checks Debian's release signatures with this keyring (not on Ubuntu by default).
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || true
  # The prometheus package starts a service on :9090; we only want the binaries.
  if have systemctl && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
for tool in promtool prometheus buildah runc debootstrap; do
  if ! have "$tool"; then
    echo "$tool not found and could not be installed: install the Debian/Ubuntu packages" \
      "prometheus, buildah, runc and debootstrap (apt-get install prometheus buildah runc" \
      "debootstrap debian-archive-keyring) and put them on the PATH" >&2
    exit 1
  fi
done
echo "prometheus: ok ($(promtool --version 2>&1 | head -n 1))"
echo "container tools: ok ($(buildah --version | cut -d' ' -f1-3), $(runc --version | head -n 1)," \
  "debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo '?'))"
