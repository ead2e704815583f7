"""Every benchmark, one process per row, side by side: prints the table the README quotes
and writes bench/results.json with the raw numbers and the machine they came from.

    .venv/bin/python bench/run_all.py [--quick] [--device auto] [--big] [--rows ntk scale ...]

On a lent GPU machine, bench/gpu_check.sh runs the CUDA check and the GPU rows in one go.

Rows: the layer-wise NTK against the torch.func jacrev contraction; the tiled NT-Xent
against the dense one and pytorch-metric-learning's (time, peak memory, the largest N each
handles), and at 200k views against the machine's bound (N^2 exponentials at torch's exp2 rate
measured in the same run), idle and with one core kept busy; steps/s per kernel headless;
fig5-2d steps/s idle and with a core kept busy, torch's default threads against
sim.threads.threads_for; steps/s with the window open against headless; frames/s drawing 10k
and 100k points; video encoding and render+encode frames/s at 1280x720; a sweep on the local
process pool against serial and on Ray against the pool. The window rows need a display:
without one they run under xvfb-run.

The rows run are merged into the results file: rows not run keep their numbers (each row
carries the date it was measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROWS = {
    "ntk": ("bench.bench_ntk", {"device": "{device}"}),
    "scale": (
        "bench.bench_scale",
        {"device": "{device}", "sizes": [512, 4096, 16384], "large": [200000], "threads": 1},
    ),
    "core": ("bench.bench_core", {"device": "{device}"}),
    "load": ("bench.bench_load", {}),
    "gui": ("bench.bench_gui", {}),
    "video": ("bench.bench_video", {}),
    "sweep": ("bench.bench_sweep", {}),
}
QUICK = {
    "scale": {"sizes": [4096, 8192], "large": [32768]},
    "core": {"steps": 100},
    "load": {"seconds": 1.5},
    "gui": {"step_seconds": 3.0, "draw_seconds": 1.5},
    "video": {"frames": 40},
    "sweep": {"steps": 100},
}


BIG = {"scale": {"sizes": [4096, 16384, 32768], "large": [200000, 1000000]}}


def run_row(name: str, device: str, quick: bool, big: bool = False) -> dict:
    module, kwargs = ROWS[name]
    kwargs = {k: (v.format(device=device) if isinstance(v, str) else v) for k, v in kwargs.items()}
    if quick:
        kwargs.update(QUICK.get(name, {}))
    if big:
        kwargs.update(BIG.get(name, {}))
    code = (
        "import json, sys; sys.path.insert(0, '.'); "
        f"from {module} import run; print('RESULT' + json.dumps(run(**json.loads(sys.argv[1]))))"
    )
    command = [sys.executable, "-c", code, json.dumps(kwargs)]
    if name == "gui" and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", *command]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "xcb"))
    print(f"running {name}...", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT") :])
    return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**30:.3f} GiB"


def table(results: dict) -> list[str]:
    lines = ["| measurement | result |", "| --- | --- |"]

    def add(what: str, result: str) -> None:
        lines.append(f"| {what} | {result} |")

    r = results.get("ntk", {})
    if "speedup" in r:
        add(
            f"NTK n={r['n']}, {r['depth']} x {r['width']} MLP: layer-wise vs jacrev J J^T",
            f"{r['layerwise_s']:.3f} s, {_gib(r['layerwise_peak_bytes'])} vs {r['jacrev_s']:.2f} s, "
            f"{_gib(r['jacrev_peak_bytes'])}: {r['speedup']:.0f}x faster, max rel. diff "
            f"{r['max_abs_diff_over_max_abs']:.1e}",
        )
    r = results.get("scale", {})
    for row in r.get("rows", []):
        dense = (
            f"{row['dense_s']:.3f} s, {_gib(row['dense_peak_bytes'])}"
            if "dense_s" in row
            else f"over budget ({_gib(row['dense_predicted_bytes'])} predicted)"
        )
        pml = (
            f" vs {row['pml_s']:.2f} s, {_gib(row['pml_peak_bytes'])}"
            if "pml_s" in row
            else " (pytorch-metric-learning: not run, its N x N^2 mask)"
        )
        add(
            f"NT-Xent + gradient, N = {row['N']} views: tiled vs dense PyTorch vs pytorch-metric-learning",
            f"{row['tiled_s']:.3f} s, {_gib(row['tiled_peak_bytes'])} vs {dense}{pml}",
        )
    for row in r.get("large", []):
        if "torch_tiles_s" in row:
            what, beside = "fused kernels vs torch tiles", f" vs {row['torch_tiles_s']:.2f} s"
        elif "one_thread_s" in row:
            what, beside = f"tiles in {row['tile_threads']} threads vs one", f" vs {row['one_thread_s']:.1f} s"
        else:
            what, beside = "tiled", ""
        add(
            f"NT-Xent + gradient, N = {row['N']} views, {what}",
            f"{row['tiled_s']:.2f} s, {_gib(row['tiled_peak_bytes'])}{beside}",
        )
        if "step_s" in row:
            add(f"one whole step of fig5-2d, N = {row['N']} views", f"{row['step_s']:.2f} s")
        if "bound_multiple" in row:
            rates = r["exp_rates"]
            add(
                f"bound for N = {row['N']}: N^2 exponentials at torch.exp2's best rate in the run "
                f"({rates['threads']} threads, {rates['exp2_per_s'] / 1e9:.1f} G/s, "
                f"{rates['exp2_per_cpu_s'] / 1e9:.1f} G per CPU-s; torch.exp {rates['exp_per_s'] / 1e9:.1f} G/s)",
                f"{row['exp2_bound_s']:.2f} s ({row['exp2_bound_cpu_s']:.2f} CPU-s); the loss idle "
                f"{min(row['tiled_s'], row['idle_s']):.2f} s = **{row['bound_multiple']:.2f}x**",
            )
            if "torch_tiles_cpu_s" in row:
                add(
                    f"NT-Xent + gradient, N = {row['N']}: compiled loop vs torch tiles, idle",
                    f"{row['idle_s']:.2f} s, {row['idle_cpu_s']:.2f} CPU-s vs {row['torch_tiles_wall_s']:.2f} s, "
                    f"{row['torch_tiles_cpu_s']:.2f} CPU-s",
                )
            add(
                f"NT-Xent + gradient, N = {row['N']}, one core kept busy",
                f"{row['busy_s']:.2f} s, {row['busy_cpu_s']:.2f} CPU-s = **{row['busy_cpu_bound_multiple']:.2f}x** "
                f"the bound's CPU-s (idle: {row['idle_cpu_s']:.2f} CPU-s)",
            )
    if r.get("dense_max_N"):
        add(
            f"largest N within {_gib(r['budget_bytes'])}",
            f"dense {r['dense_max_N']}, tiled {r['tiled_max_N_by_memory'] or '-'} (by memory; time grows as N^2)",
        )
    r = results.get("core", {})
    if "nn" in r:
        kernels = ("nn", "identity", "limit")
        for name, words in (("bare", "bare stepping"), ("with_frames_every_20", "frames every 20 steps")):
            value = " / ".join(f"{r[k][f'{name}_steps_per_s']:.0f}" for k in kernels)
            if f"{name}_speedup" in r["nn"]:  # rows from before the torch step was measured beside it have none
                value += (
                    "; the torch step beside it "
                    + " / ".join(f"{r[k][f'torch_step_{name}_steps_per_s']:.0f}" for k in kernels)
                    + ": "
                    + " / ".join(f"{r[k][f'{name}_speedup']:.2f}x" for k in kernels)
                )
            add(f"fig5-2d steps/s headless, NN / identity / limit ({words}; {r.get('threads', '?')} threads)", value)
    r = results.get("load", {})
    if "rule_busy_steps_per_s" in r:
        add(
            f"{r['preset']} steps/s headless, idle / one core kept busy: torch's {r['default_threads']} threads "
            f"vs threads_for's {r['rule_threads']}",
            f"{r['default_idle_steps_per_s']:.0f} / {r['default_busy_steps_per_s']:.0f} vs "
            f"{r['rule_idle_steps_per_s']:.0f} / {r['rule_busy_steps_per_s']:.0f}",
        )
    r = results.get("gui", {})
    if "ratio" in r:
        add(
            "fig5-2d steps/s: window open vs headless",
            f"{r['window_steps_per_s']:.0f} vs {r['headless_steps_per_s']:.0f} (ratio {r['ratio']:.2f}, the median of "
            f"{len(r.get('pair_ratios', [r['ratio']]))} alternating pairs: "
            f"{', '.join(f'{x:.2f}' for x in r.get('pair_ratios', [r['ratio']]))}; "
            f"window draws {r['window_frames_per_s']:.0f} frames/s)",
        )
        for k in (10, 100):
            add(
                f"frames/s drawing {k}k points (one view / side by side)",
                f"{r[f'draw_fps_{k}k_1view']:.1f} / {r[f'draw_fps_{k}k_2view']:.1f}",
            )
        if "large_full_frame_s" in r:
            add(
                f"{r['large_samples'] // 1000}k samples (fig5-2d's data): window's first preview / first full frame; "
                "steps/s headless",
                f"{r['large_preview_s']:.1f} s / {r['large_full_frame_s']:.1f} s; "
                f"{r['large_headless_steps_per_s']:.2f} steps/s",
            )
    r = results.get("sweep", {})
    if "local_s" in r:
        ray = f"; Ray local {r['ray_s']:.1f} s ({r['ray_over_local']:.2f} of the pool)" if "ray_s" in r else ""
        ray += f"; starting: pool {r['local_start_s']:.1f} s" + (
            f", Ray {r['ray_start_s']:.1f} s" if "ray_s" in r else ""
        )
        add(
            f"sweep of {r['runs']} fig5-2d runs x {r['steps']} steps: local pool ({r['workers']} processes) vs serial",
            f"{r['local_s']:.1f} s vs {r['serial_s']:.1f} s ({r['local_over_serial']:.2f} of serial){ray}; "
            f"same rows: {r['same_rows']}",
        )
    r = results.get("video", {})
    if "encode_fps" in r:
        add(
            f"video {r['size']} H.264 (fig5-2d, embedding + curves): draw / encode / draw + encode",
            f"{r['draw_fps']:.0f} / {r['encode_fps']:.0f} / {r['render_encode_fps']:.0f} frames/s",
        )
    for name, r in results.items():
        if isinstance(r, dict) and "error" in r:
            add(f"{name}", f"failed: {r['error']}")
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write_atomic(path: Path, text: str) -> None:
    """`text` into `path` through a temporary file beside it and a rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter timings")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--big", action="store_true", help="the tiled loss at 1M views too (for a GPU)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.rows:
        results[name] = run_row(name, args.device, args.quick, args.big)
        results[name]["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["machine"] = machine()
    results["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["quick"] = args.quick
    large = [
        row for row in results.get("scale", {}).get("large", []) if row["N"] == 200_000 and "bound_multiple" in row
    ]
    if large:  # the headline figures (issue 15)
        results["loss_200k_bound_multiple"] = large[0]["bound_multiple"]
        results["loss_200k_busy_cpu_bound_multiple"] = large[0]["busy_cpu_bound_multiple"]
    if "bare_speedup" in results.get("core", {}).get("nn", {}):  # fig5-2d's NN: compiled over torch step, side by side
        nn = results["core"]["nn"]
        results["fig5_2d_compiled_over_torch_step"] = {
            "bare": nn["bare_speedup"],
            "with_frames_every_20": nn["with_frames_every_20_speedup"],
        }
    if "ratio" in results.get("gui", {}):  # steps/s with the window open over headless
        results["window_headless_ratio"] = results["gui"]["ratio"]
    write_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(f"Machine: {results['machine']}; {results['date']}{' (quick)' if args.quick else ''}")
    dated = {name: r.get("date", "before per-row dates") for name, r in results.items() if name in ROWS}
    print("Rows measured: " + "; ".join(f"{name} {date}" for name, date in dated.items()) + "\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
