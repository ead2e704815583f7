"""Undoable data edits: an undo entry holds the command that does an edit and the command
that undoes it (sim/commands.py values), and sends one or the other to the worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from sim.commands import AddCluster, Command, MoveCluster, RemoveCluster, SetCount, SetRadius
from sim.preset import ClusterSpec

Send = Callable[[Command], None]


class Edit(QUndoCommand):
    """One undo entry: `do` on redo (and when pushed), `undo` on undo."""

    def __init__(self, send: Send, text: str, do: Command, undo: Command):
        super().__init__(text)
        self.send, self.do, self.inverse = send, do, undo

    def redo(self) -> None:
        self.send(self.do)

    def undo(self) -> None:
        self.send(self.inverse)


def move(send: Send, k: int, old: Sequence[float], new: Sequence[float]) -> Edit:
    return Edit(send, f"move cluster {k + 1}", MoveCluster(k, tuple(new)), MoveCluster(k, tuple(old)))


def add(send: Send, spec: ClusterSpec, index: int) -> Edit:
    cluster = AddCluster(tuple(spec.center), spec.count, spec.radius, index)
    return Edit(send, f"add cluster {index + 1}", cluster, RemoveCluster(index))


def remove(send: Send, spec: ClusterSpec, index: int) -> Edit:
    cluster = AddCluster(tuple(spec.center), spec.count, spec.radius, index)
    return Edit(send, f"remove cluster {index + 1}", RemoveCluster(index), cluster)


def count(send: Send, k: int, old: int, new: int) -> Edit:
    return Edit(send, f"cluster {k + 1}: count {old} -> {new}", SetCount(k, new), SetCount(k, old))


def radius(send: Send, k: int, old: float, new: float) -> Edit:
    return Edit(send, f"cluster {k + 1}: radius {old} -> {new}", SetRadius(k, new), SetRadius(k, old))
