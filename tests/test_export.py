"""`python main.py export`: run as a display-less machine runs it (no DISPLAY, no Qt platform
set), the MP4 and PNG files it writes are read back and checked; bad presets and options
are one line and exit status 2 with nothing written; an unwritable target, a full disk and
Ctrl-C leave nothing under the final name."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PySide6.QtGui import QImage, QPainter

from gui.colors import BACKGROUND, PALETTE
from gui.export import Cancelled, ExportOptions, FrameComposer, image_array, layout, open_sink, replay
from main import main
from sim import Simulation, load_preset
from sim.driver import KERNEL_NAMES
from sim.preset import PRESET_DIR

ROOT = Path(__file__).resolve().parent.parent


def headless_env() -> dict[str, str]:
    """The environment of a machine with no display at all."""
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "QT_QPA_PLATFORM", "PYTEST_QT_API")
    return {k: v for k, v in os.environ.items() if k not in drop}


def export_cmd(*args: str) -> list[str]:
    return [sys.executable, "main.py", "export", *args]


def run_export(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        export_cmd(*args), cwd=ROOT, env=headless_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def near(image: np.ndarray, rgb: np.ndarray, tol: int) -> np.ndarray:
    target = np.round(np.asarray(rgb) * 255).astype(int)
    return np.all(np.abs(image[..., :3].astype(int) - target) <= tol, axis=-1)


def hex_rgb(text: str) -> np.ndarray:
    return np.array([int(text[i : i + 2], 16) / 255 for i in (1, 3, 5)])


def test_mp4_reads_back_with_its_frames_size_motion_and_every_cluster_colour(tmp_path):
    out = tmp_path / "fig5.mp4"
    size = (480, 320)
    result = run_export(
        "fig5-2d", "--video", str(out), "--frames", "8", "--steps-per-frame", "25", "--size", "480x320", "--fps", "10",
        "--panels", "embedding", "twin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 8 frames of 480x320" in result.stderr
    assert "fig5-2d: 8 frames, 25 steps apart, 480x320, panels embedding twin" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig5.mp4"]  # no temporary file left

    reader = imageio.get_reader(out, format="FFMPEG")
    frames = [frame for frame in reader]  # the plugin reports inf frames: count by reading
    reader.close()
    assert len(frames) == 8
    assert all(f.shape == (size[1], size[0], 3) for f in frames)
    changes = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in itertools.pairwise(frames)]
    assert min(changes) > 0.05, "some frames repeat: the run did not move"

    _, content, _ = layout(("embedding", "twin"), size)
    for name in ("embedding", "twin"):
        r = content[name]
        for index in (0, -1):
            panel = frames[index][r.top() : r.bottom() + 1, r.left() : r.right() + 1]
            assert near(panel, hex_rgb(BACKGROUND), tol=6).mean() > 0.5  # the window's background
            for k in range(4):
                found = near(panel, PALETTE[k], tol=40).sum()
                assert found >= 15, f"{name} panel, frame {index}: cluster {k + 1}'s colour is missing"


def test_png_frames_are_the_asked_count_and_size(tmp_path):
    folder = tmp_path / "frames"
    result = run_export(
        "imbalanced", "--png-dir", str(folder), "--frames", "3", "--steps-per-frame", "5", "--size", "321x203",
        "--panels", "embedding", "kernel", "curves",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"wrote {folder}: 3 frames of 321x203"  # no frame rate
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    images = [iio.imread(folder / name) for name in names]
    assert all(image.shape == (203, 321, 3) and image.dtype == np.uint8 for image in images)
    assert not np.array_equal(images[0], images[-1])
    _, content, _ = layout(("embedding", "kernel", "curves"), (321, 203))
    r = content["kernel"]
    heatmap = images[-1][r.top() : r.bottom() + 1, r.left() : r.right() + 1]
    assert heatmap.std() > 20  # the kernel panel is drawn, not blank


def test_arrows_keep_their_length_per_frame_unless_the_scale_is_fixed(tmp_path):
    """By default each frame scales its own arrows (as the window does), so at step 800 of
    fig5-2d, when the groups have formed and the moves are far smaller than at step 0, the
    cluster arrows are still drawn; with --fixed-arrow-scale the first frame's scale is kept
    and they are ticks. The first frames are the same picture either way."""
    images = {}
    for name, extra in (("free", ()), ("fixed", ("--fixed-arrow-scale",))):
        folder = tmp_path / name
        result = run_export(
            "fig5-2d", "--png-dir", str(folder), "--frames", "2", "--steps-per-frame", "800",
            "--size", "480x320", "--panels", "embedding", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        images[name] = [iio.imread(folder / f"frame_0000{k}.png") for k in range(2)]
    r = layout(("embedding",), (480, 320))[1]["embedding"]
    view = (slice(r.top(), r.bottom() + 1), slice(r.left(), r.right() + 1))
    assert np.array_equal(images["free"][0][view], images["fixed"][0][view])
    arrow_colours = [0.55 + 0.45 * PALETTE[k] for k in range(4)]  # embedding_scene's arrows

    def arrow_pixels(image: np.ndarray) -> int:
        return int(sum(near(image[view], rgb, 12).sum() for rgb in arrow_colours))

    first = arrow_pixels(images["free"][0])
    assert first > 200
    assert arrow_pixels(images["free"][1]) > first / 3
    assert arrow_pixels(images["fixed"][1]) < first / 20


def test_seed_and_kernel_options_replay_what_a_preset_with_them_does(tmp_path):
    """export takes run's --seed and --kernel: the frames equal those of a preset file that
    says the same (export had neither, so a run made with them could not be recorded)."""
    text = (PRESET_DIR / "imbalanced.toml").read_text(encoding="utf-8")
    text = text.replace("seed = 0", "seed = 3").replace('kernel = "nn"', 'kernel = "identity"')
    assert "seed = 3" in text and 'kernel = "identity"' in text
    edited = write(tmp_path / "edited.toml", text)
    common = ("--frames", "2", "--steps-per-frame", "5", "--size", "240x160", "--panels", "embedding")
    by_options = run_export(
        "imbalanced", "--png-dir", str(tmp_path / "a"), "--seed", "3", "--kernel", "identity", *common
    )
    by_file = run_export(str(edited), "--png-dir", str(tmp_path / "b"), *common)
    assert by_options.returncode == 0 == by_file.returncode, by_options.stderr + by_file.stderr
    for name in ("frame_00000.png", "frame_00001.png"):
        assert np.array_equal(iio.imread(tmp_path / "a" / name), iio.imread(tmp_path / "b" / name))
    plain = run_export("imbalanced", "--png-dir", str(tmp_path / "c"), *common)
    assert plain.returncode == 0 and not np.array_equal(
        iio.imread(tmp_path / "a" / "frame_00001.png"), iio.imread(tmp_path / "c" / "frame_00001.png")
    )


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('name = "x"\n[data]\nclusters = [ { center = [0.0, 0.0] } ]\n[loss]\ntau = -1.0\n', "loss.tau"),
        ('name = "x"\ncolour = "red"\n[data]\nclusters = [ { center = [0.0, 0.0] } ]\n', "colour"),
        ("name = [unclosed\n", "not valid TOML"),
        (b"name = \xff\xfe\n", "cannot read: not UTF-8 text"),
    ],
    ids=["out-of-range", "unknown-field", "not-toml", "unreadable"],
)
def test_a_bad_preset_is_one_line_and_exit_2(tmp_path, capsys, content, field):
    preset = write(tmp_path / "bad.toml", content)
    out = tmp_path / "out.mp4"
    assert exit_code([str(preset), "--video", str(out), "--frames", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(preset) in err and field in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--video", "OUT.avi"], "--video: expected a .mp4 or .gif file"),
        (["--video", "OUT.mp4", "--size", "641x360"], "--size: expected an even width and height"),
        (["--video", "OUT.mp4", "--size", "wide"], "--size: expected WIDTHxHEIGHT"),
        (["--video", "OUT.mp4", "--panels", "embedding", "heatmap"], "--panels: expected some of"),
        (["--video", "OUT.mp4", "--frames", "0"], "--frames: expected an integer >= 1"),
        (["--video", "OUT.mp4", "--steps-per-frame", "0"], "--steps-per-frame: expected an integer >= 1, got 0"),
        (["--video", "OUT.mp4", "--fps", "0"], "--fps: expected a number"),
        (
            ["--video", "OUT.gif", "--fps", "60"],
            "viewers play delays under 2/100 s at about 10 fps: expected at most 50 for a .gif, got 60",
        ),
        (
            ["--video", "OUT.mp4", "--twin-from", "50"],
            "--twin-from: starts the twin panel's run; expected --panels with twin, got embedding,curves",
        ),
        (["--png-dir", "OUT", "--video", "OUT.mp4"], "not allowed with argument"),
        ([], "one of the arguments --video --png-dir is required"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    assert exit_code(["fig5-2d", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def exit_code(argv: list[str]) -> int:
    """The command's exit status, whether it returns it or argparse exits with it."""
    try:
        return main(["export", *argv])
    except SystemExit as exc:
        return exc.code


