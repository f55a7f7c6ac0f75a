"""1.4's Futures around the one request path: what ``_handle_request`` gets.

Without a ``create_future`` override a request's Future is an :class:`AnswerFuture`, a view
of the request: setting it answers the request through ``Server.settle``. A subclass's own
Future (``create_future`` overridden) is chained to the request by the server instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .._core import (
    CANCELLED,
    EXCEPTION,
    RESULT,
    USE_DEFAULT_TIMEOUT,
    InvalidStateError,
    LoopToken,
    Outcome,
    RunnerClosedError,
    failure_answer,
    make_view,
)
from .._future import Future
from ._request import Request

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["AnswerFuture", "answer_with", "complete", "mirror", "state_of"]


def state_of(fut: asyncio.Future[Any]) -> tuple[int, Any]:
    """A done loop future's answer as ``(state, value)``."""
    if fut.cancelled():
        return CANCELLED, None
    exc = fut.exception()
    return (EXCEPTION, exc) if exc is not None else (RESULT, fut.result())


class AnswerFuture(Future[Any]):
    """The :class:`Future` a 1.4 ``_handle_request`` gets when ``create_future`` is not
    overridden: a view of its request. Setting it answers the request through
    :meth:`Server.settle`; reading it reads the request's answer. Only a wait on it (a
    thread's ``result_wait``, an ``await``, a done callback) makes it keep an outcome of
    its own, mirrored from the request: most are set and never waited on."""

    __slots__ = ("_item", "_server")
    _item: Request[Any]
    _server: Server
    _outcome: Outcome[Any]

    @classmethod
    def of(cls, server: Server, item: Request[Any], token: LoopToken) -> AnswerFuture:
        future = make_view(cls, UNWATCHED, token)
        future._item = item
        future._server = server
        return future

    # -- setting: answers the request --------------------------------------------------
    def set_result(self, result: Any) -> None:
        """Answer the request (see :meth:`Future.set_result`)."""
        self._answer(RESULT, result)

    def set_exception(self, exception: BaseException) -> None:
        """Fail the request (see :meth:`Future.set_exception`)."""
        if isinstance(exception, type):
            exception = exception()
        if not isinstance(exception, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"set_exception needs an exception, not {type(exception).__name__}")
        self._answer(EXCEPTION, exception)

    def cancel(self) -> bool:
        """Cancel the request: its client sees CancelledError. False if it was done."""
        if self.done():
            return False
        with contextlib.suppress(InvalidStateError, RuntimeError):
            return self._server.settle(self._item, CANCELLED, None)
        return False

    def _answer(self, state: int, value: Any) -> None:
        token = self._token
        if token is not None and token.closed:
            token.raise_if_closed("the future's runner")
        if not self._server.settle(self._item, state, value):
            raise InvalidStateError("the request was cancelled: its client gave up")

    # -- reading: the request's answer -------------------------------------------------
    def done(self) -> bool:
        """Whether the request was answered (or given up). Any thread; never blocks."""
        return self._item.done() or self._outcome.done()

    def cancelled(self) -> bool:
        """Whether the request was cancelled. Any thread; never blocks."""
        return self._item.cancelled() or self._outcome.cancelled()

    def exception(self) -> BaseException | None:
        """The request's exception if it failed, else None. Any thread; never blocks."""
        return self._watch().exception()

    def result_nowait(self) -> Any:
        """The answer now (see :meth:`Future.result_nowait`)."""
        return self._watch().unwrap()

    def result_wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> Any:
        """Block until answered (see :meth:`Future.result_wait`)."""
        self._watch()
        return super().result_wait(timeout)

    async def result(self) -> Any:
        """Await the answer (see :meth:`Future.result`)."""
        self._watch()
        return await super().result()

    def __await__(self) -> Generator[Any, None, Any]:
        """Await the answer from a coroutine on any loop."""
        self._watch()
        return super().__await__()

    def add_done_callback(self, callback: Callable[[Future[Any]], object]) -> None:
        """Call ``callback(future)`` once answered (see :meth:`Future.add_done_callback`)."""
        self._watch()
        super().add_done_callback(callback)

    def _watch(self) -> Outcome[Any]:
        """The outcome that mirrors the request's answer, made on first need."""
        outcome = self._outcome
        if outcome is UNWATCHED:
            outcome = self._outcome = Outcome()
            fut = self._item._fut  # pyright: ignore[reportPrivateUsage]  # its own request's
            if fut.done():  # (after publishing the outcome: see mirror)
                outcome.settle(*state_of(fut))
        return outcome

    def mirror(self, state: int, value: Any) -> None:
        """Internal (after the request's future was set): if something waits on this
        Future, complete its outcome too. Publishing the outcome (``_watch``) before
        looking at the request, and setting the request before looking at the outcome,
        one side always sees the other."""
        outcome = self._outcome
        if outcome is not UNWATCHED:
            outcome.settle(state, value)


#: What an unwatched AnswerFuture holds: a shared outcome that is never completed.
UNWATCHED: Outcome[Any] = Outcome()


def mirror(future: Future[Any], state: int, value: Any) -> None:
    """Make a request's 1.4 Future show the request's answer."""
    if type(future) is AnswerFuture:
        future.mirror(state, value)
    elif not future.done():
        complete(future, state, value)


def complete(future: Future[Any], state: int, value: Any) -> None:
    """Set a 1.4 Future to ``(state, value)`` unless it is done (or its runner closed)."""
    with contextlib.suppress(InvalidStateError, RunnerClosedError):
        if state == RESULT:
            future.set_result(value)
        elif state == EXCEPTION:
            future.set_exception(value)
        else:
            future.cancel()


def answer_with(future: Future[Any], exc: BaseException) -> None:
    """Answer a request whose handling raised ``exc`` (unless it is answered already), by
    the one policy (:func:`failure_answer`): the client sees ``exc``, or CancelledError
    for a cancellation or an interrupt of the host itself."""
    if future.done():
        return
    state, value, _ = failure_answer(exc)
    complete(future, state, value)
    if not future.done():  # its runner closed: the client must still be told
        future.cancel()
