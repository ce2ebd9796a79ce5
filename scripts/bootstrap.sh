# Create or update the project's virtual environment, then activate it.
# Sourced by run.sh, test.sh and .ci/run; not meant to be run on its own.
#
# The environment lives in .venv (or $COURSE_VENV) and is rebuilt only when
# requirements.txt or requirements-dev.txt change, so repeated runs are fast.

set -euo pipefail

project_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_dir=${COURSE_VENV:-$project_root/.venv}
python_bin=${PYTHON:-python3}

if ! command -v "$python_bin" >/dev/null; then
    echo "error: Python not found: '$python_bin'. Install Python 3.11 or newer," \
        "or set PYTHON=/path/to/python3." >&2
    exit 1
fi
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is required, but '$python_bin' is" \
        "$("$python_bin" --version 2>&1)." \
        "Install a newer Python or set PYTHON=/path/to/python3." >&2
    exit 1
fi

# Install the Debian packages named in $system_packages (set by the sourcing
# script) when they are missing: bubblewrap sandboxes the grading kernels, and
# Chromium with a Japanese font runs the browser test. Only root on a Debian or
# Ubuntu machine can install them here; anyone else sees a list of what is missing.
missing_packages=()
for package in ${system_packages:-}; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing_packages+=("$package")
    fi
done
if [ ${#missing_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Debian packages: ${missing_packages[*]} ..."
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
    else
        echo "warning: missing system packages: ${missing_packages[*]}." \
            "Install them (for example: sudo apt-get install ${missing_packages[*]});" \
            "until then, grading refuses to run without a sandbox and the browser" \
            "test is skipped." >&2
    fi
fi

stamp=$(cat "$project_root/requirements.txt" "$project_root/requirements-dev.txt" \
    | sha256sum | cut -d' ' -f1)
stamp_file=$venv_dir/.requirements-sha256

if [ ! -x "$venv_dir/bin/python" ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ]; then
    echo "Setting up the virtual environment in $venv_dir ..."
    "$python_bin" -m venv "$venv_dir"
    "$venv_dir/bin/python" -m pip install --quiet --upgrade pip
    "$venv_dir/bin/python" -m pip install --quiet -r "$project_root/requirements-dev.txt"
    echo "$stamp" > "$stamp_file"
fi

# nbgrader starts alembic as a program, so the environment's bin/ must be on PATH.
# shellcheck disable=SC1091
source "$venv_dir/bin/activate"

# A relative COURSE_DATA_DIR would change meaning once a tool changes directory.
if [ -n "${COURSE_DATA_DIR:-}" ]; then
    if [ ! -d "$COURSE_DATA_DIR" ]; then
        echo "error: COURSE_DATA_DIR=$COURSE_DATA_DIR is not a folder." \
            "Point it at a folder that contains mnist/*.gz and sample_weight.pkl," \
            "or unset it to download the data." >&2
        exit 1
    fi
    COURSE_DATA_DIR=$(cd "$COURSE_DATA_DIR" && pwd)
    export COURSE_DATA_DIR
fi
