"""A thread-safe one-shot result cell: the core of Future, BackgroundTask and call_in_loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._errors import (
    ClosedWhileWaitingError,
    EventLoopTimeoutError,
    InvalidStateError,
)
from ._waiters import AsyncWaiter, ThreadWaiter, Waiter, block

if TYPE_CHECKING:
    from .._runner import AsyncRunner

T = TypeVar("T")

__all__ = ["Outcome"]

_PENDING = 0
_RESULT = 1
_EXCEPTION = 2
_CANCELLED = 3
#: The state of an outcome not yet set, for hot paths elsewhere that read ``_state``.
PENDING = _PENDING


class Outcome(Generic[T]):
    """Holds a result, an exception or a cancellation, set once from any thread.

    Waiters (threads or coroutines on any loop) are woken when it is set. ``retrieved``
    tells whether anybody has looked at an exception (for "unretrieved error" reports).
    """

    __slots__ = ("_callbacks", "_lock", "_state", "_value", "_waiters", "retrieved")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _PENDING
        self._value: Any = None
        # Created on first use: most outcomes (one per request, task, future) get one
        # waiter or none, and fewer container objects means less work for the cyclic GC.
        self._waiters: list[Waiter] | None = None
        self._callbacks: list[Callable[[Outcome[T]], object]] | None = None
        self.retrieved = False

    # -- setting -----------------------------------------------------------------------
    def _complete(self, state: int, value: Any) -> bool:
        with self._lock:
            if self._state != _PENDING:
                return False
            self._state = state
            self._value = value
            waiters = self._waiters
            callbacks = self._callbacks
            self._waiters = None
            self._callbacks = None
        if waiters is not None:
            for waiter in waiters:
                waiter.wake()
        if callbacks is not None:
            for callback in callbacks:
                callback(self)
        return True

    def set_result(self, value: T) -> None:
        if not self._complete(_RESULT, value):
            raise InvalidStateError(f"result already set ({self._describe_state()})")

    def set_exception(self, exc: BaseException) -> None:
        if isinstance(exc, type):
            exc = exc()
        if not isinstance(exc, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"set_exception needs an exception, not {type(exc).__name__}")
        if not self._complete(_EXCEPTION, exc):
            raise InvalidStateError(f"result already set ({self._describe_state()})")

    def try_set_result(self, value: T) -> bool:
        return self._complete(_RESULT, value)

    def try_set_exception(self, exc: BaseException) -> bool:
        return self._complete(_EXCEPTION, exc)

    def cancel(self, msg: str | None = None) -> bool:
        return self._complete(_CANCELLED, msg)

    def _describe_state(self) -> str:
        return {_RESULT: "has a result", _EXCEPTION: "has an exception", _CANCELLED: "cancelled"}[
            self._state
        ]

    # -- reading -----------------------------------------------------------------------
    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def has_exception(self) -> bool:
        return self._state == _EXCEPTION

    def exception(self) -> BaseException | None:
        """The stored exception (does not mark it retrieved)."""
        return self._value if self._state == _EXCEPTION else None

    def outcome(self) -> T:
        """Return the result or raise what was stored. Must be done."""
        state = self._state
        if state == _RESULT:
            return self._value
        self.retrieved = True
        if state == _EXCEPTION:
            raise self._value
        if state == _CANCELLED:
            raise asyncio.CancelledError(self._value)
        raise InvalidStateError("outcome is not ready yet")

    def add_done_callback(self, callback: Callable[[Outcome[T]], object]) -> None:
        """Call ``callback(self)`` once done: in the setting thread, or now if already done."""
        with self._lock:
            if self._state == _PENDING:
                if self._callbacks is None:
                    self._callbacks = [callback]
                else:
                    self._callbacks.append(callback)
                return
        callback(self)

    def _add_waiter(self, waiter: Waiter) -> bool:
        with self._lock:
            if self._state != _PENDING:
                return False
            if self._waiters is None:
                self._waiters = [waiter]
            else:
                self._waiters.append(waiter)
            return True

    def _remove_waiter(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)

    # -- waiting -----------------------------------------------------------------------
    def wait(
        self,
        timeout: float | None,
        runner: AsyncRunner | None,
        what: object,
    ) -> T:
        """Block the calling thread until done; raise EventLoopTimeoutError on timeout.

        If ``runner`` closes while waiting and nothing was set, raises RunnerClosedError.
        """
        if self._state == _PENDING:
            waiter = ThreadWaiter()
            if self._add_waiter(waiter):
                woken = block(waiter, timeout, runner)
                if self._state == _PENDING:
                    self._remove_waiter(waiter)
                    if runner is not None and runner._closed:  # pyright: ignore[reportPrivateUsage]
                        raise ClosedWhileWaitingError(
                            f"the runner closed while waiting for {what}"
                        ) from runner._death_cause  # pyright: ignore[reportPrivateUsage]
                    if not woken:
                        raise EventLoopTimeoutError(
                            what,
                            timeout,
                            runner._loop_stack() if runner is not None else "",  # pyright: ignore[reportPrivateUsage]
                        )
        return self.outcome()

    async def wait_async(self) -> T:
        """Await completion from a coroutine on any loop; cancelling the awaiter leaves it."""
        waiter = self.async_waiter()
        if waiter is not None:
            try:
                await waiter.fut
            finally:
                if self._state == _PENDING:
                    self._remove_waiter(waiter)
        return self.outcome()

    def async_waiter(self, runner: AsyncRunner | None = None) -> AsyncWaiter | None:
        """A waiter for a coroutine of the running loop, registered to be woken once this
        is done; None if it is done already. Await its ``fut``; a caller that stops
        awaiting must remove it (or complete the outcome, which drops every waiter).
        ``runner``: the runner the caller probably runs on (a hint that saves a lookup)."""
        if self._state != _PENDING:
            return None
        waiter = AsyncWaiter(runner)
        return waiter if self._add_waiter(waiter) else None
