#!/usr/bin/env bash
# The enhancer for a campaign codec (issue 17 §5), in the paper's two stages, on one thread next to
# other work (nice 19, passive OpenMP waits). Run folders and the decoded-pair cache live outside the
# work tree. Stage I warm-starts from the shipped enhancer; Stage II from this codec's Stage I run.
#   CODEC=elic-small-mix-3 RUN=enh-mix-3 STEPS=3000 scripts/campaign_enhancer.sh prior [--resume]
#   CODEC=elic-small-mix-3 RUN=enh-mix-3 STEPS=1500 scripts/campaign_enhancer.sh ldm [--resume]
# A short fine-tune for a codec close to one that has an enhancer skips Stage I: Stage II from that enhancer,
#   CODEC=elic-small-mix-5 RUN=enh-mix-5 STEPS=600 LDM_INIT=men-small-mix-4 scripts/campaign_enhancer.sh ldm
# TILES_LIMIT, VAL_LIMIT and VAL_EVERY (490, 42, 500) make a smoke run small. QUALITIES="4 5" trains and
# validates at those presets only: the enhancer of a codec for the top rates (models.json top_defaults).
# TILES=DIR trains on another folder of images (default UC Merced train/; the codec's mix-1 from
# scripts/campaign_data.sh adds RSSCN7, Dubai and the 30 m scenes; TILES_LIMIT samples it evenly).
# LOSS=psnr trains the output on the mean per-crop PSNR instead of the paper's L1 (train --loss).
# CONFIG=men-small-r1 trains a deeper configuration; an LDM_INIT of men-small starts it with its new
# blocks as identities (ldmrsic_core/training/deepen.py).
# Stage I's run is $RUN-prior, Stage II's $RUN-ldm; export the Stage II run with
# `ldmrsic-geo train export RUNS/$RUN-ldm --name NAME --dir ldmrsic_core/weights` once enhance_val says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
CACHE=${CACHE:-$HOME/.cache/ldmrsic-geo}
RUNS=$CACHE/runs
CODEC=${CODEC:?the codec the enhancer is for (name or weights file)}
RUN=${RUN:?a name for the run folders}
STEPS=${STEPS:?total steps}
THREADS=${THREADS:-1}
STAGE=${1:?prior or ldm}
case "$STAGE" in
    prior) init=(--init "${INIT:-men-small-ucm-1}") ;;
    ldm) init=(--init "${LDM_INIT:-$RUNS/$RUN-prior}") ;;
    *) echo "stage must be prior or ldm, not $STAGE" >&2; exit 2 ;;
esac
if [ "${2:-}" = "--resume" ]; then  # Stage II names its Stage I run even when resuming
    if [ "$STAGE" = prior ]; then init=(--resume); else init+=(--resume); fi
fi
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS
exec nice -n 19 ldmrsic-geo --quiet train --stage "$STAGE" --source ldmrsic --codec "$CODEC" "${init[@]}" \
    --config "${CONFIG:-men-small}" --tiles "${TILES:-../shared/data/ucmerced/train}" --tiles-limit "${TILES_LIMIT:-490}" \
    --val ../shared/data/ucmerced/val --val-limit "${VAL_LIMIT:-42}" --batch 8 --crop 128 --lr 1e-4 --warmup 100 \
    --steps "$STEPS" --val-every "${VAL_EVERY:-500}" --threads "$THREADS" --cache "$RUNS/pairs-cache-$RUN" --out "$RUNS/$RUN-$STAGE" \
    ${QUALITIES:+--qualities $QUALITIES} ${LOSS:+--loss $LOSS}