def test_export_steps_a_small_run_in_one_thread_as_run_does(tmp_path, monkeypatch):
    """Issue 11's thread rule holds for export too (torch's default threads made a busy
    machine's export 5x slower): fig5-2d's replay is drawn with one intra-op thread."""
    import cli.export
    import gui.export

    seen = []

    def drawn(preset, options, *rest):
        seen.append(torch.get_num_threads())
        return options.frames

    monkeypatch.setattr(gui.export, "export", drawn)
    monkeypatch.setattr(cli.export, "egl_environment", lambda: None)  # vispy's backend: chosen once a process
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert exit_code(["fig5-2d", "--video", str(tmp_path / "out.mp4"), "--frames", "2"]) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_an_unwritable_target_says_so_and_writes_nothing(tmp_path):
    blocker = write(tmp_path / "not-a-folder", "x")
    result = run_export("fig5-2d", "--video", str(blocker / "out.mp4"), "--frames", "2", "--size", "320x240")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --video: cannot write") and "not a folder" in last and "nothing written" in last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


@pytest.mark.parametrize(
    "target", [["--video", "/proc/x.mp4"], ["--png-dir", "/proc/frames"], ["--png-dir", "FULL"]], ids=str
)
def test_an_unwritable_target_is_refused_before_any_frame(tmp_path, target):
    full = tmp_path / "full"
    full.mkdir()
    write(full / "frame_00000.png", "x")
    target = [a.replace("FULL", str(full)) for a in target]
    result = run_export("fig5-2d", *target, "--frames", "100000", "--size", "320x240")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr  # no header, no progress
    assert result.stderr.startswith(f"error: {target[0]}: cannot write {target[1]}")
    assert sorted(p.name for p in full.iterdir()) == ["frame_00000.png"]


