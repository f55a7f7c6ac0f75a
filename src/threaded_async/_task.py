"""BackgroundTask: a coroutine running on a runner's loop, observable from any thread.

Two halves: :class:`TaskStart`, the runner's side (it creates the asyncio task on the loop
and keeps the :class:`Outcome` the task completes), and :class:`BackgroundTask`, the view
handed to users.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ._core import (
    USE_DEFAULT_TIMEOUT,
    ForcedThreadShutdown,
    LoopToken,
    Outcome,
    ResultView,
    family_of_context,
)

T = TypeVar("T")

__all__ = ["BackgroundTask", "TaskStart"]

_get_ident = threading.get_ident
_EAGER = sys.version_info >= (3, 12)


async def _drive(awaitable: Awaitable[T], outcome: Outcome[T]) -> None:
    """Run ``awaitable`` and store its outcome before the task itself finishes.

    Storing it inside the task (not in a done callback) saves a loop iteration. Ordinary
    exceptions are stored, not re-raised, so asyncio never logs them as "never retrieved";
    the runner reports the unretrieved ones at exit instead.
    """
    try:
        result = await awaitable
    except asyncio.CancelledError:
        outcome.cancel()
        raise
    except ForcedThreadShutdown:
        # The loop was force-stopped while this task ran: to its waiters the task was
        # cancelled (as in 1.4), never a SystemExit that would end their thread silently.
        outcome.cancel("the event loop was force-stopped")
        raise
    except BaseException as exc:
        outcome.try_set_exception(exc)
        if not isinstance(exc, Exception):
            raise  # SystemExit, KeyboardInterrupt: let them stop the loop
        return
    outcome.try_set_result(result)


class TaskStart(Generic[T]):
    """The runner's side of one :class:`BackgroundTask`: it creates the asyncio task on
    the loop thread and keeps the outcome the task completes. Internal."""

    __slots__ = ("awaitable", "cancel_requested", "on_done", "outcome", "task")

    def __init__(
        self, awaitable: Awaitable[T], on_done: Callable[[TaskStart[Any]], object]
    ) -> None:
        self.awaitable: Awaitable[T] | None = awaitable
        self.outcome: Outcome[T] = Outcome()
        self.task: asyncio.Task[None] | None = None
        self.cancel_requested: bool = False
        self.on_done: Callable[[TaskStart[Any]], object] = on_done

    @property
    def name(self) -> str:
        """The asyncio task's name (the awaitable's repr until the task exists)."""
        task = self.task
        return task.get_name() if task is not None else repr(self.awaitable)

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        *,
        eager: bool,
        started: Outcome[None] | None = None,
    ) -> None:
        """Create the asyncio task (on the loop thread).

        ``started`` is completed first: a creator waiting to know that the loop got to its
        request (``task_creation_timeout``) must not also wait for an eager first step,
        which may block. ``eager``: run the first step right away (used for tasks
        requested from another thread, where nobody on the loop can observe the
        difference; saves an iteration). Either way, the first step runs before anything
        the requesting thread asks of the loop after this request (1.4 code relies on it).
        """
        if started is not None:
            started.try_set_result(None)
        awaitable = self.awaitable  # kept until done: see _on_task_done
        assert awaitable is not None
        coro = _drive(awaitable, self.outcome)
        name = repr(awaitable)
        if self.cancel_requested:
            coro.close()
            self.discard("cancelled before it started")
            return
        task: asyncio.Task[None]
        if eager and _EAGER:
            task = asyncio.Task(coro, loop=loop, name=name, context=context, eager_start=True)  # pyright: ignore[reportCallIssue,reportUnknownVariableType]
            family = family_of_context(context)  # (loop.create_task adopts the others)
            if family is not None:
                family.adopt(task)
        else:
            task = loop.create_task(coro, name=name, context=context)
            if eager:
                # Python 3.11 has no eager start: on our loop, run the first step next.
                run_first = getattr(loop, "run_first_step_next", None)
                if run_first is not None:
                    run_first(task)
        self.task = task
        if not task.done():
            task.add_done_callback(self._on_task_done)
        else:
            self._on_task_done(task)

    def start_from_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        started: Outcome[None] | None,
    ) -> None:
        """:meth:`start`, eagerly: what a thread other than the loop's asks for (a callback
        of the loop; the runner's close finds it by its owner, this TaskStart)."""
        self.start(loop, context, eager=True, started=started)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # Backstop for a task cancelled before it ever ran (so _drive never started):
        # close the awaitable it never awaited (no "coroutine was never awaited" warning).
        if task.cancelled():
            if not self.outcome.done():
                self.close_unawaited()
            self.outcome.cancel()
        self.awaitable = None
        self.on_done(self)

    def close_unawaited(self) -> None:
        """Drop the awaitable, closing it if it can be (a coroutine nobody will await)."""
        awaitable = self.awaitable
        self.awaitable = None
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()

    def discard(self, reason: str) -> None:
        """The task will never run: close its awaitable and cancel its outcome."""
        self.close_unawaited()
        self.outcome.cancel(reason)

    def cancel_on_loop(self) -> None:
        """On the loop thread: cancel the task, or make sure it never starts."""
        task = self.task
        if task is None:
            self.cancel_requested = True
        else:
            task.cancel()


