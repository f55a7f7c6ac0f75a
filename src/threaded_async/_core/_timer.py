"""The one real-time timer: a daemon thread that calls functions at monotonic deadlines.

Used wherever something must happen after real seconds even though no event loop (or a
loop on virtual time) would do it: :class:`~threaded_async.Till` signals, and the grace
period a runner gives cancelled tasks at exit. The thread exists only while a call is
pending and ends when none is left.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

__all__ = ["RealTimeCall", "call_at", "call_later"]

logger = logging.getLogger("threaded_async")


class RealTimeCall:
    """One scheduled call; :meth:`cancel` withdraws it (any thread, never blocks)."""

    __slots__ = ("_fn", "deadline")

    def __init__(self, deadline: float, fn: Callable[[], object]) -> None:
        self.deadline = deadline
        self._fn: Callable[[], object] | None = fn

    def cancel(self) -> None:
        """Withdraw the call; a no-op once it ran. The timer thread ends if none is left."""
        if self._fn is not None:
            self._fn = None
            _timer.discard(self)

    def run(self) -> None:
        """Called by the timer thread: run the function once (unless cancelled)."""
        fn = self._fn
        self._fn = None
        if fn is not None:
            fn()


class _RealTimeTimer:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, RealTimeCall]] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, handle: RealTimeCall) -> None:
        with self._cond:
            heapq.heappush(self._heap, (handle.deadline, next(self._count), handle))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="threaded_async-timer", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def discard(self, handle: RealTimeCall) -> None:
        with self._cond:
            self._heap = [entry for entry in self._heap if entry[2] is not handle]
            heapq.heapify(self._heap)
            self._cond.notify()

    def restart_after_fork(self) -> None:
        """In a child after ``os.fork()``: the timer thread stayed in the parent (and may
        have held the lock); start afresh, keeping what is scheduled."""
        self._cond = threading.Condition(threading.Lock())
        self._thread = None
        if self._heap:
            self._thread = threading.Thread(
                target=self._run, name="threaded_async-timer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._thread = None
                        return
                    deadline = self._heap[0][0]
                    now = time.monotonic()
                    if deadline <= now:
                        due = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(deadline - now)
            try:
                due.run()
            except Exception:  # a scheduled call failed: not the timer's business
                logger.exception("a call scheduled on the real-time timer raised")


_timer = _RealTimeTimer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_timer.restart_after_fork)


def call_at(deadline: float, fn: Callable[[], object]) -> RealTimeCall:
    """Call ``fn()`` in the timer thread once ``time.monotonic()`` reaches ``deadline``.

    Any thread; never blocks. ``fn`` must be quick and thread-safe; an exception it raises
    is logged (logger ``threaded_async``).
    """
    handle = RealTimeCall(deadline, fn)
    _timer.add(handle)
    return handle


def call_later(seconds: float, fn: Callable[[], object]) -> RealTimeCall:
    """Call ``fn()`` in the timer thread ``seconds`` real seconds from now (see call_at)."""
    return call_at(time.monotonic() + seconds, fn)
