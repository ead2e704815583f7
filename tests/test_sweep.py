"""Sweeps (sim/sweep.py, sim/sweep_engines.py, cli/sweep.py): the grid's product validated by
the preset model, one table read back, outcome measures against the runs' own frames, phase
diagrams, restart, cancel, and the same table from the local pool, serially and from Ray."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sim.outcomes import MEASURES
from sim.preset import PRESET_DIR, PresetError
from sim.sweep import make_sweep, parse_axis, parse_values, read_table
from sim.sweep_engines import execute

ROOT = Path(__file__).resolve().parent.parent
GRID = ["--grid", "loss.tau=0.1,0.5", "--grid", "network.width=16,64"]


def sweep_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "main.py", "sweep", "fig5-2d", *GRID, "--seeds", "2", "--steps", "40", "--every", "10",
            "--out", str(out), "--workers", "2", *extra]  # fmt: skip


def main_py(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def same_rows(a: list[dict], b: list[dict]) -> bool:
    """Equal row by row, value by value (nan equal to nan), in run order."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_ranges_read_evenly_spaced_values_on_the_command_line_as_in_the_dock() -> None:
    """`--grid` refused START:STOP:COUNT, which the window's Sweep dock took (a fresh-user look)."""
    assert parse_values("8:32:4") == [8, 16, 24, 32]
    assert parse_values("0:1:3") == [0.0, 0.5, 1.0] and parse_values("0.0:1:3") == [0.0, 0.5, 1.0]
    assert [type(v) for v in parse_values("8:33:3")] == [int, float, int]  # 20.5 is the one not whole
    assert parse_axis("network.width=16:64:4").values == (16, 32, 48, 64)
    # tidy decimals: 0.30000000000000004 did not equal the 0.3 of a list, in the table or a resume
    assert parse_values("0.1:0.5:3") == [0.1, 0.3, 0.5] and parse_values("0:1:11")[6:8] == [0.6, 0.7]
    for bad in ("1:2", "1:2:0", "a:2:3", "1:2:3:4", "inf:1:2", "nan:1:2", "mlp:averaging"):
        with pytest.raises(PresetError, match=r"^--grid: loss.tau: expected START:STOP:COUNT \(finite numbers, "):
            parse_axis(f"loss.tau={bad}")  # the field named, as its other errors do
    with pytest.raises(PresetError, match=r"^--grid: network.width: '16:16:3': START and STOP are equal"):
        parse_axis("network.width=16:16:3")


def test_a_sweep_file_takes_a_range_as_the_command_line_does(tmp_path) -> None:
    file = tmp_path / "s.toml"
    file.write_text('preset = "fig5-2d"\nseeds = 1\n[grid]\n"network.width" = "16:64:3"\n"loss.tau" = [0.5]\n')
    sweep, _ = make_sweep(None, [], None, 10, 5, file=file)
    assert [j.values for j in sweep.jobs()] == [(16, 0.5), (40, 0.5), (64, 0.5)]
    file.write_text('preset = "fig5-2d"\n[grid]\n"network.width" = "16:64"\n')
    with pytest.raises(PresetError, match=r"s.toml: grid.network.width: expected START:STOP:COUNT"):
        make_sweep(None, [], None, 10, 5, file=file)


def test_a_value_given_twice_is_refused_not_run_twice_as_another_seed(tmp_path) -> None:
    twice = r"0.1 given twice \(more runs of one value: more seeds\)$"
    with pytest.raises(PresetError, match=rf"^--grid: loss.tau: {twice}"):
        make_sweep("fig5-2d", ["loss.tau=0.1,0.5,0.1"], 1, 10, 5)
    file = tmp_path / "s.toml"
    file.write_text('preset = "fig5-2d"\nseeds = 1\n[grid]\n"loss.tau" = [0.1, 0.1]\n')
    with pytest.raises(PresetError, match=rf": grid: loss.tau: {twice}"):
        make_sweep(None, [], None, None, None, file=file)[0].jobs()


