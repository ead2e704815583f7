"""Shared test setup: after each test that made widgets, collect garbage here, in the main
(GUI) thread, so Qt widgets of a finished test are never destroyed by a collection that
happens to run in a later test's simulation or export thread. Also: the command-line runs
that tests interrupt with SIGINT get it as from a terminal's Ctrl+C, however the suite was
started."""

from __future__ import annotations

import gc
import signal

import pytest

# A suite started in the background by a script (`pytest &` in a shell script) inherits SIGINT
# ignored, and its child processes would too: Python then installs no KeyboardInterrupt, and a
# test's Ctrl+C to a run went unheard (the run went on for ever). With Python's own handler
# here, children start with SIGINT's default, as under a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def collect_garbage_in_the_main_thread(request):
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()
