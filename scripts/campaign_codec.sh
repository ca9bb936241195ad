#!/usr/bin/env bash
# One stretch of the codec campaign (issue 17) on the CPU, next to other work: one thread by
# default, nice 19, passive OpenMP waits (DEVELOPERS.md says why). The data comes from
# scripts/campaign_data.sh; the run folder lives outside the work tree.
#   INIT=elic-small-mix-2 RUN=codec-campaign-3 STEPS=4800 scripts/campaign_codec.sh          start
#   RUN=codec-campaign-3 STEPS=4800 scripts/campaign_codec.sh --resume                       continue
# The learning rate is constant, then a cosine decay over the last quarter of STEPS; a resume
# may change STEPS (the decay moves with it). Stop with kill -INT (the last step is saved).
# QUALITIES="4.5 5" trains that range of qualities only (issue 17 §2b's top-rate runs).
# TOP_WEIGHT=2 gives the upper half of the qualities twice the steps of the lower half.
# MIX=mix-2 trains on another mix of scripts/campaign_data.sh (default mix-1).
# SINGLE_BAND=0.1 makes a tenth of the crops one band repeated (how a single-band raster is coded).
# CROP=256 BATCH=2 trains on whole 256² tiles at the same pixels per step (default 128² crops, batch 8).
# LR=5e-5 sets the peak learning rate (a resume takes the new one from its next step).
# CONFIG=elic-wide trains another configuration; an INIT of a narrower one is widened into it
# (ldmrsic_core/training/widen.py: the wider codec starts computing what the trained one does).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
CACHE=${CACHE:-$HOME/.cache/ldmrsic-geo}
RUN=${RUN:?name the run folder under $CACHE/runs}
STEPS=${STEPS:?total steps}
THREADS=${THREADS:-1}
if [ "${1:-}" = "--resume" ]; then
    start=(--resume)
else
    start=(--init "${INIT:?INIT: the exported codec to warm-start from (or pass --resume)}")
fi
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS
exec nice -n 19 ldmrsic-geo --quiet train --stage codec --tiles "$CACHE/data/${MIX:-mix-1}" \
    --out "$CACHE/runs/$RUN" "${start[@]}" --config "${CONFIG:-elic-small}" --steps "$STEPS" \
    --batch "${BATCH:-8}" --crop "${CROP:-128}" --lr "${LR:-1e-4}" --warmup 200 --val ../shared/data/ucmerced/val --val-limit 21 \
    --val-every "${VAL_EVERY:-1000}" --ckpt-every 250 --threads "$THREADS" ${QUALITIES:+--qualities $QUALITIES} \
    ${TOP_WEIGHT:+--top-weight $TOP_WEIGHT} ${SINGLE_BAND:+--single-band $SINGLE_BAND}
