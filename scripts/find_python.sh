#!/usr/bin/env bash
# Prints the path of a Python 3.10 that really runs, or explains what to install and fails.
# Order: $PYTHON, python3.10 on PATH, pyenv's installed 3.10, common system paths.
set -u
works() { [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  if works "$PYTHON"; then echo "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a working Python 3.10 (it must run and have venv)." >&2
  exit 1
fi
candidates=()
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
for p in "$root"/versions/3.10*/bin/python3.10; do [ -e "$p" ] && candidates+=("$p"); done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for c in "${candidates[@]}"; do
  if works "$c"; then echo "$c"; exit 0; fi
done
cat >&2 <<'MSG'
Needlewise needs Python 3.10 (Rasa Open Source 3.6 runs on 3.8-3.10 only), and none was found.
Install one, then run make again:
  - with pyenv:   pyenv install 3.10      (make finds it by itself; Debian 12 and 13 do not
                  package 3.10, so this is the way there: https://github.com/pyenv/pyenv#installation)
  - on Ubuntu 22.04:  sudo apt-get install python3.10 python3.10-venv
  - or point to one you have:  make run PYTHON=/path/to/python3.10
MSG
exit 1
