#!/usr/bin/env bash
# `make demo`: start the API simulator, run tests/demo/demo.yml twice, show that the second run
# changes nothing, and print what happened. Stops the simulator however it ends.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
use_venv
use_utf8_locale
cd "${REPO_ROOT}"

# ansible-playbook finds the collection through collections/ansible_collections/dockyard/docr, a
# git-ignored symlink to this working tree, and only there (ANSIBLE_COLLECTIONS_PATH replaces the
# default search path, so an old install under ~/.ansible/collections cannot shadow the tree).
link="${REPO_ROOT}/collections/ansible_collections/dockyard/docr"
if [[ ! -L "${link}" || "$(readlink -f "${link}")" != "$(readlink -f "${REPO_ROOT}")" ]]; then
    rm -rf "${link}"
    mkdir -p "$(dirname "${link}")"
    ln -s ../../.. "${link}"
fi
export ANSIBLE_COLLECTIONS_PATH="${REPO_ROOT}/collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,${no_proxy}}"
export NO_PROXY="${no_proxy}"

# A throwaway token: the simulator accepts any. It must not show up in anything the demo prints.
DIGITALOCEAN_ACCESS_TOKEN="dop_v1_demo$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export DIGITALOCEAN_ACCESS_TOKEN

trap stop_simulator EXIT
start_simulator
export DIGITALOCEAN_API_URL="${SIM_URL}"

mkdir -p "${BUILD_DIR}"
first_log="${BUILD_DIR}/demo-run1.log"
second_log="${BUILD_DIR}/demo-run2.log"
playbook=(ansible-playbook -i tests/demo/inventory.yml tests/demo/demo.yml)

echo "=== demo, first run: creates the registries"
"${playbook[@]}" 2>&1 | tee "${first_log}"
calls_before="$(python hack/sim_requests.py "${SIM_URL}" | cut -d' ' -f1)"

echo "=== demo, second run: must change nothing"
"${playbook[@]}" 2>&1 | tee "${second_log}"
counts="$(python hack/sim_requests.py "${SIM_URL}" "${calls_before}")"
read -r calls writes <<<"${counts}"
# tests/demo/demo.yml marks where its read-back play starts: the layout's converge is what comes before it
mark="$(sed -nE 's/.*demo mark: ([0-9]+) API calls before the read-back.*/\1/p' "${second_log}" | tail -n 1)"
[[ -n "${mark}" ]] || die "no read-back mark in the second run"
read -r layout_calls layout_writes <<<"$(python hack/sim_requests.py "${SIM_URL}" "${calls_before}" "${mark}")"
read -r readback_calls readback_writes <<<"$(python hack/sim_requests.py "${SIM_URL}" "${mark}")"
if ((writes != 0)); then
    die "the second run wrote to the API: ${writes} writes"
fi

if grep -qF -- "${DIGITALOCEAN_ACCESS_TOKEN}" "${first_log}" "${second_log}"; then
    die "the API token appears in the demo's output"
fi

recap() { sed -n '/^PLAY RECAP/,$p' "$1" | grep -E 'ok=[0-9]+'; }
recap_second="$(recap "${second_log}")" || die "no PLAY RECAP in the second run"
if grep -qvE 'changed=0 ' <<<"${recap_second}"; then
    die "the second run changed something: ${recap_second}"
fi
if grep -qvE 'failed=0 ' <<<"${recap_second}"; then
    die "the second run failed: ${recap_second}"
fi
created="$(grep -oE 'changed: \[localhost\] => \(item=[^)]*\)' "${first_log}" | sed -E 's/.*item=([^)]*)\)/\1/' | paste -sd, - | sed 's/,/, /g')"

cat <<SUMMARY

=== demo summary
registries created by the first run : ${created:-none}
second run                          : changed=0 (from its PLAY RECAP)
second run's layout converge        : ${layout_calls} API calls (${layout_writes} writes)
second run's read-back              : ${readback_calls} API calls (${readback_writes} writes), docr_doks_integration_info
second run in all                   : ${calls} API calls (${writes} writes)
token in the output                 : no
simulator                           : ${SIM_URL}
SUMMARY
