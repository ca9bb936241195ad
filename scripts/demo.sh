#!/usr/bin/env bash
# What the product is for, in one command on a fresh machine (a few minutes on 2 cores):
# compress an aerial RGB sample (NAIP, 1 m resampled to 5 m) and a georeferenced multispectral one
# (Landsat 7, 6 bands), decode them, and print each next to GDAL's JPEG2000 and WebP at the same
# file size (bpp, PSNR, MS-SSIM, seconds), what the decoded GeoTIFF kept, and a side-by-side crop
# PNG (original, JPEG2000, ours) in scratch/demo/.
# Uses the bundled default model, or MODEL=name-or-path; QUALITY (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. .venv/bin/activate
OUT=scratch/demo
mkdir -p "$OUT"
MODEL_ARGS=()
if [ -n "${MODEL:-}" ]; then
    MODEL_ARGS=(--model "$MODEL")
fi
for sample in "naip_rgb_uint8_2020 1,2,3" "landsat7_6band_uint8 3,2,1"; do
    set -- $sample
    python -m ldmrsic_core.evaluation.side_by_side "samples/$1.tif" --work "$OUT/$1" --quality "${QUALITY:-3}" \
        --bands "$2" --crop-png "$OUT/$1-crops.png" "${MODEL_ARGS[@]}"
    echo
done
echo "Where we stand: the codec is still training (see BENCHMARKS.md); where the lines above say"
echo "'behind', GDAL's codecs give the better picture at that size today, and they are far faster."
