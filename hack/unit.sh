#!/usr/bin/env bash
# pytest over tests/ (unit tests, simulator tests, anything else pytest collects there), except tests/e2e
# (`make e2e`: it needs a real registry and skopeo).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
"${REPO_ROOT}/hack/deps.sh" unit
use_venv
cd "${REPO_ROOT}"

# the ansible-core the tests run on: the floor meta/runtime.yml claims (tests/unit/test_ansible_floor.py)
log "ansible-core $(python -c 'from ansible.release import __version__; print(__version__)'), requires_ansible $(sed -n 's/^requires_ansible: *//p' meta/runtime.yml)"
# `python -m pytest` puts the repository root on sys.path, so `tests.simulator` imports.
rc=0
python -m pytest -q -p no:cacheprovider --ignore=tests/output --ignore=tests/e2e tests "$@" || rc=$?
if ((rc == 5)); then
    log "pytest collected no tests"
    rc=0
fi
exit "${rc}"
