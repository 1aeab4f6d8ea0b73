#!/usr/bin/env bash
# Run `molecule test -s NAME` for every scenario extensions/molecule/NAME/molecule.yml.
#
# Scenarios run from the extensions/ folder of the copy under build/ansible_collections/dockyard/docr,
# with ANSIBLE_COLLECTIONS_PATH pointing at that copy only (the working tree is the collection under
# test; nothing comes from Galaxy or ~/.ansible/collections). The API simulator runs for the whole
# session; scenarios find it through DIGITALOCEAN_API_URL and DIGITALOCEAN_ACCESS_TOKEN (a test
# token), which the modules read by default. They reset it through "$DIGITALOCEAN_API_URL/_sim/reset"
# when they need a clean account.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

shopt -s nullglob
scenario_files=("${REPO_ROOT}"/extensions/molecule/*/molecule.yml)
shopt -u nullglob
if ((${#scenario_files[@]} == 0)); then
    echo "no molecule scenarios under extensions/molecule: nothing to run"
    exit 0
fi

"${REPO_ROOT}/hack/deps.sh" molecule
use_venv
use_utf8_locale
trap stop_simulator EXIT
start_simulator
sync_copy

export ANSIBLE_COLLECTIONS_PATH="${BUILD_DIR}"
export DIGITALOCEAN_API_URL="${SIM_URL}"
export DIGITALOCEAN_ACCESS_TOKEN="dop_v1_molecule-test-token-0000000000000000"
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,${no_proxy}}"
export NO_PROXY="${no_proxy}"
# molecule colours its output even into a pipe; keep CI logs plain
[[ -t 1 ]] || export NO_COLOR=1

cd "${COPY_DIR}/extensions"
for file in "${scenario_files[@]}"; do
    name="$(basename "$(dirname "${file}")")"
    echo "--- molecule scenario ${name}"
    start=${SECONDS}
    molecule test -s "${name}"
    echo "--- molecule scenario ${name}: passed in $((SECONDS - start))s"
done
