#!/usr/bin/env bash
# Installs the Debian packages Needlewise's tests need, only if some are missing (`make test` runs it).
# chromium: the browser tests; postgresql: the PostgreSQL tracker-store test (started by the test);
# fonts-dejavu-core: readable text in the browser screenshots; nginx, redis-server: `make cluster` and its
# tests (PostgreSQL keeps the conversations, Redis the locks, nginx is the one entry point);
# npm: fetches rasa-webchat for the test that a clinic's existing Rasa widget still works.
# Python 3.10 itself is found (not installed) by scripts/find_python.sh.
set -euo pipefail
PACKAGES=(make git curl chromium fonts-dejavu-core postgresql nginx redis-server)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# npm may come with another nodejs build (e.g. NodeSource's): any working npm will do
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then echo "System packages: all present (${PACKAGES[*]} npm)."; exit 0; fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  cat >&2 <<MSG
Needlewise's tests need these Debian packages, which are missing: ${missing[*]}
This account cannot install them. Ask someone who can to run:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}
then run make test again.
MSG
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
