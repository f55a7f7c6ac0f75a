"""The event loop the runner uses by default: asyncio's selector loop with one hook.

Over 600 lines: asyncio's iteration, rewritten once for speed, and the hook that serves
every feature below share the loop's private state; much of the rest is the ordering
arguments that make the lock-free hand-offs safe, written where they are relied on.

Every time the loop is about to block in ``select`` it calls :meth:`SteppingEventLoop._select`.
That single hook serves these features:

* **lazy wake-ups**: ``_polling`` says the loop may be asleep, so ``call_soon_threadsafe``
  wakes it only then (one wake-up per sleep, none while the loop is busy);
* **lock parking**: when the self-pipe is the only file the selector watches (no sockets,
  no signal handlers: the common case for a loop that only serves threads), the loop
  sleeps on a lock instead of in ``select``, and a wake-up releases that lock. That is one
  futex hand-off, like two threads sharing a ``queue.Queue``, instead of a ``send`` to the
  self-pipe, an ``epoll_wait`` return and a ``recv``;
* **quiescence**: a ``select`` entered with nothing ready and no timer due is the exact
  moment the loop is *idle*; waiters for idleness are released there;
* **iteration counting**, for bounded "let the loop catch up" waits;
* **virtual time**: with a :class:`~threaded_async.VirtualClock` the loop's ``time()`` is the
  clock's, and instead of sleeping until a timer is due the loop jumps the clock to it
  when the host allows (``advance``) or when autojump is on. *One rule* decides whether
  time may move (:meth:`SteppingEventLoop._jump_when_idle`): never while real work is in
  flight (a job of any executor started with ``run_in_executor`` or ``to_thread``, or a
  ``clock.hold()``): real work takes no virtual time. Autojumps also wait while a
  control-inversion request is queued or being handled, unless the host of that server
  is waiting for requests it does not have yet (``gather``, ``next_request``).

Besides the hook, :meth:`SteppingEventLoop.create_task` adopts every new task into the
:class:`~threaded_async._core._family.TaskFamily` of the context it is created in (agents
are tasks with children).

Why the lazy wake-up is safe: a thread calling ``call_soon_threadsafe`` first appends to
``_ready`` and then reads ``_polling``; the loop first sets ``_polling`` and then reads
``_ready``. Each step is atomic under the GIL, so either the loop sees the new handle
(and does not block) or the thread sees ``_polling`` (and wakes it). The loop chooses how
it will sleep (``_park_on_lock``) *before* it sets ``_polling``, so a thread that sees
``_polling`` also sees the current choice, or a later one: then the loop's next look at
``_ready`` finds the handle and the wake-up is merely spare (one empty iteration). Files
are only registered by the loop's own thread, so the choice cannot go stale while the loop
sleeps. In asyncio debug mode the plain path (always write to the self-pipe) is used.
"""

from __future__ import annotations

import asyncio
import asyncio.futures
import concurrent.futures
import contextvars
import functools
import heapq
import itertools
import logging
import selectors
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from ._family import family_of_context
from ._outcome import report_callback_error
from ._waiters import ThreadWaiter, resolve_future

if TYPE_CHECKING:
    from ._clock import VirtualClock
    from ._schedule import Schedule

__all__ = ["RequestHolds", "SteppingEventLoop"]


class _HookedSelector(selectors.BaseSelector):
    """Delegates to a real selector; ``select`` goes through the loop's hook."""

    def __init__(self, inner: selectors.BaseSelector) -> None:
        self.inner = inner
        #: How many files are registered (kept here so the hook need not ask the selector).
        self.file_count = len(inner.get_map())

    def install_hook(
        self, hook: Callable[[float | None], list[tuple[selectors.SelectorKey, int]]]
    ) -> None:
        """Make ``select`` call ``hook`` directly (an instance attribute shadowing the
        method: no delegating frame on the loop's busiest path)."""
        self.select = hook  # pyright: ignore[reportAttributeAccessIssue]

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self.inner.register(fileobj, events, data)
        self.file_count += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self.inner.unregister(fileobj)
        self.file_count -= 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self.inner.select(timeout)

    def close(self) -> None:
        self.inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self.inner.get_map()


