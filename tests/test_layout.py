"""The shape of the code (issue 10): no module imports another in a circle (lazy imports
inside functions count), the simulation never imports the window, and the window's worker,
the export and the headless run all step runs through the one run driver."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "gui", "cli")


def modules() -> dict[str, Path]:
    found = {"main": ROOT / "main.py"}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in it (`from sim import x` names sim.x
    when x is a module, else sim)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) - {name} for name, path in mods.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, by depth-first search, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_another_in_a_circle():
    found = cycle(graph())
    assert found is None, " -> ".join(found)


def test_the_simulation_never_imports_the_window_or_the_command_line():
    for name, deps in graph().items():
        if name == "sim" or name.startswith("sim."):
            assert not {d for d in deps if d.split(".")[0] in ("gui", "cli")}, (name, deps)


def test_worker_export_and_headless_run_share_the_one_run_driver():
    edges = graph()
    for user in ("gui.worker", "gui.export", "sim.headless"):
        assert "sim.driver" in edges[user], user
        source = modules()[user].read_text(encoding="utf-8")
        assert "Simulation(" not in source and "set_kernel(" not in source, f"{user} builds or steps runs itself"
