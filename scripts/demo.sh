#!/usr/bin/env bash
# The demo: start the WHMCS and DCImanager simulators with a small sample shop, run the reconcile
# playbook, print which service got which server, address and status, and stop the simulators.
#
# It needs only a Python 3.11 or newer: the first run makes a small virtualenv of its own
# (.venv-demo: ansible-core, requests, lxml, cryptography; a minute or two) and later runs reuse it.
# When the development virtualenv (.venv, scripts/setup.sh) is already there, it is used instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'demo.sh: %s\n' "$*"; }

works() { "$1/bin/python" -c 'import ansible, requests, lxml, cryptography, yaml' 2>/dev/null && [ -x "$1/bin/ansible-playbook" ]; }

if works .venv; then
    venv=.venv
else
    venv=.venv-demo
    python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.13 python3.12 python3.11 python3; do
            if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
                python="$candidate"
                break
            fi
        done
    fi
    [ -n "$python" ] || { say "needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"; exit 1; }
    if ! works "$venv"; then
        say "making the demo's virtualenv $venv with $($python --version) (once: ansible-core, requests, lxml, cryptography)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements-demo.txt
    fi
fi
say "using $venv ($("$venv/bin/ansible" --version | head -n1))"
exec "$venv/bin/python" scripts/demo.py "$@"
