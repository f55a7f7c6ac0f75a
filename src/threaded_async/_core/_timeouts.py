"""Timeout arguments: validation, the 1.4 default sentinel, deadlines and TimeoutTimer."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

__all__ = ["USE_DEFAULT_TIMEOUT", "Deadline", "TimeoutTimer", "check_timeout", "resolve_timeout"]

_TIMEOUT_MAX = threading.TIMEOUT_MAX

#: Passing this as a timeout means "use the runner's ``call_in_loop_timeout``".
USE_DEFAULT_TIMEOUT = -1.0


def check_timeout(timeout: float | None, name: str = "timeout") -> float | None:
    """Validate a timeout argument that must be ``None`` or a non-negative number.

    Returns seconds as a float, or ``None`` for no limit: ``None`` itself, and also
    ``math.inf`` or any timeout longer than a lock can wait (``threading.TIMEOUT_MAX``,
    about 292 years), which mean the same.
    """
    if type(timeout) is float and 0.0 <= timeout <= _TIMEOUT_MAX:  # (the common case)
        return timeout
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{name} must be a number of seconds or None, not {type(timeout).__name__}")
    if timeout < 0 or timeout != timeout:
        raise ValueError(f"{name} must be >= 0 or None, got {timeout!r}")
    if timeout > _TIMEOUT_MAX:
        return None
    return float(timeout)


def resolve_timeout(timeout: float | None, default: float | None) -> float | None:
    """Turn a user timeout into seconds (or ``None`` for no limit).

    ``USE_DEFAULT_TIMEOUT`` selects ``default``; any other negative value is a ValueError.
    """
    if timeout == USE_DEFAULT_TIMEOUT and not isinstance(timeout, bool):
        return default
    return check_timeout(timeout)


class Deadline:
    """A point in monotonic time after which a wait gives up (``None``: never)."""

    __slots__ = ("_end", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` when there is no limit."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())


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
