"""BackgroundTask: a coroutine running on a runner's loop, observable from any thread."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._core import (
    USE_DEFAULT_TIMEOUT,
    ForcedThreadShutdown,
    Outcome,
    check_may_block,
    resolve_timeout,
)

if TYPE_CHECKING:
    from ._runner import AsyncRunner

T = TypeVar("T")

__all__ = ["BackgroundTask"]

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


class BackgroundTask(Generic[T]):
    """A coroutine (or any awaitable) running as a task on an :class:`AsyncRunner`'s loop.

    Created by :meth:`AsyncRunner.create_task`; do not instantiate it yourself. Any thread
    may call its methods; ``await task`` works from a coroutine on any event loop.
    """

    __slots__ = ("__weakref__", "_awaitable", "_cancel_requested", "_outcome", "_runner", "_task")

    def __init__(self, runner: AsyncRunner, awaitable: Awaitable[T]) -> None:
        self._runner = runner
        self._awaitable: Awaitable[T] | None = awaitable
        self._outcome: Outcome[T] = Outcome()
        self._task: asyncio.Task[None] | None = None
        self._cancel_requested = False

    def __repr__(self) -> str:
        state = "done" if self._outcome.done() else "pending"
        return f"<BackgroundTask {self.name!r} {state}>"

    @property
    def name(self) -> str:
        """The asyncio task's name (the awaitable's repr until the task exists)."""
        task = self._task
        return task.get_name() if task is not None else repr(self._awaitable)

    # -- loop side -----------------------------------------------------------------------
    def _start(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
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
        self._create(loop, context, eager)

    def _create(
        self, loop: asyncio.AbstractEventLoop, context: contextvars.Context, eager: bool
    ) -> None:
        awaitable = self._awaitable  # kept until done: see _on_task_done
        assert awaitable is not None
        coro = _drive(awaitable, self._outcome)
        name = repr(awaitable)
        if self._cancel_requested:
            coro.close()
            self._close_unawaited()
            self._outcome.cancel()
            return
        task: asyncio.Task[None]
        if eager and _EAGER:
            task = asyncio.Task(coro, loop=loop, name=name, context=context, eager_start=True)  # pyright: ignore[reportCallIssue,reportUnknownVariableType]
        else:
            task = loop.create_task(coro, name=name, context=context)
            if eager:
                # Python 3.11 has no eager start: on our loop, run the first step next.
                run_first = getattr(loop, "run_first_step_next", None)
                if run_first is not None:
                    run_first(task)
        self._task = task
        if not task.done():
            task.add_done_callback(self._on_task_done)
        else:
            self._on_task_done(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # Backstop for a task cancelled before it ever ran (so _drive never started):
        # close the awaitable it never awaited (no "coroutine was never awaited" warning).
        if task.cancelled():
            if not self._outcome.done():
                self._close_unawaited()
            self._outcome.cancel()
        self._awaitable = None
        self._runner._task_finished(self)  # pyright: ignore[reportPrivateUsage]

    def _close_unawaited(self) -> None:
        """Drop the awaitable, closing it if it can be (a coroutine nobody will await)."""
        awaitable = self._awaitable
        self._awaitable = None
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()

    # -- any thread ----------------------------------------------------------------------
    def done(self) -> bool:
        """Whether the task has finished (result, exception or cancelled). Never blocks."""
        return self._outcome.done()

    def cancelled(self) -> bool:
        """Whether the task finished by being cancelled. Never blocks."""
        return self._outcome.cancelled()

    def cancel(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Request cancellation; the coroutine sees CancelledError at its next await.

        Never blocks (``timeout`` is accepted for 1.4 compatibility and validated). Safe
        from any thread; a no-op once the task is done. :meth:`wait` then raises
        ``CancelledError`` once the coroutine has actually finished.
        """
        resolve_timeout(timeout, None)
        if self._outcome.done():
            return
        runner = self._runner
        if _get_ident() == runner._thread_id:  # pyright: ignore[reportPrivateUsage]
            self._cancel_on_loop()
            return
        loop = runner._loop  # pyright: ignore[reportPrivateUsage]
        if loop is None or runner._closed:  # pyright: ignore[reportPrivateUsage]
            return
        # Flag it here too, not only on the loop: a start already queued ahead of this
        # cancel may run the coroutine eagerly (3.12+), and must see the request first.
        # A bool store is atomic; if _start read the flag just before, the queued
        # _cancel_on_loop below cancels the task it created.
        self._cancel_requested = True
        try:
            loop.call_soon_threadsafe(self._cancel_on_loop)
        except RuntimeError:  # loop already closed: the task was cancelled at exit
            pass

    def _cancel_on_loop(self) -> None:
        task = self._task
        if task is None:
            self._cancel_requested = True
        else:
            task.cancel()

    def wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until the task finishes; return its result.

        May be called any number of times. Raises the task's exception if it failed,
        ``asyncio.CancelledError`` if it was cancelled (also by the runner's exit),
        :class:`EventLoopTimeoutError` when ``timeout`` passes first (the task keeps
        running), ``RuntimeError`` when called on the runner's own loop thread (await the
        task instead). ``timeout``: seconds, ``None`` for no limit, or
        ``USE_DEFAULT_TIMEOUT`` for the runner's ``call_in_loop_timeout``.
        """
        runner = self._runner
        check_may_block(runner, "BackgroundTask.wait()", "`await task`")
        wait = resolve_timeout(timeout, runner.call_in_loop_timeout)
        outcome = self._outcome
        if outcome.done():
            return outcome.outcome()
        return outcome.wait(wait, runner, self.name)

    def result(self) -> T:
        """The result if done (raises its exception); InvalidStateError if not done yet."""
        return self._outcome.outcome()

    def exception(self) -> BaseException | None:
        """The task's exception if it failed, else None (marks it retrieved)."""
        exc = self._outcome.exception()
        if exc is not None:
            self._outcome.retrieved = True
        return exc

    def __await__(self) -> Generator[Any, None, T]:
        """Await the result from a coroutine on any loop (the task is not cancelled if the
        awaiting coroutine is)."""
        return self._outcome.wait_async().__await__()
