#!/usr/bin/env bash
# Run one stage of the build and print how long it took.
#
#   hack/stage.sh NAME COMMAND [ARGS...]   run COMMAND, print its time; record it in $STAGE_TIMES
#   hack/stage.sh --summary                print the times recorded in $STAGE_TIMES as a table
# hack/test.sh points STAGE_TIMES at a file of its own, so runs side by side do not mix.
set -uo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
times_file="${STAGE_TIMES:-}"

case "${1:-}" in
    --summary)
        [[ -n "${times_file}" && -s "${times_file}" ]] || exit 0
        printf '\n%-14s %-6s %10s\n' "stage" "result" "seconds"
        while IFS=$'\t' read -r name result secs; do
            printf '%-14s %-6s %10s\n' "${name}" "${result}" "${secs}"
        done <"${times_file}"
        exit 0
        ;;
    "")
        die "usage: hack/stage.sh NAME COMMAND [ARGS...]"
        ;;
esac

name="$1"
shift
printf '\n===== %s: %s =====\n' "${name}" "$*"
start="$(date +%s.%N)"
"$@"
rc=$?
secs="$(awk -v s="${start}" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
if ((rc == 0)); then
    result=ok
else
    result=FAILED
fi
printf '===== %s: %s in %ss =====\n' "${name}" "${result}" "${secs}"
if [[ -n "${times_file}" ]]; then
    printf '%s\t%s\t%s\n' "${name}" "${result}" "${secs}" >>"${times_file}"
fi
exit "${rc}"
