#!/usr/bin/env bash
# Create .venv (if missing) and install ldmrsic-geo with its test extras. Safe to run again.
# torch comes from PyPI's regular build (torchvision, which CompressAI imports, needs it);
# --isolated keeps a machine-wide pip configuration from substituting another torch build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -c "import torch, torchvision" 2>/dev/null ||
    python -m pip install --quiet --isolated "torch==2.13.0" "torchvision==0.28.0"
python -m pip install --quiet --isolated -e ".[test]"
