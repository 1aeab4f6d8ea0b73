#!/usr/bin/env bash
# `make test`: every test stage in order, stopping at the first that fails, then a table of the
# stages' times (printed on failure as well).
set -euo pipefail
hack="$(dirname "$0")"

STAGE_TIMES="$(mktemp "${TMPDIR:-/tmp}/docr-stage-times.XXXXXX")"
export STAGE_TIMES
trap '"${hack}/stage.sh" --summary; rm -f "${STAGE_TIMES}"' EXIT

# what the stages need from the system (Debian packages), installed up front with one apt-get update
"${hack}/deps.sh"
# the venv stage is timed (and listed) only when it has something to do
"${MAKE:-make}" --no-print-directory -s venv
for stage in unit integration sanity lint molecule e2e; do
    "${hack}/stage.sh" "${stage}" "${hack}/${stage}.sh"
done
