#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh) and run the test suite on the CPU.
#   scripts/test.sh          the everyday run: everything but the tests marked slow (about 5 minutes idle)
#   scripts/test.sh --all    what CI runs: the slow tests too, and ruff over the repository
# Further arguments go to pytest. The QGIS tests run when QGIS imports in .venv (see
# scripts/bootstrap.sh); LDMRSIC_REQUIRE_QGIS=1 makes its absence an error.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. .venv/bin/activate
marks="not gpu and not slow"
if [ "${1:-}" = "--all" ]; then
    shift
    marks="not gpu"
    ruff check .
fi
if ! QT_QPA_PLATFORM=offscreen python -c "import qgis.core" 2>/dev/null; then
    if [ -n "${LDMRSIC_REQUIRE_QGIS:-}" ]; then
        echo "QGIS does not import in .venv: install it (apt-get install qgis python3-qgis) and recreate .venv" >&2
        exit 1
    fi
    echo "note: QGIS does not import in .venv; the qgis tests are not run" >&2
    marks="$marks and not qgis"
fi
QT_QPA_PLATFORM=offscreen python -m pytest -q -m "$marks" "$@"
