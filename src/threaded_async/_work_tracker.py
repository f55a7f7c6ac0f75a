"""WorkTracker: an in-flight work counter (a WaitGroup) any thread can watch."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from ._core import (
    AsyncWaiter,
    Awaiting,
    EventLoopTimeoutError,
    ThreadWaiter,
    WaiterList,
    check_may_block,
    check_timeout,
)

__all__ = ["WorkTracker"]


class WorkTracker:
    """Counts work in flight; any thread or coroutine can wait for *busy* or *idle*.

    Mark work with ``with tracker:`` (threads) or ``async with tracker:`` (coroutines),
    or explicitly with :meth:`begin` / :meth:`end`. The tracker is *busy* while the count
    is above zero and *idle* at zero. :meth:`wait_idle` / :meth:`wait_busy` block a thread
    (with a timeout); :meth:`wait_idle_async` / :meth:`wait_busy_async` are awaited from
    any event loop. Waiters are woken by the transition itself; nothing polls.

    Everything is safe from any thread. ``begin``/``end`` never block.
    """

    __slots__ = ("_busy_waiters", "_count", "_idle_waiters", "_lock", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._total = 0
        self._idle_waiters = WaiterList()
        self._busy_waiters = WaiterList()

    def __repr__(self) -> str:
        return f"<WorkTracker in_flight={self._count}>"

    # -- counting ------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Work items in flight now."""
        return self._count

    @property
    def total(self) -> int:
        """Work items ever begun."""
        return self._total

    @property
    def busy(self) -> bool:
        """True while work is in flight."""
        return self._count > 0

    @property
    def idle(self) -> bool:
        """True when no work is in flight."""
        return self._count == 0

    def begin(self, n: int = 1) -> None:
        """Mark ``n`` items of work as started (wakes busy-waiters on 0 → busy)."""
        if n < 1:
            raise ValueError(f"begin() needs n >= 1, got {n}")
        with self._lock:
            was_idle = self._count == 0
            self._count += n
            self._total += n
        if was_idle:
            self._busy_waiters.wake_all()

    def end(self, n: int = 1) -> None:
        """Mark ``n`` items of work as finished (wakes idle-waiters on busy → 0).

        Raises ``RuntimeError`` if more work ends than began.
        """
        if n < 1:
            raise ValueError(f"end() needs n >= 1, got {n}")
        with self._lock:
            if n > self._count:
                raise RuntimeError(
                    f"WorkTracker.end({n}) with only {self._count} item(s) in flight: "
                    "every end() needs a matching begin()"
                )
            self._count -= n
            now_idle = self._count == 0
        if now_idle:
            self._idle_waiters.wake_all()

    def __enter__(self) -> Self:
        self.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end()

    async def __aenter__(self) -> Self:
        self.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end()

    # -- waiting -------------------------------------------------------------------------
    # A waiter woken by the transition returns even if the state flipped back since:
    # the state it waited for did happen after the call.
    def _wait(self, want_idle: bool, timeout: float | None, what: str) -> None:
        check_may_block(f"WorkTracker.{what}()", f"`await tracker.{what}_async()`")
        wait = check_timeout(timeout)
        if (self._count == 0) == want_idle:
            return
        waiters = self._idle_waiters if want_idle else self._busy_waiters
        waiter = ThreadWaiter()
        waiters.add(waiter)  # register, re-check, park: no lost wake-up
        if (self._count == 0) == want_idle:
            waiters.discard(waiter)
            return
        if not waiter.park(wait) and waiters.discard(waiter):
            raise EventLoopTimeoutError(Awaiting(f"the WorkTracker to become {what[5:]}"), wait)

    async def _wait_async(self, want_idle: bool) -> None:
        if (self._count == 0) == want_idle:
            return
        waiters = self._idle_waiters if want_idle else self._busy_waiters
        waiter = AsyncWaiter()
        waiters.add(waiter)
        if (self._count == 0) == want_idle:
            waiters.discard(waiter)
            return
        try:
            await waiter.fut
        finally:
            waiters.discard(waiter)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block the calling thread until no work is in flight (returns at once if so).

        Raises :class:`EventLoopTimeoutError` (a ``TimeoutError``) after ``timeout``
        seconds, ``RuntimeError`` on a thread running an event loop.
        """
        self._wait(True, timeout, "wait_idle")

    def wait_busy(self, timeout: float | None = None) -> None:
        """Block the calling thread until some work is in flight (see :meth:`wait_idle`)."""
        self._wait(False, timeout, "wait_busy")

    async def wait_idle_async(self) -> None:
        """Wait, from a coroutine on any loop, until no work is in flight."""
        await self._wait_async(True)

    async def wait_busy_async(self) -> None:
        """Wait, from a coroutine on any loop, until some work is in flight."""
        await self._wait_async(False)
