#!/usr/bin/env bash
# One prepared run for a lent GPU machine (the device tool's `run`, about 6 minutes):
# the CUDA path against the CPU (the fused loss kernels and the torch tiles against float64;
# the kernel's shapes timed at 1M views), then the GPU benchmark rows
# (layer-wise NTK, the loss up to 1M views by kernels and torch tiles, a whole step there,
# steps/s per kernel). Writes the log and bench results under $OUT (or
# bench/gpu-out). The window rows need a display and stay CPU-machine rows.
#
#     device run: bash bench/gpu_check.sh        (timeout_s 540)
set -o pipefail
out="${OUT:-bench/gpu-out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$py" bench/cuda_check.py --device cuda
    "$py" bench/run_all.py --device cuda --rows ntk scale core --big --out "$out/results-gpu.json"
} 2>&1 | tee "$out/gpu-log.txt"