class BackgroundTask(ResultView[T]):
    """A coroutine (or any awaitable) running as a task on an :class:`AsyncRunner`'s loop.

    Created by :meth:`AsyncRunner.create_task`; do not instantiate it yourself. Any thread
    may call its methods; ``await task`` works from a coroutine on any event loop.
    """

    __slots__ = ("_start",)

    def __init__(self, start: TaskStart[T], token: LoopToken) -> None:
        super().__init__(start.outcome, token)
        self._start = start

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<BackgroundTask {self.name!r} {state}>"

    @property
    def name(self) -> str:
        """The asyncio task's name (the awaitable's repr until the task exists)."""
        return self._start.name

    def cancel(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Request cancellation; the coroutine sees CancelledError at its next await.

        Never blocks (``timeout`` is accepted for 1.4 compatibility and validated). Safe
        from any thread; a no-op once the task is done. :meth:`wait` then raises
        ``CancelledError`` once the coroutine has actually finished.
        """
        token = self._token
        assert isinstance(token, LoopToken)
        token.resolve(timeout)
        if self._outcome.done():
            return
        start = self._start
        if _get_ident() == token.thread_id:
            start.cancel_on_loop()
            return
        loop = token.loop
        if loop is None or token.closed:
            return
        # Flag it here too, not only on the loop: a start already queued ahead of this
        # cancel may run the coroutine eagerly (3.12+), and must see the request first.
        # A bool store is atomic; if start() read the flag just before, the queued
        # cancel_on_loop below cancels the task it created.
        start.cancel_requested = True
        try:
            loop.call_soon_threadsafe(start.cancel_on_loop)
        except RuntimeError:  # loop already closed: the task was cancelled at exit
            pass

    def wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until the task finishes; return its result.

        May be called any number of times. Raises the task's exception if it failed,
        ``asyncio.CancelledError`` if it was cancelled (also by the runner's exit),
        :class:`EventLoopTimeoutError` when ``timeout`` passes first (the task keeps
        running), ``RuntimeError`` when called on the runner's own loop thread (await the
        task instead). ``timeout``: seconds, ``None`` for no limit, or
        ``USE_DEFAULT_TIMEOUT`` for the runner's ``call_in_loop_timeout``.
        """
        token = self._token
        assert token is not None
        token.check_may_block("BackgroundTask.wait()", "`await task`")
        wait = token.resolve(timeout)
        outcome = self._outcome
        if outcome.done():
            return outcome.unwrap()
        return outcome.wait(wait, token, self.name)

    def result(self) -> T:
        """The result if done (raises its exception); InvalidStateError if not done yet."""
        return self._outcome.unwrap()

    def exception(self) -> BaseException | None:
        """The task's exception if it failed, else None (marks it retrieved)."""
        exc = self._outcome.exception()
        if exc is not None:
            self._outcome.retrieved = True
        return exc
