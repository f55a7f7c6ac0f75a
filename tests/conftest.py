"""Shared fixtures: every test gets a fresh runner and must leave no loop thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import threaded_async as ta


@pytest.fixture
def runner() -> Iterator[ta.AsyncRunner]:
    with ta.AsyncRunner(call_in_loop_timeout=10.0) as r:
        yield r


@pytest.fixture(autouse=True)
def _no_leaked_loop_threads() -> Iterator[None]:  # pyright: ignore[reportUnusedFunction]
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith("threaded_async-") and t.is_alive()
    ]
    for thread in leaked:
        thread.join(2.0)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"loop threads left running: {still}"
