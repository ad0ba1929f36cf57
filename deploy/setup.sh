#!/usr/bin/env bash
# Installs what the platform and its tests need on a fresh Debian machine that has the .NET SDK,
# Node.js/npm and Python 3: the pinned npm tools (Azurite, warcio, playwright-core) and the Debian
# packages the tests drive (PostgreSQL, GNU wget, Chromium). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (Azurite, warcio, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v wget >/dev/null || missing+=(wget)
# The dashboard's browser tests drive Debian's Chromium through Playwright (no browser can be downloaded).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The language filter is tested on real translated pages: Debian's aptitude manual in three languages.
for lang in en fr es; do [ -d /usr/share/doc/aptitude/html/$lang ] || missing+=(aptitude-doc-$lang); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package's own cluster is not used (deploy/postgres.sh runs a private one); don't let
  # its post-install script start a server on the default port.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
