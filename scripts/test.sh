#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh) and run the test suite on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. .venv/bin/activate
python -m pytest -q -m "not gpu and not qgis" "$@"
