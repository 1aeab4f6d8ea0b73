#!/usr/bin/env bash
# `make soak`: prove the suites steady under load. Runs the unit and the integration suites
# SOAK_RUNS times (default 3) while SOAK_LOAD CPU-bound processes (default 2) compete for the CPUs,
# then prints pass/fail and wall time per run. Not part of `make test`.
#
#   SOAK_RUNS=N        how many rounds (unit + integration each)
#   SOAK_LOAD=N        how many busy processes beside them (0: none)
#   SOAK_LOAD_LIMIT=S  the busy processes end by themselves after S seconds (default 7200), in case
#                      this script is killed too hard to stop them
# Each suite's output goes to build/soak/run-N-SUITE.log. Exit status: 0 when every run passed.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

runs="${SOAK_RUNS:-3}"
load="${SOAK_LOAD:-2}"
limit="${SOAK_LOAD_LIMIT:-7200}"
[[ "${runs}" =~ ^[1-9][0-9]*$ ]] || die "SOAK_RUNS must be a positive integer, not '${runs}'"
[[ "${load}" =~ ^[0-9]+$ ]] || die "SOAK_LOAD must be 0 or a positive integer, not '${load}'"
[[ "${limit}" =~ ^[1-9][0-9]*$ ]] || die "SOAK_LOAD_LIMIT must be a positive number of seconds, not '${limit}'"
use_venv

out_dir="${BUILD_DIR}/soak"
rm -rf "${out_dir}"
mkdir -p "${out_dir}"

load_pids=()
suite_pid=""
stop_load() {
    local pid
    # a suite still running (this script was interrupted): its own process group, started below
    if [[ -n "${suite_pid}" ]]; then
        kill -TERM -- "-${suite_pid}" 2>/dev/null || true
        # some test tools handle SIGTERM themselves (ansible-runner): give them 10 s, then SIGKILL
        for _ in {1..50}; do
            kill -0 -- "-${suite_pid}" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-${suite_pid}" 2>/dev/null || true
        wait "${suite_pid}" 2>/dev/null || true
        suite_pid=""
    fi
    for pid in "${load_pids[@]}"; do
        kill "${pid}" 2>/dev/null || true
    done
    for pid in "${load_pids[@]}"; do
        wait "${pid}" 2>/dev/null || true
    done
    load_pids=()
}
trap stop_load EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < load; i++)); do
    # pure CPU, no I/O; bounded by timeout even if this script dies without running its trap
    timeout "${limit}" python -c 'while True: pass' &
    load_pids+=("$!")
done
log "${load} CPU-bound process(es) running beside the suites (pids ${load_pids[*]:-none}); ${runs} run(s)"

results=()
failures=0
total_start=${SECONDS}
for ((run = 1; run <= runs; run++)); do
    for suite in unit integration; do
        logfile="${out_dir}/run-${run}-${suite}.log"
        start=${SECONDS}
        # in a process group of its own (setsid), waited on in the background, so that an interrupt
        # stops the whole suite (ansible-test, the simulator) at once
        setsid "${REPO_ROOT}/hack/${suite}.sh" >"${logfile}" 2>&1 &
        suite_pid=$!
        if wait "${suite_pid}"; then
            result=passed
        else
            result=FAILED
            failures=$((failures + 1))
        fi
        suite_pid=""
        line="$(printf 'run %d  %-11s %-6s %5ds  %s' "${run}" "${suite}" "${result}" "$((SECONDS - start))" "${logfile#"${REPO_ROOT}"/}")"
        results+=("${line}")
        echo "${line}"
    done
done
stop_load

echo
echo "=== soak: ${runs} run(s) of unit + integration beside ${load} CPU-bound process(es) on $(nproc) CPU(s)"
printf '%s\n' "${results[@]}"
echo "failures: ${failures} of $((runs * 2)) suite runs; wall time $((SECONDS - total_start))s"
((failures == 0))
