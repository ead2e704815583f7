#!/usr/bin/env bash
# One prepared run for a lent GPU machine (the device tool's `run`, about 6 minutes):
# the CUDA path against the CPU (the fused loss kernels and the torch tiles against float64;
# the kernel's shapes timed at 1M views), then the GPU benchmark rows
# (layer-wise NTK, a whole step and steps/s per kernel, the loss up to 1M views by kernels and
# torch tiles). Each part has its own time limit and each row is written to the results file as
# it ends, so a part that hangs costs only its own rows. Writes the log and bench results under
# $OUT (or bench/gpu-out). The window rows need a display and stay CPU-machine rows.
#
#     device run: bash bench/gpu_check.sh        (timeout_s 540)
#
# The device machine's python has torch, numpy and Triton but not pydantic or tomli-w: carry
# them as wheels in .whl (see the device tool's README) and set WHEELS=.whl; they are
# installed into /tmp/site first.
set -o pipefail
out="${OUT:-bench/gpu-out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
if [ -n "${WHEELS:-}" ]; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$py" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
    timeout 150 "$py" bench/cuda_check.py --device cuda
    echo "cuda_check exit $?"
    for row in ntk core scale; do
        limit=60; [ "$row" = core ] && limit=90; [ "$row" = scale ] && limit=200
        timeout "$limit" "$py" bench/run_all.py --device cuda --rows "$row" --big --out "$out/results-gpu.json"
        echo "$row exit $?"
    done
} 2>&1 | tee "$out/gpu-log.txt"
