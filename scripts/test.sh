#!/usr/bin/env bash
# Runs the whole test suite: unit and agent tests (real libvirt: test:/// and a QEMU guest), then the
# integration suite twice, on the embedded SQLite default and on MariaDB + Redis (the services are
# installed and started here if they are not running).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-services.sh
scripts/setup-venv.sh test,agent
status=0
.venv/bin/pytest -q tests/unit tests/agent tests/e2e "$@" || status=1
CLOUDSTACK_TEST_BACKEND=sqlite .venv/bin/pytest -q tests/integration "$@" || status=1
CLOUDSTACK_TEST_BACKEND=mysql .venv/bin/pytest -q tests/integration tests/mysql "$@" || status=1
exit $status
