#!/usr/bin/env bash
# Issue 17 §6: one stretch of the codec campaign on a lent GPU machine, in one device call
# (DEVELOPERS.md, "A GPU machine"). Here, first (the tree that travels must stay under 64 MiB):
#   scripts/device_tree.sh trim
#   python scripts/gpu_train.py pack --init elic-small-hi-9 --tiles ~/.cache/ldmrsic-geo/data/mix-2
# The call (TRAIN_S seconds of training; start-up, install and export take the rest):
#   run(command="NAME=elic-small-hi-gpu1 QUALITIES='4 5' bash scripts/gpu_train.sh", carry=[".whl", ".gpu"], timeout_s=580)
# Back here: python scripts/gpu_train.py unpack FILES_AT --dir ~/.cache/ldmrsic-geo/export; scripts/device_tree.sh restore
# and validate it like any export (benchmarks/codec_val.py). Rehearse it on the CPU first:
#   OUT=scratch/gpu_train DEVICE=cpu TRAIN_S=60 PROBE_S=30 BATCH=2 PY=.venv/bin/python WHEELS=0 bash scripts/gpu_train.sh
# The run measures its speed for PROBE_S seconds, then resumes with the step count that fills TRAIN_S, so
# the learning rate's cosine decay (the last quarter of the steps) ends with the time.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-scratch/gpu_train}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
TRAIN_S=${TRAIN_S:-450}
PROBE_S=${PROBE_S:-90}
BATCH=${BATCH:-16}
CROP=${CROP:-256}
LR=${LR:-5e-5}
NAME=${NAME:-elic-small-gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_train.log") 2>&1
[ -f .gpu/init.pt ] && [ -d .gpu/tiles ] || { echo "no .gpu/ pack: run scripts/gpu_train.py pack here first"; exit 2; }
work=$(mktemp -d)
mkdir -p "$work/src" && ln -s "$PWD/cli" "$work/src/ldmrsic_cli"  # cli/ is installed as ldmrsic_cli
export PYTHONPATH=$PWD:$work/src PYTHONUNBUFFERED=1
if [ -d .whl ] && [ "${WHEELS:-1}" = 1 ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" .whl/*.whl \
        || { echo "installing the carried wheels failed"; exit 1; }
    export PYTHONPATH=$work/site:$PYTHONPATH
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
cat .gpu/pack.json
train=($PY -m ldmrsic_cli --quiet train --stage codec --tiles .gpu/tiles --out "$work/run" --config elic-small
       --batch "$BATCH" --crop "$CROP" --lr "$LR" --warmup 100 --ckpt-every 1000000 --device "$DEVICE"
       ${QUALITIES:+--qualities $QUALITIES} ${TOP_WEIGHT:+--top-weight $TOP_WEIGHT})
last_row() { tail -n 1 "$work/run/train.csv"; }
echo "== 1. $PROBE_S s to measure the speed"
timeout -s INT "$PROBE_S" "${train[@]}" --init .gpu/init.pt --steps 10000000
[ -f "$work/run/last.pt" ] || { echo "the run left no checkpoint"; exit 1; }
read -r done rate < <($PY -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[-1]; print(r['step'], r['steps_per_s'])" "$work/run/train.csv")
steps=$($PY -c "print(int($done + $rate * ($TRAIN_S - $PROBE_S)))")
echo "== 2. $done steps at $rate steps/s: resumed to $steps steps"
timeout -s INT "$((TRAIN_S - PROBE_S + 120))" "${train[@]}" --resume --steps "$steps"
echo "last step: $(last_row | cut -d, -f1) of $steps"
echo "== 3. export (EMA, float16) in shards of 15 MiB"
$PY -m ldmrsic_cli --quiet train export "$work/run" --checkpoint last --name "$NAME" --float16 --dir "$work/export" \
    --notes "issue 17 §6: $(last_row | cut -d, -f1) GPU steps from $($PY -c "import json; print(json.load(open('.gpu/pack.json'))['init'])"), batch $BATCH, crop $CROP, lr $LR" \
    || { echo "export failed"; exit 1; }
split -b 15M -d "$work/export/$NAME.pt" "$OUT/$NAME.pt.part"
(cd "$work/export" && sha256sum "$NAME.pt") > "$OUT/$NAME.pt.sha256"
cp "$work/run/train.csv" "$OUT/"
ls -l "$OUT"
