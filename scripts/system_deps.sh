#!/usr/bin/env bash
# Installs the Debian packages Needlewise's set-up and tests need, only if some are missing.
# chromium: the browser tests; postgresql: the PostgreSQL tracker-store test (started by the test).
# Python 3.10 itself is found (not installed) by scripts/find_python.sh.
set -euo pipefail
PACKAGES=(make git curl chromium fonts-dejavu-core postgresql)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "System packages: all present (${PACKAGES[*]})."; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
