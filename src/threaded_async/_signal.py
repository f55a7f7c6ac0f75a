"""One-shot signals (mo-threads' ``Signal`` and ``Till``), usable from threads and coroutines.

A :class:`Signal` starts unset and is set once with :meth:`Signal.go`; it can never be
unset. Any thread can wait on it (``wait(timeout)``), any coroutine on any loop can
``await`` it, callbacks attached with :meth:`Signal.then` run exactly once. Signals
combine: ``a | b`` is set when either is, ``a & b`` when both are. :class:`Till` is a
signal that sets itself after a delay, driven by the library's one real-time timer thread,
which exists only while something is pending on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from ._core import RESULT, Outcome, RealTimeCall, call_at, check_may_block

__all__ = ["Signal", "Till"]


class Signal:
    """A one-shot, thread-safe flag: unset until :meth:`go`, then set forever.

    Every method is safe from any thread; ``await signal`` / ``await signal.wait_async()``
    work in a coroutine on any event loop. ``bool(signal)`` is :meth:`is_set`, so a worker
    loop reads ``while not please_stop:``.
    """

    __slots__ = ("_outcome", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name: str | None = name
        self._outcome: Outcome[None] = Outcome()

    def __repr__(self) -> str:
        state = "set" if self._outcome.done() else "unset"
        return f"<Signal {self.name!r} {state}>" if self.name else f"<Signal {state}>"

    def go(self) -> None:
        """Set the signal (any thread, never blocks; later calls do nothing).

        Wakes every waiting thread and coroutine, then runs the :meth:`then` callbacks in
        the calling thread, in the order they were added. A callback that raises does not
        stop the others; its exception is re-raised from ``go()`` after all have run.
        """
        errors: list[BaseException] = []
        self._outcome.settle(RESULT, None, errors)
        if errors:
            raise errors[0]

    def is_set(self) -> bool:
        """True once :meth:`go` was called (any thread, never blocks)."""
        return self._outcome.done()

    def __bool__(self) -> bool:
        return self._outcome.done()

    def then(self, callback: Callable[[], object]) -> Signal:
        """Run ``callback()`` once when the signal is set (now, if it already is).

        The callback runs in the thread that calls :meth:`go` (or in this thread, if the
        signal is already set). Returns ``self`` so calls can be chained.
        """
        self._outcome.add_done_callback(lambda _: callback())
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until the signal is set; return whether it is.

        ``timeout`` (seconds, ``None`` = forever) bounds the wait; on timeout returns
        ``False``. Woken by :meth:`go` from any thread. Raises ``RuntimeError`` on a thread
        that runs an event loop (it could never be woken by that loop): await it instead.
        """
        if self._outcome.done():
            return True
        check_may_block("Signal.wait()", "`await signal`")
        return self._outcome.wait_done(timeout)

    async def wait_async(self) -> None:
        """Wait in a coroutine (any loop) until the signal is set.

        Cancelling the awaiting coroutine leaves the signal untouched.
        """
        await self._outcome.wait_async()

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


class Till(Signal):
    """A :class:`Signal` that sets itself ``seconds`` from now (or at monotonic time ``till``).

    Use it instead of ``sleep`` so a timeout combines with other signals:
    ``worker(please_stop=user_cancel | Till(seconds=360))``. Pending ``Till`` objects share
    the library's one real-time timer thread, which ends when nothing is pending on it;
    :meth:`cancel` withdraws a ``Till`` that is no longer needed (it then never fires).
    """

    __slots__ = ("_timer",)

    def __init__(
        self, *, seconds: float | None = None, till: float | None = None, name: str | None = None
    ) -> None:
        if (seconds is None) == (till is None):
            raise TypeError("Till needs exactly one of seconds= or till= (time.monotonic())")
        super().__init__(name or "till")
        deadline = time.monotonic() + seconds if seconds is not None else till
        assert deadline is not None
        self._timer: RealTimeCall | None = None
        if deadline <= time.monotonic():
            self.go()
        else:
            self._timer = call_at(deadline, self.go)

    def cancel(self) -> None:
        """Withdraw the timer (any thread). An already-set ``Till`` stays set."""
        timer = self._timer
        if timer is not None:
            timer.cancel()
