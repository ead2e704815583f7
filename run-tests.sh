#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (system packages for a virtual
# display and Mesa's OpenGL, and a C compiler for the CPU loss's compiled loop, when missing; a
# virtual environment with the pinned Python
# packages) and runs the whole test suite under Xvfb. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"

packages="libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 xvfb xauth
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-render-util0 libxcb-shape0 libxcb-xkb1 gcc libc6-dev"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q -e '.[test,cluster]'

export QT_QPA_PLATFORM=xcb PYTEST_QT_API=pyside6
exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest "$@"
