#!/usr/bin/env bash
# `make e2e`: the end-to-end suite (tests/e2e) against the simulator with a real registry behind it
# (`python -m tests.simulator --data-plane distribution`) and real pushes and pulls with skopeo.
# It needs docker-registry (CNCF distribution 2.8) and skopeo: installed here with apt-get when they are
# missing and this runs as root; otherwise it stops with the command to run.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
use_venv
cd "${REPO_ROOT}"

# ensure_commands PACKAGE:COMMAND...: apt-get install the packages whose command is missing (root only).
ensure_commands() {
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "missing ${missing[*]}: install them (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and re-run"
    fi
    log "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    for pair in "$@"; do
        command -v "${pair#*:}" >/dev/null 2>&1 || die "${pair%%:*} is installed but ${pair#*:} is not on PATH"
    done
}

ensure_commands docker-registry:docker-registry skopeo:skopeo
log "$(docker-registry --version 2>&1 | head -n 1); $(skopeo --version)"

rc=0
python -m pytest -q -p no:cacheprovider tests/e2e "$@" || rc=$?
exit "${rc}"
