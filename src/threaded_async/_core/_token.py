"""LoopToken: the handle other threads use to reach one runner's event loop.

Every primitive bound to a runner (queues, events, futures, tasks, the control-inversion
server, actors, the virtual clock) holds the runner's token, never the runner: the token
says which loop and thread answer, whether they still do, and how a thread waiting for
them parks so that the runner's close wakes it. It is the one home of the "runner closed"
and "timed out" errors and of the refusal to block on the loop's own thread.

The runner (``_runner.AsyncRunner``) owns it and moves it through its life: ``bind`` when
the loop thread has made its loop, ``open`` once the loop runs, ``stop_accepting`` when
the loop has stopped, ``mark_closed`` at the end.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
import traceback
import types
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import (
    ClosedWhileWaitingError,
    EventLoopTimeoutError,
    ForcedThreadShutdown,
    RunnerClosedError,
    describe_callable,
)
from ._loop import SteppingEventLoop
from ._outcome import Outcome
from ._timeouts import USE_DEFAULT_TIMEOUT, resolve_timeout
from ._waiters import AsyncWaiter, ThreadWaiter, Waiter

T = TypeVar("T")

__all__ = ["LoopToken", "token_of"]

_get_ident = threading.get_ident


def _noop() -> None:
    pass


class LoopToken:
    """The handle of one runner's loop; any thread may use it.

    Attributes (read them anywhere; only the owning runner writes them):
        loop: the event loop, once the loop thread made it (else None).
        stepping: the same loop if it is a :class:`SteppingEventLoop` (idle hook,
            virtual time), else None.
        thread_id: the loop thread's ident while it runs (of an inline runner: its
            owner's, while the owner drives the loop; else None).
        inline_owner: of an inline runner (``AsyncRunner(inline=True)``), the thread
            that started it, which runs the loop whenever it waits (else None).
        running: the loop accepts work (from start until it stops).
        started: the loop ran at least once.
        closing: teardown began on the loop thread (waits for idleness raise from now on).
        closed: the runner is closed; every thread parked here has been woken.
        cause: why the loop thread died, if it did.
        default_timeout: what ``USE_DEFAULT_TIMEOUT`` means (the runner's
            ``call_in_loop_timeout``).
    """

    __slots__ = (
        "__weakref__",
        "cause",
        "closed",
        "closed_reason",
        "closing",
        "default_timeout",
        "inline_owner",
        "loop",
        "parked",
        "running",
        "started",
        "stepping",
        "thread_id",
    )

    def __init__(self, default_timeout: float | None = None) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stepping: SteppingEventLoop | None = None
        self.thread_id: int | None = None
        self.running: bool = False
        self.started: bool = False
        self.closing: bool = False
        self.closed: bool = False
        self.cause: BaseException | None = None
        #: How errors raised because it is closed describe that.
        self.closed_reason: str = "the runner is closed"
        #: Threads, and coroutines of other loops, parked on something that belongs to
        #: this loop: all woken at close.
        self.parked: set[Waiter] = set()
        self.default_timeout: float | None = default_timeout
        self.inline_owner: int | None = None
        _tokens.add(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.running else "not running"
        return f"<LoopToken {state}>"

    # -- the runner's side ---------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop thread, before the loop runs: this loop and thread answer."""
        self.loop = loop
        self.stepping = loop if isinstance(loop, SteppingEventLoop) else None
        self.thread_id = _get_ident()

    def open(self) -> None:
        """The loop runs: accept work."""
        self.started = True
        self.running = not self.closed

    def stop_accepting(self) -> None:
        """The loop stopped running (teardown on the loop thread): refuse new work."""
        self.closing = True
        self.running: bool = False

    def mark_closed(self, cause: BaseException | None) -> None:
        """The runner is closed: refuse everything and wake every parked thread."""
        if cause is not None and self.cause is None:
            self.cause = cause
        self.running: bool = False
        self.closed = True
        for waiter in list(self.parked):
            waiter.wake()

    # -- checks and errors (any thread) ------------------------------------------------
    def check_may_block(self, what: str, instead: str) -> None:
        """Refuse (RuntimeError) a blocking call on the loop's own thread: the loop would
        have to answer it, so it would deadlock."""
        if _get_ident() == self.thread_id:
            raise RuntimeError(
                f"{what} blocks the calling thread, but this thread runs the event loop that "
                f"has to answer it, so it would deadlock. Use {instead} instead."
            )

    def resolve(self, timeout: float | None) -> float | None:
        """A timeout argument in seconds: ``USE_DEFAULT_TIMEOUT`` is ``default_timeout``;
        a negative number is a ValueError, anything else a TypeError."""
        if timeout is USE_DEFAULT_TIMEOUT:
            return self.default_timeout
        return resolve_timeout(timeout, self.default_timeout)

    def not_running_error(self, what: str) -> RunnerClosedError:
        """The error for ``what`` asked of a loop that does not run (not started, closed)."""
        if not self.started and not self.closed:
            return RunnerClosedError(
                f"cannot {what}: the runner has not been started "
                "(use `with AsyncRunner() as runner:` or runner.start())"
            )
        error = RunnerClosedError(f"cannot {what}: {self.closed_reason}")
        error.__cause__ = self.cause
        return error

    def raise_if_closed(self, what: str) -> None:
        """RunnerClosedError if the runner is closed (``what``: whose runner)."""
        if self.closed:
            if self.closed_reason != _CLOSED:
                raise RunnerClosedError(f"{what}: {self.closed_reason}") from self.cause
            raise RunnerClosedError(f"{what} is closed") from self.cause

    def closed_error(self, what: str) -> RunnerClosedError | None:
        """For a thread that was parked here: the error to raise if the runner closed
        meanwhile (a ClosedWhileWaitingError, which 1.4 code catches as CancelledError),
        else None. ``what``: what the thread was doing ("waiting for X")."""
        if not self.closed:
            return None
        message = f"the runner closed while {what}"
        if self.closed_reason != _CLOSED:
            message += f" ({self.closed_reason})"
        error = ClosedWhileWaitingError(message)
        error.__cause__ = self.cause
        return error

    def timeout_error(self, what: object, timeout: float | None) -> EventLoopTimeoutError:
        """The error for a wait on ``what`` that timed out, naming what the loop runs."""
        return EventLoopTimeoutError(what, timeout, self.loop_stack())

    def loop_stack(self) -> str:
        """The stack the loop thread is executing right now ('' if it is not running)."""
        frame = self.loop_frame()
        return "" if frame is None else "".join(traceback.format_stack(frame))

    def loop_frame(self) -> types.FrameType | None:
        """The frame the loop thread is executing right now (None if it is not running)."""
        ident = self.thread_id
        if ident is None or self.closed:
            return None
        return sys._current_frames().get(ident)  # pyright: ignore[reportPrivateUsage]  # the documented way to see another thread's stack

    def require_loop(self, what: str) -> asyncio.AbstractEventLoop:
        """The loop, if it accepts work; else the :meth:`not_running_error` for ``what``."""
        loop = self.loop
        if loop is None or not self.running:
            raise self.not_running_error(what)
        return loop

    # -- waiting and waking --------------------------------------------------------------
    def park(self, waiter: ThreadWaiter, timeout: float | None) -> bool:
        """Park the calling thread on ``waiter`` until it is woken (True) or ``timeout``
        passes (False). The runner's close wakes it too (then True: check ``closed``)."""
        parked = self.parked
        parked.add(waiter)
        try:
            if self.closed:
                return True
            stepping = self.stepping
            if stepping is not None:
                # A batch of answers this thread gives (Server.batch) deferred its wake-up
                # of the loop: give it before parking, or we may wait on that very loop.
                stepping.flush_wakeups()
                if self.inline_owner == _get_ident() and self.thread_id is None:
                    return self.drive(stepping, waiter, timeout)
            return waiter.park(timeout)
        finally:
            parked.discard(waiter)

    def drive(
        self, stepping: SteppingEventLoop, waiter: ThreadWaiter | None, timeout: float | None
    ) -> bool:
        """An inline runner's owner waits: it runs the loop meanwhile (see
        ``SteppingEventLoop.drive``), as the loop's thread."""
        self.thread_id = _get_ident()
        try:
            return stepping.drive(waiter, timeout)
        finally:
            self.thread_id = None

    async def park_async(self, waiter: AsyncWaiter) -> None:
        """Await ``waiter`` in a coroutine; the runner's close wakes it too (check
        ``closed`` after). Only needed on a loop other than this token's: coroutines on
        the token's own loop are cancelled at close instead, so they await ``waiter.fut``
        directly (see :meth:`is_foreign`)."""
        parked = self.parked
        parked.add(waiter)
        try:
            if not self.closed:
                await waiter.fut
        finally:
            parked.discard(waiter)

    def is_foreign(self, waiter: AsyncWaiter) -> bool:
        """Whether ``waiter`` belongs to a coroutine on another loop than this token's
        (then it must wait with :meth:`park_async` to be woken at close)."""
        return waiter.thread_id != self.thread_id

    def hold_jumps(self, key: object) -> None:
        """Forbid virtual-time autojumps until :meth:`release_jumps` with the same ``key``
        (any thread; a no-op on a loop without our hook)."""
        stepping = self.stepping
        if stepping is not None:
            stepping.add_jump_hold(key)

    def release_jumps(self, key: object) -> None:
        """Drop the hold ``key`` (any thread); the loop looks again if it may jump now."""
        stepping = self.stepping
        if stepping is not None:
            stepping.release_jump_hold(key)

    def wake(self) -> None:
        """Make the loop run one more iteration soon (any thread; a no-op once closed)."""
        loop = self.loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(_noop)
        except RuntimeError:  # closed meanwhile
            pass

    def run_sync_soon(
        self,
        fn: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
        what: str = "call a function in the loop",
    ) -> None:
        """Schedule ``fn(*args)`` on the loop (FIFO with other such calls) and return.

        Any thread; never blocks. RunnerClosedError (naming ``what``) if the loop does not
        accept work, also when it closes during this call.
        """
        loop = self.require_loop(what)
        try:
            loop.call_soon_threadsafe(fn, *args, context=context)
        except RuntimeError:  # the loop closed since the check above
            raise self.not_running_error(what) from None

    def call(self, fn: Callable[[], T], timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Run ``fn()`` on the loop thread and return its result (or raise its exception).

        Runs inline on the loop thread. Otherwise blocks the calling thread;
        EventLoopTimeoutError (naming what the loop executes) on timeout (``fn`` still
        runs later), RunnerClosedError if the loop does not run or closes meanwhile.
        """
        wait = self.resolve(timeout)
        self.require_loop("call a function in the loop")
        if _get_ident() == self.thread_id:
            return fn()
        outcome: Outcome[T] = Outcome()

        def run() -> None:
            try:
                result = fn()
            except asyncio.CancelledError as exc:  # the caller's to see, not the loop's
                outcome.try_set_exception(exc)
            except ForcedThreadShutdown:
                outcome.cancel("the event loop was force-stopped")
                raise
            except BaseException as exc:
                outcome.try_set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                outcome.try_set_result(result)

        self.run_sync_soon(run, context=contextvars.copy_context())
        return outcome.wait(wait, self, describe_callable(fn))


_CLOSED = "the runner is closed"
#: Every token, for the fork handler (tokens die with their runner).
_tokens: weakref.WeakSet[LoopToken] = weakref.WeakSet()


def _close_inherited_tokens() -> None:
    """In a child process after ``os.fork()``: the loop threads stayed in the parent, so
    every runner inherited from it is closed here (calls raise RunnerClosedError at once,
    saying why); a runner created in the child works."""
    for token in list(_tokens):
        if token.started and not token.closed:
            token.closed_reason = (
                "the runner was inherited through os.fork(): its event loop thread exists "
                "only in the parent process; create a new runner in the child"
            )
            token.thread_id = None
            token.parked.clear()
            token.mark_closed(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_tokens)


def token_of(runner: object, what: str = "runner") -> LoopToken | None:
    """The :class:`LoopToken` of an ``AsyncRunner`` (None for None).

    The one place the library reads a runner's token: the runner keeps it in ``_token``
    and publishes it only to this function (a friend access, named here once). Raises
    TypeError, naming ``what``, for anything that is not a runner.
    """
    if runner is None:
        return None
    token = getattr(runner, "_token", None)
    if not isinstance(token, LoopToken):
        raise TypeError(f"{what} must be an AsyncRunner or None, not {type(runner).__name__}")
    return token
