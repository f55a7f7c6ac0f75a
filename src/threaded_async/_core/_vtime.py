"""The loop the runner makes for a :class:`VirtualClock`: :class:`SteppingEventLoop`,
specialised for jumping from timer to timer.

A simulation on virtual time spends its life on one path: every task sleeps, the loop
jumps the clock to the next timer, the timer wakes a task, the task sleeps again. SimPy
runs that path in a few Python calls; asyncio's loop, running ``asyncio.sleep`` as the
stdlib writes it (we do not patch it: users call it), took 22 per sleep. This loop is a
:class:`SteppingEventLoop` (the poll hook, the one jump rule, idle and iteration waiters,
thread wake-ups, holds and task families are all inherited) that changes how timers are
kept and how an iteration runs:

* **Timers in buckets of equal time.** ``_scheduled`` is a heap of the distinct times at
  which timers are due (floats: C comparisons, no tuples), and ``_buckets`` maps each of
  those times to its timers in the order they were scheduled: equal times fire first
  scheduled, first fired, and timers that share a time (a simulation's ticks) cost a
  list append instead of a heap operation.
* **A sleep's future is its own timer.** ``asyncio.sleep`` calls ``call_later(delay,
  _set_result_unless_cancelled, future, result)`` and, once awake, ``handle.cancel()``.
  Here ``call_later`` files that ``(future, result)`` pair (the call's own argument tuple)
  and returns the future itself: no ``TimerHandle`` is made, the firing sets the result
  directly, and the ``cancel()`` is ``Future.cancel``, a C call that does nothing on a
  done future. Other timers are filed as ``(handle, TIMER)``.
* **Dead timers are skipped, never jumped to.** A cancelled sleep (its future is done)
  or ``TimerHandle`` is dropped when it reaches the front; the buckets are swept of dead
  timers whenever the number of distinct times, the count of cancelled handles or one
  time's bucket outgrows the live timers (amortised, as asyncio's own loop does for
  cancelled handles; a cancelled sleep sends no notice, so its bucket's size tells).
* **Jumps without the poll.** When the loop is idle, only the self-pipe is watched (no
  sockets, no signal handlers, not in debug mode, no thread counting iterations) and
  nothing at all holds time (no real work, no request in flight), the one jump rule
  (:meth:`SteppingEventLoop._jump_when_idle`) can only say "jump": the iteration moves
  the clock to the next live timer itself (:meth:`VirtualClock.jump`) and fires it, and
  goes on doing so, timer after timer, inside one call of :meth:`_run_once` for as long
  as that holds. In every other case the iteration goes through the poll hook exactly
  as on :class:`SteppingEventLoop`: the rule decides, an advance settles, idle waiters
  are released, the loop sleeps until woken.
* **Seeded schedules** (SPEC §12): with a :class:`Schedule` on the clock, each iteration
  hands its batch to the schedule at the same two points as
  :meth:`SteppingEventLoop._run_once` (the "schedule hook" lines).
* **C callables where asyncio calls back.** ``time`` is :meth:`VirtualClock.reader`,
  ``create_future`` is ``functools.partial(Future, loop=self)`` and ``get_debug`` is
  ``bool`` (False) outside debug mode: asyncio's C ``Future`` asks ``loop.get_debug()``
  each time one is made. ``call_soon`` fills its handle without a Python ``__init__``,
  and the iteration runs each callback as ``Handle._run`` would, inline.

Debug mode falls back to asyncio's checks everywhere: real ``TimerHandle`` objects, the
base ``call_soon``, ``create_future`` and ``get_debug``, slow-callback warnings.
"""

from __future__ import annotations

import asyncio
import asyncio.format_helpers
import asyncio.futures
import contextvars
import functools
import heapq
import selectors
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._loop import Handle, SteppingEventLoop, TimerHandle

if TYPE_CHECKING:
    from ._clock import VirtualClock

__all__ = ["VirtualTimeLoop"]


