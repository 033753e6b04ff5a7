#!/usr/bin/env bash
# Creates .venv (if needed) and installs the project into it. Usage: scripts/setup-venv.sh [extras]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        [ "$(id -u)" = 0 ] && { apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null; }
        python3 -m venv .venv
    fi
fi
stamp=".venv/.installed${extras:+-${extras//,/-}}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    quiet() { "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }  # pip's status survives (pipefail)
    quiet .venv/bin/python -m pip install -q --upgrade pip
    quiet .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
    (cd / && "$OLDPWD/.venv/bin/python" -c "import management") && touch "$stamp"  # installed, not just on cwd
fi
