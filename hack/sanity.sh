#!/usr/bin/env bash
# ansible-test sanity on a real copy of the collection (build/ansible_collections/dockyard/docr).
#
# Usage: hack/sanity.sh [extra ansible-test sanity arguments]
#   SANITY_MODE=all    (default) every sanity test on every Python 3.8-3.13 found
#   SANITY_MODE=split  all tests on 3.11, plus compile and import on the other versions
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
use_venv
use_utf8_locale

# The ignore file stays empty: fix the code instead of ignoring the test.
ignore_file="${REPO_ROOT}/tests/sanity/ignore-2.19.txt"
if [[ -s "${ignore_file}" ]]; then
    die "tests/sanity/ignore-2.19.txt must stay empty"
fi

# The shellcheck sanity test needs the tool: hack/deps.sh installs Debian's package if it is missing.
"${REPO_ROOT}/hack/deps.sh" sanity

# ansible-test bootstraps pip in its venvs with a get-pip script it downloads from a host we cannot
# reach; give it the offline stand-in under the cache name it looks for.
ansible_test_dir="$("${VENV_BIN}/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_version="$(sed -nE "s/^[[:space:]]*pip='([0-9.]+)',.*/\1/p" "${ansible_test_dir}/_internal/python_requirements.py" | head -n 1)"
[[ -n "${pip_version}" ]] || die "cannot find the pip version ansible-test bootstraps"
cache_dir="${HOME}/.ansible/test/cache"
mkdir -p "${cache_dir}"
install -m 0644 "${REPO_ROOT}/hack/get_pip_standin.py" "${cache_dir}/get_pip_${pip_version//./_}.py"

# ansible-test drops PYENV_VERSION, so pyenv's shims do not resolve in its child processes: put the
# interpreters' real bin folders on PATH. It then finds python3.X for every version it supports.
for minor in 8 9 10 11 12 13; do
    for bin in "${PYENV_ROOT:-${HOME}/.pyenv}"/versions/3."${minor}".*/bin; do
        if [[ -x "${bin}/python3.${minor}" ]]; then
            PATH="${PATH}:${bin}"
            break
        fi
    done
done
export PATH

sync_copy
cd "${COPY_DIR}"
# The copy sits inside this git checkout, whose ignore rules hide it from ansible-test's git file
# listing; naming the content root makes ansible-test walk the copy's files instead.
export ANSIBLE_TEST_CONTENT_ROOT="${COPY_DIR}"

mode="${SANITY_MODE:-all}"
common=(--color no --local)
case "${mode}" in
    all)
        ansible-test sanity "${common[@]}" "$@"
        ;;
    split)
        ansible-test sanity "${common[@]}" --python 3.11 "$@"
        for version in 3.8 3.9 3.10 3.12 3.13; do
            ansible-test sanity "${common[@]}" --python "${version}" --test compile --test import "$@"
        done
        ;;
    *)
        die "SANITY_MODE must be 'all' or 'split', not '${mode}'"
        ;;
esac
