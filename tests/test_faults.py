"""Faults users of similar tools report (issue 11), each a case that failed before: numbers a
preset cannot hold, sizes the machine cannot hold, outputs of exactly zero before the
projection onto the sphere, and steps that would make the run non-finite. Each ends in one
line naming the file and the field (exit 2) or a divergence that keeps the last good state;
never a traceback, never NaN in a written file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sim.fused_mlp
import sim.simulation
from cli.parser import main
from sim import Divergence, PresetError, Simulation, load_preset
from sim.budget import estimate_bytes, parameters
from sim.frame import Frame
from sim.networks import MLP, AveragingNet
from sim.preset import with_changes

BASE = "[data]\nclusters = [{center=[-1.0, 0.0]}, {center=[1.0, 0.0]}]\n"


def run_cli(tmp_path, text: str, capsys, *extra: str) -> tuple[int, str]:
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    code = main(
        ["run", str(path), "--steps", "3", "--every", "1", "--device", "cpu", "--out", str(tmp_path / "o.npz"), *extra]
    )
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "text, field",
    [
        (BASE + "[loss]\ntau = inf\n", "loss.tau"),
        (BASE + "[training]\nlr = inf\n", "training.lr"),
        (BASE + "[training]\nlr = 1e30\n", "training.lr"),
        (BASE + "[training]\nlr_points = 1e30\n", "training.lr_points"),
        (BASE + "[training]\nkernel = 'limit'\n[views]\ncount = 2\n", None),
        ("[data]\nclusters = [{center=[0.0, 0.0], count=5000}]\n[training]\nkernel = 'limit'\n", "training.kernel"),
        ("seed = 9223372036854775808\n" + BASE, "seed"),
        ("[data]\nclusters = [{center=[nan, 0.0]}]\n", "data.clusters[0].center"),
        (BASE + "[views]\nshift = 1\n", "views.shift"),
        ("x = " + "[" * 1000 + "]" * 1000 + "\n" + BASE, ""),
    ],
)
def test_bad_numbers_are_one_line_naming_the_file_and_field_with_exit_2(tmp_path, capsys, text, field):
    code, err = run_cli(tmp_path, text, capsys)
    if field is None:  # a valid preset runs
        assert code == 0, err
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: {tmp_path / 'case.toml'}: {field}"), lines[0]
    assert not (tmp_path / "o.npz").exists()


def test_a_run_too_big_for_memory_is_refused_before_allocating_with_the_estimate(tmp_path, capsys):
    code, err = run_cli(tmp_path, BASE + "[network]\nwidth = 100000\ndepth = 64\n", capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert ": memory: the run needs about" in err and "GiB free" in err


def test_thirty_million_samples_are_refused_before_they_are_drawn(tmp_path, capsys):
    clusters = ", ".join(f"{{center=[{k}.0, 0.0], count=1000000}}" for k in range(30))
    code, err = run_cli(tmp_path, f"[data]\nclusters = [{clusters}]\n", capsys)
    assert code == 2 and ": memory: the run needs about" in err and "30,000,000 samples" in err


def test_the_estimate_counts_the_network_it_builds():
    p = load_preset("fig5-2d")
    assert parameters(p, 2) == sum(t.numel() for t in MLP(2, 2, 64, 4).parameters())
    q = with_changes(p, {"network.kind": "averaging", "network.width": 50})
    assert parameters(q, 2) == sum(t.numel() for t in AveragingNet(2, 2, 50).parameters())
    assert estimate_bytes(with_changes(p, {"network.width": 128}), 256, 2) > estimate_bytes(p, 256, 2)


def test_an_output_of_exactly_zero_is_refused_with_its_cause(tmp_path, capsys):
    """A ReLU averaging net has no bias: a cluster of radius 0 at the origin maps to exactly 0."""
    text = (
        "[data]\nclusters = [{center=[0.0, 0.0], radius=0.0}, {center=[2.0, 0.0]}]\n"
        "[network]\nkind = 'averaging'\nactivation = 'relu'\n"
    )
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "network.activation: the network's output is exactly 0" in err


def test_a_zero_data_row_with_the_erf_averaging_net_is_refused_not_written_as_nan(tmp_path, capsys):
    data = np.vstack([np.zeros((1, 2)), np.random.default_rng(0).normal(size=(40, 2))])
    np.save(tmp_path / "d.npy", data)
    text = f"[data]\nkind = 'file'\npath = '{tmp_path / 'd.npy'}'\n[network]\nkind = 'averaging'\nactivation = 'erf'\n"
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 2 and "exactly 0" in err and "sample 0" in err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("optimizer", ["momentum", "gd"])
def test_a_step_that_would_make_the_network_non_finite_is_not_taken(monkeypatch, optimizer):
    """A finite gradient times a finite step size can still overflow float32: the step is
    refused and the run keeps its last good state (theta, and the optimiser's state: momentum
    buffers, or none for plain gradient descent)."""
    monkeypatch.setattr(sim.fused_mlp, "plan", lambda *args, **kwargs: None)  # the loss below is torch's
    run = Simulation(with_changes(load_preset("fig5-2d"), {"training.lr": 100.0, "training.optimizer": optimizer}))
    run.step(2)
    before = [p.detach().clone() for p in run.model.parameters()]
    state = run.theta_opt.state
    buffers = [state[p]["momentum_buffer"].clone() for p in run.model.parameters()] if optimizer == "momentum" else []
    assert (len(state) > 0) == (optimizer == "momentum")
    z = run.embed()
    first = next(run.model.parameters())  # a loss whose gradient is 5e36 on one weight, 0 elsewhere
    monkeypatch.setattr(sim.simulation, "contrastive_loss", lambda Z, *a, **k: 0 * Z.sum() + 5e36 * first[0, 0])
    with pytest.raises(Divergence, match=r"step 2: the update made the network non-finite"):
        run.step()
    assert run.step_count == 2 and torch.equal(run.embed(), z)
    for p, old in zip(run.model.parameters(), before):
        assert torch.equal(p, old)
    for p, buf in zip(run.model.parameters(), buffers):
        assert torch.equal(run.theta_opt.state[p]["momentum_buffer"], buf)
    assert (len(run.theta_opt.state) > 0) == (optimizer == "momentum")


def test_a_frame_with_a_non_finite_result_names_it():
    frame = Simulation(load_preset("fig5-2d")).frame(block_ratio=False)
    assert frame.non_finite() == []
    Z = frame.Z.copy()
    Z[3, 0] = np.nan
    bad = Frame(**{**frame.__dict__, "Z": Z, "loss": float("inf")})
    assert bad.non_finite() == ["Z", "loss"]


def test_an_edit_past_the_limit_kernel_s_size_is_refused_and_the_run_goes_on():
    run = Simulation(with_changes(load_preset("fig5-2d"), {"training.kernel": "limit"}))
    with pytest.raises(PresetError, match="'limit' handles at most 4096 samples"):
        run.set_cluster_count(0, 5000)
    assert run.n == 256
    run.step()
