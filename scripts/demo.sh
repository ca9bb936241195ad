#!/usr/bin/env bash
# The main job on the bundled sample scene: compress, decompress, print bpp and PSNR.
# MODEL=name-or-path picks the weights; with none bundled yet, an UNTRAINED model is made
# so the whole pipeline runs (its pictures are poor: this checks the plumbing, not quality).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. .venv/bin/activate
mkdir -p scratch/demo
SCENE=samples/landsat7_rgb_uint8_nodata.tif
MODEL=${MODEL:-}
if [ -z "$MODEL" ]; then
    if python -c "from ldmrsic_core.models.registry import default_model; raise SystemExit(not default_model())"; then
        MODEL_ARGS=()
    else
        echo "note: no trained model is bundled yet; using untrained elic-small weights (poor quality)" >&2
        ldmrsic-geo models init elic-small -o scratch/demo/untrained-elic-small.pt --overwrite
        MODEL_ARGS=(--model scratch/demo/untrained-elic-small.pt)
    fi
else
    MODEL_ARGS=(--model "$MODEL")
fi
ldmrsic-geo compress "$SCENE" -o scratch/demo/sample.ldmr --overwrite "${MODEL_ARGS[@]}"
ldmrsic-geo decompress scratch/demo/sample.ldmr -o scratch/demo/sample.tif --overwrite "${MODEL_ARGS[@]}"
python -m ldmrsic_core.metrics "$SCENE" scratch/demo/sample.tif scratch/demo/sample.ldmr
