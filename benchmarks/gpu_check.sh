#!/usr/bin/env bash
# The prepared GPU check (issue 16 §4): one command for a lent GPU machine (DEVELOPERS.md, "A GPU machine"):
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
# It installs the carried cp312 wheels, runs the gpu-marked tests, checks that a scene encoded on the GPU in
# batches decodes on the CPU and on the GPU with identical latents (and compares their pixels), then prints
# one table: MP/s of compress, decompress and decompress+enhance at 4096² and 16384² on the GPU with peak
# GPU and host memory, next to GDAL JPEG2000 on the same machine's CPUs. Everything lands in $OUT.
# Test it on the CPU first: DEVICE=cpu SIZES="1024" EXACT_SIZE=512 bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-scratch/gpu_check}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-4096 16384}
EXACT_SIZE=${EXACT_SIZE:-2048}
BATCH=${BATCH:-8}
JOBS=${JOBS:-8}
PY=${PY:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
work=$(mktemp -d)
mkdir -p "$work/src" && ln -s "$PWD/cli" "$work/src/ldmrsic_cli"  # cli/ is installed as ldmrsic_cli
export PYTHONPATH=$PWD:$work/src
if [ -d .whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" .whl/*.whl \
        || { echo "installing the carried wheels failed"; exit 1; }
    export PYTHONPATH=$work/site:$PYTHONPATH
fi
export PYTHONUNBUFFERED=1 GDAL_NUM_THREADS=${GDAL_NUM_THREADS:-ALL_CPUS}  # GDAL on all cores, as ours
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
read -r codec enhancer < <($PY benchmarks/gpu_check.py models "$work/models") || { echo "no models"; exit 1; }
echo "models: $codec $enhancer"
status=0
echo "== 1. the gpu-marked tests"
timeout 90 $PY -m pytest -q -m gpu tests -p no:cacheprovider || status=1
echo "== 2. encoded on $DEVICE in batches, decoded on the CPU and on $DEVICE"
timeout 120 $PY benchmarks/gpu_check.py exactness --work "$work" --codec "$codec" --enhancer "$enhancer" \
    --device "$DEVICE" --size "$EXACT_SIZE" --tile-batch "$BATCH" || status=1
echo "== 3. speed on $DEVICE (tile batch $BATCH, $JOBS jobs) next to GDAL JPEG2000 on the CPUs"
timeout 270 $PY benchmarks/throughput.py --work "$work" --sizes $SIZES --device "$DEVICE" --jobs "$JOBS" \
    --tile-batch "$BATCH" --model "$codec" --enhancer "$enhancer" --no-landsat --gdal-repeat 1 \
    --source samples/naip_rgb_uint8_2020.tif || status=1
rm -rf "$work"
echo "gpu_check: $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
