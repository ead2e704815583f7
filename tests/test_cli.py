"""The one command line (cli/): `main.py --help` lists every command, `main.py [PRESET]` is
the window, and every writer (run here; export in test_export.py) writes exactly the name
it is given, tries the target before any work, and ends on SIGTERM as on Ctrl-C, leaving
nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli import run, window
from cli.parser import COMMANDS, build_parser, with_default_command
from cli.progress import count, rate
from sim.files import atomic_path, check_writable
from sim.preset import KERNELS

ROOT = Path(__file__).resolve().parent.parent


def main_py(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_lists_every_command_on_one_line_without_loading_torch_or_qt() -> None:
    result = subprocess.run(
        [sys.executable, "main.py", "--help"], cwd=ROOT, env={**os.environ, "COLUMNS": "80"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    commands = lines[lines.index("  COMMAND") + 1 :]
    assert [line.split()[0] for line in commands if line.strip()] == [module.NAME for module in COMMANDS]
    for module, line in zip(COMMANDS, commands, strict=False):
        assert len(line.split()) > 2 and len(line) <= 80, f"{module.NAME} has no one-line description: {line!r}"
    check = "import sys; from cli.parser import build_parser; build_parser().format_help(); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    modules = set(eval(loaded.stdout))
    assert not modules & {"torch", "PySide6", "vispy", "numpy", "sim", "gui"}


def test_no_command_is_the_window_on_the_given_preset() -> None:
    parser = build_parser()
    for argv, preset in (([], None), (["fig5-2d"], "fig5-2d"), (["window", "my.toml"], "my.toml")):
        args = parser.parse_args(with_default_command(argv))
        assert args.handler is window.handle and args.preset == preset
    assert parser.parse_args(with_default_command(["run", "x", "--out", "y"])).handler is run.handle


def test_run_help_names_every_kernel_and_a_bad_kernel_is_one_line(tmp_path) -> None:
    help_text = " ".join(main_py("run", "--help").stdout.split())
    assert all(name in help_text.rsplit("--kernel KERNEL", 1)[1].split("--seed SEED")[0] for name in KERNELS)
    result = main_py("run", "fig5-2d", "--kernel", "wide", "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--kernel" in result.stderr and "training.kernel" in result.stderr and "wide" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_writes_the_name_it_is_given_even_without_npz(tmp_path) -> None:
    out = tmp_path / "run.dat"
    result = main_py("run", "fig5-2d", "--steps", "4", "--every", "2", "--device", "cpu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["run.dat"]
    with np.load(out) as data:
        assert list(data["steps"]) == [0, 2, 4] and data["Z"].shape == (3, 256, 2)
    # fig5-2d's start is fitted before step 0: the progress line says so, then the run's line
    shown = [part.strip() for part in result.stderr.replace("\n", "\r").split("\r") if part.strip()]
    fit = [line for line in shown if line.startswith("fitting the data-blind start")]
    assert fit and fit[-1] == "fitting the data-blind start: 1000/1000 steps"
    assert shown.index(fit[-1]) < shown.index("fig5-2d: n=256, device cpu, kernel nn")
    assert shown[-1] == f"wrote {out} (3 frames)"


def test_a_name_at_the_file_system_limit_is_written(tmp_path) -> None:
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    out = tmp_path / ("r" * (limit - 4) + ".npz")
    result = main_py("run", "fig5-2d", "--steps", "1", "--every", "1", "--device", "cpu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    wide = tmp_path / ("é" * ((limit - 4) // 2) + ".mp4")  # two bytes a character
    with atomic_path(wide) as tmp:
        assert len(os.fsencode(tmp.name)) <= limit and tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert wide.read_bytes() == b"x" and sorted(tmp_path.iterdir()) == sorted([out, wide])


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_bad_device_option_is_one_line_naming_the_option(tmp_path, command) -> None:
    rest = ["--out", str(tmp_path / "x.npz")] if command == "run" else ["--seeds", "2", "--out", str(tmp_path / "s")]
    result = main_py(command, "fig5-2d", "--device", "tpu", *rest)
    assert result.returncode == 2 and result.stderr == (
        "error: --device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["proc", "under-a-file", "a-folder"])
def test_an_unwritable_output_fails_before_the_run_starts(tmp_path, where) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = {"proc": Path("/proc/x.npz"), "under-a-file": blocker / "run.npz", "a-folder": tmp_path}[where]
    result = main_py("run", "fig5-2d", "--steps", "100000000", "--out", str(out))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: --out: cannot write {out}")  # no run header, no progress line
    assert list(tmp_path.iterdir()) == [blocker]
    with pytest.raises(OSError):
        check_writable(out)


def test_a_folder_target_that_is_a_file_or_full_says_which(tmp_path) -> None:
    """A frames folder named after an existing file says it is a file (it said "exists and is
    not an empty folder", a fresh-user look found); a full folder says that; an empty one is fine."""
    a_file, full, empty = tmp_path / "base.toml", tmp_path / "full", tmp_path / "empty"
    a_file.write_text("x")
    full.mkdir()
    (full / "frame.png").write_text("x")
    empty.mkdir()
    with pytest.raises(FileExistsError, match="is a file; name a new or empty folder"):
        check_writable(a_file, folder=True)
    with pytest.raises(FileExistsError, match="exists and is not an empty folder"):
        check_writable(full, folder=True)
    check_writable(empty, folder=True)
    check_writable(tmp_path / "new", folder=True)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_a_run_with_nothing_written(tmp_path, sig, status) -> None:
    out = tmp_path / "run.npz"
    command = [sys.executable, "main.py", "run", "fig5-2d", "--steps", "100000000", "--every", "50", "--out", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    seen = ""
    while not re.search(r"step \d+/", seen):  # stderr is a pipe: progress lines every LOG_INTERVAL s
        char = proc.stderr.read(1)
        assert char, f"the run ended early: {seen}"
        seen += char
    proc.send_signal(sig)
    try:
        rest = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == status
    assert rest.strip().splitlines()[-1] == "cancelled; nothing written" and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command", [["reproduce", "--quick"], ["theory"], ["sweep", "fig5-2d", "--seeds", "2", "--steps", "10"]]
)
def test_a_file_where_a_results_folder_goes_is_said_the_same_way_by_every_command(tmp_path, command) -> None:
    """reproduce, theory and sweep said it three ways ('cannot write into ...: File exists',
    'cannot create', 'Not a directory'; a fresh-user look)."""
    target = tmp_path / "results"
    target.write_text("a file")
    result = main_py(*command, "--out", str(target))
    assert (
        result.returncode == 1
        and result.stderr == f"error: --out: cannot write in {target}: is a file; name a folder\n"
    )
    assert target.read_text() == "a file"
    below = target / "sub"  # a file on the way: named, not the system's "Not a directory"
    result = main_py(*command, "--out", str(below))
    assert result.stderr == f"error: --out: cannot write in {below}: {target} is a file, not a folder\n"


def test_the_rate_is_seconds_per_unit_when_slower_than_one_a_second() -> None:
    assert rate(3, 12.0, "frame") == "4.0 s/frame"
    assert rate(1, 0.5, "step") == "2.0 steps/s"
    assert rate(500, 2.0, "step") == "250 steps/s"
    assert rate(1, 1.0, "frame") == "1.0 s/frame"


def test_counts_take_the_number_of_their_noun() -> None:
    assert [count(k, "frame") for k in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]
    assert count(1, "process", "processes") == "1 process" and count(3, "process", "processes") == "3 processes"


def test_progress_to_a_log_is_one_line_at_most_every_interval_and_the_last_before_a_message(capsys, monkeypatch):
    """stderr sent to a file: no carriage returns; a line at most every LOG_INTERVAL seconds
    (by the clock, here a fake one), and the latest one written before the next message."""
    from cli import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(progress, "LOG_INTERVAL", 10.0)
    line = progress.ProgressLine()  # capsys's stderr is no terminal
    assert not line.terminal
    for step in range(1, 31):  # one step a second
        line.show(f"step {step}/30")
        clock[0] += 1.0
    print(f"{line.end()}wrote run.npz", file=sys.stderr)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == ["step 1/30", "step 11/30", "step 21/30", "step 30/30", "wrote run.npz"]


def test_a_shorter_progress_line_leaves_nothing_of_the_longer_one(capsys):
    """What a terminal shows after the carriage returns: the last line alone."""
    from cli.progress import ProgressLine

    line = ProgressLine(terminal=True)
    line.show("1/10 theorem_3_2")
    line.show("2/10 fig3")
    screen: list[str] = []
    for part in capsys.readouterr().err.split("\r")[1:]:
        screen[: len(part)] = list(part)  # each part overwrites the line from its start
    assert "".join(screen).rstrip() == "2/10 fig3"


def test_the_installed_command_names_itself_in_usage_and_errors(capsys) -> None:
    """Run as the installed `contrastive-kernel-lab`, usage and errors name it, not main.py."""
    from cli.parser import SCRIPT, program

    assert program(f"/somewhere/.venv/bin/{SCRIPT}") == SCRIPT
    assert program("main.py") == program("/usr/lib/python3/pytest") == "main.py"
    parser = build_parser(SCRIPT)
    assert parser.format_usage().startswith(f"usage: {SCRIPT} [PRESET]")
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "fig5-2d", "--steps", "x"])
    assert capsys.readouterr().err.startswith(f"error: {SCRIPT} run: ")


def test_a_mistyped_command_and_a_command_s_unknown_option_are_named() -> None:
    """'runn fig5-2d' said "unrecognized arguments: fig5-2d"; an option export does not take
    did not name export."""
    typo = main_py("runn", "fig5-2d")
    assert typo.returncode == 2 and typo.stderr.strip().startswith("error: main.py: unknown command 'runn' (commands:")
    option = main_py("export", "fig5-2d", "--bogus", "3", "--video", "x.mp4")
    assert (
        option.returncode == 2 and option.stderr.strip() == "error: main.py: export: unrecognized arguments: --bogus 3"
    )


def test_the_window_without_a_display_is_one_line_and_exit_2() -> None:
    """Qt aborted (exit 134) with its platform plugin's many lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "main.py", "fig5-2d"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no display" in result.stderr
    assert window.no_display({"DISPLAY": ":0"}) is None


def test_ctrl_c_while_the_libraries_load_is_cancelled_not_a_traceback(tmp_path) -> None:
    out = str(tmp_path / "x.npz")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "run", "fig5-2d", "--out", out], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert "Traceback" not in err and proc.returncode in (130, -signal.SIGINT), err
