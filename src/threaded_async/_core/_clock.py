"""Virtual time: a loop clock that moves only when the host says so."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from ._errors import RunnerClosedError
from ._timeouts import USE_DEFAULT_TIMEOUT, resolve_timeout
from ._waiters import ThreadWaiter, block, check_may_block

if TYPE_CHECKING:
    from .._runner import AsyncRunner
    from ._loop import SteppingEventLoop

__all__ = ["VirtualClock"]


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
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = False) -> None:
        self._now = float(start)
        self.autojump = autojump
        self._target: float | None = None
        self._waiters: list[ThreadWaiter] = []
        self._lock = threading.Lock()
        self._loop: SteppingEventLoop | None = None
        self._runner: AsyncRunner | None = None

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
        loop = self._loop
        runner = self._runner
        if loop is None or runner is None or not runner.is_running:
            self._now += seconds
            return
        check_may_block(runner, "VirtualClock.advance()", "a call from another thread")
        wait = resolve_timeout(timeout, runner.call_in_loop_timeout)
        waiter = ThreadWaiter()
        with self._lock:
            base = self._now if self._target is None else self._target
            self._target = max(base, self._now + seconds)
            self._waiters.append(waiter)
        loop.wake()
        woken = block(waiter, wait, runner)
        if runner._closed:  # pyright: ignore[reportPrivateUsage]
            raise RunnerClosedError("the runner closed while advancing its virtual clock")
        if not woken:
            from ._errors import EventLoopTimeoutError

            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise EventLoopTimeoutError(
                f"VirtualClock.advance({seconds})",
                wait,
                runner._loop_stack(),  # pyright: ignore[reportPrivateUsage]
            )

    # -- called by the loop --------------------------------------------------------------
    def _attach(self, loop: SteppingEventLoop) -> None:
        if self._loop is not None and self._loop is not loop and not self._loop.is_closed():
            raise RuntimeError("a VirtualClock drives one event loop at a time")
        self._loop = loop

    def _jump_limit(self, jump_allowed: bool, target: float | None) -> float:
        if self.autojump and jump_allowed:
            return math.inf
        return -math.inf if target is None else target

    def _settled(self, target: float | None) -> None:
        """The loop is idle and no timer is due by ``target`` (the target the loop read):
        the advance is complete, unless the target moved since the loop read it."""
        if target is None:
            return
        with self._lock:
            if self._target != target:
                return  # a newer advance() raced in; its wake-up makes the loop look again
            self._finish_advance()
            waiters = self._waiters
            self._waiters = []
        for waiter in waiters:
            waiter.wake()

    def _finish_advance(self) -> None:
        target = self._target
        if target is not None and target > self._now:
            self._now = target
        self._target = None
