#!/usr/bin/env bash
# Cut a release of the collection: `hack/release.sh VERSION [YYYY-MM-DD]`.
#
# Before anything is written it checks that VERSION is what galaxy.yml, the user agent in
# plugins/module_utils/_client.py and the docs say, that it is not released yet, and that the
# fragments lint clean. Then `antsibull-changelog release` folds changelogs/fragments/ into
# changelogs/changelog.yaml (the fragments are removed) and renders CHANGELOG.rst, and the result
# is linted and checked by tests/unit/test_release.py. It commits nothing: review `git status`,
# commit, then tag (the commands are printed at the end).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: $0 VERSION [YYYY-MM-DD]   (for example: $0 0.2.0)" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
version="$1"
date="${2:-$(date -u +%Y-%m-%d)}"
[[ "${version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION must be MAJOR.MINOR.PATCH, got '${version}'"
[[ "${date}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "the date must be YYYY-MM-DD, got '${date}'"

use_venv
use_utf8_locale
cd "${REPO_ROOT}"

galaxy_version="$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"
[[ "${galaxy_version}" == "${version}" ]] \
    || die "galaxy.yml says version ${galaxy_version}, not ${version}: set it (and COLLECTION_VERSION in plugins/module_utils/_client.py, README.md, docs/awx.md, execution-environment.yml) first"
if python -c 'import sys, yaml; sys.exit(0 if sys.argv[1] in (yaml.safe_load(open("changelogs/changelog.yaml")).get("releases") or {}) else 1)' "${version}"; then
    die "changelogs/changelog.yaml already has a release ${version}"
fi
compgen -G 'changelogs/fragments/*.yml' >/dev/null || die "changelogs/fragments/ holds no fragment: nothing to release"

log "checking that the version agrees everywhere and the fragments lint clean"
python -m pytest -q -p no:cacheprovider tests/unit/test_release.py -k "not tarball"
antsibull-changelog lint

# antsibull-changelog lists new modules and roles from their version_added, which it reads with
# ansible-doc: the collection has to be found as dockyard.docr. Point it at a link to this tree.
collections="$(mktemp -d "${TMPDIR:-/tmp}/docr-release.XXXXXX")"
trap 'rm -rf "${collections}"' EXIT
mkdir -p "${collections}/ansible_collections/dockyard"
ln -s "${REPO_ROOT}" "${collections}/ansible_collections/dockyard/docr"
log "antsibull-changelog release --version ${version} --date ${date}"
ANSIBLE_COLLECTIONS_PATH="${collections}" antsibull-changelog release --version "${version}" --date "${date}"

log "checking the result"
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
python -m pytest -q -p no:cacheprovider tests/unit/test_release.py -k "not tarball"
if [[ ! -s CHANGELOG.rst ]] || ! grep -q "^v${version}\$" CHANGELOG.rst; then
    die "CHANGELOG.rst has no section v${version}"
fi

cat <<EOF

Released ${version} in changelogs/changelog.yaml and CHANGELOG.rst (fragments folded). Next:
    git add -A changelogs CHANGELOG.rst && git commit -m "Release ${version}"
    git tag -a ${version} -m "dockyard.docr ${version}"
    ansible-galaxy collection build --output-path build/release .
EOF
