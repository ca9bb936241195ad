#!/usr/bin/env bash
# The codec campaign's training mix (issue 17), rebuilt from ../shared/data into a folder outside
# the work tree (default ~/.cache/ldmrsic-geo/data): UC Merced train/ (1470), RSSCN7 (700 tiles),
# Dubai Tiles 1–7 downsampled ×2 (441 tiles; Tile_8 is held out for whole-image validation) and
# the shared 30 m scenes in groups of three bands (165 tiles, 192-pixel stride). mix-1/ links them
# with the scenes' bands wider than 8 bits mapped linearly (the tiles every run up to 2026-12-06 saw);
# mix-2/ the same with them mapped through compress's fitted value curves (format 6's default).
#   scripts/campaign_data.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
D=${1:-$HOME/.cache/ldmrsic-geo/data}
S=../shared/data
mkdir -p "$D/vrt" "$D/mix-1"
[ -e "$D/dubai-x2/manifest.jsonl" ] ||
    ldmrsic-geo --quiet tile "$S"/aerial_extra/dubai/Tile_{1,2,3,4,5,6,7} --out "$D/dubai-x2" --scale 2 --size 256
[ -e "$D/rsscn7/manifest.jsonl" ] || ldmrsic-geo --quiet tile "$S/aerial_extra/rsscn7" --out "$D/rsscn7" --size 256
gdalbuildvrt -q -overwrite -separate "$D/vrt/l8_B432.vrt" "$S"/scenes/landsat8_bands/l8_B{4,3,2}.tif
gdalbuildvrt -q -overwrite -separate "$D/vrt/s2_swir.vrt" "$S"/scenes/sentinel2_bands/s2_{B11,B8A,B05}.tif
for curve in linear fitted; do
    out=$D/scenes30m$([ $curve = linear ] || echo -fitted)
    [ -e "$out/manifest.jsonl" ] ||
        ldmrsic-geo --quiet tile "$S"/scenes/{landsat8_224078_rgb_uint16,landsat8_rgb_uint16_small,landsat7_rgb_uint8_nodata,landsat7_6band_uint8,landsat7_sr_int16_8band}.tif \
            "$D/vrt/l8_B432.vrt" "$D/vrt/s2_swir.vrt" --out "$out" --size 256 --stride 192 --value-curve $curve
done
for mix in mix-1 mix-2; do
    mkdir -p "$D/$mix/ucm"
    for f in "$S"/ucmerced/train/*/*; do ln -sf "$(realpath "$f")" "$D/$mix/ucm/"; done
    scenes=scenes30m$([ $mix = mix-1 ] || echo -fitted)
    for part in rsscn7 dubai-x2 $scenes; do
        mkdir -p "$D/$mix/$part"
        for f in "$D/$part"/*.png "$D/$part"/*.tif; do [ -e "$f" ] && ln -sf "$f" "$D/$mix/$part/"; done
    done
    echo "$mix: $(find "$D/$mix" -type l | wc -l) images in $D/$mix"
done
