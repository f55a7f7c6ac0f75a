"""TaskGroup: asyncio.TaskGroup plus readiness (``await group.start(fn)``) and cancellation
from any thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from ._cancel import CancelScope

T = TypeVar("T")

__all__ = ["TaskGroup", "TaskStatus"]


class TaskStatus(Generic[T]):
    """Handed to a function started with :meth:`TaskGroup.start` as ``task_status``.

    The function calls :meth:`started` once it is ready; the ``start`` call then returns
    the value given.
    """

    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[T] | None) -> None:
        self._future = future

    def started(self, value: T = None) -> None:
        """Report readiness (on the group's loop). ``RuntimeError`` if called twice."""
        future = self._future
        if future is None:
            return  # started with start_soon: nobody waits for readiness
        if future.done():
            if future.cancelled():
                return  # the start() caller gave up waiting; the task still runs
            raise RuntimeError("task_status.started() was already called")
        future.set_result(value)

    @property
    def is_started(self) -> bool:
        """True once :meth:`started` was called."""
        return self._future is not None and self._future.done()


#: Pass as ``task_status`` default: ``async def serve(*, task_status=TASK_STATUS_IGNORED)``.
TASK_STATUS_IGNORED: TaskStatus[Any] = TaskStatus(None)


class TaskGroup:
    """Structured concurrency with readiness and cross-thread cancellation.

    ``async with TaskGroup() as group:`` wraps :class:`asyncio.TaskGroup` (so a failing
    child cancels the others and the errors come out as an ``ExceptionGroup``) in a
    :class:`CancelScope` for the host task. :meth:`cancel` may be called from *any* thread
    (or a signal handler): the body and every child are cancelled and the ``async with``
    block ends quietly (:attr:`cancelled_caught`).

    :meth:`start` runs ``fn(*args, task_status=...)`` as a child and returns once the
    child calls ``task_status.started(value)``; an exception raised before that is raised
    by ``start`` itself and does not fail the group.
    """

    __slots__ = ("_scope", "_tg")

    def __init__(self) -> None:
        self._scope = CancelScope()
        self._tg: asyncio.TaskGroup | None = None

    def __repr__(self) -> str:
        state = "active" if self._tg is not None and self._scope.active else "inactive"
        return f"<TaskGroup {state}>"

    @property
    def cancel_scope(self) -> CancelScope:
        """The scope around the group's body."""
        return self._scope

    @property
    def cancelled_caught(self) -> bool:
        """True if :meth:`cancel` ended the group."""
        return self._scope.cancelled_caught

    def cancel(self, reason: str | None = None) -> None:
        """Cancel the body and every child; safe from any thread, never blocks."""
        self._scope.cancel(reason)

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise RuntimeError("a TaskGroup can be entered only once; create a new one")
        self._scope.__enter__()
        tg = asyncio.TaskGroup()
        try:
            await tg.__aenter__()
        except BaseException as exc:
            if not self._scope.__exit__(type(exc), exc, exc.__traceback__):
                raise
            return self
        self._tg = tg
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        # ``bool | None`` (not ``bool``), as anyio does: type checkers then do not treat
        # every name bound in the body as possibly unbound after it.
        tg = self._tg
        assert tg is not None
        try:
            handled = await tg.__aexit__(exc_type, exc, tb)
        except BaseException as raised:
            if self._scope.__exit__(type(raised), raised, raised.__traceback__):
                return True
            raise
        if handled:
            exc_type, exc, tb = None, None, None
        return self._scope.__exit__(exc_type, exc, tb)

    def _require(self) -> asyncio.TaskGroup:
        tg = self._tg
        if tg is None or not self._scope.active:
            raise RuntimeError("this TaskGroup is not active (use `async with TaskGroup()`)")
        return tg

    def create_task(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run ``coro`` as a child task (on the group's loop thread only)."""
        try:
            tg = self._require()
        except RuntimeError:
            coro.close()
            raise
        return tg.create_task(coro, name=name)

    def start_soon(
        self,
        fn: Callable[..., Coroutine[Any, Any, object]],
        *args: Any,
        name: str | None = None,
    ) -> asyncio.Task[Any]:
        """Run ``fn(*args)`` as a child task (on the group's loop thread only)."""
        return self.create_task(fn(*args), name=name)

    async def start(
        self,
        fn: Callable[..., Awaitable[object]],
        *args: Any,
        name: str | None = None,
    ) -> Any:
        """Start ``fn(*args, task_status=status)`` as a child; return once it is ready.

        Returns the value the child passed to ``task_status.started(value)``. If the child
        raises before that, ``start`` raises the same exception (the group is not failed);
        if it returns without calling ``started()``, ``RuntimeError``.
        """
        tg = self._require()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        status: TaskStatus[Any] = TaskStatus(ready)

        async def child() -> object:
            try:
                result = await fn(*args, task_status=status)
            except asyncio.CancelledError:
                if not ready.done():  # the child alone was cancelled: start() must not
                    ready.set_exception(  # raise CancelledError in an uncancelled task
                        RuntimeError("the task was cancelled before it called started()")
                    )
                raise
            except Exception as exc:
                if ready.done():
                    raise
                ready.set_exception(exc)  # reported by start(), not by the group
                return None
            if not ready.done():
                ready.set_exception(
                    RuntimeError(
                        f"{getattr(fn, '__qualname__', fn)!r} returned without calling "
                        "task_status.started()"
                    )
                )
            return result

        tg.create_task(child(), name=name)
        return await ready
