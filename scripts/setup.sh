#!/usr/bin/env bash
# Create/refresh the development virtualenv (.venv) and link the checkout into a
# collections tree so ansible-playbook/ansible-doc use the working copy:
#   .venv/collections/ansible_collections/ispsystem/dcimanager -> <checkout>
# Idempotent: a second run with unchanged requirements files only checks things.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"
VENV="$ROOT/.venv"

log() { printf 'setup.sh: %s\n' "$*"; }

# python_between MIN MAX [PREFERRED]: a Python whose version is MIN to MAX (3.x minor numbers), PREFERRED first.
python_between() {
    local candidate
    # The Python the tests run with here (3.11) first; newer ones work as well.
    for candidate in ${3:-} python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c "import sys; sys.exit(not ((3, $1) <= sys.version_info[:2] <= (3, $2)))" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}
# A virtualenv is kept when its Python runs and is MIN to MAX; only a broken or too old one is made anew.
venv_ok() { "$1/bin/python" -c "import sys; sys.exit(not ((3, $2) <= sys.version_info[:2] <= (3, $3)))" 2>/dev/null; }

# The newest ansible-core (2.19) runs on Python 3.11 to 3.13; PYTHON picks one.
if ! venv_ok "$VENV" 11 13; then
    PYTHON="$(python_between 11 13 "${PYTHON:-}")" || { echo "setup.sh: needs Python 3.11 to 3.13 (set PYTHON)" >&2; exit 1; }
    if [ -e "$VENV" ]; then
        log "existing .venv is not a working Python 3.11+ environment; recreating it"
        rm -rf "$VENV"
    fi
    log "creating .venv with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi

# Install a requirements file into a virtualenv when it changed since the last successful install.
install_requirements() {
    local venv="$1" requirements="$2" stamp want have
    stamp="$venv/.requirements.sha256"
    want="$(cat requirements.txt "$requirements" | sha256sum | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        log "installing $requirements into ${venv#"$ROOT"/}"
        "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$requirements"
        printf '%s\n' "$want" > "$stamp"
    else
        log "$requirements unchanged; skipping pip install"
    fi
}
install_requirements "$VENV" requirements-dev.txt

# The oldest supported ansible-core, in a virtualenv of its own inside .venv (so every ignore rule
# for .venv covers it); scripts/test.sh runs the tests a second time with it.
OLDEST_VENV="$VENV/ansible-2.16"
# ansible-core 2.16 runs on the controller with Python 3.10 to 3.12.
if ! venv_ok "$OLDEST_VENV" 10 12; then
    OLDEST_PYTHON="$(python_between 10 12 "${PYTHON:-}")" || { echo "setup.sh: ansible-core 2.16 needs Python 3.10 to 3.12" >&2; exit 1; }
    rm -rf "$OLDEST_VENV"
    log "creating .venv/ansible-2.16 with $OLDEST_PYTHON"
    "$OLDEST_PYTHON" -m venv "$OLDEST_VENV"
fi
install_requirements "$OLDEST_VENV" requirements-ansible-2.16.txt

# Link the checkout as the ispsystem.dcimanager collection.
LINK_PARENT="$VENV/collections/ansible_collections/ispsystem"
LINK="$LINK_PARENT/dcimanager"
mkdir -p "$LINK_PARENT"
if [ -L "$LINK" ]; then
    if [ "$(readlink "$LINK")" != "$ROOT" ]; then
        ln -sfn "$ROOT" "$LINK"
    fi
elif [ -e "$LINK" ]; then
    echo "setup.sh: $LINK exists and is not a symlink; remove it and re-run" >&2
    exit 1
else
    ln -s "$ROOT" "$LINK"
fi

# PHP (cli + curl) for the tests of the WHMCS hook in extras/whmcs. Installed from Debian's
# packages when we may (root with apt-get); elsewhere those tests skip, saying why, and
# scripts/test.sh fails on the skips unless DCIMANAGER_TEST_ALLOW_SKIPS=1.
if ! php -m 2>/dev/null | grep -qx curl; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing php-cli and php-curl (for the WHMCS hook tests)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends php-cli php-curl >/dev/null
    else
        log "php-cli with curl is not installed; the WHMCS hook tests will skip (scripts/test.sh: set DCIMANAGER_TEST_ALLOW_SKIPS=1)"
    fi
fi

# Java 17+ for ansible-rulebook (its rule engine, Drools, runs in a JVM through jpy); the EDA
# end-to-end tests need it. Installed from Debian's packages when we may (root with apt-get);
# elsewhere those tests skip, as the PHP ones do. The Java home found is kept in
# .venv/java-home, from which scripts/test.sh sets JAVA_HOME.
java_major() { "$1" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p'; }
find_java_home() {
    local candidate
    for candidate in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")" \
                     /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-*-openjdk-*; do
        if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ "$(java_major "$candidate/bin/java")" -ge 17 ] 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
if ! java_home="$(find_java_home)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing openjdk-17-jre-headless (for ansible-rulebook in the EDA tests)"
        apt-get update -qq >/dev/null
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; then
            # Debian releases after bookworm ship a newer OpenJDK only; ansible-rulebook takes 17 or newer.
            log "openjdk-17-jre-headless is not available here; installing default-jre-headless"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
        fi
        java_home="$(find_java_home)" || { echo "setup.sh: no Java 17+ after installing it" >&2; exit 1; }
    else
        log "no Java 17+ found; the EDA end-to-end tests will skip (scripts/test.sh: set DCIMANAGER_TEST_ALLOW_SKIPS=1)"
        java_home=""
    fi
fi
printf '%s\n' "$java_home" > "$VENV/java-home"

log "ready: .venv ($("$VENV/bin/python" --version 2>&1), $("$VENV/bin/ansible" --version | head -n1))"
[ -z "$java_home" ] || log "ready: $("$VENV/bin/ansible-rulebook" --version | head -n1) with Java in $java_home"
log "ready: .venv/ansible-2.16 ($("$OLDEST_VENV/bin/ansible" --version | head -n1))"
log "collection link: $LINK -> $ROOT"
