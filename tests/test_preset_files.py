"""Preset files: save -> load -> save is the same file, a loaded preset replays the run bit
for bit, and hundreds of generated presets, valid and broken, either run or get their
one-line error."""

import tomllib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import PresetError, Simulation, load_preset
from sim.preset import PRESET_DIR, preset_from_dict, preset_to_toml, save_preset


def test_save_load_save_is_the_same_file(tmp_path):
    for shipped in sorted(PRESET_DIR.glob("*.toml")):
        first = tmp_path / f"{shipped.stem}.toml"
        save_preset(load_preset(str(shipped)), first)
        second = tmp_path / f"{shipped.stem}-again.toml"
        save_preset(load_preset(str(first)), second)
        assert first.read_bytes() == second.read_bytes()
        assert load_preset(str(first)) == load_preset(str(shipped))


def test_a_saved_run_with_switches_and_edits_replays_exactly(tmp_path):
    sim = Simulation(load_preset("fig5-2d"), device="cpu")
    sim.move_cluster(0, [-3.0, 1.5])
    sim.step(15)
    sim.set_kernel("identity")
    sim.step(15)
    path = tmp_path / "run.toml"
    save_preset(sim.to_preset(), path)
    replay = Simulation(load_preset(str(path)), device="cpu")
    replay.step(30)
    assert replay.kernel == "identity"
    np.testing.assert_array_equal(replay.frame().X, sim.frame().X)
    np.testing.assert_array_equal(replay.frame().Z, sim.frame().Z)


