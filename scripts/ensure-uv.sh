#!/usr/bin/env bash
# Make `uv` available (installed from PyPI with pip when missing). Prints the command to use.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
if ! python3 -m uv --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv >/dev/null 2>&1 \
    || python3 -m pip install --quiet --user --break-system-packages uv >/dev/null 2>&1 \
    || python3 -m pip install --quiet uv >/dev/null
fi
echo "python3 -m uv"
