"""The README's commented preset example is a valid preset, and it is what the app writes
for that run: the same fields, in the same order, with the same values."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sim import Simulation, load_preset
from sim.preset import preset_from_dict, preset_to_toml, with_changes

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The indented block that follows the 'Preset files' heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Preset files\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    # Contrastive Kernel Lab preset"))
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def test_readme_preset_example_is_what_save_writes() -> None:
    example = readme_example()
    preset = preset_from_dict(tomllib.loads(example), "README.md")
    shipped = load_preset("fig5-2d")
    edited = Simulation(shipped, device="cpu")
    edited.move_cluster(0, [-3.5, 0.75])
    edited.set_kernel("identity")
    move = {"step": 0, "op": "move", "cluster": 0, "center": [-3.5, 0.75]}
    expected = with_changes(shipped, {"data.edits": [move], "training.switches": [{"step": 0, "kernel": "identity"}]})
    assert edited.to_preset() == expected
    expected = with_changes(expected, {"training.switches": [{"step": 300, "kernel": "identity"}]})
    assert preset == expected
    written = preset_to_toml(preset).splitlines()
    shown = [line.split("  #")[0].rstrip() for line in example.splitlines()]
    assert shown == written
