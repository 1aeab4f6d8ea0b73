#!/usr/bin/env bash
# Install what the test stages need from the system (Debian packages), or say exactly what is missing.
#
#   hack/deps.sh [STAGE...]   the needs of these stages (default: every stage of `make test`)
#
# As root on Debian (CI, a fresh machine) the missing packages are installed with apt-get; elsewhere it
# fails naming the packages and the command. The stage scripts call it for their own stage, and
# hack/test.sh once for all of them before the venv. To add a need, add COMMAND:PACKAGE to its stage.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

needs_of() {
    case "$1" in
        # unit: tests/unit/test_gc_schedule.py shellchecks the wrapper; tests/faults/test_secrets.py reads crontab
        unit) echo "shellcheck:shellcheck crontab:cron" ;;
        integration) echo "" ;;
        sanity) echo "shellcheck:shellcheck" ;;
        lint) echo "shellcheck:shellcheck" ;;
        # the gc_schedule scenario deploys its cron backend here; its wrapper takes a lock with flock,
        # and verify samples the process list with ps
        molecule) echo "crontab:cron flock:util-linux ps:procps" ;;
        # tests/e2e pushes and pulls real images (skopeo) to a real registry (CNCF distribution 2.8)
        e2e) echo "docker-registry:docker-registry skopeo:skopeo" ;;
        *) die "hack/deps.sh: unknown stage '$1'" ;;
    esac
}

# A Python that can make the venv: 3.11 (Debian 12's python3) with the venv module and ensurepip.
venv_python_ok() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "${candidate}" >/dev/null 2>&1 \
            && "${candidate}" -c 'import sys, venv, ensurepip' >/dev/null 2>&1; then
            return 0
        fi
    done
    return 1
}

stages=("$@")
if ((${#stages[@]} == 0)); then
    stages=(venv unit integration sanity lint molecule e2e)
fi
pairs=()
for stage in "${stages[@]}"; do
    if [[ "${stage}" == venv ]]; then
        venv_python_ok || install_debian_packages python3 python3-venv
        continue
    fi
    read -r -a stage_pairs <<<"$(needs_of "${stage}")"
    pairs+=("${stage_pairs[@]}")
done
ensure_debian_packages "${pairs[@]}"
