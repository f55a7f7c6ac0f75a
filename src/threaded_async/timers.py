"""threaded_async 1.4 import path: ``threaded_async.timers``."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

__all__ = ["TimeoutTimer"]


class TimeoutTimer:
    """Tracks the time left of a timeout across several calls.

    ``with TimeoutTimer(5.0) as timer: ... f(timeout=timer.remaining)``. For ``None`` or a
    negative timeout (such as ``USE_DEFAULT_TIMEOUT``), ``remaining`` returns it unchanged.
    Any thread may use it (it only reads ``time.monotonic``); nothing in it blocks.
    """

    def __init__(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._start: float | None = None

    @property
    def remaining(self) -> float | None:
        """Seconds left (never below 0), or the timeout itself if it is None or negative.

        Never blocks. Raises RuntimeError outside the ``with`` block that started it.
        """
        if self._start is None:
            raise RuntimeError("TimeoutTimer not started: use it in a with statement")
        if self._timeout is None or self._timeout < 0:
            return self._timeout
        return max(self._timeout - (time.monotonic() - self._start), 0.0)

    def __enter__(self) -> Self:
        if self._start is not None:
            raise RuntimeError("TimeoutTimer already started, cannot re-enter")
        self._start = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
