"""Undo and redo of cluster edits through the run driver (the commands the window's undo
entries send, gui/undo.py): an undo puts back the very samples the run had before the edit
and the offsets Delta of the samples that come back; a redo the very samples of the edit,
whatever the steps taken in between; the side-by-side twin alike, which runs the other
kernel."""

from __future__ import annotations

import pytest
import torch
from preset_support import helix_clusters

from gui import undo
from sim import load_preset
from sim.commands import Command
from sim.driver import RunDriver
from sim.preset import with_changes

SMALL = {
    "data.clusters": [{"center": [c, 0.0], "count": 24, "radius": 0.3} for c in (-3.0, -1.0, 1.0, 3.0)],
    "network.width": 16,
    "training.start": "network",
    "training.kernel": "identity",  # the offsets Delta move every step
}


@pytest.fixture
def driver() -> RunDriver:
    d = RunDriver(with_changes(load_preset("fig5-2d"), SMALL), twin=True)
    for _ in range(3):
        d.step()
    return d


def run_steps(d: RunDriver, count: int) -> None:
    for _ in range(count):
        d.step()


def state(d: RunDriver) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]]:
    return [(s.X.clone(), s.labels.clone(), s.delta.detach().clone(), s.preset.data.clusters) for s in d.sims]


EDITS = {
    "count down": lambda send: undo.count(send, 1, 24, 10),
    "count up": lambda send: undo.count(send, 1, 24, 40),
    "radius": lambda send: undo.radius(send, 1, 0.3, 0.7),
    "radius 0": lambda send: undo.radius(send, 1, 0.3, 0.0),
    "remove": lambda send: undo.remove(send, 1),
    "add": lambda send: undo.add(send, load_preset("fig5-2d").data.clusters[0], 2),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_undo_and_redo_put_back_the_very_samples(driver: RunDriver, name: str) -> None:
    sent: list[Command] = []
    edit = EDITS[name](sent.append)
    before = state(driver)
    edit.redo()
    driver.apply(sent.pop())
    after = state(driver)
    run_steps(driver, 4)
    moved = state(driver)
    edit.undo()
    driver.apply(sent.pop())
    for (X, labels, delta, clusters), (_, now_labels, delta_now, _), sim in zip(before, moved, driver.sims):
        assert torch.equal(sim.X, X) and torch.equal(sim.labels, labels)
        assert sim.preset.data.clusters == clusters
        # Delta: a sample the edit kept has its Delta as the steps left it; one the edit
        # dropped comes back with the Delta it had when dropped.
        kept_rows = min(int((now_labels == 1).sum()), int((labels == 1).sum())) if name != "remove" else 0
        for k in range(4):
            mine, was = sim.delta.detach()[labels == k], delta[labels == k]
            if k != 1 or name == "add":
                shift = {"add": int(k >= 2), "remove": -int(k > 1)}.get(name, 0)  # the edit's renumbering
                assert torch.equal(mine, delta_now[now_labels == k + shift])
            else:
                assert torch.equal(mine[:kept_rows], delta_now[now_labels == 1][:kept_rows])
                assert torch.equal(mine[kept_rows:], was[kept_rows:])
    run_steps(driver, 5)
    edit.redo()
    driver.apply(sent.pop())
    for (X, labels, _, clusters), sim in zip(after, driver.sims):
        assert torch.equal(sim.X, X) and torch.equal(sim.labels, labels)
        assert sim.preset.data.clusters == clusters
    run_steps(driver, 2)  # the run steps on


def test_a_twin_turned_on_after_the_edit_takes_the_runs_samples(driver: RunDriver) -> None:
    from sim.commands import Twin

    driver.apply(Twin(False))
    sent: list[Command] = []
    edit = undo.count(sent.append, 0, 24, 5)
    X = driver.main.X.clone()
    edit.redo()
    driver.apply(sent.pop())
    driver.apply(Twin(True))
    edit.undo()
    driver.apply(sent.pop())
    assert all(torch.equal(s.X, X) for s in driver.sims)


def test_undo_of_a_refused_edit_changes_nothing(driver: RunDriver) -> None:
    sent: list[Command] = []
    edit = undo.count(sent.append, 9, 24, 5)  # no cluster 10
    edit.redo()
    with pytest.raises(Exception, match="cluster"):
        driver.apply(sent.pop())
    X = driver.main.X.clone()
    edit.undo()
    driver.apply(sent.pop())
    assert torch.equal(driver.main.X, X)


def test_a_removed_cluster_on_a_curve_comes_back() -> None:
    """Clusters on a curve can be removed but not added; undo puts one back as it was."""
    changes = {**helix_clusters(20), "network.width": 16, "training.start": "network"}
    d = RunDriver(with_changes(load_preset("fig5-2d"), changes))
    run_steps(d, 2)
    X, tangents = d.main.X.clone(), d.main.samples.tangents.clone()
    sent: list[Command] = []
    edit = undo.remove(sent.append, 0)
    edit.redo()
    d.apply(sent.pop())
    assert d.main.n == 40
    run_steps(d, 2)
    edit.undo()
    d.apply(sent.pop())
    assert torch.equal(d.main.X, X) and torch.equal(d.main.samples.tangents, tangents)
    run_steps(d, 2)


def test_clusters_keep_their_ids_through_edits_and_undo(driver: RunDriver) -> None:
    """The ids the curves follow a cluster's history by: an added cluster gets a new one, a
    removed one's goes, and undoing the removal brings it back."""
    sent: list[Command] = []
    assert driver.main.frame().cluster_ids.tolist() == [0, 1, 2, 3]
    add = undo.add(sent.append, load_preset("fig5-2d").data.clusters[0], 4)
    add.redo()
    driver.apply(sent.pop())
    remove = undo.remove(sent.append, 1)
    remove.redo()
    driver.apply(sent.pop())
    assert [s.cluster_ids for s in driver.sims] == [[0, 2, 3, 4]] * 2
    remove.undo()
    driver.apply(sent.pop())
    assert driver.main.frame().cluster_ids.tolist() == [0, 1, 2, 3, 4]


def test_the_twin_runs_the_other_kernel() -> None:
    """Side by side beside an NN run: the identity kernel; beside an identity run
    (uniform-start starts on it): the NN kernel, not the same identity run twice."""
    for preset, main, twin in (("fig5-2d", "nn", "identity"), ("uniform-start", "identity", "nn")):
        driver = RunDriver(load_preset(preset), device="cpu", twin=True)
        assert [sim.kernel for sim in driver.sims] == [main, twin], preset
        assert [f.kernel for f in driver.frames()] == [main, twin]
