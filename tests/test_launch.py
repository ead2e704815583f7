"""Launching: the installed `contrastive-kernel-lab` command is main.main and runs, and the
.desktop file is a valid launcher entry that calls it with the file to open, and install.sh
refuses a Python older than 3.11 in one line."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import main

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_command_is_main_and_runs() -> None:
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "contrastive-kernel-lab"]
    assert script.value == "main:main" and script.load() is main.main
    command = Path(sys.executable).parent / "contrastive-kernel-lab"
    result = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "usage:" in result.stdout and "preset" in result.stdout


def test_desktop_file_is_a_launcher_for_the_command() -> None:
    text = (ROOT / "contrastive-kernel-lab.desktop").read_text(encoding="utf-8")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] and entry["Comment"]
    assert entry["Exec"].split() == ["contrastive-kernel-lab", "%f"]
    assert entry["Terminal"] == "false"
    categories = entry["Categories"].split(";")
    assert categories[-1] == "" and {"Science", "Education"} <= set(categories)
    assert all(line == line.strip() for line in text.splitlines())


def test_install_script_refuses_an_old_python_in_one_line(tmp_path) -> None:
    """Ubuntu 22.04's python3 is 3.10: install.sh stops before apt-get or a virtual
    environment, naming the version it found and how to name another."""
    shutil.copy(ROOT / "install.sh", tmp_path / "install.sh")
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\ncase "$2" in *version_info*) exit 1 ;; *platform*) echo "Python 3.10.12" ;; esac\n')
    old.chmod(0o755)
    result = subprocess.run(
        ["bash", tmp_path / "install.sh"],
        env={**os.environ, "PYTHON": str(old)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "needs Python 3.11 or newer" in line and "Python 3.10.12" in line and "PYTHON=" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["install.sh", "python3.10"]  # no .venv
