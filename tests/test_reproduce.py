"""`main.py reproduce`: bad options are one line with exit 2, an unwritable folder exit 1,
and the table it writes (claims.json, claims.md) reads back as the claims it measured."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.parser import main
from sim import claims

ROOT = Path(__file__).resolve().parent.parent


def test_bad_seed_and_unwritable_folder(tmp_path):
    bad = subprocess.run([sys.executable, "main.py", "reproduce", "--seed", "-1", "--out", str(tmp_path)],
                         check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --seed: expected an integer >= 0, got -1"
    ]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    unwritable = subprocess.run([sys.executable, "main.py", "reproduce", "--out", str(blocker / "sub")],
                                check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert unwritable.returncode == 1 and "error: --out" in unwritable.stderr


def test_the_written_table_is_the_measured_claims(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(claims, "CHECKS", (claims.theorem_3_2, claims.proposition_4_3))
    assert main(["reproduce", "--quick", "--seed", "5", "--out", str(tmp_path)]) == 0
    expected = [claims.theorem_3_2(5, True, None), claims.proposition_4_3(5, True, None)]
    written = json.loads((tmp_path / "claims.json").read_text())
    assert written["seed"] == 5 and written["quick"] is True
    assert [c["key"] for c in written["claims"]] == [c.key for c in expected]
    for row, claim in zip(written["claims"], expected):
        assert row["number"] == claim.number and row["verdict"] == claim.verdict
    table = (tmp_path / "claims.md").read_text()
    assert all(f"**{c.verdict}**" in table and c.claim in table for c in expected)
    assert capsys.readouterr().out.count("\n") == 2


def test_a_cancel_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    """A cancel after some figures were drawn replaced them beside an old claims.json of
    another seed; now nothing in the folder changes and no staging folder is left."""
    old = {"claims.json": '{"seed": 0}', "fig5_nn_start.png": "old figure"}
    for name, text in old.items():
        (tmp_path / name).write_text(text)

    def drawn_then_cancelled(seed, quick, out, progress=None):
        (out / "fig5_nn_start.png").write_text("new figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(claims, "run_claims", drawn_then_cancelled)
    assert main(["reproduce", "--quick", "--seed", "7", "--out", str(tmp_path)]) == 130
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == old


def test_a_bar_in_a_claim_stays_inside_its_cell_of_the_markdown_table():
    """Norms such as |u| or |own term| are escaped: each row has the table's five cells (a
    fresh-user look found the Remark 4.4 rows split into extra columns)."""
    rows = [
        claims.Claim("r", "|own term -lr Hbar_kk G_k| / |measured|", "ratio |v|", 0.5, "holds", "at |u| = 0.1"),
        claims.Claim("s", "plain", "plain", 1.0, "deviates", "line\nbreak"),
    ]
    table = claims.markdown(rows, 0, True).splitlines()
    body = [line for line in table if line.startswith("| ") and not line.startswith("| claim") and "---" not in line]
    assert len(body) == 2
    for line, claim in zip(body, rows):
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert cells == [claim.claim, claim.measured, f"{claim.number:.4g}", f"**{claim.verdict}**",
                         claim.why.replace("\n", " ")]  # fmt: skip


def test_the_evenly_spaced_uniformity_the_claim_quotes():
    """-1.590 for 256 points (pairs i = j left out), below the uniform law's -1.575 (the
    claim said "about the same" as the law)."""
    import numpy as np

    a = 2 * np.pi * np.arange(256) / 256
    z = np.stack([np.cos(a), np.sin(a)], 1)
    sq = ((z[:, None] - z[None]) ** 2).sum(-1)
    expected = np.log(np.exp(-2 * sq)[~np.eye(256, dtype=bool)].mean())
    assert claims._even_uniformity(256) == pytest.approx(expected, abs=1e-12)
    assert round(expected, 3) == -1.590 and round(-4 + np.log(np.i0(4.0)), 3) == -1.575


def test_claim_figures_draw_each_cluster_in_its_window_colour_and_the_curves_where_they_are(tmp_path) -> None:
    """Read back: the scatter puts cluster k's points at their place on the circle in the
    window's colour for k (its own palette differed), and the curves cross their ticks at the
    values they hold."""
    from types import SimpleNamespace

    from PIL import Image

    from sim.claims import _curves, _scatter
    from sim.palette import cluster_rgb255

    Z = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    frame = SimpleNamespace(Z=Z, labels=np.array([0, 1, 2]), step=7, flow_time=0.5, kernel="nn")
    _scatter(frame, tmp_path / "s.png", "title", size=320)
    image = Image.open(tmp_path / "s.png").convert("RGB")
    c, cy, r = 160, 24 + 160, 320 * 0.4
    for z, k in zip(Z, range(3), strict=True):
        assert image.getpixel((round(c + r * z[0]), round(cy - r * z[1]))) == cluster_rgb255(k)

    R = np.array([0.5])  # spread 1 - R = 0.5 all along; gap 45 / 180 = 0.25 at first, then 1
    frames = [
        SimpleNamespace(step=s, flow_time=t, cluster_metrics={"R": R, "neighbour_angle": np.array([gap])})
        for s, t, gap in ((0, 0.0, 45.0), (100, 0.01, 45.0), (200, 20.0, 180.0))
    ]  # against the step: the flow time's jump (the step rule's tiny early steps) squeezed it
    _curves(frames, tmp_path / "c.png", "title", width=480, height=300)
    image = Image.open(tmp_path / "c.png").convert("RGB")
    left, right, bottom, top = 40, 480 - 14, 300 - 46, 28
    x_quarter = round(left + (right - left) / 4)
    half = round(bottom - (bottom - top) * 0.5)
    column = [image.getpixel((x_quarter, y)) for y in range(top + 40, bottom)]
    reds = [y for y, p in zip(range(top + 40, bottom), column, strict=True) if p[0] > 150 and p[2] < 100]
    blues = [y for y, p in zip(range(top + 40, bottom), column, strict=True) if p[2] > 150 and p[0] < 100]
    assert reds and all(abs(y - half) <= 1 for y in reds)  # the spread at 0.5
    assert blues and all(abs(y - round(bottom - (bottom - top) * 0.25)) <= 1 for y in blues)  # the gap at 0.25
    assert image.getpixel((right - 1, top + 1))[2] > 150  # the gap at 1 at the end
