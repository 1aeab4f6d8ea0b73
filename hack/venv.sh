#!/usr/bin/env bash
# Create or update .venv (Python 3.11, falling back to python3) with requirements-dev.txt.
# The Makefile calls this only when a requirements file is newer than the venv's stamp.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
# a Python with venv and ensurepip (Debian: python3-venv)
"${REPO_ROOT}/hack/deps.sh" venv

pick_python() {
    local candidate
    for candidate in python3.11 python3; do
        # a pyenv shim exists even when it cannot run: try it
        if command -v "${candidate}" >/dev/null 2>&1 && "${candidate}" -c 'import sys, venv, ensurepip' >/dev/null 2>&1; then
            echo "${candidate}"
            return 0
        fi
    done
    return 1
}

if [[ ! -x "${VENV_BIN}/python" ]] || ! "${VENV_BIN}/python" -c 'import sys' >/dev/null 2>&1; then
    python="$(pick_python)" || die "neither python3.11 nor python3 can create a venv"
    log "creating ${VENV} with $("${python}" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    rm -rf "${VENV}"
    "${python}" -m venv "${VENV}"
fi

log "installing requirements-dev.txt into ${VENV}"
"${VENV_BIN}/python" -m pip install --quiet --disable-pip-version-check -r "${REPO_ROOT}/requirements-dev.txt"
