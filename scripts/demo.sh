#!/usr/bin/env bash
# The demo: start the WHMCS and DCImanager simulators with a small sample shop, run the reconcile
# playbook, print which service got which server, address and status, and stop the simulators.
#
# It needs only a Python 3.11 or newer: the first run makes a small virtualenv of its own
# (.venv-demo: ansible-core, requests, lxml, cryptography; a minute or two) and later runs reuse it.
# When the development virtualenv (.venv, scripts/setup.sh) is already there, it is used instead.
# scripts/demo.sh --find-python prints the Python it would make its virtualenv with, and exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'demo.sh: %s\n' "$*"; }

works() { "$1/bin/python" -c 'import ansible, requests, lxml, cryptography, yaml' 2>/dev/null && [ -x "$1/bin/ansible-playbook" ]; }

# A Python 3.11 or newer for the demo's own virtualenv: $PYTHON, else the newest found on PATH.
find_python() {
    local candidate
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
        return 0
    fi
    for candidate in python3.13 python3.12 python3.11 python3; do
        # Quietly: a name may exist only as a shim that cannot run here (pyenv says "command not found").
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ "${1:-}" = "--find-python" ]; then  # which Python the demo's virtualenv would be made with
    find_python || { say "needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"; exit 1; }
    exit 0
fi

if works .venv; then
    venv=.venv
else
    venv=.venv-demo
    python="$(find_python)" || { say "needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"; exit 1; }
    if ! works "$venv"; then
        say "making the demo's virtualenv $venv with $($python --version) (once: ansible-core, requests, lxml, cryptography)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements-demo.txt
    fi
fi
say "using $venv ($("$venv/bin/ansible" --version | head -n1))"
exec "$venv/bin/python" scripts/demo.py "$@"
