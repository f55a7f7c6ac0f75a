"""Outcome: the thread-safe one-shot cell behind every result that crosses threads.

The code that creates an :class:`Outcome` keeps it and completes it; what it hands out is
a view (``_view.ResultView``), which can only read and wait.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from ._errors import EventLoopTimeoutError, InvalidStateError, RunnerClosedError
from ._waiters import AsyncWaiter, LoopHint, ThreadWaiter, Waiter

T = TypeVar("T")

__all__ = [
    "CANCELLED",
    "EXCEPTION",
    "PENDING",
    "RESULT",
    "Outcome",
    "Parker",
    "failure_answer",
    "report_callback_error",
]

logger = logging.getLogger("threaded_async")

PENDING = 0
RESULT = 1
EXCEPTION = 2
CANCELLED = 3

_STATE_TEXT = {RESULT: "has a result", EXCEPTION: "has an exception", CANCELLED: "cancelled"}


class Parker(LoopHint, Protocol):
    """What a wait on a runner needs from it (its LoopToken, which imports this module):
    park a thread so that the runner's close wakes it, and the errors to raise."""

    def park(self, waiter: ThreadWaiter, timeout: float | None) -> bool:
        """Park the calling thread until woken (True) or the timeout passes (False)."""
        ...

    def closed_error(self, what: str) -> RunnerClosedError | None:
        """The error for a thread woken because the runner closed, else None."""
        ...

    def timeout_error(self, what: object, timeout: float | None) -> EventLoopTimeoutError:
        """The error for a wait on ``what`` that timed out."""
        ...


def failure_answer(exc: BaseException, *, on_loop: bool = False) -> tuple[int, BaseException, bool]:
    """What an exception raised while computing an answer means: the one policy of
    control-inversion requests and actor messages. Returns ``(state, exception,
    interrupts)``:

    * the waiter (a client, an actor's caller) gets ``exception`` (``EXCEPTION``), or
      ``CancelledError`` (``CANCELLED``) when it was a cancellation or an interrupt of
      the thread that answered (``KeyboardInterrupt``, ``SystemExit``): an interrupt
      belongs to the thread that got it, never to another thread;
    * ``interrupts``: the answering side must see it after the waiter is answered: on a
      host thread any ``BaseException`` that is not an ``Exception`` (Ctrl-C,
      ``SystemExit``, ``GeneratorExit``...); on the loop (``on_loop``, an actor) only
      ``KeyboardInterrupt`` and ``SystemExit``, which stop the loop (anything else ends
      the one message, the actor goes on).
    """
    stops = isinstance(exc, KeyboardInterrupt | SystemExit)
    state = CANCELLED if stops or isinstance(exc, asyncio.CancelledError) else EXCEPTION
    return state, exc, (stops if on_loop else not isinstance(exc, Exception))


def report_callback_error(exc: BaseException, callback: object) -> None:
    """Report an exception raised by a done callback, where a user will see it.

    On a thread running an event loop: that loop's exception handler (as asyncio does for
    its own futures' callbacks); elsewhere: the ``threaded_async`` logger.
    """
    loop = asyncio._get_running_loop()  # asyncio exports it: the C accessor that returns None
    message = f"Exception in callback {callback!r}"
    if loop is not None:
        loop.call_exception_handler({"message": message, "exception": exc})
    else:
        logger.error("%s", message, exc_info=exc)


