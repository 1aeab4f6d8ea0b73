#!/usr/bin/env bash
# Run every ansible-test integration target (tests/integration/targets/*) against the API simulator.
#
# The collection is copied to build/ansible_collections/dockyard/docr, where
# tests/integration/integration_config.yml gets the simulator's address and a test token
# (docr_api_url, docr_token), and `ansible-test integration --local` runs the targets with this
# .venv's Python (which has pydo). Usage: hack/integration.sh [TARGET...] [ansible-test options]
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
use_venv
use_utf8_locale

shopt -s nullglob
targets=("${REPO_ROOT}"/tests/integration/targets/*/)
shopt -u nullglob
if ((${#targets[@]} == 0)); then
    echo "no integration targets under tests/integration/targets: nothing to run"
    exit 0
fi

trap stop_simulator EXIT
start_simulator

sync_copy
config="${COPY_DIR}/tests/integration/integration_config.yml"
mkdir -p "$(dirname "${config}")"
cat >"${config}" <<CONFIG
---
# Written by hack/integration.sh for this run; not part of the collection.
docr_api_url: "${SIM_URL}"
docr_token: "dop_v1_integration-test-token-0000000000000000"
CONFIG

cd "${COPY_DIR}"
export ANSIBLE_TEST_CONTENT_ROOT="${COPY_DIR}"
# ansible.builtin.uri and the modules talk to 127.0.0.1: never through a proxy.
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,${no_proxy}}"
export NO_PROXY="${no_proxy}"
ansible-test integration --local --python 3.11 --color no --continue-on-error "$@"
