"""Layer-wise NTK (sim.ntk.ntk) against the torch.func Jacobian contraction J J^T.

Builds a depth x width tanh MLP (2 inputs, 2 outputs) and n random inputs, times both ways
(best of a few repeats), records their peak memory (CUDA: max_memory_allocated; CPU on Linux:
the peak resident set size, reset between measurements through /proc/self/clear_refs) and
compares the kernels. The reference builds J a chunk of samples at a time (so vmap's
intermediates stay bounded) into one (n m, P) matrix, then multiplies J J^T.

    python bench/bench_ntk.py [--n 1024] [--width 256] [--depth 4] [--device auto] [--threads T]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.func import functional_call, jacrev, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.networks import MLP
from sim.ntk import ntk

REFERENCE_CHUNK_BYTES = 256 * 2**20


def jacobian_contraction(model: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """H = J J^T from per-sample vmap(jacrev), J filled a chunk of samples at a time."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def single(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, p, (x[None],))[0]

    per_sample = vmap(jacrev(single), in_dims=(None, 0))
    n, m = X.shape[0], model(X[:1]).shape[1]
    count = sum(p.numel() for p in params.values())
    J = torch.empty(n, m, count, dtype=X.dtype, device=X.device)
    chunk = max(1, REFERENCE_CHUNK_BYTES // (m * count * X.element_size()))
    for start in range(0, n, chunk):
        blocks = per_sample(params, X[start : start + chunk])
        J[start : start + chunk] = torch.cat([b.flatten(start_dim=2) for b in blocks.values()], 2)
    flat = J.reshape(n * m, count)
    return (flat @ flat.T).view(n, m, n, m).permute(0, 2, 1, 3)


def _peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak(device: torch.device) -> int | None:
    """Reset the peak-memory counter; returns the baseline to subtract (bytes)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return None
    return _peak_rss_bytes()


def _peak_since(device: torch.device, baseline: int | None) -> int | None:
    if baseline is None:
        return None
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) - baseline
    peak = _peak_rss_bytes()
    return None if peak is None else peak - baseline


def measure(
    compute: Callable[[], torch.Tensor], device: torch.device, repeats: int
) -> tuple[torch.Tensor, float, int | None]:
    """(result, best wall time in s, peak extra memory in bytes of the first run)."""
    best, result, peak = float("inf"), None, None
    for attempt in range(repeats):
        result = None
        baseline = _reset_peak(device)
        start = time.perf_counter()
        result = compute()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
        if attempt == 0:
            peak = _peak_since(device, baseline)
    return result, best, peak


def bench_device(device: str, threads: int | None) -> torch.device:
    """The device to measure on ('auto': CUDA when torch sees a GPU), with the CPU thread
    count set first when asked."""
    if threads is not None:
        torch.set_num_threads(threads)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def run(
    n: int = 1024,
    width: int = 256,
    depth: int = 4,
    device: str = "auto",
    repeats: int = 3,
    reference_repeats: int = 2,
    seed: int = 0,
    threads: int | None = None,
) -> dict:
    """Time and compare the layer-wise and the jacrev kernels; returns the numbers."""
    where = bench_device(device, threads)
    torch.manual_seed(seed)
    model = MLP(2, 2, width=width, depth=depth, activation="tanh").to(where)
    X = torch.randn(n, 2, device=where)
    ntk(model, X[:8])
    jacobian_contraction(model, X[:8])
    fast, fast_s, fast_peak = measure(lambda: ntk(model, X), where, repeats)
    ref, ref_s, ref_peak = measure(lambda: jacobian_contraction(model, X), where, reference_repeats)
    scale = ref.abs().max()
    return {
        "device": str(where),
        "n": n,
        "width": width,
        "depth": depth,
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "layerwise_s": fast_s,
        "jacrev_s": ref_s,
        "speedup": ref_s / fast_s,
        "layerwise_peak_bytes": fast_peak,
        "jacrev_peak_bytes": ref_peak,
        "max_abs_diff_over_max_abs": float((fast - ref).abs().max() / scale),
        "frobenius_rel_diff": float((fast - ref).norm() / ref.norm()),
    }


def _gib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.3f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch default)")
    args = parser.parse_args()
    r = run(
        args.n,
        args.width,
        args.depth,
        args.device,
        args.repeats,
        args.reference_repeats,
        threads=args.threads,
    )
    print(
        f"{r['depth']} x {r['width']} tanh MLP ({r['parameters']} parameters), n = {r['n']}, "
        f"{r['device']}, {r['threads']} threads"
    )
    print(f"layer-wise ntk : {r['layerwise_s']:.4f} s  peak {_gib(r['layerwise_peak_bytes'])}")
    print(f"jacrev J J^T   : {r['jacrev_s']:.4f} s  peak {_gib(r['jacrev_peak_bytes'])}")
    print(f"speed ratio    : {r['speedup']:.1f}x")
    print(f"max |diff| / max |H_jacrev| : {r['max_abs_diff_over_max_abs']:.2e}")
    print(f"|diff|_F / |H_jacrev|_F     : {r['frobenius_rel_diff']:.2e}")


if __name__ == "__main__":
    main()
