#!/usr/bin/env bash
# Set up the environment if needed, then run the linter and the test suite.
# Extra arguments go to pytest, for example: ./test.sh -k softmax
set -euo pipefail
system_packages="bubblewrap chromium chromium-driver fonts-ipafont-gothic"
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh"
cd "$project_root"

ruff check .
ruff format --check .
python -m pytest "$@"
