"""`python main.py run`: the .npz it writes, read back and checked against a Simulation run
in the test, and its errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from sim import Simulation, load_preset
from sim.preset import with_changes

ROOT = Path(__file__).resolve().parent.parent


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "main.py", "run", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_writes_every_documented_key(tmp_path):
    out = tmp_path / "run.npz"
    result = run(
        "fig5-2d",
        "--steps",
        "30",
        "--every",
        "10",
        "--kernel",
        "identity",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "step 30/30" in result.stderr
    data = np.load(out)
    F, n, K = 4, 256, 4
    shapes = {
        "X": (n, 2),
        "labels": (n,),
        "steps": (F,),
        "kernel": (F,),
        "Z": (F, n, 2),
        "loss": (F,),
        "centers": (F, K, 2),
        "metric_alignment": (F,),
        "metric_uniformity": (F,),
        "metric_silhouette": (F,),
        "metric_invariance": (F,),
        "metric_block_ratio": (F,),
        "metric_R": (F, K),
        "metric_neighbour_angle": (F, K),
        "velocity_nn": (F, n, 2),
        "velocity_identity": (F, n, 2),
        "cluster_velocity_nn": (F, K, 2),
        "cluster_velocity_identity": (F, K, 2),
        "kernel_distance": (F,),
        "kernel_alignment": (F,),
        "kernel_eigenvalues": (F, 8),
        "kernel_top_share": (F,),
        "flow_time": (F,),
        "step_size": (F,),
        "max_move": (F,),
        "cluster_own_nn": (F, K, 2),
        "cluster_others_nn": (F, K, 2),
        "cluster_velocity_spread_nn": (F, K),
    }
    assert {k: data[k].shape for k in data.files} == shapes
    readme = (ROOT / "README.md").read_text()
    for key in shapes:
        assert f"`{key}" in readme, f"README does not document {key}"
    np.testing.assert_array_equal(data["steps"], [0, 10, 20, 30])
    assert list(data["kernel"]) == ["identity"] * F

    # the same run, done here through the API, gives the same numbers
    p = with_changes(load_preset("fig5-2d"), {"seed": 3, "training.kernel": "identity"})
    sim = Simulation(p, device="cpu")
    sim.step(20)
    frame = sim.frame()
    np.testing.assert_array_equal(data["Z"][2], frame.Z)
    assert data["loss"][2] == frame.loss
    np.testing.assert_array_equal(data["X"], frame.X)


def test_run_unwritable_output_says_so_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("fig5-2d", "--steps", "2", "--out", str(blocker / "sub" / "run.npz"))
    assert result.returncode == 1
    assert "--out: cannot write" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [blocker]


def test_run_bad_arguments(tmp_path):
    result = run("fig5-2d", "--steps", "-1", "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2 and "--steps: expected an integer >= 0" in result.stderr
    result = run("nope", "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2 and "no such preset" in result.stderr
    assert not list(tmp_path.iterdir())


def test_steps_0_records_the_start_alone(tmp_path):
    """It was refused, so the start's frame could not be recorded alone."""
    out = tmp_path / "start.npz"
    result = run("imbalanced", "--steps", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    arrays = np.load(out)
    start = Simulation(load_preset("imbalanced")).frame()
    assert arrays["steps"].tolist() == [0] and np.array_equal(arrays["Z"][0], start.Z)


def test_run_bad_device_is_one_line(tmp_path):
    for device, expected in (("foo", "expected 'auto', 'cpu', 'cuda' or 'cuda:N'"), ("cuda:x", "cuda:N")):
        result = run("fig5-2d", "--device", device, "--out", str(tmp_path / "x.npz"))
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr


EDITED = """name = "edited"
steps = 10
[data]
clusters = [ { center = [-1.0, 0.0], count = 20 }, { center = [1.0, 0.0], count = 20 } ]
[[data.edits]]
step = 5
op = "count"
cluster = CLUSTER
count = 10
[training]
start = "network"
"""


def test_a_saved_run_whose_edits_change_n_records_padded_frames(tmp_path):
    """A schedule that shrinks a cluster at step 5: the arrays over frames are padded with NaN
    to the largest n and frame_labels says each frame's labels (np.stack failed: "all input
    arrays must have the same shape"); a bad edit is one line naming the file and the edit."""
    preset, out = tmp_path / "edited.toml", tmp_path / "edited.npz"
    preset.write_text(EDITED.replace("CLUSTER", "1"), encoding="utf-8")
    result = run(str(preset), "--every", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    arrays = np.load(out)
    assert arrays["steps"].tolist() == [0, 5, 10] and arrays["Z"].shape == (3, 40, 2)
    assert np.isnan(arrays["Z"][:, :, 0]).sum(1).tolist() == [0, 10, 10]
    assert (arrays["frame_labels"] == 1).sum(1).tolist() == [20, 10, 10]
    assert arrays["X"].shape == (30, 2)  # the last frame's samples
    preset.write_text(EDITED.replace("CLUSTER", "7"), encoding="utf-8")
    result = run(str(preset), "--out", str(out))
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        f"error: {preset}: data.edits[0] (count at step 5): cluster: expected an index from 0 to 1, got 7"
    )
