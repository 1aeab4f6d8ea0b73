#!/usr/bin/env bash
# `make e2e`: the end-to-end suite (tests/e2e) against the simulator with a real registry behind it
# (`python -m tests.simulator --data-plane distribution`) and real pushes and pulls with skopeo.
# It needs docker-registry (CNCF distribution 2.8) and skopeo: installed here with apt-get when they are
# missing and this runs as root (hack/deps.sh); otherwise it stops with the command to run.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
"${REPO_ROOT}/hack/deps.sh" e2e
use_venv
cd "${REPO_ROOT}"
log "$(docker-registry --version 2>&1 | head -n 1); $(skopeo --version)"

rc=0
python -m pytest -q -p no:cacheprovider tests/e2e "$@" || rc=$?
exit "${rc}"
