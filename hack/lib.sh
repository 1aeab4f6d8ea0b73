# shellcheck shell=bash
# Helpers shared by the hack/ scripts. Source it; it defines functions and variables only.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/.venv"
VENV_BIN="${VENV}/bin"
BUILD_DIR="${REPO_ROOT}/build"
# ansible-test and ansible-lint want the collection under ansible_collections/NAMESPACE/NAME.
COPY_ROOT="${BUILD_DIR}/ansible_collections"
COPY_DIR="${COPY_ROOT}/dockyard/docr"
export REPO_ROOT VENV VENV_BIN BUILD_DIR COPY_ROOT COPY_DIR

log() { printf '%s\n' "[$(basename "$0")] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Put the venv first on PATH (ansible-test, ansible-lint, molecule, pytest live there).
use_venv() {
    [[ -x "${VENV_BIN}/python" ]] || die "no venv at ${VENV}: run 'make venv' first"
    export VIRTUAL_ENV="${VENV}"
    export PATH="${VENV_BIN}:${PATH}"
}

# ansible-test refuses to run without a UTF-8 locale.
use_utf8_locale() {
    local available
    available="$(locale -a 2>/dev/null | tr '[:upper:]' '[:lower:]')"
    if grep -qx 'c.utf8\|c.utf-8' <<<"${available}"; then
        export LC_ALL=C.UTF-8 LANG=C.UTF-8
    elif grep -qx 'en_us.utf8\|en_us.utf-8' <<<"${available}"; then
        export LC_ALL=en_US.UTF-8 LANG=en_US.UTF-8
    else
        export LC_ALL=C.UTF-8 LANG=C.UTF-8
    fi
}

# Files that belong in the collection: tracked plus untracked-but-not-ignored (git), or, outside a
# git checkout, everything but the usual build and cache folders. NUL-separated, relative paths.
list_collection_files() {
    if git -C "${REPO_ROOT}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "${REPO_ROOT}" ls-files -z --cached --others --exclude-standard
    else
        (cd "${REPO_ROOT}" && find . \
            \( -name .git -o -name .venv -o -name collections -o -name build -o -name .ansible \
               -o -path ./tests/output -o -name __pycache__ -o -name .pytest_cache -o -name .cache \
               -o -name .mypy_cache -o -name .tox \) -prune -o \( -type f -o -type l \) -print0 \
            | sed -z 's|^\./||')
    fi
}

# Hold build/.copy.lock until this script exits: one run at a time uses the copy below, so two
# runs side by side (two engineers, or `make sanity` during `make test`) wait instead of clobbering.
lock_copy() {
    mkdir -p "${BUILD_DIR}"
    exec 9>"${BUILD_DIR}/.copy.lock"
    if ! flock -n 9; then
        log "waiting for another run that uses ${COPY_DIR}"
        flock 9
    fi
}

# Refresh build/ansible_collections/dockyard/docr as a real copy of the working tree (ansible-test
# does not follow a symlinked collection root). Files deleted from the tree disappear from the copy.
sync_copy() {
    [[ -n "${COPY_LOCKED:-}" ]] || { lock_copy; COPY_LOCKED=1; }
    local excluded='^(\.git|\.venv|collections|build|\.ansible|tests/output|\.cache|\.pytest_cache)(/|$)|(^|/)__pycache__/'
    rm -rf "${COPY_DIR}"
    mkdir -p "${COPY_DIR}"
    (
        cd "${REPO_ROOT}" || exit 1
        list_collection_files \
            | grep -zEv "${excluded}" \
            | while IFS= read -r -d '' path; do
                # a tracked file deleted from the working tree is listed by git but is not there
                [[ -e "${path}" || -L "${path}" ]] && printf '%s\0' "${path}"
            done \
            | tar --null --files-from=- -cf - \
            | tar -xf - -C "${COPY_DIR}"
    )
}

# ---- the API simulator ---------------------------------------------------------------------------

SIM_PID=""
SIM_URL=""
SIM_LOG=""

# start_simulator: runs `python -m tests.simulator --host 127.0.0.1 --port 0` from the repo root and
# sets SIM_URL from its first stdout line. Call stop_simulator from an EXIT trap.
start_simulator() {
    local out deadline
    [[ -f "${REPO_ROOT}/tests/simulator/__main__.py" || -f "${REPO_ROOT}/tests/simulator.py" ]] \
        || die "the simulator (tests/simulator) is not there yet"
    mkdir -p "${BUILD_DIR}"
    out="$(mktemp "${BUILD_DIR}/simulator.XXXXXX.out")"
    SIM_LOG="${out%.out}.log"
    (cd "${REPO_ROOT}" && exec "${VENV_BIN}/python" -u -m tests.simulator --host 127.0.0.1 --port 0 \
        >"${out}" 2>"${SIM_LOG}" 9>&-) &
    SIM_PID=$!
    deadline=$((SECONDS + 30))
    while :; do
        SIM_URL="$(head -n 1 "${out}" 2>/dev/null || true)"
        if [[ "${SIM_URL}" == http://* ]]; then
            break
        fi
        if ! kill -0 "${SIM_PID}" 2>/dev/null; then
            cat "${SIM_LOG}" >&2 || true
            die "the simulator exited before printing its URL"
        fi
        if ((SECONDS > deadline)); then
            cat "${SIM_LOG}" >&2 || true
            die "the simulator printed no URL within 30s"
        fi
        sleep 0.1
    done
    SIM_URL="${SIM_URL%%[[:space:]]*}"
    SIM_URL="${SIM_URL%/}"
    rm -f "${out}"
    export SIM_URL SIM_PID
    log "simulator up at ${SIM_URL} (pid ${SIM_PID})"
}

stop_simulator() {
    if [[ -n "${SIM_PID}" ]] && kill -0 "${SIM_PID}" 2>/dev/null; then
        kill "${SIM_PID}" 2>/dev/null || true
        wait "${SIM_PID}" 2>/dev/null || true
        log "simulator stopped"
    fi
    SIM_PID=""
    if [[ -n "${SIM_LOG}" ]]; then
        rm -f "${SIM_LOG}"
    fi
}

# ---- system packages -----------------------------------------------------------------------------

# install_debian_packages PACKAGE...: apt-get install them (one `apt-get update` per run), as root on a
# machine with apt-get; anywhere else, fail with the command that would install them.
install_debian_packages() {
    (($# > 0)) || return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "missing Debian package(s): $*. Install them (Debian/Ubuntu: sudo apt-get install -y $*), or run this as root on Debian, where it installs them itself"
    fi
    log "installing Debian package(s): $* (apt-get)"
    local output
    if [[ -z "${DOCR_APT_UPDATED:-}" ]]; then
        output="$(apt-get update -qq 2>&1)" || die "apt-get update failed: ${output}"
        DOCR_APT_UPDATED=1
        export DOCR_APT_UPDATED
    fi
    output="$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" 2>&1)" \
        || die "apt-get install $* failed: ${output}"
}

# ensure_debian_packages COMMAND:PACKAGE...: every COMMAND must be on PATH; the Debian PACKAGEs of the
# missing ones are installed (see install_debian_packages). Example: ensure_debian_packages crontab:cron
ensure_debian_packages() {
    local pair command_name package missing=() packages=()
    for pair in "$@"; do
        command_name="${pair%%:*}"
        package="${pair#*:}"
        [[ -n "${command_name}" && -n "${package}" && "${pair}" == *:* ]] || die "ensure_debian_packages: '${pair}' is not COMMAND:PACKAGE"
        if ! command -v "${command_name}" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" ${command_name} "* ]]; then
            missing+=("${command_name}")
            # one package may provide several commands
            [[ " ${packages[*]} " == *" ${package} "* ]] || packages+=("${package}")
        fi
    done
    ((${#missing[@]} > 0)) || return 0
    log "not found: ${missing[*]}"
    install_debian_packages "${packages[@]}"
    for command_name in "${missing[@]}"; do
        command -v "${command_name}" >/dev/null 2>&1 || die "${command_name} is still missing after installing ${packages[*]}"
    done
}
