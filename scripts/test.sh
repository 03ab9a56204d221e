#!/usr/bin/env bash
# The test command of ispsystem.dcimanager (run scripts/setup.sh once before it):
#   1. pytest tests/unit tests/integration   (in parallel with pytest-xdist)
#   2. scripts/sanity.sh                      (ansible-test sanity, offline)
#   3. ansible-lint                           (production profile, see .ansible-lint)
#   4. ansible-galaxy collection build        (into a temporary directory)
# Stops at the first failing stage and exits non-zero.
#
# Arguments are passed to pytest (e.g. `scripts/test.sh -x`); PYTEST_WORKERS sets the number
# of pytest-xdist workers (default: auto, i.e. one per core).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"

if [ ! -f "$ROOT/.venv/bin/activate" ] || [ ! -L "$ROOT/.venv/collections/ansible_collections/ispsystem/dcimanager" ]; then
    echo "test.sh: .venv is missing or incomplete; run scripts/setup.sh first" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$ROOT/.venv/bin/activate"

# ansible-playbook / ansible-doc / ansible-lint resolve ispsystem.dcimanager to this checkout.
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.venv/collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0
export ANSIBLE_RETRY_FILES_ENABLED=false

STAGE=""
pytest_log=""
declare -a DONE=()
started=$SECONDS
stage_started=$SECONDS

begin() {
    STAGE="$1"
    stage_started=$SECONDS
    printf '\n=== test.sh: %s ===\n' "$STAGE"
}
end() {
    DONE+=("$STAGE ($((SECONDS - stage_started))s)")
    STAGE=""
}
# shellcheck disable=SC2329  # invoked by the EXIT trap
on_exit() {
    local rc=$?
    rm -f "${pytest_log:-}"
    echo
    if [ "${#DONE[@]}" -gt 0 ]; then
        printf 'test.sh: passed stage: %s\n' "${DONE[@]}"
    fi
    if [ "$rc" -ne 0 ]; then
        echo "test.sh: FAILED in stage: ${STAGE:-setup} (exit code $rc) after $((SECONDS - started))s"
    fi
}
trap on_exit EXIT

# --- 1. pytest ------------------------------------------------------------------------
begin "pytest"
# Every integration test starts its own simulators on random loopback ports, so the tests run
# in parallel; worksteal balances the few long lifecycle tests across the workers.
pytest_log="$(mktemp "${TMPDIR:-/tmp}/dcimanager-pytest.XXXXXX")"
pytest -n "${PYTEST_WORKERS:-auto}" --dist worksteal --durations=15 -p no:cacheprovider \
    tests/unit tests/integration "$@" 2>&1 | tee "$pytest_log"
pytest_summary="$(grep -E '^=+ .* in [0-9.]+s' "$pytest_log" | tail -n1 | sed -E 's/^=+ //; s/ =+$//' || true)"
count() { grep -oE "[0-9]+ $1" <<<"$pytest_summary" | grep -oE '^[0-9]+' || echo 0; }
pytest_passed="$(count passed)"
pytest_skipped="$(count skipped)"
end

# --- 2. ansible-test sanity -----------------------------------------------------------
begin "ansible-test sanity"
bash "$ROOT/scripts/sanity.sh"
end

# --- 3. ansible-lint ------------------------------------------------------------------
begin "ansible-lint"
ansible-lint --offline --nocolor
end

# --- 4. collection build --------------------------------------------------------------
begin "ansible-galaxy collection build"
build_dir="$(mktemp -d "${TMPDIR:-/tmp}/dcimanager-build.XXXXXX")"
ansible-galaxy collection build --output-path "$build_dir" "$ROOT"
ls -l "$build_dir"
rm -rf "$build_dir"
end

trap - EXIT
on_exit
echo "test.sh: pytest said: ${pytest_summary:-(no summary line found)}"
echo "test.sh: all ${#DONE[@]} stages passed in $((SECONDS - started))s"
# the closing line: pytest's counts (the later stages stop the script on any failure)
echo "tests: ${pytest_passed} passed, 0 failed, ${pytest_skipped} skipped"
