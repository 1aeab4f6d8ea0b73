#!/usr/bin/env bash
# Run each benchmark script tests/bench/*.py (they print their own figures) with the venv's Python.
# Benchmarks measure; they do not pass or fail on timings. A script that crashes fails the run.
# Skipped: _*.py (helpers) and test_*.py (pytest's smoke test of the benchmarks, run by `make test`).
# tests/bench/bench.py writes bench-results.json (git-ignored); docs/performance.md records the figures.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

shopt -s nullglob
scripts=("${REPO_ROOT}"/tests/bench/*.py)
shopt -u nullglob
benches=()
for script in "${scripts[@]}"; do
    case "$(basename "${script}")" in
        _* | test_*) ;;
        *) benches+=("${script}") ;;
    esac
done
if ((${#benches[@]} == 0)); then
    echo "no benchmarks yet (tests/bench/*.py)"
    exit 0
fi

use_venv
cd "${REPO_ROOT}"
# so that a script can import tests.simulator
export PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
for script in "${benches[@]}"; do
    echo "--- ${script#"${REPO_ROOT}"/}"
    python "${script}" "$@"
done
