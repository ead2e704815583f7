"""Tiled contrastive loss (sim.losses) against a plain dense one that builds the N x N
similarity matrix, side by side in one process: forward + backward time and peak memory at a
few row counts N = V n (V = 2 views, m latent dims), the gradients compared, and the largest N
each handles within a memory budget. pytorch-metric-learning's NTXentLoss (the `bench` extra;
it holds an N x N^2 mask, so it runs only up to PML_MAX_ROWS) beside them where installed.
The machine's bound beside the large runs: N^2 exponentials at torch's exp2 rate measured here
(its fastest exponential, the one the tiles use; torch.exp's rate printed too), one thread per
core, per second and per CPU-second, the best of three measurements around the large runs;
the large losses are timed idle and with one core kept busy by a spinning process
(CPU-seconds then, against the bound per CPU-second).

The dense one is run only where its peak, predicted from its smaller runs (bytes per N^2),
fits the budget; past that its largest N is that prediction.
The tiled one is run at 200k rows and, with --big, at 1M rows; where the fused Triton kernels
serve the loss (float32 on CUDA) the torch tiles are timed beside them, and on CUDA a whole
simulation step at those rows too; on the CPU the tiles in threads (sim.losses.TILE_THREADS)
are timed beside the tiles in one thread.

Peak memory: CUDA max_memory_allocated; on the CPU the peak resident set size, reset through
/proc/self/clear_refs (the helpers of bench_ntk). On a busy CPU use --threads 1.

    python bench/bench_scale.py [--sizes 4096,16384,32768] [--loss nt_xent] [--big] [--threads T]
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_load import busy_core
from bench.bench_ntk import bench_device, measure
from sim import Simulation, fused_lse, load_preset, losses
from sim.losses import contrastive_loss
from sim.preset import with_changes

BUDGET_BYTES = 8 * 2**30
LARGE_ROWS = 200_000
BIG_ROWS = 1_000_000
PML_MAX_ROWS = 512


def pml_loss(tau: float):
    """pytorch-metric-learning's NTXentLoss as a function of (V, n, m) views, or None where the
    package is not installed."""
    try:
        from pytorch_metric_learning.losses import NTXentLoss
    except ImportError:
        return None
    loss = NTXentLoss(temperature=tau)

    def compute(Z: torch.Tensor) -> torch.Tensor:
        V, n, m = Z.shape
        return loss(Z.reshape(V * n, m), torch.arange(n, device=Z.device).repeat(V))

    return compute


def exp_rates(threads: int, seconds: float = 1.5) -> dict:
    """Exponentials per second (wall) and per CPU-second of torch.exp2 and torch.exp: `threads`
    threads at once (torch's own threads off), each over its own 512 x 512 float32 block of
    values in [-6, 0] (the loss's range at tau = 0.5, in cache as the loss's tiles are)."""
    rates, intra = {}, torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, op in (("exp2", torch.exp2), ("exp", torch.exp)):
            counts = [0] * threads

            def work(k: int, op=op, counts=counts, deadline=None) -> None:
                x = torch.rand(512, 512) * -6
                y = torch.empty_like(x)
                while time.perf_counter() < deadline:
                    for _ in range(10):
                        op(x, out=y)
                    counts[k] += 10 * x.numel()

            cpu, start = time.process_time(), time.perf_counter()
            deadline = start + seconds
            pool = [threading.Thread(target=work, args=(k,), kwargs={"deadline": deadline}) for k in range(threads)]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            rates[f"{name}_per_s"], rates[f"{name}_per_cpu_s"] = sum(counts) / wall, sum(counts) / cpu
    finally:
        torch.set_num_threads(intra)
    rates["threads"] = threads
    return rates


def timed(compute) -> tuple[torch.Tensor, float, float]:
    """(result, wall seconds, CPU-seconds of this process) of one call."""
    cpu, start = time.process_time(), time.perf_counter()
    result = compute()
    return result, time.perf_counter() - start, time.process_time() - cpu


def dense_loss(Z: torch.Tensor, kind: str, tau: float, psi: str = "log") -> torch.Tensor:
    """The plain implementation: the whole (V n, V n) logit matrix and masks, autograd for the gradient."""
    V, n, m = Z.shape
    N = V * n
    rows = Z.reshape(N, m)
    sample = torch.arange(n, device=Z.device).repeat(V)
    eye = torch.eye(N, dtype=torch.bool, device=Z.device)
    positive = (sample[:, None] == sample[None, :]) & ~eye
    if kind == "nt_xent":
        logits = rows @ rows.T / tau
        attraction = (logits * positive).sum(1) / (V - 1)
        return (torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1) - attraction).mean()
    norms = (rows * rows).sum(1)
    sq = (norms[:, None] + norms[None, :] - 2 * rows @ rows.T).clamp_min(0)
    attraction = (sq * positive).sum() / positive.sum() / (2 * tau)
    if psi == "log":
        return attraction + (torch.logsumexp(-sq / (2 * tau), dim=1) - math.log(N)).mean()
    return attraction + torch.exp(-sq / (2 * tau)).mean()


def _views(rows: int, m: int, device: torch.device, dtype: torch.dtype, seed: int) -> torch.Tensor:
    g = torch.Generator(device=device).manual_seed(seed)
    Z = torch.randn(2, rows // 2, m, generator=g, device=device, dtype=dtype)
    return (Z / Z.norm(dim=-1, keepdim=True)).requires_grad_(True)


def _forward_backward(loss_fn, Z: torch.Tensor):
    def compute() -> torch.Tensor:
        (grad,) = torch.autograd.grad(loss_fn(Z), Z)
        return grad

    return compute


def _measure(compute, device: torch.device, repeats: int) -> tuple[torch.Tensor, float, int | None]:
    """bench_ntk.measure, with a peak below the starting point (memory handed back) read as 0."""
    result, seconds, peak = measure(compute, device, repeats)
    return result, seconds, None if peak is None else max(peak, 0)


def run(
    sizes: tuple[int, ...] = (4096, 16384, 32768),
    loss: str = "nt_xent",
    psi: str = "log",
    tau: float = 0.5,
    m: int = 3,
    device: str = "auto",
    dtype: str = "float32",
    budget_bytes: int = BUDGET_BYTES,
    large: tuple[int, ...] = (LARGE_ROWS,),
    repeats: int = 2,
    seed: int = 0,
    threads: int | None = None,
) -> dict:
    """Time and measure the tiled and dense losses; returns the numbers (bytes, seconds)."""
    where, kind = bench_device(device, threads), getattr(torch, dtype)

    def tiled(Z):
        return contrastive_loss(Z, loss, tau, psi)

    def dense(Z):
        return dense_loss(Z, loss, tau, psi)

    pml = pml_loss(tau) if loss == "nt_xent" else None
    warm = _views(256, m, where, kind, seed)
    _forward_backward(tiled, warm)()
    _forward_backward(dense, warm)()
    rows, dense_per_square = [], None
    for N in sizes:
        Z = _views(N, m, where, kind, seed)
        g_tiled, t_tiled, p_tiled = _measure(_forward_backward(tiled, Z), where, repeats)
        row = {"N": N, "tiled_s": t_tiled, "tiled_peak_bytes": p_tiled}
        if pml is not None and N <= PML_MAX_ROWS:
            g_pml, t_pml, p_pml = _measure(_forward_backward(pml, Z), where, 1)
            row.update(pml_s=t_pml, pml_peak_bytes=p_pml)
            # it normalises its input, so its gradient has no radial part: compare the tangent parts
            tangent = [g - (g * Z.detach()).sum(-1, keepdim=True) * Z.detach() for g in (g_tiled, g_pml)]
            row["pml_grad_max_diff"] = float((tangent[0] - tangent[1]).abs().max() / tangent[1].abs().max())
        predicted = None if dense_per_square is None else dense_per_square * N * N
        row["dense_predicted_bytes"] = predicted
        if predicted is None or predicted <= budget_bytes:
            g_dense, t_dense, p_dense = _measure(_forward_backward(dense, Z), where, repeats)
            if p_dense:
                dense_per_square = p_dense / (N * N)
            row.update(
                dense_s=t_dense,
                dense_peak_bytes=p_dense,
                speedup=t_dense / t_tiled,
                grad_max_diff=float((g_tiled - g_dense).abs().max() / g_dense.abs().max()),
            )
            del g_dense
        rows.append(row)
        del Z, g_tiled
    big = []
    fused = fused_lse.usable(_views(2, m, where, kind, seed))
    # The rate is measured before, between and after the large runs and the best of each kept:
    # on a machine others share, the bound is what the cores gave at their best in this run.
    measured = [exp_rates(losses.TILE_THREADS)] if where.type == "cpu" and large else []
    for N in large:
        Z = _views(N, m, where, kind, seed)
        grad, seconds, peak = _measure(_forward_backward(tiled, Z), where, 1)
        row = {"N": N, "tiled_s": seconds, "tiled_peak_bytes": peak, "finite": bool(torch.isfinite(grad).all())}
        del grad
        if measured:  # idle and with one core busy, in wall and CPU-seconds, against the bound
            row["idle_s"], row["idle_cpu_s"] = timed(_forward_backward(tiled, Z))[1:]
            measured.append(exp_rates(losses.TILE_THREADS))
            with busy_core():
                row["busy_s"], row["busy_cpu_s"] = timed(_forward_backward(tiled, Z))[1:]
            measured.append(exp_rates(losses.TILE_THREADS))
            if losses._symmetric_plan(Z.detach().reshape(N, m), None, tau, torch.zeros(1)) is not None:
                with mock.patch.object(losses, "SYMMETRIC_MIN_ROWS", N + 1):  # the torch tiles beside it
                    row["torch_tiles_wall_s"], row["torch_tiles_cpu_s"] = timed(_forward_backward(tiled, Z))[1:]
            bound = {key: max(rates[key] for rates in measured) for key in measured[0]}
            for name in ("exp2", "exp"):
                row[f"{name}_bound_s"] = N * N / bound[f"{name}_per_s"]
                row[f"{name}_bound_cpu_s"] = N * N / bound[f"{name}_per_cpu_s"]
            row["bound_multiple"] = min(seconds, row["idle_s"]) / row["exp2_bound_s"]
            row["busy_cpu_bound_multiple"] = row["busy_cpu_s"] / row["exp2_bound_cpu_s"]
        if where.type == "cpu" and losses.TILE_THREADS > 1:  # the tiles in threads, and in one
            row["tile_threads"] = losses.TILE_THREADS
            with mock.patch.object(losses, "TILE_THREADS", 1):
                row["one_thread_s"] = _measure(_forward_backward(tiled, Z), where, 1)[1]
        if fused:  # the fused kernels served it: the torch tiles beside them
            with mock.patch.object(fused_lse, "ENABLED", False):
                row["torch_tiles_s"] = _measure(_forward_backward(tiled, Z), where, 1)[1]
        if where.type == "cuda":
            row["step_s"] = step_seconds(N, where)
        big.append(row)
        del Z
    per_row = max((b["tiled_peak_bytes"] / b["N"] for b in big if b["tiled_peak_bytes"]), default=None)
    return {
        "device": str(where),
        "dtype": dtype,
        "loss": loss if loss == "nt_xent" else f"{loss} ({psi})",
        "m": m,
        "threads": torch.get_num_threads(),
        "budget_bytes": budget_bytes,
        "rows": rows,
        "large": big,
        "exp_rates": {key: max(rates[key] for rates in measured) for key in measured[0]} if measured else None,
        "exp_rates_measured": measured,
        "dense_bytes_per_N2": dense_per_square,
        "dense_max_N": None if dense_per_square is None else int(math.sqrt(budget_bytes / dense_per_square)),
        "tiled_bytes_per_N": per_row,
        "tiled_max_N_by_memory": None if not per_row else int(budget_bytes / per_row),
    }


def step_seconds(N: int, device: torch.device) -> float:
    """One whole step of fig5-2d (NN kernel) with N / 2 samples, two views each: the forward
    pass, the loss and its gradient, the backward pass through the network and the update."""
    preset = load_preset("fig5-2d")
    count = N // (2 * len(preset.data.clusters))
    preset = with_changes(preset, {f"data.clusters[{k}].count": count for k in range(len(preset.data.clusters))})
    sim = Simulation(preset, device=str(device))
    sim.step(1)  # warm: kernels compiled, memory pools grown
    _, seconds, _ = measure(lambda: sim.step(1), device, 1)
    return seconds


def _gib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.3f} GiB"


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096,16384,32768", help="rows N = 2 n, comma-separated")
    parser.add_argument("--loss", default="nt_xent", choices=["nt_xent", "generalized"])
    parser.add_argument("--psi", default="log", choices=["log", "linear"])
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--m", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--budget-gib", type=float, default=BUDGET_BYTES / 2**30)
    parser.add_argument("--big", action="store_true", help=f"also run the tiled loss at {BIG_ROWS:,} rows")
    parser.add_argument("--no-large", action="store_true", help=f"skip the tiled run at {LARGE_ROWS:,} rows")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch default)")
    args = parser.parse_args()
    large = () if args.no_large else (LARGE_ROWS,)
    r = run(
        tuple(int(s) for s in args.sizes.split(",")),
        args.loss,
        args.psi,
        args.tau,
        args.m,
        args.device,
        args.dtype,
        int(args.budget_gib * 2**30),
        large + ((BIG_ROWS,) if args.big else ()),
        args.repeats,
        threads=args.threads,
    )
    print(
        f"{r['loss']}, forward + backward, V = 2, m = {r['m']}, {r['dtype']}, {r['device']}, "
        f"{r['threads']} threads, budget {_gib(r['budget_bytes'])}"
    )
    print(
        f"{'N rows':>10} {'tiled s':>9} {'tiled peak':>12} {'dense s':>9} {'dense peak':>12} {'speed':>6} {'grad diff':>9}"
    )
    for row in r["rows"] + r["large"]:
        if "dense_s" in row:
            dense = f"{row['dense_s']:9.3f} {_gib(row['dense_peak_bytes']):>12} {row['speedup']:5.1f}x {row['grad_max_diff']:9.1e}"
        else:
            predicted = row.get("dense_predicted_bytes")
            dense = f"{'-':>9} {'> budget' if predicted else '-':>12}" + (
                f"  (predicted {_gib(predicted)})" if predicted else ""
            )
        print(f"{row['N']:>10,} {row['tiled_s']:9.3f} {_gib(row['tiled_peak_bytes']):>12} {dense}")
        if "pml_s" in row:
            print(
                f"{'':>10} pytorch-metric-learning NTXentLoss {row['pml_s']:.3f} s, {_gib(row['pml_peak_bytes'])}, "
                f"tangent grad diff {row['pml_grad_max_diff']:.1e}"
            )
        if "bound_multiple" in row:
            print(
                f"{'':>10} bound (N^2 exp2 at {r['exp_rates']['exp2_per_s'] / 1e9:.2f} G/s): {row['exp2_bound_s']:.2f} s "
                f"-> {row['bound_multiple']:.2f}x idle; one core busy {row['busy_s']:.2f} s, {row['busy_cpu_s']:.2f} "
                f"CPU-s = {row['busy_cpu_bound_multiple']:.2f}x the bound's {row['exp2_bound_cpu_s']:.2f} CPU-s "
                f"(torch.exp's bound {row['exp_bound_s']:.2f} s)"
            )
        if "torch_tiles_cpu_s" in row:
            print(
                f"{'':>10} compiled loop above; torch tiles {row['torch_tiles_wall_s']:.2f} s, "
                f"{row['torch_tiles_cpu_s']:.2f} CPU-s (compiled loop {row['idle_cpu_s']:.2f} CPU-s)"
            )
        if "one_thread_s" in row:
            print(f"{'':>10} tiles in {row['tile_threads']} threads above; in one thread {row['one_thread_s']:.3f} s")
        if "torch_tiles_s" in row:
            print(f"{'':>10} fused kernels above; torch tiles {row['torch_tiles_s']:.3f} s")
        if "step_s" in row:
            print(f"{'':>10} one whole step of fig5-2d at these views: {row['step_s']:.3f} s")
    per_square = "n/a" if r["dense_bytes_per_N2"] is None else f"{r['dense_bytes_per_N2']:.1f}"
    per_row = "n/a" if r["tiled_bytes_per_N"] is None else f"{r['tiled_bytes_per_N']:.0f}"
    print(
        f"largest N in budget: dense {_count(r['dense_max_N'])} ({per_square} bytes per N^2), "
        f"tiled {_count(r['tiled_max_N_by_memory'])} by memory ({per_row} bytes per row; time grows as N^2)"
    )


if __name__ == "__main__":
    main()
