#!/usr/bin/env bash
# Prepare what the S3 end-to-end harness (tests/s3/run.py) needs:
#   - .venv/ at the repository root with tests/s3/requirements.txt installed
#     (moto's S3 server, boto3, the aws cli, s3cmd);
#   - rclone and jq on PATH (from Debian's packages when missing).
#
# Idempotent: a stamp file in .venv/ holds the hash of the requirements and the
# interpreter's version, and the install is skipped while both are unchanged.
# Set PYTHON to choose the interpreter (default: python3 on PATH).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"
requirements="$repo_root/tests/s3/requirements.txt"
stamp="$venv/.requirements.stamp"
python="${PYTHON:-python3}"

die() {
    echo "setup-test-env: error: $*" >&2
    exit 1
}

log() {
    echo "setup-test-env: $*"
}

setup_venv() {
    command -v "$python" >/dev/null 2>&1 || die "'$python' not found; install Python 3.10 or later or set PYTHON"
    "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
        die "'$python' is $("$python" --version 2>&1); Python 3.10 or later is needed"

    local want
    want="$(
        sha256sum "$requirements" | cut -d' ' -f1
        "$python" --version 2>&1
    )"

    if [[ -x "$venv/bin/python" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]] &&
        "$venv/bin/python" -c 'import boto3, moto' >/dev/null 2>&1; then
        log "virtual environment up to date ($venv)"
        return
    fi

    # A venv whose interpreter no longer runs (moved, Python upgraded) is rebuilt.
    if [[ -e "$venv" ]] && ! "$venv/bin/python" -c 'pass' >/dev/null 2>&1; then
        log "removing broken virtual environment $venv"
        rm -rf "$venv"
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        log "creating virtual environment $venv"
        "$python" -m venv "$venv" || die "could not create a virtual environment with '$python -m venv'"
    fi

    log "installing $(realpath --relative-to="$repo_root" "$requirements")"
    rm -f "$stamp"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
        --no-input --quiet --require-virtualenv -r "$requirements" ||
        die "pip install failed"
    "$venv/bin/python" -m pip check || die "installed packages are inconsistent (pip check)"
    printf '%s\n' "$want" >"$stamp"
    log "virtual environment ready"
}

# Installs Debian package $1 when its command $2 is missing (rclone for the uploads, jq for the
# shard-merging example the tree checks run).
setup_apt_tool() {
    local package="$1" command="$2"
    if command -v "$command" >/dev/null 2>&1; then
        log "$command found: $("$command" --version 2>/dev/null | head -n 1)"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "$command is not on PATH and apt-get is not available to install it"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "$command is not on PATH; installing it needs root or sudo"
        sudo=(sudo -n)
    fi
    log "installing $package with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "${apt_updated:-}" ]]; then
        "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
        apt_updated=1
    fi
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$package" >/dev/null ||
        die "apt-get install $package failed"
    command -v "$command" >/dev/null 2>&1 || die "$command still not on PATH after apt-get install $package"
    log "$package installed: $("$command" --version 2>/dev/null | head -n 1)"
}

setup_venv
setup_apt_tool rclone rclone
setup_apt_tool jq jq
