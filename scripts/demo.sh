#!/usr/bin/env bash
# The main job on the bundled sample scene: compress, decompress (with and without the
# decode-time enhancement), print bpp and PSNR.
# Uses the bundled default model, or MODEL=name-or-path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. .venv/bin/activate
mkdir -p scratch/demo
SCENE=samples/landsat7_rgb_uint8_nodata.tif
MODEL_ARGS=()
if [ -n "${MODEL:-}" ]; then
    MODEL_ARGS=(--model "$MODEL")
fi
ldmrsic-geo compress "$SCENE" -o scratch/demo/sample.ldmr --overwrite "${MODEL_ARGS[@]}"
ldmrsic-geo decompress scratch/demo/sample.ldmr -o scratch/demo/sample.tif --overwrite "${MODEL_ARGS[@]}"
ldmrsic-geo decompress scratch/demo/sample.ldmr -o scratch/demo/sample-codec.tif --no-enhance --overwrite "${MODEL_ARGS[@]}"
echo "decoded with the file's enhancement (if any):"
python -m ldmrsic_core.evaluation.metrics "$SCENE" scratch/demo/sample.tif scratch/demo/sample.ldmr
echo "codec alone (--no-enhance):"
python -m ldmrsic_core.evaluation.metrics "$SCENE" scratch/demo/sample-codec.tif scratch/demo/sample.ldmr
