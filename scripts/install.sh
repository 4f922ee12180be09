#!/usr/bin/env bash
# Installs what Not One Less needs on a fresh Debian machine: system packages (a CJK font for photo
# watermarks; with WITH_BROWSER=1, for the tests, Chromium for the browser tests and valgrind for the
# benchmark's instruction counts), then a virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=(fonts-wqy-microhei)
[ "${WITH_BROWSER:-0}" = 1 ] && need+=(chromium valgrind)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install: please install these Debian packages first: ${missing[*]}" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${PIP_EXTRAS:-}"
