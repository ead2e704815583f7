"""Undoable data edits: an undo entry holds the command that does an edit and the command
that undoes it (sim/commands.py values), and sends one or the other to the worker. Edits that
draw or drop samples (add, remove, count, radius) share a memo with their undo, so undo and
redo put back the very samples (and offsets Delta) the run had; a move is exact by itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from sim.commands import AddCluster, Command, EditMemo, MoveCluster, RemoveCluster, SetCount, SetRadius, UndoEdit
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


def _kept(send: Send, text: str, do: Callable[[EditMemo], Command]) -> Edit:
    """A cluster edit whose undo puts back the cluster as the edit found it."""
    memo = EditMemo()
    return Edit(send, text, do(memo), UndoEdit(memo))


def add(send: Send, spec: ClusterSpec, index: int) -> Edit:
    return _kept(
        send, f"add cluster {index + 1}", lambda m: AddCluster(tuple(spec.center), spec.count, spec.radius, index, m)
    )


def remove(send: Send, index: int) -> Edit:
    return _kept(send, f"remove cluster {index + 1}", lambda m: RemoveCluster(index, m))


def count(send: Send, k: int, old: int, new: int) -> Edit:
    return _kept(send, f"cluster {k + 1}: count {old} -> {new}", lambda m: SetCount(k, new, m))


def radius(send: Send, k: int, old: float, new: float) -> Edit:
    return _kept(send, f"cluster {k + 1}: radius {old} -> {new}", lambda m: SetRadius(k, new, m))
