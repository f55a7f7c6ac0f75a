"""Exception types and small enums shared by every part of the library."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import enum
import queue
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Awaiting",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ForcedThreadShutdown",
    "InvalidStateError",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "RunnerClosedError",
    "ShutdownType",
    "TAExceptionGroup",
]


class Awaiting(str):
    """What a wait waits for, said whole (``"the event loop to become idle"``): an
    :class:`EventLoopTimeoutError` made with it does not add 1.4's "to complete"."""

    __slots__ = ()


class EventLoopTimeoutError(TimeoutError):
    """A wait on the event loop (or on something it should deliver) timed out.

    A subclass of the builtin :class:`TimeoutError`. The work that was waited for keeps
    running: a later wait can still return its result. When the runner's loop thread is
    alive, the message ends with the stack the loop thread was executing at the moment of
    the timeout, so a coroutine that blocks the loop is named.

    The constructor keeps threaded_async 1.4's signature.
    """

    def __init__(
        self,
        callable_like: object,
        timeout: float | None,
        stack: str = "",
    ) -> None:
        if isinstance(callable_like, asyncio.Task):
            description = callable_like.get_name()
        else:
            description = str(callable_like)
        timeout_text = "<infinite>" if timeout is None else f"{timeout:.3g}"
        self.timeout = timeout
        self.loop_stack = stack
        self._made_of = (
            callable_like if isinstance(callable_like, Awaiting) else description,
            timeout,
            stack,
        )
        if not isinstance(callable_like, Awaiting):
            description += " to complete"  # 1.4's words, for a call, a task, a wait
        message = f"Timed out waiting {timeout_text} seconds for {description}."
        if stack:
            message += f"\nThe event loop thread is executing:\n{stack}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by what it was made of (its __init__ does not take its message), so it
        # crosses processes (run_episodes' workers) with the same message.
        return (type(self), self._made_of, self.__dict__)


class RunnerClosedError(RuntimeError):
    """The runner is not running: not started yet, stopped, or its loop thread died.

    Raised at once by calls made on a runner that is not running, and raised in every
    thread that was blocked on the runner when it closed.
    """


class ClosedWhileWaitingError(RunnerClosedError, asyncio.CancelledError):
    """A thread blocked on the runner was woken because the runner closed.

    It is a :class:`RunnerClosedError` (so a ``RuntimeError``) and also an
    ``asyncio.CancelledError``, because threaded_async 1.4 raised ``CancelledError`` in threads
    blocked in ``get_wait``, ``put_wait``, ``result_wait`` or ``Event.wait`` at exit, and 1.4
    code catches that. Only raised in threads, never inside a coroutine.
    """


class InvalidStateError(asyncio.InvalidStateError, concurrent.futures.InvalidStateError):
    """A result was set on a future that is already done.

    Both an :class:`asyncio.InvalidStateError` and a
    :class:`concurrent.futures.InvalidStateError`, so either ``except`` clause catches it.
    """


class QueueEmpty(queue.Empty, asyncio.QueueEmpty):
    """``get_nowait`` found the queue empty (both :class:`queue.Empty` and
    :class:`asyncio.QueueEmpty`)."""


class QueueFull(queue.Full, asyncio.QueueFull):
    """``put_nowait`` found the queue full (both :class:`queue.Full` and
    :class:`asyncio.QueueFull`)."""


if sys.version_info >= (3, 13):

    class QueueShutDown(asyncio.QueueShutDown, queue.ShutDown):
        """The queue was shut down: no more puts, and gets once it is drained.

        It is also :class:`asyncio.QueueShutDown` and :class:`queue.ShutDown`.
        """

else:

    class QueueShutDown(Exception):
        """The queue was shut down: no more puts, and gets once it is drained.

        On Python 3.13+ it is also :class:`asyncio.QueueShutDown` and :class:`queue.ShutDown`.
        """


class ForcedThreadShutdown(SystemExit):
    """Raised inside a stuck event loop thread to force it to stop.

    It is consumed in the loop thread and never reported as a task error.
    """


class ShutdownType(enum.IntEnum):
    """How the runner's event loop was shut down."""

    NOT_SHUT_DOWN = 0
    STOPPED = 1
    FORCE_STOPPED = 2
    FAILED_FORCE_STOPPED = 3
    UNKNOWN = 4

    def force_stop_attempted(self) -> bool:
        """Whether a forced stop of the loop thread was attempted."""
        return self in (ShutdownType.FORCE_STOPPED, ShutdownType.FAILED_FORCE_STOPPED)


@dataclasses.dataclass(frozen=True)
class ExceptionDetails:
    """An exception raised by a background task together with its formatted traceback."""

    exception: Exception
    traceback: str


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


class TAExceptionGroup(ExceptionGroup[Exception]):
    """Exceptions of background tasks whose results nobody retrieved.

    Raised from the runner's exit. It is a builtin :class:`ExceptionGroup`, so ``except*``
    works, and keeps 1.4's accessors: ``exceptions``, ``tracebacks`` and
    ``exception_details``.
    """

    def __new__(
        cls,
        message: str = "Unretrieved exceptions in background tasks",
        exceptions: Sequence[Exception] = (),
        tracebacks: Sequence[str] | None = None,
    ) -> TAExceptionGroup:
        if not exceptions:
            raise ValueError("TAExceptionGroup needs at least one exception")
        return super().__new__(cls, message, exceptions)

    def __init__(
        self,
        message: str = "Unretrieved exceptions in background tasks",
        exceptions: Sequence[Exception] = (),
        tracebacks: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message, exceptions)
        texts = list(tracebacks) if tracebacks is not None else [_format(e) for e in exceptions]
        self._details = tuple(
            ExceptionDetails(exc, text) for exc, text in zip(exceptions, texts, strict=True)
        )

    def derive(self, excs: Sequence[Exception]) -> TAExceptionGroup:  # type: ignore[override]
        """A group with the same message and ``excs`` (used by ``split``/``subgroup``)."""
        return TAExceptionGroup(self.message, excs)

    @property
    def exception_details(self) -> Sequence[ExceptionDetails]:
        """Each exception with its formatted traceback."""
        return self._details

    @property
    def tracebacks(self) -> Sequence[str]:
        """The formatted traceback of each exception."""
        return tuple(d.traceback for d in self._details)

    def __str__(self) -> str:
        return f"{self.message} ({len(self.exceptions)}):\n" + "\n".join(self.tracebacks)


def describe_callable(obj: object) -> str:
    """A short human name for a callable or awaitable, for error messages."""
    name: Callable[..., Any] | None = getattr(obj, "__qualname__", None)
    if isinstance(name, str):
        return name
    return repr(obj)
