"""Helpers the test modules share."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Real seconds a test waits for something that happens in a moment (a thread to park,
#: a waiter to register) before it fails instead of hanging.
BOUND = 10.0


def wait_for(condition: Callable[[], bool], what: str, bound: float = BOUND) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` after ``bound``.

    For states no event announces (a thread parked inside the library); everything that
    has an event waits on the event instead.
    """
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.0005)
