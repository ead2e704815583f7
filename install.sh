#!/usr/bin/env bash
# Installs what the app needs on a fresh machine: on Debian or Ubuntu the system libraries that
# Qt's window-system plugin and OpenGL load (apt-get, with sudo when not root; only those
# missing), then the virtual environment .venv with the project and the extras named in the
# first argument (e.g. "test,cluster"). The test extra adds a virtual display (Xvfb) and a C
# compiler (the CPU loss's compiled loop; without one the app uses torch's loop).
set -euo pipefail
cd "$(dirname "$0")"
extras=${1:-}

packages="libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
  libxcb-xkb1"
case ",$extras," in
  *,test,*) packages="$packages xvfb xauth gcc libc6-dev" ;;
esac
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: the project needs Python 3.11 or newer; $python is" \
    "$("$python" -c 'import platform; print("Python", platform.python_version())' 2>/dev/null ||
      echo "not a working Python")" "(name another with PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if command -v dpkg >/dev/null && command -v apt-get >/dev/null; then
  # Debian's Python makes virtual environments only with python3-venv (ensurepip)
  "$python" -c "import ensurepip" 2>/dev/null || packages="$packages python3-venv"
  # a package renamed for 64-bit time (Ubuntu 24.04: libglib2.0-0t64) counts as installed
  missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || dpkg -s "${p}t64" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
  fi
else
  echo "install.sh: no apt-get here; if the window does not open, install Qt 6's xcb libraries" \
    "(on Debian: $(echo $packages))" >&2
fi

[ -x .venv/bin/pip ] || "$python" -m venv --clear .venv
echo "install.sh: installing the project${extras:+ with [$extras]} into .venv (minutes the first time)" >&2
.venv/bin/pip install -q -e ".${extras:+[$extras]}"
