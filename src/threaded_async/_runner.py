"""AsyncRunner: an asyncio event loop owned by a background thread.

Over 600 lines: one class whose lifecycle (start, the loop thread, an orderly stop, a
forced stop, teardown) is one state machine over shared state, plus 1.4's call API as
thin delegations; what stands alone (the token, waits, tasks, threads) lives below it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread
import contextvars
import ctypes
import dataclasses
import inspect
import itertools
import logging
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from ._core import (
    CANCELLED,
    CATCH_UP_ITERATIONS,
    CATCH_UP_SECONDS,
    USE_DEFAULT_TIMEOUT,
    Awaiting,
    Deadline,
    EventLoopTimeoutError,
    ForcedThreadShutdown,
    LoopToken,
    Outcome,
    RealTimeCall,
    RunnerClosedError,
    ShutdownType,
    SteppingEventLoop,
    TAExceptionGroup,
    TaskFamily,
    VirtualClock,
    VirtualTimeLoop,
    adopting_task_factory,
    call_later,
    check_timeout,
    current_family,
    family_of_context,
    resolve_future,
    resolve_timeout,
    wait_idle,
)
from ._task import BackgroundTask, TaskStart
from ._threads import SupervisedThread, ThreadGroup

T = TypeVar("T")
FutureT = TypeVar("FutureT", bound="asyncio.Future[Any]")

__all__ = ["AsyncRunner", "RunnerStatistics"]

logger = logging.getLogger("threaded_async")

_get_ident = threading.get_ident
_names = itertools.count(1)
_set_family = current_family.set

_NEW = "new"
_STARTING = "starting"
_RUNNING = "running"
_STOPPING = "stopping"
_CLOSED = "closed"

#: Seconds cancelled tasks get to finish at exit when ``exit_timeout`` is None.
CANCEL_GRACE = 1.0
#: How long a stop that ran out of time watches the loop's iterations before it calls the
#: loop thread stuck (see AsyncRunner._wait_unless_stuck).
_STUCK_PROBE = 0.02
#: Loop factory used when a runner is given neither ``loop_factory`` nor ``clock``.
#: ``None`` means :class:`SteppingEventLoop`. Private: the test suite patches it to run
#: every test on uvloop (``pytest --loop=uvloop``).
_default_loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None


def _force_thread_stop(thread: threading.Thread) -> None:
    """Raise ForcedThreadShutdown asynchronously in ``thread`` (at its next bytecode)."""
    ident = thread.ident
    if ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(ForcedThreadShutdown)
    )


class AsyncRunner:
    """Runs an asyncio event loop in a background thread.

    Use it as a context manager (``with AsyncRunner() as runner:``), as an async context
    manager from inside another event loop (``async with``), or with :meth:`start` /
    :meth:`stop`. Every method is safe to call from any thread unless it says otherwise.
    A started runner that is garbage-collected without :meth:`stop` gives a
    ``ResourceWarning`` (its loop thread runs on until the process ends).

    Args:
        exit_timeout: Seconds :meth:`stop` waits for an orderly shutdown before it
            force-stops a stuck loop thread, and again for the forced stop (``None``:
            wait forever).
        call_in_loop_timeout: Default timeout of the blocking calls, used wherever a call
            gets ``USE_DEFAULT_TIMEOUT`` (``None``: wait forever).
        debug: Run the loop in asyncio debug mode.
        log_forced_shutdown_stack_trace: Log (as a warning, with the stuck stack) when a
            stuck loop thread is force-stopped.
        loop_factory: Creates the event loop (in the loop thread), e.g.
            ``uvloop.new_event_loop``. Default: :class:`SteppingEventLoop`.
        name: The loop thread's name.
        clock: A :class:`VirtualClock` driving the loop's time (default loop only).
        inline: Inline stepping: no loop thread. The thread that starts the runner (its
            *owner*) runs the loop itself, whenever it waits in one of this library's
            blocking calls on it (``run``, ``call_in_loop``, ``wait_until_idle``, a
            server's ``process``/``gather``, a task's ``wait``, ``stop``...): no thread
            switch per hand-off. Between those calls the loop does not run at all — no
            timer fires, no I/O is read, an executor job's result waits — so choose it
            for a host that only waits for its agents (lockstep, turn-based), not for one
            with its own work between requests. Other threads may use the runner; what
            they ask runs the next time the owner waits. Only the owner may
            :meth:`stop` it (RuntimeError elsewhere); there is no forced stop: a callback
            that blocks blocks the owner (see docs/inline.md). Default loop only.
    """

    def __init__(
        self,
        exit_timeout: float | None = 1.0,
        call_in_loop_timeout: float | None = None,
        debug: bool = False,
        log_forced_shutdown_stack_trace: bool = True,
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        name: str | None = None,
        clock: VirtualClock | None = None,
        inline: bool = False,
    ) -> None:
        self.exit_timeout: float | None = check_timeout(exit_timeout, "exit_timeout")
        #: The handle every primitive of this runner uses to reach its loop (see _core).
        self._token = LoopToken(check_timeout(call_in_loop_timeout, "call_in_loop_timeout"))
        if loop_factory is not None and not callable(loop_factory):
            raise TypeError("loop_factory must be a callable returning an event loop")
        if clock is not None and not isinstance(clock, VirtualClock):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("clock must be a VirtualClock")
        if clock is not None and loop_factory is not None:
            raise ValueError("a VirtualClock needs the default loop; do not pass loop_factory")
        if inline and loop_factory is not None:
            raise ValueError(
                "an inline runner needs the default loop (its owner runs it with "
                "SteppingEventLoop.drive); do not pass loop_factory"
            )
        #: Inline stepping: the starting thread runs the loop while it waits (no thread).
        self._inline = bool(inline)
        self._debug = debug
        self._log_forced = log_forced_shutdown_stack_trace
        self._loop_factory = loop_factory
        self._clock = clock
        if clock is not None:
            clock.attach(self._token)
        self._name = name or f"threaded_async-{next(_names)}"
        self._state = _NEW
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started: Outcome[None] = Outcome()
        self._finished: Outcome[None] = Outcome()
        #: Tasks whose result someone may still want (the runner cancels them at close).
        self._live: set[TaskStart[Any]] = set()
        #: The loop's exception handler (see _ExceptionFilter).
        self._exception_filter = _ExceptionFilter()
        self._failed: list[TaskStart[Any]] = []
        self._shutdown_type = ShutdownType.NOT_SHUT_DOWN
        self._forced = False
        #: Set by the loop thread once the loop stopped and it closes it.
        self._tearing_down = False
        self._stop_reported = False
        #: Whether the thread that called stop() first is a worker of the loop's executor.
        self._stopper_in_executor = False
        #: The loop's default executor: asyncio's, but made by us so that its worker threads
        #: are marked (see _in_own_executor).
        self._executor: _DefaultExecutor | None = None
        #: The supervised threads of start_thread (created on first use).
        self._threads: ThreadGroup | None = None
        self._threads_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AsyncRunner {self._name!r} {self._state}>"

    # -- properties ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The loop thread's name."""
        return self._name

    @property
    def call_in_loop_timeout(self) -> float | None:
        """Default timeout of the blocking calls: what ``USE_DEFAULT_TIMEOUT`` means
        (``None``: wait forever). May be changed at any time, from any thread."""
        return self._token.default_timeout

    @call_in_loop_timeout.setter
    def call_in_loop_timeout(self, timeout: float | None) -> None:
        self._token.default_timeout = check_timeout(timeout, "call_in_loop_timeout")

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The runner's event loop (RunnerClosedError before start)."""
        loop = self._token.loop
        if loop is None:
            raise RunnerClosedError("the runner has not been started")
        return loop

    @property
    def _event_loop(self) -> asyncio.AbstractEventLoop | None:
        # 1.4's private attribute, which some 1.4 code passed to run_coroutine_threadsafe.
        return self._token.loop

    @property
    def clock(self) -> VirtualClock | None:
        """The virtual clock driving the loop, if any."""
        return self._clock

    @property
    def shutdown_type(self) -> ShutdownType:
        """How the loop was shut down (NOT_SHUT_DOWN while running)."""
        return self._shutdown_type

    @property
    def inline(self) -> bool:
        """Whether it is an inline runner (``AsyncRunner(inline=True)``): no loop
        thread, the loop runs on its owner thread while that thread waits."""
        return self._inline

    @property
    def in_runner_loop(self) -> bool:
        """True when called from the runner's own loop thread."""
        return _get_ident() == self._token.thread_id

    @property
    def is_running(self) -> bool:
        """True from a successful start until the loop stops."""
        return self._state in (_RUNNING, _STOPPING) and not self._token.closed

    def statistics(self) -> RunnerStatistics:
        """A snapshot for debugging and tests (any thread, never blocks).

        See :class:`RunnerStatistics`; nothing in it is read from the loop thread, so
        counts may be a moment old.
        """
        token = self._token
        stepping = token.stepping
        clock = self._clock
        return RunnerStatistics(
            state=self._state,
            running=self.is_running,
            parked_threads=len(token.parked),
            live_tasks=len(self._live),
            loop_idle=stepping.is_idle_now() if stepping is not None else None,
            virtual_time=clock.time() if clock is not None else None,
            jump_holds=stepping.jump_hold_count() if stepping is not None else 0,
            supervised_threads=len(self._threads.threads) if self._threads is not None else 0,
        )

    # -- lifecycle -----------------------------------------------------------------------
    def _launch(self) -> None:
        with self._state_lock:
            if self._state != _NEW:
                raise RuntimeError(
                    f"an AsyncRunner can be started once (this one is {self._state}); "
                    "create a new one"
                )
            self._state = _STARTING
        if self._inline:
            self._start_inline()
            return
        # The thread gets a weak reference: a runner nobody can stop any more is collected,
        # and warns (see __del__), as asyncio does for an unclosed loop.
        thread = threading.Thread(
            target=AsyncRunner._thread_main, args=(weakref.ref(self),), name=self._name, daemon=True
        )
        self._thread = thread
        thread.start()

    def start(self) -> Self:
        """Start the loop thread; return once the loop runs.

        Blocks the calling thread briefly. Re-raises an exception raised while creating
        the loop (e.g. by ``loop_factory``), with its traceback. An inline runner makes
        its loop on the calling thread, which becomes its owner, and starts no thread.
        """
        self._launch()
        self._started.wait(None, None, Awaiting("the event loop to start"))
        return self

    def start_thread(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        name: str | None = None,
        wait_started: bool = False,
        **kwargs: Any,
    ) -> SupervisedThread[T]:
        """Start ``fn(*args, please_stop=signal, **kwargs)`` in a supervised worker thread.

        Any thread may call it; never blocks unless ``wait_started`` (then waits for the
        thread's ``SupervisedThread.current().started()`` and re-raises its startup
        failure). :meth:`stop` first stops and joins these threads, newest first (each
        join bounded by ``exit_timeout``), and raises their failures and join timeouts.
        """
        with self._threads_lock:
            group = self._threads
            if group is None:
                group = self._threads = ThreadGroup(join_timeout=self.exit_timeout)
        return group.start(fn, *args, name=name, wait_started=wait_started, **kwargs)

    def stop(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Stop the runner: first the threads of :meth:`start_thread` (newest first), then
        the loop: let it catch up, cancel every task, shut down, join the loop thread.

        Blocks the calling thread (RuntimeError on the loop thread itself). ``timeout``
        defaults to ``exit_timeout``; when it passes, a stuck loop thread is force-stopped
        (see :attr:`shutdown_type`). Raises :class:`TAExceptionGroup` with the exceptions
        of background tasks whose results nobody retrieved, and of supervised threads
        that failed. Calling it again is a no-op.
        """
        try:
            group = self._threads
            if group is not None and not self.in_runner_loop:
                group.stop_and_join()  # (a supervised thread stopping the runner is not joined)
        finally:
            self._stop_loop(timeout)

    def _stop_loop(self, timeout: float | None) -> None:
        wait = resolve_timeout(timeout, self.exit_timeout)
        if self.in_runner_loop:
            raise RuntimeError(
                "AsyncRunner.stop() cannot be called from the runner's own loop thread: "
                "it waits for that thread to finish"
            )
        owner = self._token.inline_owner
        if owner is not None and owner != _get_ident() and not self._token.closed:
            raise RuntimeError(
                "an inline runner is stopped by the thread that started it: that thread "
                "runs its loop (call stop() there)"
            )
        with self._state_lock:
            state = self._state
            if state in (_RUNNING, _STARTING):
                self._state = _STOPPING
                self._stopper_in_executor = _executor_thread.token is self._token
            elif state == _NEW:
                self._state = _CLOSED
        if state == _STOPPING:
            # Another thread is stopping it: return once that stop is done, not before.
            # (Parked on the outcome alone: the close wakes the token's parked threads a
            # little before the stop is complete.)
            if not self._finished.wait_done(wait):
                raise self._token.timeout_error(
                    Awaiting("another thread's stop() of this runner to finish"), wait
                )
            return
        if state == _NEW:
            self._shutdown_type = ShutdownType.STOPPED
            self._mark_closed(None)  # threads may already wait on its primitives
            return
        if state in (_RUNNING, _STARTING):
            try:
                self._shutdown(wait)
            finally:
                if self._shutdown_type == ShutdownType.NOT_SHUT_DOWN:
                    self._shutdown_type = ShutdownType.UNKNOWN
        self._raise_unretrieved()

    def _shutdown(self, wait: float | None) -> None:
        if self._inline:
            self._shutdown_inline(wait)
            return
        thread = self._thread
        assert thread is not None
        if self._state == _STARTING or not self._started.done():
            self._started.wait(wait, self._token, Awaiting("the event loop to start"))
        deadline = Deadline(wait)
        token = self._token
        loop = token.loop
        try:
            if loop is not None and not token.closed:
                try:
                    wait_idle(
                        token,
                        deadline.remaining(),
                        max_iterations=CATCH_UP_ITERATIONS,
                        min_seconds=CATCH_UP_SECONDS,
                    )
                except (EventLoopTimeoutError, RunnerClosedError):
                    pass
                try:
                    loop.call_soon_threadsafe(self._begin_shutdown)
                except RuntimeError:
                    pass
            thread.join(deadline.remaining())
            if not thread.is_alive():
                self._shutdown_type = ShutdownType.STOPPED
        finally:
            if thread.is_alive():
                self._force_stop(thread, self._wait_unless_stuck(thread))

    def _start_inline(self) -> None:
        """Start an inline runner: its loop, made on this thread, which owns it."""
        loop = self._open_loop()
        if loop is None:
            self._started.wait(0, None, Awaiting("the event loop to start"))  # raises
            return
        token = self._token
        token.inline_owner = token.thread_id
        token.thread_id = None  # (the owner's only while it drives the loop)
        self._on_started()

    def _shutdown_inline(self, wait: float | None) -> None:
        """Stop an inline runner on its owner's thread: catch up, then run the loop
        through its shutdown (cancel every task, close async generators and the
        executor) until it stops, and close it. No thread to force-stop: if ``wait``
        passes first, the loop is closed with what is left cancelled, and a warning."""
        token = self._token
        stepping = token.stepping
        assert stepping is not None
        deadline = Deadline(wait)
        stopped = True
        try:
            if not token.closed:
                try:
                    wait_idle(
                        token,
                        deadline.remaining(),
                        max_iterations=CATCH_UP_ITERATIONS,
                        min_seconds=CATCH_UP_SECONDS,
                    )
                except (EventLoopTimeoutError, RunnerClosedError):
                    pass
                stepping.call_soon(self._begin_shutdown)
                stopped = token.drive(stepping, None, deadline.remaining())
        finally:
            self._tearing_down = True
            self._shutdown_type = ShutdownType.STOPPED if stopped else ShutdownType.UNKNOWN
            if not stopped:
                logger.warning(
                    "the inline runner %r did not shut down within %s s; closing its loop "
                    "with what is left cancelled",
                    self._name,
                    wait,
                )
            self._close_loop(stepping)
            stepping.close_inline_hooks()

    def _wait_unless_stuck(self, thread: threading.Thread) -> str:
        """The orderly stop's time is up: wait on (at most ``exit_timeout`` more) while
        the loop thread is not stuck in a callback: while it tears down the closed loop,
        while its iterations move on (the blocking call ended just now), and while it is
        idle, its shutdown waiting (each of its waits is bounded). Return what keeps it:
        the stack of a loop stuck in a callback, or, for an idle loop, what its shutdown
        waits for. So a forced stop names the code that blocks, never the runner's own
        shutdown."""
        token = self._token
        stepping = token.stepping
        end = time.monotonic() + (CANCEL_GRACE if self.exit_timeout is None else self.exit_timeout)
        while thread.is_alive():
            left = end - time.monotonic()
            if left <= 0:
                break
            if self._tearing_down:  # the loop has stopped: let it close, do not interrupt
                thread.join(left)
                continue
            iteration = stepping.iteration if stepping is not None else None
            thread.join(min(left, _STUCK_PROBE))
            if not thread.is_alive() or self._tearing_down:
                continue
            if stepping is None:
                # Another loop (uvloop) counts no iterations: a thread in the loop's own
                # C code (its innermost Python frame ours, around run_forever) is waiting
                # in its poll, not stuck in a callback.
                if not self._in_loop_poll():
                    return token.loop_stack()
            elif stepping.iteration == iteration and not stepping.is_polling():
                return token.loop_stack()  # one callback has run all along: stuck in it
        if (stepping is not None and stepping.is_polling()) or self._in_loop_poll():
            executor = self._executor
            stacks = executor.busy_stacks() if executor is not None else []
            what = "\n".join(stacks) or "nothing it can name (tasks that ignore cancellation?)"
            return f"(the loop is idle; its shutdown waits for)\n{what}"
        return token.loop_stack()

    def _in_loop_poll(self) -> bool:
        """Whether the loop thread runs no Python callback now (its innermost frame is our
        own, around ``run_forever``: the loop is in its own code, polling)."""
        frame = self._token.loop_frame()
        return frame is not None and frame.f_code is _THREAD_MAIN_CODE

    def _force_stop(self, thread: threading.Thread, executing: str = "") -> None:
        if not thread.is_alive():
            self._shutdown_type = ShutdownType.STOPPED
            return
        self._shutdown_type = ShutdownType.FORCE_STOPPED
        self._forced = True
        self._exception_filter.quiet_pending = True
        if self._log_forced:
            logger.warning(
                "Force-stopping event loop thread %r; it was executing:\n%s",
                self._name,
                executing or self._token.loop_stack(),
            )
        _force_thread_stop(thread)
        # The exception is raised at the thread's next bytecode: wake a loop that sleeps.
        self._token.wake()
        thread.join(self.exit_timeout)
        if thread.is_alive():
            self._shutdown_type = ShutdownType.FAILED_FORCE_STOPPED
            self._mark_closed(RunnerClosedError("the event loop thread could not be stopped"))

    def _raise_unretrieved(self) -> None:
        if self._stop_reported:
            return
        self._stop_reported = True
        errors: list[Exception] = []
        for start in self._failed:
            outcome = start.outcome
            exc = outcome.exception()
            if not outcome.retrieved and isinstance(exc, Exception):
                errors.append(exc)
        self._failed.clear()
        if errors:
            raise TAExceptionGroup("Unretrieved exceptions in background tasks", errors)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        """Start from inside another event loop without blocking it.

        If the awaiting task is cancelled while the loop starts, the runner is stopped
        (in a worker thread) before the ``CancelledError`` goes on: no thread is leaked.
        RuntimeError for an inline runner: its loop runs only while a thread blocks.
        """
        if self._inline:
            raise RuntimeError(
                "an inline runner runs its loop only while its owner thread blocks in its "
                "calls, never while another loop awaits it: use `with`, or a threaded runner"
            )
        self._launch()
        try:
            await self._started.wait_async()
        except asyncio.CancelledError:
            stopping = asyncio.get_running_loop().run_in_executor(None, self.stop)
            await asyncio.shield(stopping)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop from inside another event loop; the blocking part runs in a worker thread."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def add_stop_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the runner has closed (at once if it already has).

        It runs in the thread that closes the runner (usually the loop thread after the
        loop is closed), so it must be thread-safe and quick.
        """
        self._finished.add_done_callback(lambda _: callback())

    def wait_closed(self, timeout: float | None = None) -> None:
        """Block until the runner has closed (EventLoopTimeoutError on timeout).

        RuntimeError on an inline runner's owner thread while it runs: only that
        thread's :meth:`stop` closes it."""
        self._token.check_may_block("AsyncRunner.wait_closed()", "add_stop_callback()")
        token = self._token
        if token.inline_owner == _get_ident() and not token.closed and self._state != _NEW:
            raise RuntimeError(
                "wait_closed() on the thread that owns this inline runner would wait for "
                "itself: only its stop() closes it"
            )
        self._finished.wait(check_timeout(timeout), None, Awaiting("the runner to close"))

    # -- the loop thread -----------------------------------------------------------------
    def _make_loop(self) -> asyncio.AbstractEventLoop:
        factory = self._loop_factory
        if factory is None and self._clock is None:
            factory = _default_loop_factory
        if factory is None:
            if self._clock is not None:
                return VirtualTimeLoop(self._clock)  # specialised for jumping timer to timer
            return SteppingEventLoop()
        loop = factory()
        if not isinstance(loop, asyncio.AbstractEventLoop):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"loop_factory returned {loop!r}, not an event loop")
        return loop

    @staticmethod
    def _thread_main(ref: weakref.ReferenceType[AsyncRunner]) -> None:
        """The loop thread. It holds the runner only while it sets up and tears down the
        loop, never while the loop runs, so that a dropped runner can be collected."""
        runner = ref()
        if runner is None:
            return
        loop = runner._open_loop()
        if loop is None:
            return
        token = runner._token
        name = runner._name
        del runner
        try:
            loop.run_forever()
        except ForcedThreadShutdown:
            pass
        except BaseException as exc:
            token.cause = exc
            logger.error("Event loop thread %r died", name, exc_info=exc)
        finally:
            try:
                runner = ref()
                if runner is not None:
                    runner._tearing_down = True  # (a forced stop must not interrupt this)
                    runner._close_loop(loop)
                else:  # dropped without stop() (it warned): close what is left
                    _close_orphaned_loop(loop, token)
            finally:
                # This thread is ending; its ident may be reused by the next thread started,
                # which must not be taken for the loop thread.
                token.thread_id = None

    def _open_loop(self) -> asyncio.AbstractEventLoop | None:
        """Create and set up the loop (in the loop thread); None if that failed."""
        try:
            if not self._inline:
                loop = self._make_loop()
            elif self._clock is not None:
                loop = VirtualTimeLoop(self._clock)
            else:
                loop = SteppingEventLoop()
            if not self._inline:  # (an inline loop is no thread's current loop)
                asyncio.set_event_loop(loop)
            loop.set_debug(self._debug)
            # Not a bound method: the loop must not keep the runner alive, and the filter
            # must outlive it (a task holding ForcedThreadShutdown may be collected later).
            loop.set_exception_handler(self._exception_filter)
        except BaseException as exc:
            self._mark_closed(exc)
            self._started.try_set_exception(exc)
            return None
        if not isinstance(loop, SteppingEventLoop):
            # Our loop adopts new tasks into their agent's family itself; another loop
            # (uvloop) does it through its task factory.
            loop.set_task_factory(adopting_task_factory(loop.get_task_factory()))
        self._token.bind(loop)
        # Our own default executor (as asyncio's, but with its threads marked): a stop()
        # called from one of them must not wait for the executor it runs in.
        executor = _DefaultExecutor(self._token)
        self._executor = executor
        loop.set_default_executor(executor)
        if not self._inline:
            loop.call_soon(self._on_started)
        return loop

    def __del__(self, _warn: Any = warnings.warn, _open: Any = (_STARTING, _RUNNING)) -> None:
        # Collected while its loop thread runs: nobody can stop it any more. Warn, as an
        # unclosed asyncio loop does; the daemon thread runs on until the process ends.
        token = getattr(self, "_token", None)
        if getattr(self, "_state", None) in _open and token is not None and not token.closed:
            _warn(
                f"unclosed running {self!r}: stop() it or use 'with'",
                ResourceWarning,
                source=self,
            )

    def _on_started(self) -> None:
        with self._state_lock:
            if self._state == _STARTING:
                self._state = _RUNNING
        self._token.open()
        self._started.try_set_result(None)

    def _begin_shutdown(self) -> None:
        loop = self._token.loop
        assert loop is not None
        self._token.closing = True
        loop.create_task(self._shutdown_main(loop), name="threaded_async shutdown")

    async def _shutdown_main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._release_clock()
        current = asyncio.current_task()
        # Cancelled tasks get a grace period to finish their cleanup; one that swallows
        # the cancellation must not hold the exit hostage (1.4 stopped the loop anyway).
        grace = self._cancel_grace()
        with _GraceAlarm(loop, grace) as alarm:
            for _ in range(10):
                tasks = {t for t in asyncio.all_tasks(loop) if t is not current}
                if not tasks:
                    break
                for task in tasks:
                    task.cancel()
                pending = await alarm.wait_all(tasks)
                if pending:
                    # Their "destroyed but pending" notes are expected.
                    self._exception_filter.quiet_pending = True
                    logger.warning(
                        "%d task(s) did not finish within %.2g s of being cancelled at exit "
                        "(do they swallow CancelledError?); stopping the loop anyway: %s",
                        len(pending),
                        grace,
                        ", ".join(sorted(t.get_name() for t in pending)),
                    )
                    break
        await loop.shutdown_asyncgens()
        # Threads parked on this runner's primitives (a default-executor job blocked in a
        # queue's get_wait, say) wake now with RunnerClosedError, so that the executor can
        # finish: the wait for it comes next.
        self._token.mark_closed(None)
        await self._shut_down_executor(loop, grace)
        loop.stop()

    async def _shut_down_executor(self, loop: asyncio.AbstractEventLoop, grace: float) -> None:
        """Shut the loop's default executor down and wait for its jobs, as asyncio's
        ``shutdown_default_executor`` does, but at most ``grace`` real seconds: a job that
        does not finish by then is named in a warning and left to end on its own (its
        thread is the executor's), and the loop stops anyway."""
        executor = self._executor
        if executor is None:
            return
        if self._stopper_in_executor:
            # stop() was called from this loop's own executor (`await asyncio.to_thread(
            # runner.stop)`): waiting for the executor would wait for that very call.
            executor.shutdown(wait=False)
            return
        if executor.idle():
            # No job runs or waits (the tasks that could submit one are done): its idle
            # workers end as soon as they are told, so join them here, at once.
            executor.shutdown(wait=True)
            return
        joined: asyncio.Future[None] = loop.create_future()

        def join() -> None:
            executor.shutdown(wait=True)
            try:
                loop.call_soon_threadsafe(resolve_future, joined)
            except RuntimeError:  # the loop closed meanwhile
                pass

        threading.Thread(target=join, name=f"{self._name} executor shutdown", daemon=True).start()
        with _GraceAlarm(loop, grace) as alarm:
            if await alarm.wait_all({joined}):
                logger.warning(
                    "the event loop's default executor still ran jobs %.2g s after the exit "
                    "began; stopping the loop without waiting for them (they end on their "
                    "own):\n%s",
                    grace,
                    "\n".join(executor.busy_stacks()),
                )

    def _cancel_grace(self) -> float:
        """Seconds that cancelled tasks get to finish at exit: half the exit timeout."""
        exit_timeout = self.exit_timeout
        return CANCEL_GRACE if exit_timeout is None else exit_timeout / 2

    def _release_clock(self) -> None:
        """Let virtual timers fire freely during teardown."""
        stepping = self._token.stepping
        if self._clock is not None and stepping is not None:
            self._clock.autojump = True
            stepping.clear_jump_holds()

    def _close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Runs in the loop thread after run_forever returned, however it ended."""
        self._token.stop_accepting()
        try:
            # Left over if the loop was force-stopped or died.
            self._cancel_stragglers(loop)
            if not self._forced and self._token.cause is None and not self._inline:
                # (An inline loop's shutdown did this, or ran out of time.)
                loop.run_until_complete(loop.shutdown_asyncgens())
            # Requested from other threads while the loop was stopping.
            self._cancel_stragglers(loop)
        except BaseException as exc:  # teardown must go on (even if forced again)
            logger.debug("error while tearing down the loop", exc_info=exc)
        finally:
            self._discard_unstarted(loop)
            try:
                loop.close()
            except BaseException as exc:
                logger.debug("error while closing the loop", exc_info=exc)
            self._discard_unstarted(loop)  # a hand-off that raced with close()
            if not self._inline:
                asyncio.set_event_loop(None)
            died = self._token.cause is not None
            self._mark_closed(RunnerClosedError("the event loop thread died") if died else None)

    def _cancel_stragglers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel every task still on the stopped loop; bounded (a few iterations)."""
        for _ in range(3):
            self._discard_unstarted(loop)
            tasks = asyncio.all_tasks(loop)
            if not tasks:
                return
            self._release_clock()
            for task in tasks:
                task.cancel()
            for _ in range(3):
                loop.run_until_complete(asyncio.sleep(0))

    def _discard_unstarted(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel tasks whose creation is still queued on the closing loop (requested while
        the loop was stuck or stopping), closing their coroutines: waiters see
        CancelledError, and no "coroutine was never awaited" warning follows."""
        ready: Any = getattr(loop, "_ready", ())  # asyncio's queue of ready handles
        for handle in list(ready):
            callback = getattr(handle, "_callback", None)
            if callback == self._begin_shutdown:  # queued by a stop that then forced it
                handle.cancel()
                continue
            owner = getattr(callback, "__self__", None)
            if isinstance(owner, TaskStart) and owner.task is None:
                owner.discard("the runner closed before the task started")

    def _mark_closed(self, cause: BaseException | None) -> None:
        with self._state_lock:
            if self._token.closed and self._state == _CLOSED:
                return
            stopping = self._state == _STOPPING
            self._state = _CLOSED
        if self._shutdown_type == ShutdownType.NOT_SHUT_DOWN:
            # Set before the stop callbacks run, so they (and wait_closed() observers) see
            # how it ended: an orderly stop() is STOPPED; a loop that ended without stop()
            # (it died) is UNKNOWN, as in 1.4. A forced stop overwrites it.
            orderly = stopping and cause is None and self._token.cause is None
            self._shutdown_type = ShutdownType.STOPPED if orderly else ShutdownType.UNKNOWN
        for start in list(self._live):
            start.outcome.cancel("the runner closed")
        self._token.mark_closed(cause)
        self._finished.try_set_result(None)

    def _task_finished(self, start: TaskStart[Any]) -> None:
        self._live.discard(start)
        if start.outcome.has_exception():
            self._failed.append(start)

    # -- running things ------------------------------------------------------------------
    def _get_timeout_or_default(self, timeout: float | None) -> float | None:
        """1.4's helper: ``timeout`` in seconds, ``USE_DEFAULT_TIMEOUT`` resolved."""
        return self._token.resolve(timeout)

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop and return at once (any thread).

        Callbacks run in the order scheduled, in the caller's contextvars context.
        """
        self._token.run_sync_soon(fn, *args, context=contextvars.copy_context(), what="call_soon")

    def call_in_loop(self, fun: Callable[[], T], timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Run ``fun()`` on the loop thread and return its result (or raise its exception).

        Runs inline when called on the loop thread. Otherwise blocks the calling thread;
        raises EventLoopTimeoutError (naming what the loop is executing) on timeout — ``fun``
        still runs later — and RunnerClosedError if the runner is not running.
        """
        return self._token.call(fun, timeout)

    def _spawn(
        self, awaitable: Awaitable[T], register: bool, started: Outcome[None] | None = None
    ) -> tuple[BackgroundTask[T], TaskStart[T]]:
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"expected a coroutine or other awaitable, got {type(awaitable).__name__}"
                + (
                    " (did you forget to call the coroutine function?)"
                    if callable(awaitable)
                    else ""
                )
            )
        token = self._token
        try:
            loop = token.require_loop("create a task")
        except RunnerClosedError:
            _close_coroutine(awaitable)
            raise
        start = TaskStart(awaitable, self._task_finished)
        task = BackgroundTask(start, token)
        if register:
            self._live.add(start)
        context = contextvars.copy_context()
        if family_of_context(context) is None:
            # A task the runner starts from outside any agent is an agent of its own: it
            # and the tasks it spawns are one family (a client it uses is live meanwhile).
            context.run(_set_family, TaskFamily())
        if _get_ident() == token.thread_id:
            start.start(loop, context, eager=False)
        else:
            try:
                loop.call_soon_threadsafe(start.start_from_thread, loop, context, started)
            except RuntimeError:  # the loop closed since the check above
                self._live.discard(start)
                _close_coroutine(awaitable)
                raise token.not_running_error("create a task") from None
        return task, start

    def create_task(
        self,
        awaitable: Awaitable[T],
        task_creation_timeout: float | None = USE_DEFAULT_TIMEOUT,
    ) -> BackgroundTask[T]:
        """Run ``awaitable`` as a task on the loop and return its :class:`BackgroundTask`.

        The task's first step runs before anything this thread asks of the loop afterwards.
        ``task_creation_timeout`` (``USE_DEFAULT_TIMEOUT``: the runner's
        ``call_in_loop_timeout``): with a number, blocks until the loop has created the
        task, and raises EventLoopTimeoutError (naming what the loop is executing) if it
        has not within that time, as 1.4 did to detect a stuck loop; the task is still
        created once the loop gets to it. With ``None`` (the default configuration) it
        never blocks. On the loop thread the task is created at once. The caller's
        contextvars are visible in the task. Raises TypeError for a non-awaitable and
        RunnerClosedError if the runner is not running. If the task fails and nobody
        retrieves its exception, the runner's exit raises it in a TAExceptionGroup.
        """
        token = self._token
        try:
            wait = token.resolve(task_creation_timeout)
        except (TypeError, ValueError):
            _close_coroutine(awaitable)
            raise
        if wait is None or _get_ident() == token.thread_id:
            return self._spawn(awaitable, register=True)[0]
        started: Outcome[None] = Outcome()
        task = self._spawn(awaitable, register=True, started=started)[0]
        started.wait(wait, token, f"the creation of task {task.name}")
        return task

    def run(self, awaitable: Awaitable[T], timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Run ``awaitable`` on the loop, block until it finishes, return its result.

        Raises what the awaitable raised; EventLoopTimeoutError on timeout (the task keeps
        running); RuntimeError on the loop thread (await it there instead).
        """
        token = self._token
        try:
            token.check_may_block("AsyncRunner.run()", "`await awaitable`")
            wait = token.resolve(timeout)
        except (RuntimeError, TypeError, ValueError):
            _close_coroutine(awaitable)  # refused: no "never awaited" warning on top
            raise
        task, start = self._spawn(awaitable, register=False)
        return start.outcome.wait(wait, token, task.name)

    def submit(self, awaitable: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Run ``awaitable`` on the loop; return a :class:`concurrent.futures.Future`.

        Never blocks. Cancelling the future cancels the task.
        """
        task, start = self._spawn(awaitable, register=False)
        future: concurrent.futures.Future[T] = (
            _DrivenFuture(self._token, start.outcome)
            if self._inline
            else concurrent.futures.Future()
        )

        def copy(outcome: Outcome[T]) -> None:
            if future.cancelled():
                return
            exc = outcome.exception()
            if outcome.state == CANCELLED:
                future.cancel()
            elif exc is not None:
                outcome.retrieved = True
                future.set_exception(exc)
            else:
                future.set_result(outcome.unwrap())

        def cancel_task(f: concurrent.futures.Future[T]) -> None:
            if f.cancelled():
                task.cancel()

        future.add_done_callback(cancel_task)
        start.outcome.add_done_callback(copy)
        return future

    def wait_for_next_eventloop_iteration(
        self, timeout: float | None = USE_DEFAULT_TIMEOUT
    ) -> None:
        """Block until the loop has run everything scheduled before this call (1.4)."""
        self._token.check_may_block(
            "wait_for_next_eventloop_iteration()", "`await asyncio.sleep(0)`"
        )
        self._token.call(_noop, timeout)

    # -- quiescence ----------------------------------------------------------------------
    def wait_until_idle(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Block until the loop is idle: every task that can run without an outside event
        (a timer not yet due, I/O, another thread) has run.

        With a :class:`VirtualClock` in autojump mode, idle also means no timer is left to
        jump to. Raises EventLoopTimeoutError if the loop does not become idle within
        ``timeout`` (e.g. a task polls with ``sleep(0)`` forever), RuntimeError on the
        loop thread, RunnerClosedError if the runner is not running.

        On loops without our idle hook (``loop_factory=uvloop.new_event_loop``), idle is
        approximated by letting the loop run a fixed number of scheduling rounds.
        """
        token = self._token
        token.check_may_block("AsyncRunner.wait_until_idle()", "`await asyncio.sleep(0)`")
        wait_idle(token, token.resolve(timeout))


@dataclasses.dataclass(frozen=True)
class RunnerStatistics:
    """A snapshot of an :class:`AsyncRunner` (``runner.statistics()``), for debugging.

    Attributes:
        state: ``"new"``, ``"starting"``, ``"running"``, ``"stopping"`` or ``"closed"``.
        running: :attr:`AsyncRunner.is_running`.
        parked_threads: Threads blocked right now on something of this runner (a
            ``get_wait``, ``wait``, ``process``...); each is woken when the runner closes.
        live_tasks: Tasks of ``create_task`` not finished yet.
        loop_idle: Whether the loop is idle right now (None on a loop without our idle
            hook, e.g. uvloop).
        virtual_time: The virtual clock's time, or None without one.
        jump_holds: Control-inversion requests holding virtual-time autojumps.
        supervised_threads: Threads started with :meth:`AsyncRunner.start_thread`.
    """

    state: str
    running: bool
    parked_threads: int
    live_tasks: int
    loop_idle: bool | None
    virtual_time: float | None
    jump_holds: int
    supervised_threads: int


def _noop() -> None:
    pass


class _DefaultExecutor(concurrent.futures.ThreadPoolExecutor):
    """asyncio's default executor as asyncio makes it, plus: its worker threads are marked
    with the runner's token (a stop() from one must not wait for it) and listed in
    :attr:`workers` (a forced stop names the jobs the shutdown waited for). (On virtual
    time a job of any executor holds the clock: ``SteppingEventLoop.run_in_executor``.)"""

    def __init__(self, token: LoopToken) -> None:
        self.workers: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        super().__init__(
            thread_name_prefix="asyncio",
            initializer=_mark_executor_thread,
            initargs=(token, self.workers),
        )

    def idle(self) -> bool:
        """Whether no job runs or waits to run (any thread; a moment old when read)."""
        return self._work_queue.empty() and not self.busy_stacks()

    def busy_stacks(self) -> list[str]:
        """The stacks of the workers running a job now (any thread)."""
        frames = sys._current_frames()  # pyright: ignore[reportPrivateUsage]  # the documented way to see another thread's stack
        stacks: list[str] = []
        for thread in list(self.workers):
            frame = frames.get(thread.ident) if thread.ident is not None else None
            if frame is None or frame.f_code is _IDLE_WORKER_CODE:
                continue  # idle: waiting for a job in the pool's own loop
            stack = "".join(traceback.format_stack(frame))
            stacks.append(f"executor thread {thread.name!r}:\n{stack}")
        return stacks


class _ExecutorThread(threading.local):
    #: In a worker of a runner's default executor: that runner's token.
    token: LoopToken | None = None


_executor_thread = _ExecutorThread()


def _mark_executor_thread(token: LoopToken, workers: weakref.WeakSet[threading.Thread]) -> None:
    _executor_thread.token = token
    workers.add(threading.current_thread())


#: The loop thread's own frame: innermost while the loop is in its own (C) code.
_THREAD_MAIN_CODE = AsyncRunner._thread_main.__code__  # pyright: ignore[reportPrivateUsage]  # the runner's own

#: What an idle worker of a ThreadPoolExecutor executes (waiting for its next job).
_IDLE_WORKER_CODE = concurrent.futures.thread._worker.__code__  # pyright: ignore[reportPrivateUsage]  # to tell an idle pool worker from a busy one


def _close_coroutine(awaitable: object) -> None:
    """Close a coroutine we refuse to run, so Python does not warn it was never awaited."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()


class _GraceAlarm:
    """A deadline in real (monotonic) time that a coroutine can wait against, also on a
    loop whose clock is virtual. It arms the library's real-time timer only if a wait
    needs it, and disarms it on exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self._loop = loop
        self._end = time.monotonic() + seconds
        self._rung: asyncio.Future[None] = loop.create_future()
        self._timer: RealTimeCall | None = None

    def __enter__(self) -> _GraceAlarm:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._rung.done():
            self._rung.cancel()

    def _ring(self) -> None:
        try:
            self._loop.call_soon_threadsafe(resolve_future, self._rung)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def wait_all(self, tasks: set[FutureT]) -> set[FutureT]:
        """Wait until every task is done or the deadline passes; return those pending."""
        pending: set[FutureT] = {t for t in tasks if not t.done()}
        if pending and self._timer is None:
            self._timer = call_later(max(0.0, self._end - time.monotonic()), self._ring)
        while pending and not self._rung.done():
            waited: set[asyncio.Future[Any]] = {*pending, self._rung}
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            pending = {t for t in pending if not t.done()}
        return pending


def _close_orphaned_loop(loop: asyncio.AbstractEventLoop, token: LoopToken) -> None:
    """Close the loop of a runner that was collected without stop(), in its thread, after
    its loop stopped (it died, or code on it called ``loop.stop()``): what ``_close_loop``
    does that needs no runner."""
    token.stop_accepting()
    try:
        loop.close()
    except BaseException as exc:
        logger.debug("error while closing the loop", exc_info=exc)
    asyncio.set_event_loop(None)
    token.mark_closed(RunnerClosedError("the event loop thread ended"))


class _DrivenFuture(concurrent.futures.Future[T]):
    """What an inline runner's :meth:`AsyncRunner.submit` returns: its ``result`` and
    ``exception``, called on the owner thread, run the loop while they wait (else the
    owner would wait for a loop that runs only while it waits)."""

    def __init__(self, token: LoopToken, outcome: Outcome[Any]) -> None:
        super().__init__()
        self._token = token
        self._outcome = outcome

    def _drive(self, timeout: float | None) -> None:
        token = self._token
        if not self.done() and token.inline_owner == _get_ident() and token.thread_id is None:
            self._outcome.wait_done(timeout, token)

    def result(self, timeout: float | None = None) -> T:
        self._drive(timeout)
        return super().result(0 if self._token.inline_owner == _get_ident() else timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._drive(timeout)
        return super().exception(0 if self._token.inline_owner == _get_ident() else timeout)


class _ExceptionFilter:
    """The runner loop's exception handler: asyncio's default one, minus what the runner
    reports otherwise. ``ForcedThreadShutdown`` is consumed (a forced stop is reported by
    ``shutdown_type``, never as a task error), and after a forced stop or abandoned tasks
    their "destroyed but it is pending" notes are expected."""

    def __init__(self) -> None:
        self.quiet_pending = False

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), ForcedThreadShutdown):
            return
        if self.quiet_pending and "destroyed but it is pending" in str(context.get("message", "")):
            return
        loop.default_exception_handler(context)