class Handle(asyncio.Handle):
    """An ``asyncio.Handle`` for a loop outside debug mode: its ``__init__`` skips asking the
    loop whether it is in debug mode (which only decides whether to record a traceback).
    Named like its base so that handles look the same in asyncio's log messages."""

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: Sequence[Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None = None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class TimerHandle(asyncio.TimerHandle):
    """An ``asyncio.TimerHandle`` for a loop outside debug mode, built like :class:`Handle`.
    The loop keeps it in its heap as ``(when, sequence, handle)``: tuples compare in C,
    where ``TimerHandle.__lt__`` is a Python call per comparison."""

    __slots__ = ()

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: Sequence[Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None = None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None
        self._when = when
        self._scheduled = False

    def cancel(self) -> None:
        """As asyncio's, in one call when there is nothing to do: ``asyncio.sleep`` cancels
        its timer after every sleep, which the loop has fired (and marked) by then."""
        if not self._cancelled:
            super().cancel()


class SteppingEventLoop(asyncio.SelectorEventLoop):
    """asyncio's selector event loop plus the idle/wake-up hook described above.

    Its timers are asyncio's, kept in a heap of ``(when, sequence, handle)`` tuples (equal
    times fire in the order they were scheduled), and its iteration is asyncio's
    ``_run_once`` minus bookkeeping it does not need; see :meth:`_run_once`. With a
    ``clock`` it runs on virtual time; the runner then makes the subclass specialised
    for that, ``VirtualTimeLoop`` (``_vtime.py``).
    """

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        *,
        clock: VirtualClock | None = None,
    ) -> None:
        hooked = _HookedSelector(selector or selectors.DefaultSelector())
        super().__init__(hooked)
        self._hooked = hooked
        self._polling = False
        self._park_on_lock = False
        # Released (unlocked) = a wake-up is pending; the sleeping loop acquires it.
        self._wake_lock = threading.Lock()
        self._wake_lock.acquire()
        # The unix loop's live dict of signal handlers (Windows has none): signals wake the
        # loop through the self-pipe, so a loop that handles them must sleep in select.
        self._signal_map: dict[int, Any] = getattr(self, "_signal_handlers", {})
        self._idle_now = False
        self._iteration = 0
        self._hook_lock = threading.Lock()
        self._idle_waiters: list[ThreadWaiter] = []
        #: (iteration, monotonic time, waiter): released at idle, or once both are reached.
        self._iteration_waiters: list[tuple[int, float, ThreadWaiter]] = []
        #: Real work in flight (executor jobs, clock.hold()): virtual time stands still,
        #: for advance() and autojumps alike, and the loop is not idle.
        self._work_holds: set[object] = set()
        #: Each server's requests in flight (see RequestHolds): they hold autojumps.
        self._request_holds: list[RequestHolds] = []
        #: Threads answering a batch (hold_wakeups), by thread id: how deep, whether a
        #: resolution of theirs was deferred (their resolutions wake the loop once,
        #: after), and the work they handed over for the loop to run when the batch ends.
        self.batching_threads: dict[int, int] = {}
        self._wakeup_deferred: dict[int, bool] = {}
        self._deferred_work: dict[int, list[_Deferred]] = {}
        self._virtual_clock = clock
        #: Seeded schedules (SPEC §12): the clock's Schedule orders each iteration's ready
        #: handles (see the two "schedule hook" call sites in _run_once); None: FIFO.
        self._schedule: Schedule | None = None if clock is None else clock.schedule
        if clock is not None:
            # The loop's clock is the virtual clock's: its bound method shadows time()
            # (no delegating frame on a path every timer takes).
            self.time = clock.time
            self._clock_resolution = clock.resolution
        self._inner_selector = hooked.inner
        hooked.install_hook(self._select)
        # C callables where asyncio calls Python methods on every future: create_future()
        # (a request, a sleep) and get_debug() (which a future's constructor asks).
        # (Through __dict__: the methods keep their declared types for type checkers.)
        self.__dict__["create_future"] = functools.partial(asyncio.Future, loop=self)
        self.__dict__["get_debug"] = functools.partial(getattr, self, "_debug")
        #: Orders timers due at the same time: first scheduled, first fired.
        self._timer_sequence = itertools.count()
        #: While a thread drives this loop inline (drive()): the waiter it waits for, and
        #: the monotonic time it gives up at; the poll does not outlast either.
        self._drive_waiter: ThreadWaiter | None = None
        #: Whether a thread drives the loop inline now (drive): it checks its wait after
        #: every iteration.
        self._driven = False
        self._drive_deadline: float | None = None
        #: The driving thread's own async generator hooks, while ours replace them.
        self._owner_hooks: Any = None

    # asyncio internals we rely on, typed here once.
    _ready: Any
    _asyncgen_firstiter_hook: Any
    _asyncgen_finalizer_hook: Any
    _scheduled: Any
    _timer_cancelled_count: int
    _current_handle: asyncio.Handle | None
    _clock_resolution: float
    _debug: bool
    _closed: bool
    _stopping: bool
    _selector: Any
    _thread_id: int | None

    def time(self) -> float:
        """The loop's clock: monotonic, or the virtual clock's reading if the loop has one
        (then this method is shadowed by ``clock.time``). Never blocks; any thread."""
        return _monotonic()

    @property
    def clock(self) -> VirtualClock | None:
        """The virtual clock driving this loop, if any."""
        return self._virtual_clock

    @property
    def iteration(self) -> int:
        """How many times the loop has polled for events so far (any thread)."""
        return self._iteration

    def _run_once(self) -> None:
        """One loop iteration: asyncio's (``BaseEventLoop._run_once``, the only place where
        callbacks are called), written for this loop. The differences, all outside debug
        mode (debug mode keeps asyncio's checks and slow-callback warnings):

        * timers live in a heap of ``(when, sequence, handle)`` tuples (see call_at);
        * with nothing ready and no timer, the poll sleeps with no timeout computation;
        * a due timer of ``asyncio.sleep`` (``futures._set_result_unless_cancelled``) sets
          its future directly instead of running a handle that calls a function that
          sets it; the woken task then runs in this same iteration, after what was ready
          before, instead of in the next one. Order stays FIFO and deterministic.
        * with a seeded :class:`~threaded_async.Schedule` on the virtual clock, the
          schedule runs the batch in an order it chooses (the two "schedule hook" lines).

        Only the loop thread adds timers, and polling runs no callback, so no timer can
        appear between the tests and the poll.
        """
        ready = self._ready
        scheduled = self._scheduled
        if scheduled:
            count = len(scheduled)
            if count > _MIN_SCHEDULED and self._timer_cancelled_count / count > _CANCELLED_FRACTION:
                live: list[tuple[float, int, asyncio.TimerHandle]] = []
                for entry in scheduled:
                    if entry[2]._cancelled:
                        entry[2]._scheduled = False
                    else:
                        live.append(entry)
                _heapify(live)
                self._scheduled = scheduled = live
                self._timer_cancelled_count = 0
            else:
                while scheduled and scheduled[0][2]._cancelled:
                    self._timer_cancelled_count -= 1
                    _heappop(scheduled)[2]._scheduled = False
            if ready or self._stopping:
                timeout: float | None = 0
            elif scheduled:
                timeout = min(max(0.0, scheduled[0][0] - self.time()), _MAX_SELECT_TIMEOUT)
            else:
                timeout = None
        else:
            timeout = 0 if ready or self._stopping else None
        if timeout and self._jumps_without_polling():  # (timeout > 0: a timer is due later)
            pass  # virtual time moved to the next timer: nothing outside can be due
        else:
            event_list = self._selector.select(timeout)
            if event_list:
                self._process_events(event_list)  # type: ignore[attr-defined]
                event_list = None  # as asyncio: no reference cycle through a traceback
        debug = self._debug
        schedule = self._schedule
        if schedule is not None:  # schedule hook 1 of 2: where the due timers' handles begin
            schedule.mark_timers(len(ready))
        if scheduled:
            end = self.time() + self._clock_resolution
            while scheduled:
                entry = scheduled[0]
                if entry[0] >= end:
                    break
                _heappop(scheduled)
                timer = entry[2]
                timer._scheduled = False
                if timer._callback is _sleep_done and not debug and not timer._cancelled:
                    future = timer._args[0]
                    if not future.done():  # (a cancelled sleep's future is done)
                        future.set_result(timer._args[1])
                    # Fired: as asyncio's Handle.cancel leaves it (sleep cancels it next).
                    timer._cancelled = True
                    timer._callback = None
                    timer._args = None  # pyright: ignore[reportAttributeAccessIssue]  # as Handle.cancel does
                else:
                    ready.append(timer)
        if schedule is not None:  # schedule hook 2 of 2: the schedule orders and runs the batch
            schedule.run_ready(ready, self._run_in_debug_mode if debug else None)
            return
        popleft = ready.popleft
        if debug:
            for _ in range(len(ready)):
                handle = popleft()
                if not handle._cancelled:
                    self._run_in_debug_mode(handle)
        else:
            for _ in range(len(ready)):
                handle = popleft()
                if not handle._cancelled:
                    handle._run()
        handle = None

    def _jumps_without_polling(self) -> bool:
        """With a virtual clock that may jump to the next timer, and nothing to poll but
        the self-pipe, jump here instead of going through the poll hook: the hook would
        find the loop idle and jump anyway, and with no file to watch no outside event
        can be due (other threads only append to ``_ready``, read next iteration).
        Returns True if time moved to the next timer. Anything else (files, signals,
        debug mode, threads waiting for idleness or iterations) takes the hook."""
        clock = self._virtual_clock
        if (
            clock is None
            or self._hooked.file_count != 1
            or self._signal_map
            or self._debug
            or self._idle_waiters
            or self._iteration_waiters
        ):
            return False
        if not self._jump_when_idle(clock):
            return False  # work is ready, an advance settled, or no jump: the hook decides
        self._iteration += 1
        return True

    def _jump_when_idle(self, clock: VirtualClock) -> bool | None:
        """The one rule for moving virtual time, applied now that nothing is ready (loop
        thread): None if work is ready after all, else whether time moved.

        Time stands still while real work is in flight (executor jobs, ``clock.hold()``):
        neither an autojump nor an ``advance`` moves it, and an advance does not settle.
        Otherwise an advance moves it to its target, and an autojump is allowed unless a
        server's request is queued or being handled and that server's host is not
        waiting for requests it lacks (see :class:`RequestHolds`).

        When nothing at all holds time (no real work, no request in flight) the rule can
        only allow an autojump: the virtual-time loop (``_vtime.VirtualTimeLoop``) then
        takes that answer without asking, reading the holds before ``_ready`` as here,
        and calls ``clock.jump``. A new kind of hold must be known there too.
        """
        # Read the holds *before* re-checking _ready: a thread that answers a request (or
        # finishes an executor job) appends its wake-up to _ready first and drops its hold
        # second, so a stale read here always comes with a non-empty _ready, and we loop
        # again instead of jumping past the woken task.
        working = bool(self._work_holds)
        requests_hold = not working and self._requests_hold()
        if self._ready:
            return None
        if working:
            return False  # real work takes no virtual time: its end wakes the loop
        moved = clock.on_idle(self._next_due(), jump_allowed=not requests_hold)
        # asyncio fires timers due before time() + _clock_resolution: keep that above one
        # float step of the virtual time, or no timer fires at large times.
        self._clock_resolution = clock.resolution
        return moved

    def _next_due(self) -> float | None:
        """When the next timer is due, None if there is none (loop thread)."""
        scheduled = self._scheduled
        return scheduled[0][0] if scheduled else None

    def _requests_hold(self) -> bool:
        """Whether some server's requests hold autojumps now (loop thread)."""
        return any(h.keys and not h.host_still_waiting() for h in self._request_holds)

    def _run_in_debug_mode(self, handle: asyncio.Handle) -> None:
        """Run ``handle`` as asyncio's debug mode does: warn about slow callbacks."""
        try:
            self._current_handle = handle
            start = self.time()
            handle._run()
            duration = self.time() - start
            if duration >= self.slow_callback_duration:
                _asyncio_logger.warning("Executing %s took %.3f seconds", handle, duration)
        finally:
            self._current_handle = None

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """As ``BaseEventLoop.call_at`` (loop thread only), keeping the timer in this
        loop's heap of ``(when, sequence, handle)``; outside debug mode without asyncio's
        checks, as :meth:`call_soon`."""
        if when is None:  # pyright: ignore[reportUnnecessaryComparison]
            raise TypeError("when cannot be None")
        timer: asyncio.TimerHandle
        if self._debug:
            self._check_closed()  # type: ignore[attr-defined]
            self._check_thread()  # type: ignore[attr-defined]
            self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
            timer = asyncio.TimerHandle(when, callback, args, self, context)
            source = timer._source_traceback
            if source:
                del source[-1]
        else:
            if self._closed:
                raise RuntimeError("Event loop is closed")
            timer = TimerHandle(when, callback, args, self, context)
        _heappush(self._scheduled, (when, next(self._timer_sequence), timer))
        timer._scheduled = True  # pyright: ignore[reportPrivateUsage]  # asyncio's flag: in the heap
        return timer

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """As ``BaseEventLoop.call_later`` (loop thread only)."""
        if delay is None:  # pyright: ignore[reportUnnecessaryComparison]
            raise TypeError("delay must not be None")
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """As ``BaseEventLoop.call_soon``, without its two helper calls outside debug mode
        (every task wake-up goes through here). Loop thread only, as asyncio's; the lazy
        wake-up and ``resolve_threadsafe`` rely on it doing nothing but append to ``_ready``
        outside debug mode, exactly as asyncio's does."""
        if self._debug:
            return super().call_soon(callback, *args, context=context)
        if self._closed:
            raise RuntimeError("Event loop is closed")
        handle = Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def _write_to_self(self) -> None:
        # Skipping the wake-up is safe only while the loop is not (about to be) asleep;
        # see the module docstring for the ordering argument.
        if self._polling:
            if self._park_on_lock:
                try:
                    self._wake_lock.release()
                except RuntimeError:  # a wake-up is already pending
                    pass
            else:
                super()._write_to_self()  # type: ignore[misc]
        elif self._debug:
            super()._write_to_self()  # type: ignore[misc]

    # -- the hook (runs on the loop thread) --------------------------------------------
    def _select(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        self._iteration += 1
        # Only the self-pipe is watched (signals write to it too, hence the second test).
        park_on_lock = self._hooked.file_count == 1 and not self._signal_map and not self._debug
        self._park_on_lock = park_on_lock
        self._polling = True
        if timeout != 0 and self._ready:
            timeout = 0
        if timeout != 0:
            if self._virtual_clock is None:
                # Set the flag before reading the waiters (add_idle_waiter does the
                # reverse), so a waiter registering meanwhile is seen by one side.
                self._idle_now = True
                if self._idle_waiters:
                    timeout = self._on_idle(timeout)
            else:
                timeout = self._on_idle(timeout)
        if self._iteration_waiters:
            self._release_iteration_waiters()
        if timeout != 0 and self._drive_waiter is not None:
            # Driven inline: the driving thread's wait is over, or its time is up.
            if self._drive_waiter.woken():
                timeout = 0
            elif self._drive_deadline is not None:
                left = max(0.0, self._drive_deadline - _monotonic())
                timeout = left if timeout is None else min(timeout, left)
        try:
            if not park_on_lock:
                return self._inner_selector.select(timeout)
            if timeout == 0:
                # Nothing but the self-pipe to poll, and nobody writes to it in this mode:
                # save the epoll_wait syscall of every busy iteration.
                return []
            if timeout is None:
                self._wake_lock.acquire()
            else:
                self._wake_lock.acquire(True, min(timeout, _TIMEOUT_MAX))
            return []
        finally:
            self._polling = False
            self._idle_now = False

    def _on_idle(self, timeout: float | None) -> float | None:
        clock = self._virtual_clock
        if clock is not None:
            moved = self._jump_when_idle(clock)
            if moved is None or moved:
                return 0
            if self._work_holds:
                # Real work in flight: on virtual time the loop is not idle until it is
                # done (it takes no virtual time); its end wakes the loop.
                return None
            timeout = None  # virtual timers never come due by waiting on the real clock
        self._idle_now = True
        if self._idle_waiters:
            with self._hook_lock:
                if self._ready:
                    # Work was queued (e.g. an answer's wake-up) before these waiters
                    # registered, after _select looked: not idle yet, keep them for later.
                    self._idle_now = False
                    return 0
                waiters = self._idle_waiters
                self._idle_waiters = []
            for waiter in waiters:
                waiter.wake()
        return timeout

    def _release_iteration_waiters(self) -> None:
        iteration = self._iteration
        now = _monotonic()
        wake: list[ThreadWaiter] = []
        bounded = False
        with self._hook_lock:
            # Look at _ready again, under the lock: a thread queues its work (an answer)
            # before it registers, so every entry seen here comes with that work either
            # still in _ready (not idle after all) or already run. _select's earlier look
            # may predate both. Deciding under the lock also keeps a concurrent
            # remove_idle_waiter from being undone.
            idle = self._idle_now and not self._ready
            keep: list[tuple[int, float, ThreadWaiter]] = []
            for entry in self._iteration_waiters:
                if idle:
                    wake.append(entry[2])
                elif iteration >= entry[0] and now >= entry[1]:
                    wake.append(entry[2])
                    bounded = True
                else:
                    keep.append(entry)
            self._iteration_waiters = keep
        for waiter in wake:
            waiter.wake()
        if bounded:
            # The loop is busy and a host thread waits for the GIL to go on: hand it over
            # (a bare release-and-retake here is usually won by this thread again, which
            # left hosts of a busy loop waiting up to seconds on Python 3.11).
            _sleep(_HAND_OVER)

    # -- thread-side API -----------------------------------------------------------------
    def is_polling(self) -> bool:
        """True while the loop is in its poll: waiting for events or a wake-up, running no
        callback (any thread; a moment old by the time it is read)."""
        return self._polling

    def is_idle_now(self) -> bool:
        """True while the loop is blocked in select with nothing runnable (any thread)."""
        # Reading the length of _ready from another thread is a single atomic operation.
        return self._idle_now and not self._ready

    def add_idle_waiter(
        self, waiter: ThreadWaiter, max_iterations: int | None, min_seconds: float = 0.0
    ) -> None:
        """Wake ``waiter`` at the next idle point, or, with ``max_iterations``, once that
        many loop iterations and ``min_seconds`` of real time have both passed without
        one (a loop that never idles). Any thread; never blocks."""
        with self._hook_lock:
            if max_iterations is None:
                self._idle_waiters.append(waiter)
            else:
                self._iteration_waiters.append(
                    (self._iteration + max_iterations, _monotonic() + min_seconds, waiter)
                )
        # Re-check after registering: the loop may have gone idle just before. Otherwise it
        # is running (it will reach the hook) or blocked with its self-pipe armed.
        if self.is_idle_now():
            waiter.wake()

    def remove_idle_waiter(self, waiter: ThreadWaiter) -> None:
        """Forget ``waiter`` (a no-op if it was already woken). Any thread; never blocks."""
        with self._hook_lock:
            if waiter in self._idle_waiters:
                self._idle_waiters.remove(waiter)
            self._iteration_waiters = [e for e in self._iteration_waiters if e[2] is not waiter]

    def hold_wakeups(self) -> None:
        """The calling thread is about to resolve a batch of waiters (answering a frame of
        requests): until the matching :meth:`release_wakeups`, its resolutions do not wake
        the loop; the release wakes it once. Only this thread's resolutions through
        :meth:`resolve_threadsafe` are deferred: other threads' wake the loop as usual,
        work handed to the loop with ``call_soon_threadsafe`` still wakes it at once, and
        a wait of this thread flushes what it deferred before it parks
        (:meth:`flush_wakeups`), so nothing can wait on a deferred wake-up. Nests. Any
        thread; never blocks."""
        ident = _get_ident()
        holds = self.batching_threads
        holds[ident] = holds.get(ident, 0) + 1

    def release_wakeups(self) -> None:
        """End the calling thread's batch; wake the loop if a wake-up was deferred."""
        ident = _get_ident()
        holds = self.batching_threads
        depth = holds.get(ident, 0) - 1
        if depth > 0:
            holds[ident] = depth
            return
        holds.pop(ident, None)
        self.flush_wakeups()

    def flush_wakeups(self) -> None:
        """Hand the loop what the calling thread deferred in a batch: the work it handed
        over (:meth:`defer`), in one callback, and the wake-up (its waits call this before
        they park, as ``Condition.wait`` releases its lock). Any thread; never blocks."""
        ident = _get_ident()
        work = self._deferred_work.pop(ident, None) if self._deferred_work else None
        woken = self._wakeup_deferred.pop(ident, False) if self._wakeup_deferred else False
        if work:
            self.call_soon_threadsafe(_run_deferred, work)  # (wakes the loop if it sleeps)
        elif woken:
            self._write_to_self()

    def defer(self, fn: Callable[[list[Any], list[Any]], object], item: Any, value: Any) -> bool:
        """Inside a batch of the calling thread (:meth:`hold_wakeups`): have the loop call
        ``fn(items, values)`` when the batch ends (or the thread waits), with every
        ``(item, value)`` deferred to the same ``fn`` since, in order, in one callback: a
        frame of answers costs the host one hand-off and two list appends each. Returns
        False (and does nothing) outside a batch or on the loop's own thread. What is
        deferred is handed over whole at the flush: a later defer starts a new batch."""
        ident = _get_ident()
        if ident not in self.batching_threads or ident == self._thread_id:
            return False
        work = self._deferred_work.get(ident)
        if work is None:
            self._deferred_work[ident] = [(fn, [item], [value])]
            return True
        last = work[-1]
        if last[0] == fn:
            last[1].append(item)
            last[2].append(value)
        else:
            work.append((fn, [item], [value]))
        return True

    def request_holds(self) -> RequestHolds:
        """A new set of autojump holds for one server's requests (any thread)."""
        holds = RequestHolds(self)
        self._request_holds = [*self._request_holds, holds]
        return holds

    def resolve_threadsafe(self, fut: asyncio.Future[None]) -> None:
        """Set ``fut`` (a future of this loop) to ``None`` from any thread; a no-op if it is
        already done. Never blocks; RuntimeError if the loop is closed.

        Unlike ``call_soon_threadsafe(fut.set_result, None)`` this resolves the future at
        once, so its awaiting task runs in the loop's next iteration, not the one after.
        Why that is safe on this loop (and not in general): outside debug mode
        ``call_soon`` only appends a handle to ``_ready`` (a deque: atomic under the GIL)
        and checks no thread, and ``Future.set_result`` sets the state before it schedules
        the callbacks through ``call_soon``. If the loop cancels the future meanwhile,
        (or it was already done) ``set_result`` raises InvalidStateError and the wake-up
        is moot. The callbacks are
        appended to ``_ready`` before ``_write_to_self`` reads ``_polling``, which is the
        order the lazy wake-up needs. In debug mode the plain path is used.
        """
        if self._debug:
            self.call_soon_threadsafe(resolve_future, fut)
            return
        try:
            fut.set_result(None)
        except asyncio.InvalidStateError:  # cancelled by the loop in the meantime
            return
        self.resolved_from_thread()

    def resolved_from_thread(self) -> None:
        """Another thread has just set a future of this loop directly (as
        :meth:`resolve_threadsafe` does; a control-inversion answer): wake the loop if it
        sleeps, or, inside a batch of that thread (:meth:`hold_wakeups`), once at its end.
        Never blocks."""
        if self.batching_threads:
            ident = _get_ident()
            if ident in self.batching_threads:
                self._wakeup_deferred[ident] = True  # one wake-up when the batch ends
                return
        self._write_to_self()

    def run_first_step_next(self, task: asyncio.Task[Any]) -> None:
        """Move the first step of ``task``, just created on this thread, to the front of
        the ready queue, so it runs before callbacks queued after it was requested.

        The stand-in for ``eager_start`` on Python 3.11 (loop thread only). Other threads
        only ever append to ``_ready``, and each deque operation is atomic under the GIL,
        so reading by index from the right and removing the handle by identity is safe.
        """
        ready = self._ready
        for index in range(len(ready) - 1, -1, -1):
            handle = ready[index]
            if getattr(handle._callback, "__self__", None) is task:
                ready.remove(handle)
                ready.appendleft(handle)
                return

    def wake(self) -> None:
        """Make the loop run one more iteration soon (any thread)."""
        self.call_soon_threadsafe(_noop)

    def add_jump_hold(self, key: object) -> None:
        """Real work is in flight until :meth:`release_jump_hold` with the same ``key``: on
        virtual time, the clock stands still (no autojump, no advance) and the loop is
        not idle meanwhile (any thread)."""
        self._work_holds.add(key)

    def jump_hold_count(self) -> int:
        """How many holds on virtual time are in force: real work and requests in flight
        (any thread, never blocks)."""
        return len(self._work_holds) + sum(len(h.keys) for h in self._request_holds)

    def clear_jump_holds(self) -> None:
        """Drop every hold on virtual time (the runner's teardown: timers must fire)."""
        self._work_holds.clear()
        for holds in self._request_holds:
            holds.keys.clear()

    def release_jump_hold(self, key: object) -> None:
        """End the real work ``key`` (any thread); wake the loop if it may wait for it.

        The loop sets ``_polling`` before it reads the holds, and we drop the hold before
        reading ``_polling``: if the loop saw the hold, we see ``_polling`` and wake it.
        """
        holds = self._work_holds
        holds.discard(key)
        if not holds:
            # The loop may be waiting for this work to end (not idle while it runs): wake it
            # (a spare wake-up at worst; the job's own result usually wakes it too).
            self.wake_if_parked()

    def drive(self, waiter: ThreadWaiter | None, timeout: float | None) -> bool:
        """Inline stepping: run this loop on the calling thread until ``waiter`` is woken
        (True), ``timeout`` seconds pass (False), or, with no waiter, the loop is stopped
        (``loop.stop()``: a runner's shutdown; True).

        What the thread that owns an inline runner does while it waits for it: no loop
        thread, no thread switch; the loop runs only then, and this thread is the loop's
        meanwhile (``asyncio.get_running_loop()`` is this loop in its callbacks). The
        timeout is checked between callbacks: a callback that blocks holds it up.
        RuntimeError if the loop runs already (a wait from one of its own callbacks) or
        is closed. What a callback raises that is not an ``Exception`` (Ctrl-C...)
        propagates out of here, as out of ``run_forever``; the loop stays usable.
        """
        if waiter is not None and waiter.woken():
            return True
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._thread_id is not None:  # (is_running())
            raise RuntimeError(
                "this inline runner's loop is running already: a blocking call made from "
                "one of its own callbacks would wait for itself; await instead"
            )
        deadline = None if timeout is None else _monotonic() + timeout
        events = asyncio.events
        outer = events._get_running_loop()  # (a blocking call made in another loop's callback)
        # The loop's async generator hooks, as run_forever sets them. They stay set on
        # this thread between drives (setting and restoring them twice per step would
        # cost more than a step's hand-off), until close_inline_hooks(); but not over
        # another loop running on this thread, whose own hooks are put back.
        hooks = sys.get_asyncgen_hooks()
        firstiter = self._asyncgen_firstiter_hook
        old_hooks = hooks if outer is not None else None
        if hooks.firstiter != firstiter:
            if outer is None:
                self._owner_hooks = hooks
            finalizer = self._asyncgen_finalizer_hook
            sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
        self._thread_id = _get_ident()
        events._set_running_loop(self)  # as run_forever does
        self._drive_waiter = waiter
        self._drive_deadline = deadline
        self._driven = True
        if waiter is not None:
            waiter.also_wake = self.wake_if_parked
        run_once = self._run_once
        try:
            if waiter is None:
                while not self._stopping:
                    run_once()
                    if deadline is not None and _monotonic() >= deadline and not self._stopping:
                        return False
                self._stopping = False
                return True
            while True:
                run_once()
                if waiter.woken():
                    return True
                if deadline is not None and _monotonic() >= deadline:
                    return False
        finally:
            if waiter is not None:
                waiter.also_wake = None
            self._drive_waiter = None
            self._drive_deadline = None
            self._driven = False
            self._thread_id = None
            events._set_running_loop(outer)
            if old_hooks is not None:
                sys.set_asyncgen_hooks(*old_hooks)

    def close_inline_hooks(self) -> None:
        """On the thread that drove this loop (drive), once it drives it no more: put
        back the async generator hooks the thread had before, if ours are still set."""
        saved = self._owner_hooks
        self._owner_hooks = None
        if saved is not None and sys.get_asyncgen_hooks().firstiter == (
            self._asyncgen_firstiter_hook
        ):
            sys.set_asyncgen_hooks(*saved)

    def has_timers(self) -> bool:
        """Whether a timer is scheduled (any thread; cancelled ones may count)."""
        return bool(self._scheduled)

    def wake_if_parked(self) -> None:
        """Wake the loop if it may be parked (any thread; a no-op on the loop thread, and
        while the loop runs: it reads what changed before it parks again). Call it after
        changing what the loop decides on, never before."""
        if self._polling and _get_ident() != self._thread_id:
            self.wake()

    # -- tasks and executors -----------------------------------------------------------
    def create_task(
        self,
        coro: Any,
        *,
        name: object = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        """As asyncio's, plus: the task joins the :class:`TaskFamily` of the context it is
        created in (``context``, else the current one), so an agent's helper tasks
        (``gather``, ``create_task``, ``TaskGroup``, ``wait_for``) count as the agent.
        Loop thread only, as asyncio's."""
        task = super().create_task(coro, name=name, context=context)
        family = family_of_context(context)
        if family is not None:
            family.adopt(task)
        return task

    def run_in_executor(
        self, executor: concurrent.futures.Executor | None, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        """As asyncio's (loop thread only), plus: with a virtual clock, the job is real work
        that holds virtual time until it is done (see :meth:`add_jump_hold`), whatever the
        executor (the default one, one set with ``set_default_executor``, or yours)."""
        if self._virtual_clock is None:
            return super().run_in_executor(executor, func, *args)
        self._check_closed()  # type: ignore[attr-defined]
        if self._debug:
            self._check_callback(func, "run_in_executor")  # type: ignore[attr-defined]
        if executor is None:
            executor = cast("concurrent.futures.Executor | None", self._default_executor)
            self._check_default_executor()  # type: ignore[attr-defined]
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._default_executor = executor
        job = executor.submit(func, *args)
        future = asyncio.wrap_future(job, loop=self)
        # Registered after wrap_future's own callback: the job's result is queued for the
        # loop before the hold drops (the ordering _jump_when_idle relies on).
        self._work_holds.add(job)
        job.add_done_callback(self.release_jump_hold)
        return future


class RequestHolds:
    """One server's control-inversion requests in flight, as holds on autojumps.

    A request queued or being handled holds autojumps (a handler sees the time its request
    was made at), unless a host of that server is waiting for requests it does not have
    yet (``gather``, ``next_request``): then the agents it waits for must be reached, so
    time may jump to their timers. Once what it waits for has arrived, time stands still
    until the host has taken it, however late its thread runs. The host overrides only
    these holds: real work (:meth:`SteppingEventLoop.add_jump_hold`) always holds.
    """

    __slots__ = ("_host_waits", "_loop", "keys")

    def __init__(self, loop: SteppingEventLoop) -> None:
        self._loop = loop
        self.keys: set[object] = set()
        #: Waiting hosts: key -> "still waiting?" (called on the loop thread when idle).
        self._host_waits: dict[object, Callable[[], bool]] = {}

    def add(self, key: object) -> None:
        """A request is in flight until :meth:`release` (any thread)."""
        self.keys.add(key)

    def release(self, key: object) -> None:
        """The request ``key`` was answered or given up (any thread); wake the loop if it
        may be parked on it (same ordering as :meth:`SteppingEventLoop.release_jump_hold`)."""
        keys = self.keys
        keys.discard(key)
        if not keys:
            loop = self._loop
            if loop.has_timers():  # (a jump to make; else nothing waits for the release)
                loop.wake_if_parked()

    def add_host_wait(self, key: object, still_waiting: Callable[[], bool]) -> None:
        """A host thread waits for requests (``key``): while ``still_waiting()`` is true
        (asked on the loop thread when it is idle), autojumps are allowed despite these
        holds, until :meth:`remove_host_wait`. Any thread; wakes the loop so it looks
        again if these holds may be what keeps it still."""
        self._host_waits[key] = still_waiting
        loop = self._loop
        # Only a virtual clock held back by these requests, with a timer to jump to, has
        # anything new to decide (a spare wake-up costs a thread switch per wait).
        if self.keys and loop.clock is not None and loop.has_timers():
            loop.wake_if_parked()

    def remove_host_wait(self, key: object) -> None:
        """The host thread stopped waiting (any thread, never blocks)."""
        self._host_waits.pop(key, None)

    def host_still_waiting(self) -> bool:
        """Whether a waiting host still lacks what it waits for (loop thread)."""
        return any(still_waiting() for still_waiting in tuple(self._host_waits.values()))


_TIMEOUT_MAX = threading.TIMEOUT_MAX
_get_ident = threading.get_ident
_monotonic = time.monotonic
_heappush = heapq.heappush
_heappop = heapq.heappop
_heapify = heapq.heapify
# asyncio's own bounds (base_events): rebuild the heap when over half its timers are
# cancelled; never sleep longer than a day in one poll.
_MIN_SCHEDULED = 100
_CANCELLED_FRACTION = 0.5
_MAX_SELECT_TIMEOUT = 24 * 3600
_asyncio_logger = logging.getLogger("asyncio")
#: What asyncio.sleep schedules (asyncio.futures._set_result_unless_cancelled): the timer
#: _run_once fires directly.
_sleep_done: object = getattr(asyncio.futures, "_set_result_unless_cancelled", None)
_sleep = time.sleep
#: How long a busy loop thread sleeps to hand the GIL to a host thread it woke: long
#: enough for the woken thread to be scheduled and take the GIL.
_HAND_OVER = 50e-6


def _noop() -> None:
    pass


#: Work a batch deferred to the loop: ``fn(items, values)``.
_Deferred = tuple[Callable[[list[Any], list[Any]], object], list[Any], list[Any]]


def _run_deferred(work: list[_Deferred]) -> None:
    """Run a batch's deferred work, in order (the loop thread; see ``defer``). A piece
    that raises is reported (the loop's exception handler) and the others still run."""
    for fn, items, values in work:
        try:
            fn(items, values)
        except Exception as exc:
            report_callback_error(exc, fn)