def test_grid_values_are_read_as_toml_and_checked_by_the_preset_model() -> None:
    assert parse_values("0.1,0.5") == [0.1, 0.5] and parse_values("16, 64") == [16, 64]
    assert parse_values("mlp,averaging") == ["mlp", "averaging"]
    assert parse_values("[-1.0, 0.5],[2, 3]") == [[-1.0, 0.5], [2, 3]]
    assert parse_values('"a:b",c') == ["a:b", "c"]  # a quoted ':' is a value, not a range
    axis = parse_axis("data.clusters[1].count=5,7")
    assert axis.field == "data.clusters[1].count" and axis.values == (5, 7)
    sweep, _ = make_sweep("fig5-2d", ["data.clusters[1].count=5,7", "loss.tau=1,0.5"], 3, 10, 5)
    jobs = sweep.jobs()
    assert len(jobs) == 12 and [j.seed for j in jobs[:3]] == [0, 1, 2]
    assert jobs[0].preset["data"]["clusters"][1]["count"] == 5 and jobs[0].values == (5, 1.0)
    assert isinstance(jobs[0].values[1], float)  # as the model holds it
    with pytest.raises(PresetError, match=r"--grid: loss.tau: expected a number > 0"):
        make_sweep("fig5-2d", ["loss.tau=0.5,-1"], 1, 10, 5)[0].jobs()
    with pytest.raises(PresetError, match=r"--grid: network.widht: no such field"):
        make_sweep("fig5-2d", ["network.widht=3"], 1, 10, 5)[0].jobs()


def test_a_grid_over_what_the_sweep_sets_for_every_run_is_refused() -> None:
    """seed, steps and every are the sweep's own (--seeds, --steps, --every): a grid over them
    ran every run alike and labelled the rows with values never used."""
    for grid, option in (("seed=1,2", "--seeds"), ("steps=10,40", "--steps"), ("every=5,50", "--every")):
        with pytest.raises(PresetError, match=rf"^--grid: {grid.split('=')[0]}: not a grid field; .*{option}"):
            make_sweep("fig5-2d", [grid], 1, 10, 5)[0].jobs()


def test_a_bad_grid_is_blamed_on_where_it_was_given(tmp_path) -> None:
    """A field twice on the command line is refused (the first was dropped silently); a sweep
    file's grid errors name the file, not --grid; a file setting written below [grid] (TOML
    puts it in that table) says so."""
    with pytest.raises(PresetError, match=r"^--grid: network.width: given twice"):
        make_sweep("fig5-2d", ["network.width=4", "network.width=8"], 1, 10, 5)
    typo = tmp_path / "typo.toml"
    typo.write_text('preset = "fig5-2d"\n[grid]\n"network.widht" = [4, 16]\n', encoding="utf-8")
    with pytest.raises(PresetError, match=rf"^{typo}: grid: network.widht: no such field$"):
        make_sweep(None, [], None, None, None, typo)[0].jobs()
    below = tmp_path / "below.toml"
    below.write_text('preset = "fig5-2d"\n[grid]\n"loss.tau" = [0.5]\ndiagrams = ["end_silhouette"]\n', "utf-8")
    with pytest.raises(PresetError, match=rf"^{below}: grid.diagrams: a sweep-file key inside the \[grid\] table"):
        make_sweep(None, [], None, None, None, below)
    out_of_range = tmp_path / "range.toml"
    out_of_range.write_text('preset = "fig5-2d"\n[grid]\n"loss.tau" = [0.5, -1]\n', encoding="utf-8")
    with pytest.raises(PresetError, match=rf"^{out_of_range}: grid: loss.tau: expected a number > 0"):
        make_sweep(None, [], None, None, None, out_of_range)[0].jobs()


def test_bad_grid_on_the_command_line_is_one_line_and_exit_2(tmp_path) -> None:
    for grid, name in (("network.width=16,0", "network.width"), ("loss.temp=1", "loss.temp"), ("tau", "FIELD=")):
        result = main_py([sys.executable, "main.py", "sweep", "fig5-2d", "--grid", grid, "--out", str(tmp_path / "s")])
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and name in result.stderr, result.stderr


def capture_from_npz(arrays, lr: float, thresholds=(0.5, 0.9, 0.5)) -> tuple[float, float]:
    """Capture step and first captured stretch, recomputed from a run's recorded metrics."""
    sil, R, angles, steps = (arrays[k] for k in ("metric_silhouette", "metric_R", "metric_neighbour_angle", "steps"))
    k = R.shape[1]
    ok = (sil >= thresholds[0]) & (R.min(1) >= thresholds[1]) & (angles.min(1) >= thresholds[2] * 360 / k)
    if not ok.any():
        return math.nan, math.nan
    start = int(np.argmax(ok))
    after = np.flatnonzero(~ok[start:])
    end = steps[start + after[0]] if after.size else steps[-1]
    return float(steps[start]), float(end - steps[start])


