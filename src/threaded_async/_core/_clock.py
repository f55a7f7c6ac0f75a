"""Virtual time: a loop clock that moves only when the host says so.

All time arithmetic lives here. The loop sees a small contract, like trio's ``Clock``:
:meth:`VirtualClock.time` is its clock, and :meth:`VirtualClock.on_idle` is called each
time the loop has nothing to run; the clock answers whether time moves to the next timer.
Time changes in one method, :meth:`VirtualClock._set` (SimPy's ``Environment.step``), and
in :meth:`VirtualClock.jump`, the same steps written out on the path of every autojump
of the virtual-time loop (a Python call less per timer).
"""

from __future__ import annotations

import asyncio
import functools
import math
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from ._errors import RunnerClosedError
from ._outcome import Parker
from ._schedule import Schedule, as_schedule, with_seed
from ._timeouts import USE_DEFAULT_TIMEOUT
from ._waiters import ThreadWaiter

__all__ = ["ClockHost", "JumpHold", "VirtualClock", "hold_virtual_time"]


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

    def hold_jumps(self, key: object) -> None:
        """Forbid autojumps until ``release_jumps(key)``."""
        ...

    def release_jumps(self, key: object) -> None:
        """Drop the autojump hold ``key``."""
        ...


class VirtualClock:
    """A clock for the runner's loop that only the host moves.

    Pass it as ``AsyncRunner(clock=...)`` or ``Server(clock=...)``. Inside the loop,
    ``asyncio.sleep``, ``call_later``, ``asyncio.timeout`` and ``wait_for`` all follow it:
    a timer fires only when the clock reaches its time.

    * :meth:`advance` moves the clock forward from the host thread and returns once every
      timer due by then has fired (in time order, each seeing the clock at its own due
      time) and the loop is idle again; :meth:`advance_to` does the same to an absolute
      time.
    * With ``autojump=True`` the loop jumps the clock to the next timer whenever it is idle
      and no control-inversion request is queued or being handled, so a simulated hour
      runs in milliseconds while a request handler always sees the time its request was
      made at.

    Time is kept exactly, in integer nanoseconds: ten ``advance(0.1)`` land on exactly
    ``1.0``, a ``sleep(0.2)`` stepped with 0.1 s frames wakes on the second frame, and
    timers fire at any magnitude (``VirtualClock(start=time.time())`` works). A timer is due
    once the clock is within the clock's resolution of it (1 ns, or a few float steps
    where floats are coarser than that), as asyncio's own loop does.

    Real work takes no virtual time: while a job of any executor of the loop
    (``asyncio.to_thread``, ``run_in_executor``) or a :meth:`hold` is in flight, neither
    an autojump nor :meth:`advance` moves the clock, and the loop is not idle. Other real
    I/O (a socket awaited without a hold) is not known to the clock: with autojump, its
    virtual timeouts fire as soon as the loop is otherwise idle.

    ``schedule`` (SPEC §12) makes the run take other orders than the default, from a
    seed: ``schedule=7`` (or ``schedule_seed=7``, as SPEC §12 spells it) is
    ``Schedule(7)``; 0 or None is the default order (first ready,
    first run; timers due together in the order they were set). The loop then runs the
    tasks that became ready in the same iteration, and the timers due at the same virtual
    time, in an order the :class:`Schedule` chooses and records (see there for what may
    move and what never does). A clock with a schedule is for one run at a time.

    The loop contract (called by :class:`SteppingEventLoop`, not by users): :meth:`time`
    (or :meth:`reader`), :attr:`resolution`, :meth:`attach`, :meth:`on_idle` and
    :meth:`jump`.
    """

    __slots__ = (
        "__weakref__",
        "_host",
        "_lock",
        "_now",
        "_ns",
        "_resolution_until",
        "_schedule",
        "_target",
        "_waiters",
        "autojump",
        "resolution",
    )

    def __init__(
        self,
        start: float = 0.0,
        *,
        autojump: bool = False,
        schedule: Schedule | int | None = None,
        schedule_seed: int | None = None,
    ) -> None:
        if isinstance(start, bool) or not isinstance(start, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"start must be a number of seconds, not {type(start).__name__}")
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, not {start!r}")
        self._ns = 0
        self._now = 0.0
        #: The loop's clock resolution at the current time (see the class docstring).
        self.resolution: float = _RESOLUTION
        self._resolution_until = 0.0
        self.autojump: bool = autojump
        self._target: int | None = None
        self._waiters: list[ThreadWaiter] = []
        self._lock = threading.Lock()
        self._host: ClockHost | None = None
        self._ns = _to_ns(start)
        self._now = self._ns / _NS
        self.resolution = max(_RESOLUTION, 4 * math.ulp(self._now))
        self._resolution_until = 2.0 ** math.frexp(self._now)[1] if self._now > 0 else 0.0
        self._schedule = as_schedule(with_seed(schedule, schedule_seed))
        if self._schedule is not None:
            self._schedule.use_time(self.time)

    @property
    def schedule(self) -> Schedule | None:
        """The seeded :class:`Schedule` that orders the loop's ready tasks and due timers
        (None: the default order)."""
        return self._schedule

    def time(self) -> float:
        """The current virtual time in seconds (any thread, never blocks)."""
        return self._now

    def reader(self) -> Callable[[], float]:
        """:meth:`time` as a C callable (``functools.partial(getattr, clock, ...)``): the
        virtual-time loop's ``time``, read for every timer, without a Python frame."""
        return functools.partial(getattr, self, "_now")

    def time_ns(self) -> int:
        """The current virtual time in integer nanoseconds, exactly (any thread)."""
        return self._ns

    def __repr__(self) -> str:
        if self._schedule is not None:
            return (
                f"VirtualClock(time={self._now!r}, autojump={self.autojump!r}, "
                f"schedule={self._schedule!r})"
            )
        return f"VirtualClock(time={self._now!r}, autojump={self.autojump!r})"

    def advance(self, seconds: float, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Move virtual time forward by ``seconds`` and let the loop settle.

        Blocks the calling thread (not the loop thread: that raises RuntimeError) until
        every timer due by the new time has fired and the loop is idle. Raises
        EventLoopTimeoutError if that takes longer than ``timeout`` real seconds (the clock
        still reaches its target later), RunnerClosedError if the runner closes meanwhile.
        ``seconds`` is counted in whole nanoseconds; a negative or NaN amount is a
        ValueError. Before the runner runs (or after it closed) the clock just moves.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
        if not 0 <= seconds < math.inf:  # also refuses NaN
            raise ValueError(f"cannot advance a clock by {seconds!r} seconds")
        self._move(_to_ns(seconds), f"VirtualClock.advance({seconds})", timeout, relative=True)

    def advance_to(self, when: float, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Move virtual time forward to the absolute time ``when`` and let the loop settle,
        as :meth:`advance` does. ValueError if ``when`` is in the past."""
        _check_seconds(when, "when")
        target = _to_ns(when)
        if target < self._ns:
            raise ValueError(
                f"cannot move the clock back to {when!r}: it is already at {self._now!r}"
            )
        self._move(target, f"VirtualClock.advance_to({when})", timeout, relative=False)

    def _move(self, ns: int, what: str, timeout: float | None, *, relative: bool) -> None:
        """Move to ``ns`` (from now if ``relative``); with a running loop, through it."""
        if (self._ns + ns if relative else ns) > _MAX_NS:
            raise ValueError(f"{what}: the clock cannot go past {_MAX_NS / _NS!r} seconds")
        host = self._host
        if host is None or not host.running:
            with self._lock:
                self._set(self._ns + ns if relative else ns)
            return
        host.check_may_block(what, "a call from another thread")
        wait = host.resolve(timeout)
        waiter = ThreadWaiter()
        with self._lock:
            # Two advances at once (from two threads) do not add up: the later target wins.
            goal = self._ns + ns if relative else ns
            self._target = goal if self._target is None else max(self._target, goal)
            self._waiters.append(waiter)
        host.wake()
        woken = host.park(waiter, wait)
        if host.closed_error("advancing") is not None:
            raise RunnerClosedError("the runner closed while advancing its virtual clock")
        if not woken:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise host.timeout_error(what, wait)

    def hold(self) -> JumpHold:
        """A context manager that holds virtual time while it is entered.

        ``async with clock.hold(): await real_io()`` (or ``with`` from any thread): while
        it is held, time does not move, so a real HTTP call or database query awaited
        inside an agent is not timed out by virtual time racing ahead (real work takes no
        virtual time): an autojump clock does not jump, and a host's :meth:`advance` or
        :meth:`advance_to` waits (within its timeout) until the hold is released. Holds
        nest and may overlap; it must be entered while the clock drives a running runner
        (RuntimeError otherwise).
        """
        return JumpHold(self._hold_key)

    def _hold_key(self, key: object, hold: bool) -> None:
        host = self._host
        if host is None or not host.running:
            if hold:
                raise RuntimeError("clock.hold() needs the clock's runner to be running")
            return
        if hold:
            host.hold_jumps(key)
        else:
            host.release_jumps(key)

    # -- the loop contract ---------------------------------------------------------------
    def attach(self, host: ClockHost) -> None:
        """Called by the runner when its loop starts: ``host`` is how :meth:`advance`
        reaches that loop. A clock drives one running loop at a time (RuntimeError)."""
        with self._lock:
            current = self._host
            if current is not None and current is not host and current.running:
                raise RuntimeError("a VirtualClock drives one event loop at a time")
            self._host = host

    def jump(self, when: float) -> bool:
        """An autojump to the loop's next timer, due at ``when`` (loop thread). The loop
        calls it when it is idle and nothing at all holds time (no real work, no request
        in flight), so the one jump rule allows an autojump; anything else goes through
        :meth:`on_idle`. True if time moved to ``when`` (autojump is on and ``when`` is
        finite), else False and nothing changed."""
        if when < _NS_IN_FLOAT and self.autojump:
            ns = round(when * _NS)  # _to_ns(when) and _set(ns), inline
            if ns > self._ns:
                self._ns = ns
                now = ns / _NS
                self._now = now
                if now >= self._resolution_until:
                    self._grow_resolution(now)
            return True
        if when < _INF and self.autojump:  # (a huge time: when * _NS is no float)
            self._set(_to_ns(when))
            return True
        return False

    def on_idle(self, when: float | None, *, jump_allowed: bool) -> bool:
        """Called by the loop whenever it has nothing to run; ``when`` is its next timer.

        Returns True when time moved to ``when`` (the loop runs the timer next), False
        when it stays (the loop sleeps until something wakes it: virtual timers never
        come due by waiting in real time). Completes an :meth:`advance` whose target is
        reached, and autojumps when allowed (``jump_allowed``: nothing holds jumps).
        """
        target = self._target
        if when is not None and when < _INF:  # a timer at infinity never comes due
            when_ns = _to_ns(when)
            if self.autojump and jump_allowed:
                due = True
            else:
                due = target is not None and when_ns <= target
            if due:
                self._set(when_ns)
                return True
            if target is not None and when < target / _NS + self.resolution:
                # Due once time is at the target, by the loop's own rule (it fires what is
                # due within the resolution): it fires as part of this advance, before the
                # advance completes, not whenever the loop wakes next.
                self._set(target)
                return True
        if target is not None:
            self._settle(target)
        return False

    # -- inside ---------------------------------------------------------------------------
    def _set(self, ns: int) -> None:
        """The one place virtual time changes (never backwards)."""
        if ns > self._ns:
            self._ns = ns
            now = ns / _NS  # int / int: the float nearest to the exact time
            self._now = now
            if now >= self._resolution_until:
                self._grow_resolution(now)

    def _grow_resolution(self, now: float) -> None:
        """A float step grows at each power of two: keep the resolution above it."""
        self.resolution = max(_RESOLUTION, 4 * math.ulp(now))
        self._resolution_until = 2.0 ** math.frexp(now)[1]

    def _settle(self, target: int) -> None:
        """The loop is idle and no timer is due by ``target``: the advance is complete,
        unless a newer advance() raised the target meanwhile (its wake-up makes the loop
        look again)."""
        with self._lock:
            if self._target != target:
                return
            self._set(target)
            self._target = None
            waiters = self._waiters
            self._waiters = []
        for waiter in waiters:
            waiter.wake()


_NS = 1_000_000_000
#: A timer is due within this of the clock (asyncio's own loop uses the monotonic
#: clock's resolution, 1 ns); more where a float cannot tell 1 ns apart.
_RESOLUTION = 1e-9


def _to_ns(seconds: float) -> int:
    """Seconds (finite) as the nearest whole number of nanoseconds, at any magnitude."""
    ns = seconds * _NS
    if ns - ns == 0:  # finite (the common case: one float operation, no call)
        return round(ns)
    # Beyond ~1.8e299 s the product overflows a float; such a float is a whole number
    # of seconds, so the exact product is an int.
    return int(seconds) * _NS


_INF = math.inf
#: Below this many seconds, ``seconds * _NS`` is a finite float (``_to_ns``'s fast path).
_NS_IN_FLOAT = 1e299
#: The largest time a float can show (sys.float_info.max seconds).
_MAX_NS = _to_ns(sys.float_info.max)


def _check_seconds(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")


class JumpHold:
    """What :meth:`VirtualClock.hold` returns: holds autojumps while entered (``with`` or
    ``async with``, from any thread or coroutine). Re-entering it while held is an error."""

    __slots__ = ("_held", "_set_hold")

    def __init__(self, set_hold: Callable[[object, bool], None]) -> None:
        self._set_hold = set_hold
        self._held = False

    def __enter__(self) -> JumpHold:
        if self._held:
            raise RuntimeError("this clock hold is already held; use a new clock.hold()")
        self._set_hold(self, True)
        self._held = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._held:
            self._held = False
            self._set_hold(self, False)

    async def __aenter__(self) -> JumpHold:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()


def _no_hold(key: object, hold: bool) -> None:
    pass


def hold_virtual_time() -> JumpHold:
    """``async with hold_virtual_time(): await real_io()``: hold the virtual clock of the
    running loop while real I/O is awaited, so no virtual time passes meanwhile (and no
    virtual timeout fires because of it); on a loop without a virtual clock, nothing.

    What a coroutine awaits from the outside world other than executor jobs (which hold
    virtual time by themselves): an HTTP call (httpx, an LLM client), a socket, a
    database. The same as ``clock.hold()`` for the loop's own clock, so agent code
    need not know whether its host runs on virtual time. Call it in a coroutine on the
    loop (RuntimeError otherwise); the hold nests and may overlap others.
    """
    loop = asyncio.get_running_loop()
    clock = getattr(loop, "clock", None)
    if isinstance(clock, VirtualClock):
        return clock.hold()
    return JumpHold(_no_hold)