class VirtualTimeLoop(SteppingEventLoop):
    """A :class:`SteppingEventLoop` driven by a :class:`VirtualClock` and specialised for
    jumping from timer to timer (see the module docstring); the runner makes one for
    ``AsyncRunner(clock=...)``.

    Every guarantee of :class:`SteppingEventLoop` with a clock holds: the one jump rule
    (real work holds virtual time, a server's requests hold autojumps unless its host
    waits for requests it lacks), ``advance``/``advance_to``, idle and iteration waiters,
    thread wake-ups, FIFO order of timers due at the same time, exact times. Thread rules
    are asyncio's: from other threads, only ``call_soon_threadsafe`` and the thread-side
    methods of :class:`SteppingEventLoop`.
    """

    def __init__(self, clock: VirtualClock, selector: selectors.BaseSelector | None = None) -> None:
        self._clock = clock
        #: Due time -> that time's timers, in the order they were scheduled: a sleep's
        #: ``(future, result)``, or ``(handle, TIMER)``. ``_scheduled`` is the heap of
        #: their keys.
        self._buckets: dict[float, list[tuple[Any, Any]]] = {}
        #: Sweep dead timers once the heap, a bucket or the count of cancelled handles
        #: passes this (twice the live timers after the last sweep).
        self._sweep_at = _MIN_SWEEP
        super().__init__(selector, clock=clock)
        #: The loop's clock as a C callable (no Python frame on every timer).
        self.time = self._read_time = clock.reader()

    # asyncio internals read here, typed once (the base class types the rest).
    _stopping: bool

    def set_debug(self, enabled: bool) -> None:
        """As asyncio's (loop thread, or before the loop runs). Outside debug mode
        ``get_debug`` and ``create_future`` are C callables (see the module docstring);
        in debug mode asyncio's own methods."""
        super().set_debug(enabled)
        if enabled:
            self.__dict__.pop("get_debug", None)
            self.__dict__.pop("create_future", None)
        else:
            # asyncio's C Future asks loop.get_debug() each time one is made: bool() is False.
            self.get_debug = bool  # a C callable shadows the method
            self.create_future = functools.partial(_Future, loop=self)

    def close(self) -> None:
        """As asyncio's (loop thread, not while running); also forgets the timers."""
        super().close()
        self._buckets.clear()

    # -- timers (loop thread only, as asyncio's) -----------------------------------------
    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """As ``BaseEventLoop.call_later`` (loop thread only). The timer of
        ``asyncio.sleep`` (``_set_result_unless_cancelled``) is, outside debug mode, the
        sleep's own future: filed as ``(future, result)`` and returned as the handle,
        whose ``cancel()`` the sleep calls once it is over."""
        if callback is _sleep_done and not self._debug:
            read_time = self._read_time  # (an attribute read specialises, self.time() not)
            when = read_time() + delay
            buckets = self._buckets
            bucket = buckets.get(when)
            if bucket is not None:
                bucket.append(args)
                if len(bucket) > self._sweep_at:  # cancelled sleeps while time stood still
                    self._sweep()
            elif when == when:  # (_file, inline)
                buckets[when] = [args]
                _heappush(self._scheduled, when)
            else:
                self._file(when, args)
            return args[0]
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """As ``BaseEventLoop.call_at`` (loop thread only), the ``TimerHandle`` filed with
        its due time; outside debug mode without asyncio's checks, as
        :meth:`SteppingEventLoop.call_at`."""
        if when is None:  # pyright: ignore[reportUnnecessaryComparison]
            raise TypeError("when cannot be None")
        timer: Any
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
        bucket = self._buckets.get(when)
        if bucket is not None:
            bucket.append((timer, TIMER))
        else:
            self._file(when, (timer, TIMER))
        timer._scheduled = True
        return timer

    def _file(self, when: float, entry: tuple[Any, Any]) -> None:
        """File the first timer due at ``when``: a new bucket, its time on the heap."""
        if when != when:
            # NaN (asyncio.sleep refuses it only from Python 3.13 on): due at once, as on
            # asyncio's own loop, without breaking the order of the heap.
            when = self.time()
            bucket = self._buckets.get(when)
            if bucket is not None:
                bucket.append(entry)
                return
        self._buckets[when] = [entry]
        _heappush(self._scheduled, when)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """Count a cancelled ``TimerHandle`` (asyncio calls this); sweep once they pile up."""
        if handle._scheduled:  # asyncio's flag: still filed
            self._timer_cancelled_count += 1
            if self._timer_cancelled_count > self._sweep_at:
                self._sweep()

    def _sweep(self) -> None:
        """Drop every dead timer (a cancelled handle, a done sleep future)."""
        scheduled = self._scheduled
        buckets = self._buckets
        live: list[float] = []
        count = 0
        for when in scheduled:
            bucket = buckets[when]
            kept: list[tuple[Any, Any]] = []
            for entry in bucket:
                if _alive(entry):
                    kept.append(entry)
                elif entry[1] is TIMER:
                    entry[0]._scheduled = False
            if kept:
                bucket[:] = kept
                live.append(when)
                count += len(kept)
            else:
                del buckets[when]
        _heapify(live)
        scheduled[:] = live
        self._timer_cancelled_count = 0
        self._sweep_at = max(_MIN_SWEEP, 2 * count)

    def _drop_dead(self) -> None:
        """Drop the dead timers at the front, so that the next timer is a live one."""
        scheduled = self._scheduled
        buckets = self._buckets
        while scheduled:
            bucket = buckets[scheduled[0]]
            for index, entry in enumerate(bucket):
                if _alive(entry):
                    if index:
                        _unfile(bucket[:index])
                        del bucket[:index]
                    return
            _unfile(bucket)
            del buckets[_heappop(scheduled)]

    def _next_due(self) -> float | None:
        """When the next live timer is due, None if there is none (loop thread)."""
        self._drop_dead()
        scheduled = self._scheduled
        return scheduled[0] if scheduled else None

    # -- the iteration ---------------------------------------------------------------------
    def _run_once(self) -> None:
        """One loop iteration, and the next ones too while each only jumps the clock to
        the next timer (see the module docstring): asyncio's ``_run_once`` otherwise.

        An iteration: if work is ready, it polls for I/O without waiting (not at all when
        only the self-pipe is watched); if not, either the clock jumps to the next live
        timer right here (idle, unwatched, nothing holds time: the one jump rule's
        answer), or the poll hook decides (``_jump_when_idle``) and may sleep. Then the
        timers due at the clock's time fire, in time order and FIFO within a time, and
        the callbacks that were ready run, oldest first. After an iteration that jumped
        and left nothing ready, the next one starts here, unless the loop is stopping.
        """
        ready = self._ready
        scheduled = self._scheduled
        buckets = self._buckets
        clock = self._clock
        hooked = self._hooked
        now = self.time
        popleft = ready.popleft
        if len(scheduled) > self._sweep_at:
            # Dead timers at times not reached yet (cancelled sleeps; cancelled handles
            # are counted): checked once a call, as the iterations that jump on inside
            # it only follow one another while nothing was cancelled (that wakes a task).
            self._sweep()
        while True:
            jumped = False
            if ready or self._stopping:
                if (
                    hooked.file_count == 1
                    and not self._signal_map
                    and not self._debug
                    and not self._iteration_waiters
                ):
                    self._iteration += 1  # nothing to poll: the hook would return [] at once
                else:
                    self._poll(0)
            else:
                if scheduled:  # the next timer must be a live one (_alive, inline)
                    timer, result = buckets[scheduled[0]][0]
                    if timer._cancelled if result is TIMER else timer.done():
                        self._drop_dead()
                if (
                    scheduled
                    and hooked.file_count == 1
                    and not self._work_holds
                    and not self._iteration_waiters
                    and not self._signal_map
                    and not self._debug
                ):
                    for holds in self._request_holds:
                        if holds.keys:
                            break
                    else:
                        # Nothing holds time, and the holds were read before _ready (the
                        # order _jump_when_idle explains): the rule allows the jump.
                        jumped = not ready and clock.jump(scheduled[0])
                if jumped:
                    self._iteration += 1  # time moved to the next timer, without polling
                elif scheduled and scheduled[0] < now() + clock.resolution:
                    self._poll(0)  # a timer is due already: it fires without time moving
                else:
                    self._poll(None)
            schedule = self._schedule
            if schedule is not None:  # schedule hook 1 of 2 (as SteppingEventLoop._run_once)
                schedule.mark_timers(len(ready))
            if scheduled:
                end = now() + clock.resolution
                while scheduled and scheduled[0] < end:
                    for timer, result in buckets.pop(_heappop(scheduled)):
                        if result is TIMER:
                            timer._scheduled = False
                            ready.append(timer)
                        else:  # asyncio.sleep's future: _set_result_unless_cancelled
                            try:
                                timer.set_result(result)
                            except _InvalidStateError:  # the sleep was cancelled
                                pass
            if schedule is not None:  # schedule hook 2 of 2: it orders and runs the batch
                if self._debug:
                    schedule.run_ready(ready, self._run_in_debug_mode)
                else:
                    schedule.run_ready(ready, None, self._report_callback_error)
            elif not self._debug:
                for _ in range(len(ready)):
                    handle = popleft()
                    if handle._cancelled:
                        continue
                    try:  # Handle._run, inline
                        handle._context.run(handle._callback, *handle._args)
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._report_callback_error(handle, exc)
            else:
                for _ in range(len(ready)):
                    handle = popleft()
                    if not handle._cancelled:
                        self._run_in_debug_mode(handle)
            handle = None  # as asyncio: no reference cycle through a traceback
            if not jumped or ready or self._stopping or self._driven:
                # (driven inline: the driving thread checks its wait after each iteration)
                return

    def _poll(self, timeout: float | None) -> None:
        """Poll through the hook (``_select``) and queue the events, as asyncio does."""
        event_list = self._selector.select(timeout)
        if event_list:
            self._process_events(event_list)  # type: ignore[attr-defined]

    def _report_callback_error(self, handle: Any, exc: BaseException) -> None:
        """What ``Handle._run`` does when a callback raises: the loop's exception handler
        gets asyncio's message, the exception and the handle."""
        source = asyncio.format_helpers._format_callback_source(  # pyright: ignore[reportPrivateUsage]  # asyncio's own wording of a callback
            handle._callback, handle._args
        )
        context: dict[str, Any] = {
            "message": f"Exception in callback {source}",
            "exception": exc,
            "handle": handle,
        }
        if handle._source_traceback:
            context["source_traceback"] = handle._source_traceback
        self.call_exception_handler(context)

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """As :meth:`SteppingEventLoop.call_soon` (loop thread only; outside debug mode it
        only appends to ``_ready``), filling the handle without a Python ``__init__``:
        every wake-up of a task comes through here."""
        if self._debug or self._closed:
            return super().call_soon(callback, *args, context=context)
        handle: Any = _new_handle(Handle)
        handle._context = _copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        self._ready.append(handle)
        return handle


def _alive(entry: tuple[Any, Any]) -> bool:
    """Whether a filed timer may still fire."""
    timer, result = entry
    if result is TIMER:
        return not timer._cancelled
    return not timer.done()


def _unfile(entries: list[tuple[Any, Any]]) -> None:
    """Mark the handles among dropped timers as no longer filed (asyncio's flag)."""
    for timer, result in entries:
        if result is TIMER:
            timer._scheduled = False


#: Marks a filed ``(handle, TIMER)``; anything else is a sleep's ``(future, result)``.
TIMER: Any = object()
#: Sweep no fewer timers than this (asyncio's own threshold for its cleanup).
_MIN_SWEEP = 100
_Future = asyncio.Future
_InvalidStateError = asyncio.InvalidStateError
_new_handle = object.__new__
_copy_context = contextvars.copy_context
_heappush = heapq.heappush
_heappop = heapq.heappop
_heapify = heapq.heapify
#: What asyncio.sleep schedules (asyncio.futures._set_result_unless_cancelled).
_sleep_done: object = getattr(asyncio.futures, "_set_result_unless_cancelled", None)