def test_sweep_writes_the_table_the_diagrams_and_restarts_without_rerunning(tmp_path) -> None:
    out = tmp_path / "sweep"
    result = main_py(sweep_cmd(out, "--npz"))
    assert result.returncode == 0, result.stderr
    rows, complete = read_table(out / "sweep.parquet")
    assert complete and len(rows) == 8
    assert [(r["loss.tau"], r["network.width"], r["seed"]) for r in rows] == [
        (tau, width, seed) for tau in (0.1, 0.5) for width in (16, 64) for seed in (0, 1)
    ]
    assert list(rows[0]) == ["run", "loss.tau", "network.width", "seed", "status", *MEASURES]
    for row in rows:
        arrays = np.load(out / "runs" / f"{row['run']:04d}.npz")
        assert row["end_silhouette"] == pytest.approx(float(arrays["metric_silhouette"][-1]), abs=0)
        assert row["kernel_distance"] == float(arrays["kernel_distance"][-1])
        assert row["kernel_alignment_start"] == float(arrays["kernel_alignment"][0])
        capture, held = capture_from_npz(arrays, 0.05)
        assert same_rows([row["capture_step"], row["captured_steps"]], [capture, held])
        at = np.flatnonzero(arrays["steps"] == capture)
        assert math.isnan(capture) or row["capture_time"] == float(arrays["flow_time"][at[0]])
    from PySide6.QtGui import QImage

    for measure in ("capture_step", "end_silhouette", "kernel_distance"):
        image = QImage(str(out / f"phase_{measure}.png"))
        assert (image.width(), image.height()) == (720, 480)
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["complete"] and manifest["done"] == 8

    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    for row in rows:  # strict JSON (bare NaN was written), a missing value as null
        saved = json.loads((out / "runs" / f"{row['run']:04d}.json").read_text(), parse_constant=no_constants)
        assert [k for k, v in saved["row"].items() if v is None] == [k for k in MEASURES if math.isnan(row[k])]
    assert any(math.isnan(row["capture_step"]) for row in rows)  # there was a NaN to write
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    again = main_py(sweep_cmd(out))
    assert again.returncode == 0 and "8 runs (8 done before)" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == stamps
    assert same_rows(read_table(out / "sweep.parquet")[0], rows)
    as_csv = main_py(sweep_cmd(out, "--format", "csv"))  # resumed in another format: one table, not two
    assert as_csv.returncode == 0 and not (out / "sweep.parquet").exists()
    assert [int(r["run"]) for r in read_table(out / "sweep.csv")[0]] == [r["run"] for r in rows]

    other = main_py(sweep_cmd(out, "--steps", "50"))
    assert (
        other.returncode == 2
        and f"error: --out: {out} holds a different sweep (its sweep.json); name a new folder" in other.stderr
    )


def long_sweep(out: Path, long_runs: int, workers: int) -> subprocess.Popen:
    """`main.py sweep` of a small run 0 (196 samples) then `long_runs` long ones (3192 samples
    and more: a value given twice is refused), started and waited on until run 0 has finished."""
    counts = ",".join(["4"] + [str(3000 + k) for k in range(long_runs)])
    cmd = [sys.executable, "main.py", "sweep", "fig5-2d", "--grid", f"data.clusters[0].count={counts}",
           "--steps", "300", "--every", "100", "--out", str(out), "--workers", str(workers), "--format", "csv"]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "runs" / "0000.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


def test_sigterm_cancels_every_run_and_leaves_the_finished_ones_marked_incomplete(tmp_path) -> None:
    out = tmp_path / "sweep"
    process = long_sweep(out, long_runs=2, workers=1)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=300)[1]
    assert process.returncode == 143, stderr
    assert "cancelled: 1 of 3 runs" in stderr and "marked incomplete" in stderr
    manifest = json.loads((out / "sweep.json").read_text())
    assert not manifest["complete"] and manifest["done"] == 1
    rows, _ = read_table(out / "sweep.csv")
    assert [int(r["run"]) for r in rows] == [0] and rows[0]["data.clusters[0].count"] == "4"


