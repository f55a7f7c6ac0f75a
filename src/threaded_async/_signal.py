"""One-shot signals (mo-threads' ``Signal`` and ``Till``), usable from threads and coroutines.

A :class:`Signal` starts unset and is set once with :meth:`Signal.go`; it can never be
unset. Any thread can wait on it (``wait(timeout)``), any coroutine on any loop can
``await`` it, callbacks attached with :meth:`Signal.then` run exactly once. Signals
combine: ``a | b`` is set when either is, ``a & b`` when both are. :class:`Till` is a
signal that sets itself after a delay, driven by one shared timer thread that exists only
while some ``Till`` is pending.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from ._core import AsyncWaiter, ThreadWaiter, Waiter, check_may_block

__all__ = ["Signal", "Till"]


class Signal:
    """A one-shot, thread-safe flag: unset until :meth:`go`, then set forever.

    Every method is safe from any thread; ``await signal`` / ``await signal.wait_async()``
    work in a coroutine on any event loop. ``bool(signal)`` is :meth:`is_set`, so a worker
    loop reads ``while not please_stop:``.
    """

    __slots__ = ("_callbacks", "_done", "_lock", "_waiters", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name: str | None = name
        self._lock = threading.Lock()
        self._done = False
        self._waiters: list[Waiter] = []
        self._callbacks: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        state = "set" if self._done else "unset"
        return f"<Signal {self.name!r} {state}>" if self.name else f"<Signal {state}>"

    def go(self) -> None:
        """Set the signal (any thread, never blocks; later calls do nothing).

        Wakes every waiting thread and coroutine, then runs the :meth:`then` callbacks in
        the calling thread, in the order they were added. A callback that raises does not
        stop the others; its exception is re-raised from ``go()`` after all have run.
        """
        with self._lock:
            if self._done:
                return
            self._done = True
            waiters, self._waiters = self._waiters, []
            callbacks, self._callbacks = self._callbacks, []
        for waiter in waiters:
            waiter.wake()
        error: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error

    def is_set(self) -> bool:
        """True once :meth:`go` was called (any thread, never blocks)."""
        return self._done

    def __bool__(self) -> bool:
        return self._done

    def then(self, callback: Callable[[], object]) -> Signal:
        """Run ``callback()`` once when the signal is set (now, if it already is).

        The callback runs in the thread that calls :meth:`go` (or in this thread, if the
        signal is already set). Returns ``self`` so calls can be chained.
        """
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return self
        callback()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until the signal is set; return whether it is.

        ``timeout`` (seconds, ``None`` = forever) bounds the wait; on timeout returns
        ``False``. Woken by :meth:`go` from any thread. Raises ``RuntimeError`` on a thread
        that runs an event loop (it could never be woken by that loop): await it instead.
        """
        if self._done:
            return True
        check_may_block(None, "Signal.wait()", "`await signal`")
        waiter = ThreadWaiter()
        with self._lock:
            if self._done:
                return True
            self._waiters.append(waiter)
        if not waiter.park(timeout):
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._done

    async def wait_async(self) -> None:
        """Wait in a coroutine (any loop) until the signal is set.

        Cancelling the awaiting coroutine leaves the signal untouched.
        """
        if self._done:
            return
        waiter = AsyncWaiter()
        with self._lock:
            if self._done:
                return
            self._waiters.append(waiter)
        try:
            await waiter.fut
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def __await__(self) -> Generator[Any, None, None]:
        return self.wait_async().__await__()

    def __or__(self, other: Signal) -> Signal:
        """A new signal set as soon as either ``self`` or ``other`` is set."""
        either = Signal(f"{self.name} | {other.name}" if self.name and other.name else None)
        self.then(either.go)
        other.then(either.go)
        return either

    def __and__(self, other: Signal) -> Signal:
        """A new signal set once both ``self`` and ``other`` are set."""
        both = Signal(f"{self.name} & {other.name}" if self.name and other.name else None)
        self.then(lambda: other.then(both.go))
        return both


class _Timer:
    """One daemon thread firing every pending :class:`Till`; it exits when none is left."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Till]] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, till: Till, deadline: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._count), till))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="threaded_async-till-timer", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def discard(self, till: Till) -> None:
        with self._cond:
            self._heap = [entry for entry in self._heap if entry[2] is not till]
            heapq.heapify(self._heap)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

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
                due.go()
            except Exception:  # a then() callback failed: it is not the timer's business
                import logging

                logging.getLogger("threaded_async").exception("a Till callback raised")


_timer = _Timer()


class Till(Signal):
    """A :class:`Signal` that sets itself ``seconds`` from now (or at monotonic time ``till``).

    Use it instead of ``sleep`` so a timeout combines with other signals:
    ``worker(please_stop=user_cancel | Till(seconds=360))``. Pending ``Till`` objects share
    one daemon timer thread, which ends when none is pending; :meth:`cancel` withdraws a
    ``Till`` that is no longer needed (it then never fires).
    """

    __slots__ = ()

    def __init__(
        self, *, seconds: float | None = None, till: float | None = None, name: str | None = None
    ) -> None:
        if (seconds is None) == (till is None):
            raise TypeError("Till needs exactly one of seconds= or till= (time.monotonic())")
        super().__init__(name or "till")
        deadline = time.monotonic() + seconds if seconds is not None else till
        assert deadline is not None
        if deadline <= time.monotonic():
            self.go()
        else:
            _timer.add(self, deadline)

    def cancel(self) -> None:
        """Withdraw the timer (any thread). An already-set ``Till`` stays set."""
        _timer.discard(self)