def test_same_preset_same_seed_bit_identical_frames():
    frames = []
    for _ in range(2):
        sim = Simulation(load_preset("fig5-2d"), device="cpu")
        sim.step(25)
        frames.append(sim.frame(with_kernel=True))
    a, b = frames
    for name in ("Z", "X", "H"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.loss == b.loss and a.metrics == b.metrics


def test_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "p.toml"
    save_preset(load_preset("fig5-2d"), path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sim.files.os.replace", broken)
    p = load_preset("imbalanced")
    try:
        save_preset(p, path)
    except OSError:
        pass
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["p.toml"]


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 300), st.text(max_size=3), st.booleans()
)
cluster = st.fixed_dictionaries(
    {"center": st.one_of(st.lists(st.floats(-4, 4), min_size=1, max_size=3), numbers)},
    optional={"count": st.one_of(st.integers(-2, 12), numbers), "radius": st.one_of(st.floats(-1, 1), numbers)},
)
raw_preset = st.fixed_dictionaries(
    {"data": st.fixed_dictionaries({"clusters": st.lists(cluster, max_size=3)}, optional={"dim": st.integers(0, 3)})},
    optional={
        "seed": st.one_of(st.integers(-1, 5), numbers),
        "views": st.fixed_dictionaries(
            {}, optional={"count": st.integers(1, 3), "noise": numbers, "rotation": numbers, "scale": numbers}
        ),
        "network": st.fixed_dictionaries(
            {},
            optional={
                "kind": st.sampled_from(["mlp", "averaging", "cnn"]),
                "latent_dim": st.integers(1, 4),
                "width": st.one_of(st.integers(0, 8), numbers),
                "depth": st.integers(0, 3),
                "activation": st.sampled_from(["relu", "tanh", "gelu", "softplus", "erf", "sin"]),
            },
        ),
        "loss": st.fixed_dictionaries(
            {}, optional={"kind": st.sampled_from(["nt_xent", "generalized", "mse"]), "tau": numbers}
        ),
        "training": st.fixed_dictionaries(
            {},
            optional={
                "kernel": st.sampled_from(["nn", "identity", "limit", "x"]),
                "start": st.sampled_from(["network", "uniform", "clump", "given"]),
                "lr": numbers,
                "optimizer": st.sampled_from(["gd", "momentum", "adam", "sgd"]),
                "switches": st.lists(st.fixed_dictionaries({"step": numbers, "kernel": st.sampled_from(["nn", "y"])})),
            },
        ),
        "colour": st.just("red"),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_preset)
def test_generated_presets_run_or_get_a_one_line_error(raw):
    try:
        p = preset_from_dict(raw, "generated.toml")
        sim = Simulation(p, device="cpu", source="generated.toml")
        sim.step(2)
        frame = sim.frame()
    except PresetError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("generated.toml")
        return
    except Exception as exc:  # noqa: BLE001 - a divergence is an allowed outcome for wild step sizes
        assert type(exc).__name__ == "Divergence", repr(exc)
        return
    assert frame.Z.shape == (p.n, p.network.latent_dim)
    # a valid preset also survives the round trip through its file form
    assert preset_from_dict(tomllib.loads(preset_to_toml(p))) == p


def test_a_saved_run_with_edits_undo_redo_and_changes_replays_exactly(tmp_path):
    """Edits that draw or drop samples, made during the run, undone and redone, a setting and
    the kernel changed on the way: the saved file's run is this run, bit for bit (Save wrote
    the data as edited as the start, so a new run drew other samples and started from the
    last edit; a fresh-user look measured embeddings up to 2.0 apart)."""
    from gui import undo
    from sim.commands import Change, MoveCluster, SetKernel
    from sim.driver import RunDriver

    driver = RunDriver(load_preset("fig5-2d"))
    sent: list = []

    def do(edit) -> object:
        edit.redo()
        driver.apply(sent.pop())
        return edit

    def steps(count: int) -> None:
        for _ in range(count):
            driver.step()

    steps(3)
    shrink = do(undo.count(sent.append, 1, 64, 20))
    steps(4)
    do(undo.add(sent.append, load_preset("fig5-2d").data.clusters[0], 4))
    driver.apply(Change({"loss.tau": 0.3}))
    steps(2)
    removal = do(undo.remove(sent.append, 0))
    removal.undo()
    driver.apply(sent.pop())
    driver.apply(SetKernel("identity"))
    do(undo.radius(sent.append, 2, 0.3, 0.0))
    steps(3)
    shrink.undo()
    driver.apply(sent.pop())
    shrink.redo()
    driver.apply(sent.pop())
    for x in (0.5, 1.0, 1.5):  # a drag: three moves at one step
        driver.apply(MoveCluster(3, (x, 2.0), record=x == 1.5))
    steps(2)
    run = driver.main
    path = tmp_path / "edited.toml"
    save_preset(run.to_preset(), path)
    replay = Simulation(load_preset(str(path)))
    replay.step(run.step_count)
    assert torch.equal(replay.X, run.X) and torch.equal(replay.labels, run.labels)
    assert torch.equal(replay.delta, run.delta)
    assert all(torch.equal(a, b) for a, b in zip(replay.params, run.params))
    assert replay.kernel == run.kernel and replay.preset.loss.tau == 0.3
    assert np.array_equal(replay.frame().Z, run.frame().Z)
    saved = load_preset(str(path))
    assert [c.count for c in saved.data.clusters] == [64] * 4  # the start's data
    assert [e.op for e in saved.data.edits] == ["count", "add", "remove", "undo", "radius", "undo", "redo", "move"]


def test_scheduled_undo_undoes_its_own_edit_when_edits_by_hand_come_between(tmp_path):
    # a preset's scheduled undo names an edit by its place in the preset's list; an edit made by
    # hand before it must not take that place (it undid the hand-made add before)
    raw = load_preset("fig5-2d").model_dump()
    raw["data"]["clusters"] = [{"center": [c, 0.0], "count": 24, "radius": 0.3} for c in (-3.0, -1.0, 1.0, 3.0)]
    raw["network"]["width"], raw["training"]["start"] = 16, "network"
    raw["data"]["edits"] = [
        {"step": 3, "op": "add", "cluster": 4, "center": [0.0, 2.0], "count": 10, "radius": 0.2},
        {"step": 5, "op": "count", "cluster": 0, "count": 12},
        {"step": 7, "op": "undo", "edit": 0},
        {"step": 8, "op": "undo", "edit": 1},
    ]
    sim = Simulation(preset_from_dict(raw), device="cpu")
    sim.step(1)
    sim.add_cluster([0.0, -2.0], 7, 0.1)
    sim.step(3)
    path = tmp_path / "midway.toml"
    save_preset(sim.to_preset(), path)  # the scheduled add made, both undos still to come
    sim.step(6)
    clusters = sim.preset.data.clusters
    assert [c.count for c in clusters] == [24, 24, 24, 24, 7]
    assert clusters[4].center == [0.0, -2.0]  # the hand-made cluster stays
    assert [(e.op, e.edit) for e in load_preset(str(path)).data.edits if e.op == "undo"] == [("undo", 1), ("undo", 2)]
    replay = Simulation(load_preset(str(path)), device="cpu")
    replay.step(sim.step_count)
    assert torch.equal(replay.X, sim.X) and torch.equal(replay.delta, sim.delta)
    assert torch.equal(replay.labels, sim.labels)


def test_a_scheduled_undo_of_an_edit_that_changed_nothing_is_one_line(tmp_path):
    raw = load_preset("fig5-2d").model_dump()
    raw["data"]["edits"] = [
        {"step": 1, "op": "count", "cluster": 0, "count": raw["data"]["clusters"][0]["count"]},
        {"step": 2, "op": "undo", "edit": 0},
    ]
    sim = Simulation(preset_from_dict(raw, "same.toml"), device="cpu", source="same.toml")
    with pytest.raises(PresetError, match=r"^same.toml: data.edits\[1\] \(undo at step 2\): edit 0 is not an earlier"):
        sim.step(3)
    assert sim.step_count == 2


def test_a_replayed_runs_edits_change_the_drivers_data_and_are_marked_as_by_hand():
    from sim.driver import RunDriver

    raw = load_preset("fig5-2d").model_dump()
    raw["data"]["edits"] = [
        {"step": 2, "op": "add", "cluster": 4, "center": [0.0, 2.0], "count": 10, "radius": 0.2},
        {"step": 2, "op": "move", "cluster": 0, "center": [-2.5, 0.5]},
        {"step": 3, "op": "radius", "cluster": 1, "radius": 0.5},
        {"step": 4, "op": "undo", "edit": 0},
        {"step": 5, "op": "redo", "edit": 0},
    ]
    driver = RunDriver(preset_from_dict(raw))
    versions, events = [], []
    for _ in range(6):
        driver.step()
        versions.append(driver.data_version)
        events += driver.take_events()
    assert events == [
        (2, "added cluster 5"),
        (2, "moved cluster 1"),
        (3, "cluster 2: radius=0.5"),
        (4, "undo: added cluster 5"),
        (5, "added cluster 5"),
    ]
    assert np.diff(versions).tolist() == [1, 1, 1, 1, 0]  # steps 2, 3, 4, 5 changed the data
