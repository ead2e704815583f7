"""Launching: the installed `contrastive-kernel-lab` command is main.main and runs, and the
.desktop file is a valid launcher entry that calls it with the file to open."""

from __future__ import annotations

import configparser
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
