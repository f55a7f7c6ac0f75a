"""Virtual time: a loop clock that moves only when the host says so.

All time arithmetic lives here. The loop sees a small contract, like trio's ``Clock``:
:meth:`VirtualClock.time` is its clock, and :meth:`VirtualClock.on_idle` is called each
time the loop has nothing to run; the clock answers whether time moves to the next timer.
Time changes in one method, :meth:`VirtualClock._move_to` (SimPy's ``Environment.step``).
"""

from __future__ import annotations

import math
import threading
from typing import Protocol

from ._errors import RunnerClosedError
from ._outcome import Parker
from ._timeouts import USE_DEFAULT_TIMEOUT
from ._waiters import ThreadWaiter

__all__ = ["ClockHost", "VirtualClock"]


class ClockHost(Parker, Protocol):
    """What a clock needs from the runner whose loop it drives (its LoopToken, which
    imports this module through the loop)."""

    @property
    def running(self) -> bool: ...

    def wake(self) -> None:
        """Make the loop look again soon (any thread)."""
        ...

    def check_may_block(self, what: str, instead: str) -> None:
        """RuntimeError if the calling thread runs the loop."""
        ...

    def resolve(self, timeout: float | None) -> float | None:
        """A timeout argument in seconds (``USE_DEFAULT_TIMEOUT`` resolved)."""
        ...


class VirtualClock:
    """A clock for the runner's loop that only the host moves.

    Pass it as ``AsyncRunner(clock=...)`` or ``Server(clock=...)``. Inside the loop,
    ``asyncio.sleep``, ``call_later``, ``asyncio.timeout`` and ``wait_for`` all follow it:
    a timer fires only when the clock reaches its time.

    * :meth:`advance` moves the clock forward from the host thread and returns once every
      timer due by then has fired (in time order, each seeing the clock at its own due
      time) and the loop is idle again.
    * With ``autojump=True`` the loop jumps the clock to the next timer whenever it is idle
      and no control-inversion request is queued or being handled, so a simulated hour
      runs in milliseconds while a request handler always sees the time its request was
      made at.

    Caveat: with autojump, code waiting on real-world events (threads, sockets) still sees
    virtual timers fire as soon as the loop is otherwise idle.

    The loop contract (called by :class:`SteppingEventLoop`, not by users): :meth:`time`,
    :meth:`attach` and :meth:`on_idle`.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = False) -> None:
        self._now = float(start)
        self.autojump = autojump
        self._target: float | None = None
        self._waiters: list[ThreadWaiter] = []
        self._lock = threading.Lock()
        self._host: ClockHost | None = None

    def time(self) -> float:
        """The current virtual time in seconds (any thread, never blocks)."""
        return self._now

    def __repr__(self) -> str:
        return f"VirtualClock(time={self._now!r}, autojump={self.autojump!r})"

    def advance(self, seconds: float, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Move virtual time forward by ``seconds`` and let the loop settle.

        Blocks the calling thread (not the loop thread: that raises RuntimeError) until
        every timer due by the new time has fired and the loop is idle. Raises
        EventLoopTimeoutError if that takes longer than ``timeout`` real seconds (the clock
        still reaches its target later), RunnerClosedError if the runner closes meanwhile.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"cannot advance a clock by {seconds!r} seconds")
        host = self._host
        if host is None or not host.running:
            with self._lock:
                self._move_to(self._now + seconds)
            return
        host.check_may_block("VirtualClock.advance()", "a call from another thread")
        wait = host.resolve(timeout)
        waiter = ThreadWaiter()
        with self._lock:
            base = self._now if self._target is None else self._target
            self._target = max(base, self._now + seconds)
            self._waiters.append(waiter)
        host.wake()
        woken = host.park(waiter, wait)
        if host.closed_error("advancing") is not None:
            raise RunnerClosedError("the runner closed while advancing its virtual clock")
        if not woken:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise host.timeout_error(f"VirtualClock.advance({seconds})", wait)

    # -- the loop contract ---------------------------------------------------------------
    def attach(self, host: ClockHost) -> None:
        """Called by the runner when its loop starts: ``host`` is how :meth:`advance`
        reaches that loop. A clock drives one running loop at a time (RuntimeError)."""
        with self._lock:
            current = self._host
            if current is not None and current is not host and current.running:
                raise RuntimeError("a VirtualClock drives one event loop at a time")
            self._host = host

    def on_idle(self, when: float | None, jump_allowed: bool) -> bool:
        """Called by the loop whenever it has nothing to run; ``when`` is its next timer.

        Returns True when time moved to ``when`` (the loop runs the timer next), False
        when it stays (the loop sleeps until something wakes it: virtual timers never
        come due by waiting in real time). Completes an :meth:`advance` whose target is
        reached, and autojumps when allowed (``jump_allowed``: no request held it).
        """
        target = self._target
        limit = target if not (self.autojump and jump_allowed) else math.inf
        if when is not None and limit is not None and when <= limit:
            if when > self._now:
                self._move_to(when)
            return True
        if target is not None:
            self._settle(target)
        return False

    # -- inside ---------------------------------------------------------------------------
    def _move_to(self, now: float) -> None:
        """The one place virtual time changes (never backwards)."""
        if now > self._now:
            self._now = now

    def _settle(self, target: float) -> None:
        """The loop is idle and no timer is due by ``target``: the advance is complete,
        unless a newer advance() raised the target meanwhile (its wake-up makes the loop
        look again)."""
        with self._lock:
            if self._target != target:
                return
            self._move_to(target)
            self._target = None
            waiters = self._waiters
            self._waiters = []
        for waiter in waiters:
            waiter.wake()