@pytest.mark.parametrize(
    ("kind", "sig", "status"),
    [("mp4", signal.SIGINT, 130), ("mp4", signal.SIGTERM, 143), ("png", signal.SIGTERM, 143)],
)
def test_ctrl_c_or_sigterm_cancels_and_leaves_no_partial_file(tmp_path, kind, sig, status):
    target = ["--video", str(tmp_path / "long.mp4")] if kind == "mp4" else ["--png-dir", str(tmp_path / "frames")]
    proc = subprocess.Popen(
        export_cmd("fig5-2d", *target, "--frames", "500", "--size", "320x240"),
        cwd=ROOT,
        env=headless_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = ""
    while not re.search(r"frame \d+/", seen):  # a frame written (stderr is a pipe: progress every LOG_INTERVAL s)
        char = proc.stderr.read(1)
        assert char, f"the export ended early: {seen}"
        seen += char
    assert len(list(tmp_path.iterdir())) == 1  # the temporary file (or folder) being written
    proc.send_signal(sig)
    try:
        rest = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == status
    assert "cancelled; nothing written" in rest and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def file_size_limit():
    """A full disk: writes past 64 KiB fail (EFBIG) in this process and in the encoder it starts."""
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, before[1]))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, before)


@pytest.mark.parametrize("kind", ["mp4", "gif", "png"])
def test_a_full_disk_fails_the_write_and_leaves_nothing(tmp_path, file_size_limit, kind):
    noise = np.random.default_rng(0).integers(0, 256, (6, 240, 320, 3), dtype=np.uint8)  # incompressible
    target = tmp_path / ("out" if kind == "png" else f"out.{kind}")
    with pytest.raises(OSError, match="disk full|File too large"), open_sink(target, kind, (320, 240), 10) as sink:
        for frame in noise:
            sink.add(frame)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["gif", "png"])
def test_sinks_write_what_they_are_given(tmp_path, kind):
    frames = [np.full((60, 80, 3), (40 * i, 200 - 40 * i, 90), dtype=np.uint8) for i in range(4)]
    target = tmp_path / ("out" if kind == "png" else "out.gif")
    with open_sink(target, kind, (80, 60), 5.0) as sink:
        for frame in frames:
            sink.add(frame)
    read = [iio.imread(p) for p in sorted(target.iterdir())] if kind == "png" else list(iio.imiter(target))
    assert len(read) == 4
    for got, want in zip(read, frames):
        assert got.shape[:2] == (60, 80)
        assert np.abs(got[..., :3].astype(int) - want).max() <= 8


