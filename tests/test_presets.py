"""Presets: every shipped one loads and runs; each broken one gets a one-line error naming
the file and the field, from the API and from the command line (exit 2, no traceback)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim import PresetError, Simulation, load_preset
from sim.preset import PRESET_DIR, with_changes

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
GOOD = (PRESET_DIR / "fig5-2d.toml").read_text()


def test_the_issue_presets_ship():
    assert {"fig5-2d", "appendix-b-3d", "imbalanced", "uniform-start", "one-hidden-layer"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_runs(name):
    p = load_preset(name)
    sim = Simulation(p)
    sim.step(3)
    frame = sim.frame()
    assert frame.Z.shape == (sim.n, p.network.latent_dim)
    if p.data.kind == "clusters":
        assert frame.X.shape == (p.n, p.data.dim)


BROKEN = [
    ("name = 1\n", "name", "non-empty string"),
    (f"name = '{'x' * 201}'\n", "name", "of at most 200 characters"),
    ("[data]\ndim = 2\nclusters = [{center=[1e300, 0.0]}]\n", "data.clusters[0].center", "numbers from -1e6 to 1e6"),
    ("seed = -1\n", "seed", "integer from 0"),
    ("colour = 'red'\n", "colour", "unknown field"),
    ("[data]\ndim = 2\nclusters = []\n", "data.clusters", "at least one cluster"),
    ("[data]\ndim = 2\nclusters = [{center=[1.0], count=3}]\n", "data.clusters[0].center", "2 coordinates"),
    ("[data]\ndim = 2\nclusters = [{center=[1.0, 0.0], count=0}]\n", "data.clusters[0].count", "integer from 1"),
    ("[data]\ndim = 2\nclusters = [{center=[1.0, 0.0], radius=-1}]\n", "data.clusters[0].radius", "number from 0"),
    ("[data]\ndim = 2\nclusters = [{count=3}]\n", "data.clusters[0].center", "missing"),
    ("[data]\ndim = 2\nclusters = [{center=[0.0,0.0]}]\n[views]\ncount = 1\n", "views.count", "from 2 to 64"),
    ("[data]\nclusters = [{center=[0.0,0.0]}]\n[network]\nlatent_dim = 4\n", "network.latent_dim", "2 (circle)"),
    ("[data]\nclusters = [{center=[0.0,0.0]}]\n[network]\nactivation = 'sin'\n", "network.activation", "one of relu"),
    ("[data]\nclusters = [{center=[0.0,0.0]}]\n[loss]\ntau = 0\n", "loss.tau", "> 0"),
    ("[data]\nclusters = [{center=[0.0,0.0]}]\n[training]\nkernel = 'ntk'\n", "training.kernel", "nn, identity, limit"),
    ("[data]\nclusters = [{center=[0.0,0.0]}]\n[training]\nstart = 'given'\n", "training.start_points", ".npy"),
    (
        "[data]\nclusters = [{center=[0.0,0.0]}]\n[training]\nswitches = [{step=-3, kernel='nn'}]\n",
        "training.switches[0].step",
        "integer from 0",
    ),
    ("data = 3\n", "data", "table"),
    ("[data\n", "", "not valid TOML"),
]


@pytest.mark.parametrize("text,field,expected", BROKEN)
def test_broken_preset_names_file_and_field(tmp_path, text, field, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PresetError) as err:
        load_preset(str(path))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert f": {field}:" in message or not field
    assert expected in message


def test_given_start_file_is_checked(tmp_path):
    import numpy as np

    np.save(tmp_path / "pts.npy", np.ones((3, 2)))
    path = tmp_path / "given.toml"
    path.write_text(GOOD.replace('start = "fitted"', f'start = "given"\nstart_points = "{tmp_path / "pts.npy"}"'))
    with pytest.raises(PresetError, match=r"start_points: expected 256 x 2"):
        Simulation(load_preset(str(path)))
    np.save(tmp_path / "pts.npy", np.random.default_rng(0).normal(size=(256, 2)))
    sim = Simulation(load_preset(str(path)))
    z = np.load(tmp_path / "pts.npy")
    np.testing.assert_allclose(sim.frame().Z, z / np.linalg.norm(z, axis=1, keepdims=True), atol=1e-6)


def test_a_folder_given_as_the_preset_says_it_is_a_folder(tmp_path):
    with pytest.raises(PresetError, match=rf"^{tmp_path}: a folder; expected a preset file \(.toml\)"):
        load_preset(str(tmp_path))


def test_a_single_sample_is_refused_at_load():
    """One sample passed the preset model and failed at the first frame (exit 1)."""
    one = {"data.clusters": [{"center": [0.0, 0.0], "count": 1, "radius": 0.1}]}
    with pytest.raises(PresetError, match=r"^preset: data.clusters: expected at least 2 samples in all .*got 1$"):
        with_changes(load_preset("fig5-2d"), one)


def test_unknown_preset_name():
    with pytest.raises(PresetError, match="no such preset.*fig5-2d"):
        load_preset("no-such-thing")


@pytest.mark.parametrize(
    "old,new,field", [("seed = 0", "seed = 'x'", "seed"), ("noise = 0.1", "noise = -1", "views.noise")]
)
def test_command_line_bad_preset_one_line_exit_2(tmp_path, old, new, field):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(old, new))
    out = subprocess.run(
        [sys.executable, "main.py", "run", str(path), "--out", str(tmp_path / "x.npz")],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith(f"error: {path}: {field}: expected")
    assert not (tmp_path / "x.npz").exists()


def test_with_changes_returns_a_new_validated_preset():
    from sim.preset import with_changes

    p = load_preset("fig5-2d")
    q = with_changes(p, {"seed": 3, "loss.tau": 0.2, "data.clusters[1].count": 5})
    assert (q.seed, q.loss.tau, q.data.clusters[1].count) == (3, 0.2, 5)
    assert (p.seed, p.loss.tau, p.data.clusters[1].count) == (0, 0.5, 64)
    with pytest.raises(PresetError, match=r"^preset: loss.taux: no such field$"):
        with_changes(p, {"loss.taux": 1})
    with pytest.raises(PresetError, match=r"loss.tau: expected a number > 0"):
        with_changes(p, {"loss.tau": -1})


@pytest.mark.parametrize(
    "line, field, expected",
    [
        ("[loss]\ntau = inf\n", "loss.tau", "> 0 and <= 1000"),
        ("[loss]\ntau = nan\n", "loss.tau", "> 0 and <= 1000"),
        ("[training]\nlr = inf\n", "training.lr", "> 0 and <= 100"),
        ("[training]\nlr = 1e30\n", "training.lr", "> 0 and <= 100"),
        ("[training]\nlr_points = -inf\n", "training.lr_points", "> 0 and <= 100"),
        ("[data]\nclusters = [{center=[nan, 0.0]}]\n", "data.clusters[0].center", "numbers from -1e6 to 1e6, got nan"),
        ("[data]\nclusters = [{center=[0.0, 0.0], radius=inf}]\n", "data.clusters[0].radius", "from 0 to 1e+06"),
        ("[data]\nclusters = [{center=[0.0, 0.0], count=-1}]\n", "data.clusters[0].count", "from 1 to 1000000"),
        ("seed = 9223372036854775807\n", "seed", "from 0 to"),
        ("[network]\nwidth = 1000000\n", "network.width", "from 1 to 100000"),
        ("[views]\nshift = 1\n", "views.shift", "expected 0 for 'clusters' data"),
        ("[views]\nnoise = true\n", "views.noise", "number from 0"),
    ],
)
def test_every_number_is_finite_and_in_its_declared_range(tmp_path, line, field, expected):
    """Issue 10/11: each field's own declaration refuses non-finite and out-of-range values at
    load, with one line naming the file and the field."""
    path = tmp_path / "bad.toml"
    base = "" if line.startswith("[data]") else "[data]\nclusters = [{center=[0.0, 0.0]}]\n"
    path.write_text(line + base if line.startswith("seed") else base + line)
    with pytest.raises(PresetError) as err:
        load_preset(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}: {field}: ") and "\n" not in message
    assert expected in message


def test_the_limit_kernel_beyond_its_sample_count_is_refused_at_load(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("[data]\nclusters = [{center=[0.0, 0.0], count=5000}]\n[training]\nkernel = 'limit'\n")
    with pytest.raises(PresetError, match=r"big.toml: training.kernel: 'limit' handles at most 4096 samples, got 5000"):
        load_preset(str(path))


def test_presets_are_immutable_and_changes_are_new_validated_values():
    from pydantic import ValidationError

    p = load_preset("fig5-2d")
    with pytest.raises(ValidationError):
        p.loss.tau = 0.3
    with pytest.raises(PresetError, match=r"^edit: data.clusters\[0\].count: expected an integer from 1 to 1000000"):
        with_changes(p, {"data.clusters[0].count": -1}, "edit")


def test_field_ranges_come_from_the_declarations():
    from sim.preset import ClusterSpec, LossSpec, NetworkSpec, field_range

    assert field_range(NetworkSpec, "width") == (1, 100_000)
    assert field_range(ClusterSpec, "count") == (1, 1_000_000)
    assert field_range(LossSpec, "tau") == (0, 1000)


@pytest.mark.parametrize("name", ["🧪 clusters ✨", "Ünïcödé — 日本語", 'quote " and \\ backslash'])
def test_a_preset_named_with_emoji_saves_and_reopens_equal_under_a_non_ascii_path(tmp_path, name):
    from sim.preset import save_preset

    p = with_changes(load_preset("fig5-2d"), {"name": name, "description": "line one\nline two 🎉"})
    folder = tmp_path / "données 🗂"
    folder.mkdir()
    path = folder / f"{name.split()[0]}.toml"
    save_preset(p, path)
    assert load_preset(str(path)) == p


def test_a_bare_name_is_the_shipped_preset_even_beside_a_folder_or_file_of_that_name(tmp_path, monkeypatch):
    """An output folder named after the preset hid it ('a folder; expected a preset file');
    ./NAME names the local file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fig5-2d").mkdir()
    assert load_preset("fig5-2d").name == "fig5-2d"
    local = tmp_path / "digits"
    local.write_text((PRESET_DIR / "fig5-2d.toml").read_text(encoding="utf-8").replace('"fig5-2d"', '"mine"'), "utf-8")
    assert load_preset("digits").name == "digits" and load_preset("./digits").name == "mine"


def test_relative_file_paths_in_a_preset_are_taken_from_its_folder(tmp_path, monkeypatch):
    """data.path = "x.npy" beside the preset: read from the preset's folder whatever the
    current folder (it was read from the current folder, and failed elsewhere)."""
    folder = tmp_path / "sub"
    folder.mkdir()
    X = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    np.save(folder / "x.npy", X)
    text = (PRESET_DIR / "fig5-2d.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "clusters"', 'kind = "file"\npath = "x.npy"')
    (folder / "rel.toml").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    preset = load_preset("../sub/rel.toml")
    assert Path(preset.data.path).resolve() == (folder / "x.npy").resolve()
    np.testing.assert_array_equal(Simulation(preset, device="cpu").X.numpy(), X)
