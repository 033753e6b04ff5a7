#!/usr/bin/env bash
# Runs the management server on the embedded default: SQLite, in-process job worker, port 8080.
# Extra arguments go to cloudstack-management (--port, --data-dir, --bind, --db-properties, --no-worker).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
exec .venv/bin/cloudstack-management "$@"