def descendants(pid: int) -> list[int]:
    """The processes started by `pid` and by those, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                children.append(int(entry.name))
    return children + [g for c in children for g in descendants(c)]


def running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process tree from /proc")
def test_a_second_ctrl_c_while_the_workers_stop_still_ends_the_sweep_and_its_workers(tmp_path) -> None:
    """Two SIGINTs at once (timeout forwarding one, a shell the other): the command printed
    "cancelled" and then waited for ever, its workers alive (a fresh-user look; the second
    signal had broken off the pool's shutdown). Ctrl-C pressed again and again while the
    workers stop: it ends with 130, no traceback, and leaves no process behind."""
    out = tmp_path / "sweep"
    process = long_sweep(out, long_runs=3, workers=2)
    started = descendants(process.pid)
    assert started, "no worker processes found"
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)  # the pace of a key held down: signals landing all through the shutdown
    try:
        stderr = process.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        for pid in [process.pid, *started]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        raise
    assert process.returncode == 130 and "cancelled: 1 of 4 runs" in stderr, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    deadline = time.monotonic() + 60
    while any(running(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in started if running(pid)]


@pytest.mark.parametrize("engine", ["local", "serial"])
def test_a_cancel_stops_running_runs_and_drops_the_rest(engine) -> None:
    import dataclasses

    from sim.sweep import Cancelled

    sweep, _ = make_sweep("fig5-2d", ["loss.tau=0.5,0.4,0.3"], 1, 20, 10)
    short, *others = sweep.jobs()
    jobs = [short, *(dataclasses.replace(job, steps=10**8) for job in others)]
    cancel, seen = threading.Event(), []

    def on_result(job, row) -> None:
        seen.append(job.index)
        cancel.set()

    with pytest.raises(Cancelled):
        execute(jobs, on_result, engine, workers=1, cancel=cancel)
    assert seen == [0]


def test_a_cancel_stops_a_run_inside_its_start_s_fit(monkeypatch) -> None:
    """fig5-2d's fitted start is 1000 Adam steps (seconds): a cancel ends the run inside the
    fit (within FIT_PROGRESS_EVERY of its steps), not after it (quitting the window mid-sweep
    waited for every worker's fit)."""
    import collections

    from sim import simulation, starts
    from sim.starts import FIT_PROGRESS_EVERY
    from sim.sweep import Cancelled
    from sim.sweep_engines import run_job

    sweep, _ = make_sweep("fig5-2d", ["loss.tau=0.5"], 1, 20, 10)
    (job,) = sweep.jobs()
    fit, reached = simulation.fit_network, []

    def watched(model, X, targets, steps, noise, generator, progress=None):
        def counted(done: int, total: int) -> None:
            reached.append(done)
            progress(done, total)

        return fit(model, X, targets, steps, noise, generator, counted if progress else None)

    monkeypatch.setattr(simulation, "fit_network", watched)
    monkeypatch.setattr(starts, "_fits", collections.OrderedDict())  # no fit kept from an earlier test
    with pytest.raises(Cancelled):
        run_job(job, lambda: True)
    assert reached == [FIT_PROGRESS_EVERY]


def test_ray_and_the_local_pool_give_the_same_rows_bit_for_bit(tmp_path) -> None:
    import ray

    sweep, _ = make_sweep("fig5-2d", ["loss.tau=0.1,0.5", "network.width=16,64"], 2, 30, 10)
    jobs = sweep.jobs()
    results = {}
    for engine in ("serial", "local", "ray"):
        rows = {}
        if engine == "ray":
            ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
        try:
            execute(jobs, lambda job, row, rows=rows: rows.__setitem__(job.index, row), engine, workers=2)
        finally:
            if engine == "ray":
                ray.shutdown()
        results[engine] = [rows[i] for i in sorted(rows)]
    assert len(results["serial"]) == 8
    assert same_rows(results["local"], results["serial"]) and same_rows(results["ray"], results["serial"])


def test_the_command_with_engine_ray_writes_the_same_table_as_the_local_pool(tmp_path) -> None:
    local, remote = tmp_path / "local", tmp_path / "ray"
    grid = ["--grid", "loss.tau=0.1,0.5", "--seeds", "2", "--steps", "20", "--every", "10", "--workers", "2"]
    for out, engine in ((local, "local"), (remote, "ray")):
        result = main_py([sys.executable, "main.py", "sweep", "fig5-2d", *grid, "--out", str(out), "--engine", engine])
        assert result.returncode == 0, result.stderr
    assert same_rows(read_table(local / "sweep.parquet")[0], read_table(remote / "sweep.parquet")[0])


def drawn(grid, size: tuple[int, int]):
    """A phase diagram of `grid` drawn at `size`: its image and its plot's (left, top, width, height)."""
    from gui.phase_diagram import MARGINS, PhaseDiagram

    diagram = PhaseDiagram()
    diagram.resize(*size)
    diagram.set_grid(grid)
    left, top, right, bottom = MARGINS
    return diagram.grab().toImage(), (left, top, size[0] - left - right, size[1] - top - bottom)


def test_a_cell_says_how_many_runs_had_a_value_and_fits_a_short_cell(qapp) -> None:
    """A 2-seed cell where one seed never captured read "400 / ± 0 / n=1", cut at the top and
    bottom in a 1366 x 768 dock: it says "n=1 of 2", its lines join to fit a short cell, and a
    colour bar of one value labels it once (it showed "400" at both ends)."""
    from PySide6.QtGui import QFont, QFontMetricsF

    from gui.phase_diagram import cell_text, diagram_title, fitted_lines
    from sim.sweep import phase_grid

    jobs = make_sweep("fig5-2d", ["loss.tau=0.1,0.5"], 2, 10, 5)[0].jobs()
    rows = [{"run": job.index, "capture_step": 400.0 if job.index == 0 else math.nan} for job in jobs]
    grid = phase_grid(jobs, rows, "capture_step", "loss.tau")
    first = next(iter(np.argwhere(grid.count > 0)))
    text = cell_text(grid, *first)
    assert text == "400\nn=1 of 2", text  # one value: no spread ("± 0" read as a measured spread)
    assert diagram_title(grid) == "capture_step: mean over seeds, ± seed spread (std)"
    both = [{"run": job.index, "capture_step": 400.0 + 20 * (job.seed % 2)} for job in jobs]
    two = phase_grid(jobs, both, "capture_step", "loss.tau")
    assert cell_text(two, *first) == f"410\n± {two.spread[tuple(first)]:.3g}\nn=2"
    assert two.spread[tuple(first)] == pytest.approx(10.0)  # the standard deviation of 400 and 420
    one_seed = make_sweep("fig5-2d", ["loss.tau=0.1,0.5"], 1, 10, 5)[0].jobs()
    single = phase_grid(
        one_seed, [{"run": job.index, "capture_step": 300.0} for job in one_seed], "capture_step", "loss.tau"
    )
    assert cell_text(single, 0, 0) == "300\nn=1" and diagram_title(single) == "capture_step: one run a cell"
    metrics = QFontMetricsF(QFont())
    text = cell_text(two, *first)
    assert fitted_lines(text, 10 * metrics.lineSpacing(), 500, metrics) == text
    assert fitted_lines(text, 2.2 * metrics.lineSpacing(), 500, metrics) == f"410 ± {two.spread[tuple(first)]:.3g}\nn=2"
    assert fitted_lines(text, 1.2 * metrics.lineSpacing(), 500, metrics) == f"410 ± {two.spread[tuple(first)]:.3g}, n=2"
    assert fitted_lines(text, 1.2 * metrics.lineSpacing(), 40, metrics).endswith("\N{HORIZONTAL ELLIPSIS}")
    image, (left, top, width, height) = drawn(grid, (520, 300))
    label_x = range(left + width + 36, min(520, left + width + 90))
    rows_with_text = {
        y for y in range(300) for x in label_x if image.pixelColor(x, y).lightness() > 90
    }  # the bar's labels, right of it: one group of rows, at its middle
    assert rows_with_text and max(rows_with_text) - min(rows_with_text) < 20, sorted(rows_with_text)
    assert abs((max(rows_with_text) + min(rows_with_text)) / 2 - (top + height / 2)) < 12


def test_means_that_read_the_same_are_one_colour(qapp) -> None:
    """Three cells reading -0.0509 were drawn yellow, green and purple (the colour scale spread
    over the fifth digit; a fresh-user look): they are one value, one colour, labelled once."""
    from sim.sweep import phase_grid

    jobs = make_sweep("fig5-2d", ["loss.tau=0.1,0.3,0.5"], 1, 10, 5)[0].jobs()
    rows = [{"run": job.index, "end_silhouette": -0.05091 - 1e-5 * job.index} for job in jobs]
    image, (left, top, width, _) = drawn(phase_grid(jobs, rows, "end_silhouette", "loss.tau"), (520, 300))
    y = top + 6  # above each cell's text
    colours = {image.pixelColor(int(left + (ix + 0.5) * width / 3), y).name() for ix in range(3)}
    assert len(colours) == 1, colours
    rows[2]["end_silhouette"] = -0.06  # a difference the cells show: the scale spans it
    image, _ = drawn(phase_grid(jobs, rows, "end_silhouette", "loss.tau"), (520, 300))
    assert len({image.pixelColor(int(left + (ix + 0.5) * width / 3), y).name() for ix in range(3)}) == 3


def test_a_diagram_of_runs_that_finished_without_a_value_says_so(qapp) -> None:
    """Runs that never captured their clusters have no capture step: their cells say "no
    value" (a fresh-user look found blank grey cells and a 0-to-1 colour bar), cells with no
    finished run stay blank, and no colour bar is drawn without a value to scale."""
    from PySide6.QtGui import QColor

    from gui.phase_diagram import EMPTY, cell_text
    from sim.sweep import phase_grid

    jobs = make_sweep("fig5-2d", ["loss.tau=0.1,0.5"], 1, 10, 5)[0].jobs()
    grid = phase_grid(jobs, [{"run": jobs[0].index, "capture_step": math.nan}], "capture_step", "loss.tau")
    assert grid.finished.tolist() == [[1, 0]] and grid.count.tolist() == [[0, 0]]
    image, (left, top, width, height) = drawn(grid, (720, 480))

    def differing(x0: int, x1: int, colour: QColor) -> int:
        """Pixels of columns x0..x1 (inside the plot's height) not of `colour`."""
        return sum(
            image.pixelColor(x, y).rgb() != colour.rgb()
            for x in range(x0, x1)
            for y in range(top + 4, top + height - 4, 2)
        )

    assert differing(left + 4, left + width // 2 - 4, EMPTY) > 20  # "never captured": text on grey
    assert cell_text(grid, 0, 0) == "never captured\n1 run done"
    grid = phase_grid(jobs, [{"run": jobs[0].index, "end_loss": math.nan}], "end_loss", "loss.tau")
    assert cell_text(grid, 0, 0) == "no value\n1 run done"
    assert differing(left + width // 2 + 4, left + width - 4, EMPTY) == 0  # no finished run: blank
    bar = [image.pixelColor(left + width + 24, y).rgb() for y in range(top + 4, top + height - 4, 8)]
    assert len(set(bar)) == 1  # no colour bar: one background colour where it would be


def test_a_sweep_file_names_its_preset_from_its_own_folder(tmp_path, monkeypatch) -> None:
    """preset = "mine.toml" beside the sweep file is found from any current folder, and a
    missing one names the sweep file (it was looked up in the current folder, unnamed)."""
    folder = tmp_path / "sf"
    folder.mkdir()
    text = (PRESET_DIR / "fig5-2d.toml").read_text(encoding="utf-8").replace('name = "fig5-2d"', 'name = "mine"')
    (folder / "mine.toml").write_text(text, encoding="utf-8")
    good, bad = folder / "good.toml", folder / "bad.toml"
    good.write_text('preset = "mine.toml"\n[grid]\n"loss.tau" = [0.5, 1.0]\n', encoding="utf-8")
    bad.write_text('preset = "gone.toml"\n[grid]\n"loss.tau" = [0.5]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert make_sweep(None, [], None, None, None, Path("sf/good.toml"))[0].preset.name == "mine"
    with pytest.raises(PresetError, match=r"^sf/bad.toml: preset: sf/gone.toml: no such preset file"):
        make_sweep(None, [], None, None, None, Path("sf/bad.toml"))
    # a sweep file that is not there: the reason in words (it was Python's "[Errno 2] ...: 'x'")
    with pytest.raises(PresetError, match=r"^sf/nosuch.toml: cannot read: no such file or directory$"):
        make_sweep(None, [], None, None, None, Path("sf/nosuch.toml"))


def test_seeds_alone_are_a_sweep_of_one_preset() -> None:
    """--seeds 3 with no grid: three runs, seeds 0, 1, 2 (it was refused); one seed alone is not a sweep."""
    sweep, _ = make_sweep("fig5-2d", [], 3, 10, 5)
    assert [(job.seed, job.fields, job.values) for job in sweep.jobs()] == [(0, (), ()), (1, (), ()), (2, (), ())]
    with pytest.raises(PresetError, match=r"^--grid: expected at least one FIELD=.*or --seeds of 2 or more$"):
        make_sweep("fig5-2d", [], 1, 10, 5)
