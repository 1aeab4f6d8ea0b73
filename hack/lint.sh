#!/usr/bin/env bash
# ansible-lint (production profile, offline) on the copy under build/ansible_collections/dockyard/docr,
# so that the collection resolves as dockyard.docr; then the changelog and the CI script.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
"${REPO_ROOT}/hack/deps.sh" lint
use_venv
use_utf8_locale
# ansible-lint colours its output even into a pipe; keep CI logs plain
[[ -t 1 ]] || export NO_COLOR=1

sync_copy
(
    cd "${COPY_DIR}"
    # Only this copy: no stale install under ~/.ansible/collections can stand in for it.
    export ANSIBLE_COLLECTIONS_PATH="${BUILD_DIR}"
    # .ansible-lint holds the settings (profile production, offline, excluded paths).
    ansible-lint --offline --config-file .ansible-lint
)

echo "antsibull-changelog lint"
(cd "${REPO_ROOT}" && antsibull-changelog lint)
# the released history too (hack/release.sh writes it); tests/unit/test_release.py checks it against galaxy.yml
echo "antsibull-changelog lint-changelog-yaml"
(cd "${REPO_ROOT}" && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml)

# The sanity shellcheck test covers hack/*.sh; .ci/run has no .sh suffix.
echo "shellcheck .ci/run"
(cd "${REPO_ROOT}" && shellcheck -x .ci/run)