def test_runs_in_two_threads_match_a_run_alone():
    """An export steps its own run in its own thread while the window's worker steps the live
    one: each must get exactly the frames it would get alone (torch's forward-mode AD and
    seeded initialisation are process-wide state)."""

    def run(results: dict, key: int) -> None:
        sim = Simulation(load_preset("fig5-2d"), device="cpu")
        for _ in range(20):
            sim.step(1)
            results[key] = sim.frame(block_ratio=False).Z

    alone: dict = {}
    run(alone, 0)
    together: dict = {}
    threads = [threading.Thread(target=run, args=(together, i)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(together) == [0, 1]
    for Z in together.values():
        np.testing.assert_array_equal(Z, alone[0])


def test_a_cancel_stops_an_export_inside_a_step_s_loss(monkeypatch) -> None:
    """At a large n one step is long: the cancel is heard between two tiles of its loss."""
    import sim.fused_mlp
    import sim.losses

    monkeypatch.setattr(sim.losses, "DEFAULT_TILE_BYTES", 512 * 4 * 16)  # 32 tiles per loss
    monkeypatch.setattr(sim.fused_mlp, "plan", lambda *args, **kwargs: None)  # as at a large n: torch tiles
    calls = itertools.count(1)
    options = ExportOptions(panels=("embedding",), size=(320, 240), fps=10, frames=3, steps_per_frame=20)
    driver, frames = replay(load_preset("fig5-2d"), options, cancelled=lambda: next(calls) >= 10)
    with pytest.raises(Cancelled):
        next(frames)  # the frame at step 0: the 10th tile of its loss hears the cancel
    assert driver.main.step_count == 0


def test_a_long_title_is_shortened_and_step_and_kernel_stay_whole(qapp) -> None:
    """The title bar with a run name wider than the frame: the name ends in an ellipsis, and
    the pixels that show the step and kernel change with them, left of the cluster colours."""
    frame = Simulation(load_preset("fig5-2d"), device="cpu").frame(block_ratio=False)
    later = dataclasses.replace(frame, step=1234, kernel="identity")
    size = (640, 360)

    def title_bar(name: str, shown) -> tuple[str, np.ndarray]:
        composer = FrameComposer(ExportOptions(panels=("curves",), size=size), lambda s: None, name)
        image = QImage(*size, QImage.Format.Format_RGB888)
        painter = QPainter(image)
        text = composer.draw_title(painter, shown)
        painter.end()
        composer.close()
        return text, image_array(image)[: composer.title_rect.height()]

    text, _ = title_bar("fig5-2d", frame)
    assert text == f"fig5-2d    step 0    kernel: {KERNEL_NAMES['nn']}"
    name = "a run whose name is much longer than the frame is wide " * 4
    text, first = title_bar(name, frame)
    assert text.endswith(f"\N{HORIZONTAL ELLIPSIS}    step 0    kernel: {KERNEL_NAMES['nn']}")
    text, second = title_bar(name, later)
    assert text.endswith(f"\N{HORIZONTAL ELLIPSIS}    step 1234    kernel: {KERNEL_NAMES['identity']}")
    changed = np.nonzero(np.any(first != second, axis=(0, 2)))[0]
    assert changed.size > 0, "step and kernel are not drawn: the title pushed them out"
    legend = [np.nonzero(near(first, PALETTE[k], tol=30).any(axis=0))[0] for k in range(4)]
    assert all(columns.size for columns in legend), "a cluster colour is missing from the title bar"
    assert changed.max() < min(columns.min() for columns in legend)


def test_curves_against_flow_time_in_an_export(tmp_path, qapp):
    """`--x-axis flow-time`: the exported curves panel differs from the step one (its axis),
    the embedding panel beside it is the same picture; the composer's lines are the frames'
    flow times; a bad value is the option's one-line error."""
    images = {}
    for axis in ("step", "flow-time"):
        folder = tmp_path / axis
        result = run_export("fig5-2d", "--png-dir", str(folder), "--frames", "2", "--steps-per-frame", "5",
                            "--size", "640x360", "--x-axis", axis)  # fmt: skip
        assert result.returncode == 0, result.stderr
        images[axis] = iio.imread(folder / "frame_00001.png")
    _, content, _ = layout(("embedding", "curves"), (640, 360))
    crop = {name: (slice(r.top(), r.bottom() + 1), slice(r.left(), r.right() + 1)) for name, r in content.items()}
    assert np.array_equal(images["step"][crop["embedding"]], images["flow-time"][crop["embedding"]])
    assert not np.array_equal(images["step"][crop["curves"]], images["flow-time"][crop["curves"]])
    options = ExportOptions(panels=("curves",), size=(640, 360), x_axis="flow_time")
    composer = FrameComposer(options, lambda s: None, "t")
    sim = Simulation(load_preset("fig5-2d"), device="cpu")
    first = sim.frame(block_ratio=False)
    sim.step(5)
    composer.render((first,))
    composer.render((sim.frame(block_ratio=False),))
    np.testing.assert_array_equal(composer.curves.lines[(0, "loss")][0].xData, [0.0, sim.flow_time])
    assert composer.curves.x_choice.isHidden()  # the window's chooser is not drawn into the frames
    composer.close()
    with pytest.raises(Exception, match="--x-axis"):
        ExportOptions(x_axis="time").check("png")


def test_the_twin_panel_runs_from_the_step_side_by_side_was_turned_on(tmp_path):
    """The window's side by side turned on at step N copies the run there: an export of it
    (--twin-from N) shows that run, not one from the same start (a fresh-user look saw
    "(same start)" in a video of a twin begun at step 79). Frames before N show the run alone.
    The command line still takes the panel's earlier name, identity, as twin."""
    from sim.commands import Twin
    from sim.driver import RunDriver

    options = ExportOptions(panels=("embedding", "twin"), frames=5, steps_per_frame=4, twin_from=6)
    _, frames = replay(load_preset("imbalanced"), options)
    got = list(frames)
    assert [len(f) for f, _ in got] == [1, 1, 2, 2, 2]  # steps 0, 4 | 8, 12, 16
    by_hand = RunDriver(load_preset("imbalanced"))
    for _ in range(6):
        by_hand.step()
    by_hand.apply(Twin(True))
    for _ in range(10):
        by_hand.step()
    twin = got[-1][0][1]
    assert twin.started_at == 6 and twin.kernel == "identity" and twin.step == 16
    np.testing.assert_array_equal(twin.Z, by_hand.frames()[1].Z)
    np.testing.assert_array_equal(got[-1][0][0].Z, by_hand.frames()[0].Z)

    folder = tmp_path / "frames"
    result = run_export(
        "imbalanced", "--png-dir", str(folder), "--frames", "3", "--steps-per-frame", "4", "--twin-from", "6",
        "--size", "480x240", "--panels", "embedding", "identity",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _, content, _ = layout(("embedding", "twin"), (480, 240))
    r = content["twin"]
    panes = [
        iio.imread(folder / f"frame_{i:05d}.png")[r.top() : r.bottom() + 1, r.left() : r.right() + 1] for i in range(3)
    ]
    colours = PALETTE[:4]
    coloured = [sum(int(near(pane, rgb, 30).sum()) for rgb in colours) for pane in panes]
    assert coloured[0] == coloured[1] == 0 < coloured[2]  # a waiting panel, then the twin's points
    bad = run_export("imbalanced", "--png-dir", str(tmp_path / "x"), "--twin-from", "-1", "--panels", "identity")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --twin-from: expected a step >= 0, got -1"


def test_the_title_bar_names_digits_by_their_digit_as_the_window_does(qapp) -> None:
    """A digits export numbered its classes 1..5 in the title bar while the window's legend
    (and the heatmap beside it) said 0..4: the title's key now names the groups as the legend."""
    preset = load_preset("digits")
    frame = Simulation(preset, device="cpu").frame(block_ratio=False)
    count = int(frame.labels.max()) + 1
    size = (1280, 720)

    def title_bar(data) -> np.ndarray:
        composer = FrameComposer(ExportOptions(panels=("curves",), size=size), lambda s: None, "digits", data)
        image = QImage(*size, QImage.Format.Format_RGB888)
        painter = QPainter(image)
        composer.draw_title(painter, frame)
        painter.end()
        composer.close()
        return image_array(image)[: composer.title_rect.height()]

    assert FrameComposer(ExportOptions(panels=("curves",), size=size), lambda s: None, "d", preset.data)._group_names(
        count
    ) == [str(c) for c in preset.data.classes[:count]]
    named, numbered = title_bar(preset.data), title_bar(None)  # None: the numbers 1..count
    assert np.any(named != numbered)  # the key's text differs: digits, not numbers from 1
