#!/usr/bin/env bash
# The demo: set up the virtualenv (first run: a few minutes), start the WHMCS and DCImanager
# simulators with a small sample shop, run the reconcile playbook, print which service got which
# server, address and status, and stop the simulators again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
exec .venv/bin/python scripts/demo.py "$@"
