#!/usr/bin/env bash
# Create .venv (if missing) and install ldmrsic-geo with its test extras. Safe to run again.
# With QGIS installed (apt-get install qgis python3-qgis) the venv is made from /usr/bin/python3
# with --system-site-packages, so the plugin tests run in real QGIS.
# torch comes from PyPI's regular build (torchvision, which CompressAI imports, needs it);
# --isolated keeps a machine-wide pip configuration from substituting another torch build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV_ARGS=()
if /usr/bin/python3 -c "import qgis.core" 2>/dev/null; then
    # One interpreter for QGIS and torch: the system Python (which has QGIS) with the venv on top.
    PYTHON=/usr/bin/python3
    VENV_ARGS=(--system-site-packages)
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv "${VENV_ARGS[@]}" .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -c "import torch, torchvision" 2>/dev/null ||
    python -m pip install --quiet --isolated "torch==2.13.0" "torchvision==0.28.0"
python -m pip install --quiet --isolated -e ".[test]"
# The earlier models' packages (archive/volumes/N, and archive/ which depends on them all): their weights
# are links to ldmrsic_core/weights/ in the checkout.
python -m pip install --quiet --isolated --no-deps -e ./archive $(printf -- '-e %s ' archive/volumes/*/)
