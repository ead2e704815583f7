#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (install.sh with the test extras:
# the app's system libraries, a virtual display, a C compiler for the CPU loss's compiled loop,
# a virtual environment with the pinned Python packages) and runs the whole test suite under
# Xvfb. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh test,cluster

export QT_QPA_PLATFORM=xcb PYTEST_QT_API=pyside6
exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest "$@"
