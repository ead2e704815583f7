"""Shared test setup: after each test that made widgets, collect garbage here, in the main
(GUI) thread, so Qt widgets of a finished test are never destroyed by a collection that
happens to run in a later test's simulation or export thread."""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def collect_garbage_in_the_main_thread(request):
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()
