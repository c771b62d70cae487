#!/usr/bin/env bash
# Print the best Python (3.12 preferred: it gets ansible-core 2.21; else 3.11+) on this machine.
set -u
candidates=(python3.12)
if command -v pyenv >/dev/null 2>&1; then
  for p in "$(pyenv root)"/versions/3.12*/bin/python3.12; do candidates+=("$p"); done
fi
for p in /usr/bin/python3.12 /usr/local/bin/python3.12 python3.13 python3 python3.11; do candidates+=("$p"); done
for p in "${candidates[@]}"; do
  if "$p" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
    command -v "$p" 2>/dev/null || echo "$p"
    exit 0
  fi
done
echo "no Python 3.11+ with venv found; install python3 (>= 3.11) and python3-venv" >&2
exit 1