class Outcome(Generic[T]):
    """Holds a result, an exception or a cancellation, set once from any thread.

    Waiters (threads or coroutines on any loop) are woken when it is set, then the done
    callbacks run in the setting thread; one that raises is reported and the rest still
    run. ``retrieved`` tells whether anybody has looked at an exception (for
    "unretrieved error" reports). ``state`` is read without a lock on hot paths.
    """

    __slots__ = ("_callbacks", "_lock", "_value", "_waiters", "retrieved", "state")

    def __init__(self, waiter: Waiter | None = None) -> None:
        """``waiter``: register it at once (the outcome is not published yet: no lock)."""
        self._lock = threading.Lock()
        self.state: int = PENDING
        self._value: Any = None
        # Created on first use: most outcomes (one per request, task, future) get one
        # waiter or none, and fewer container objects means less work for the cyclic GC.
        self._waiters: list[Waiter] | None = None if waiter is None else [waiter]
        self._callbacks: list[Callable[[Outcome[T]], object]] | None = None
        self.retrieved: bool = False

    def __repr__(self) -> str:
        return f"<Outcome {_STATE_TEXT.get(self.state, 'pending')}>"

    # -- setting -----------------------------------------------------------------------
    def settle(self, state: int, value: Any, errors: list[BaseException] | None = None) -> bool:
        """Complete with ``state`` (RESULT, EXCEPTION or CANCELLED) unless already done.

        Wakes every waiter, then runs the done callbacks in this thread. Exceptions they
        raise are appended to ``errors`` if given, else reported (see
        :func:`report_callback_error`); either way every callback runs. Returns False if
        the outcome was already complete (then nothing happens).
        """
        with self._lock:
            if self.state != PENDING:
                return False
            self.state = state
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
                try:
                    callback(self)
                except BaseException as exc:
                    if errors is not None:
                        errors.append(exc)
                    elif isinstance(exc, Exception):
                        report_callback_error(exc, callback)
                    else:
                        raise  # KeyboardInterrupt, SystemExit: not ours to swallow
        return True

    def set_result(self, value: T) -> None:
        """Set the result; InvalidStateError if already done. Any thread, never blocks."""
        if not self.settle(RESULT, value):
            raise InvalidStateError(f"result already set ({self.describe_state()})")

    def set_exception(self, exc: BaseException) -> None:
        """Set an exception (an instance or a class); InvalidStateError if already done."""
        if isinstance(exc, type):
            exc = exc()
        if not isinstance(exc, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"set_exception needs an exception, not {type(exc).__name__}")
        if not self.settle(EXCEPTION, exc):
            raise InvalidStateError(f"result already set ({self.describe_state()})")

    def try_set_result(self, value: T) -> bool:
        """Set the result unless already done; whether it was set."""
        return self.settle(RESULT, value)

    def try_set_exception(self, exc: BaseException) -> bool:
        """Set an exception unless already done; whether it was set."""
        return self.settle(EXCEPTION, exc)

    def cancel(self, msg: str | None = None) -> bool:
        """Cancel unless already done (waiters raise CancelledError); whether it was."""
        return self.settle(CANCELLED, msg)

    def describe_state(self) -> str:
        """'has a result', 'has an exception', 'cancelled' or 'pending'."""
        return _STATE_TEXT.get(self.state, "pending")

    # -- reading -----------------------------------------------------------------------
    def done(self) -> bool:
        """Whether it is complete (any thread, never blocks)."""
        return self.state != PENDING

    def cancelled(self) -> bool:
        """Whether it was cancelled."""
        return self.state == CANCELLED

    def has_exception(self) -> bool:
        """Whether it holds an exception."""
        return self.state == EXCEPTION

    def exception(self) -> BaseException | None:
        """The stored exception (does not mark it retrieved)."""
        return self._value if self.state == EXCEPTION else None

    def unwrap(self) -> T:
        """Return the result or raise what was stored. InvalidStateError if pending."""
        state = self.state
        if state == RESULT:
            return self._value
        self.retrieved = True
        if state == EXCEPTION:
            raise self._value
        if state == CANCELLED:
            raise asyncio.CancelledError(self._value)
        raise InvalidStateError("the result is not ready yet")

    def add_done_callback(self, callback: Callable[[Outcome[T]], object]) -> None:
        """Call ``callback(self)`` once done: in the setting thread, or now if already done."""
        with self._lock:
            if self.state == PENDING:
                if self._callbacks is None:
                    self._callbacks = [callback]
                else:
                    self._callbacks.append(callback)
                return
        callback(self)

    def add_waiter(self, waiter: Waiter) -> bool:
        """Register ``waiter`` to be woken once done; False (not registered) if done."""
        with self._lock:
            if self.state != PENDING:
                return False
            if self._waiters is None:
                self._waiters = [waiter]
            else:
                self._waiters.append(waiter)
            return True

    def remove_waiter(self, waiter: Waiter) -> None:
        """Forget ``waiter`` (a no-op if it was woken or never registered)."""
        with self._lock:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)

    # -- waiting -----------------------------------------------------------------------
    def wait_done(self, timeout: float | None, parker: Parker | None = None) -> bool:
        """Block the calling thread until done or ``timeout`` passes; whether it is done.

        With a ``parker`` (a runner's token) the runner's close wakes the wait too.
        """
        if self.state == PENDING:
            waiter = ThreadWaiter()
            if self.add_waiter(waiter):
                if parker is None:
                    waiter.park(timeout)
                else:
                    parker.park(waiter, timeout)
                if self.state == PENDING:
                    self.remove_waiter(waiter)
                    return False
        return True

    def wait(self, timeout: float | None, parker: Parker | None, what: object) -> T:
        """Block the calling thread until done; return the result or raise what is stored.

        Raises EventLoopTimeoutError when ``timeout`` passes first; RunnerClosedError
        (ClosedWhileWaitingError) if the ``parker``'s runner closes and nothing was set.
        """
        if not self.wait_done(timeout, parker):
            if parker is not None:
                closed = parker.closed_error(f"waiting for {what}")
                if closed is not None:
                    raise closed
                raise parker.timeout_error(what, timeout)
            raise EventLoopTimeoutError(what, timeout)
        return self.unwrap()

    async def wait_async(self, hint: LoopHint | None = None) -> T:
        """Await completion from a coroutine on any loop; cancelling the awaiter leaves it.

        ``hint``: the loop the caller probably runs on (saves a lookup there)."""
        if self.state == PENDING:
            waiter = AsyncWaiter(hint)
            if self.add_waiter(waiter):
                try:
                    await waiter.fut
                finally:
                    if self.state == PENDING:
                        self.remove_waiter(waiter)
        return self.unwrap()
