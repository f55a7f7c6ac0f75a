"""ResultView: the base of every public handle on an Outcome someone else completes
(Future, BackgroundTask, Reply, PendingRequest)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

from ._errors import RunnerClosedError
from ._outcome import CANCELLED, PENDING, Outcome
from ._timeouts import resolve_timeout
from ._token import LoopToken
from ._waiters import AsyncWaiter, check_may_block

T = TypeVar("T")
V = TypeVar("V", bound="ResultView[Any]")

__all__ = ["ResultView", "make_view"]


class ResultView(Generic[T]):
    """A read-and-wait view of an :class:`Outcome` that someone else completes.

    The common base of :class:`~threaded_async.Future`, ``BackgroundTask``, ``Reply`` and
    ``PendingRequest``: ``done``, ``cancelled``, ``exception``, awaiting
    from any loop, and the blocking wait their public ``wait`` methods are built on.
    Subclasses keep ``__slots__``; the producer passes the outcome it keeps.
    """

    __slots__ = ("__weakref__", "_outcome", "_token")

    def __init__(self, outcome: Outcome[T], token: LoopToken | None) -> None:
        self._outcome = outcome
        self._token = token

    def done(self) -> bool:
        """Whether it is complete: a result, an exception or cancelled. Any thread; never
        blocks."""
        return self._outcome.state != PENDING

    def cancelled(self) -> bool:
        """Whether it was cancelled. Any thread; never blocks."""
        return self._outcome.state == CANCELLED

    def exception(self) -> BaseException | None:
        """The exception if it failed, else None. Any thread; never blocks."""
        return self._outcome.exception()

    def _blocking_wait(self, timeout: float | None, what: str, instead: str) -> T:
        """The blocking wait of the public ``wait`` methods: refuse the loop thread, resolve
        ``USE_DEFAULT_TIMEOUT``, park (woken by completion, timeout or the runner's close).
        """
        token = self._token
        if token is None:
            check_may_block(what, instead)
            wait = resolve_timeout(timeout, None)
        else:
            token.check_may_block(what, instead)
            wait = token.resolve(timeout)
        outcome = self._outcome
        if outcome.state != PENDING:
            return outcome.unwrap()
        return outcome.wait(wait, token, what)

    async def _wait_async(self) -> T:
        """Await the result from a coroutine on any loop; cancelling the awaiter leaves the
        outcome untouched. On a loop other than the runner's, the runner's close wakes the
        wait (RunnerClosedError); on the runner's own loop the awaiting task is cancelled
        at close anyway."""
        outcome = self._outcome
        if outcome.state == PENDING:
            token = self._token
            waiter = AsyncWaiter(token)
            if outcome.add_waiter(waiter):
                try:
                    if token is not None and token.is_foreign(waiter):
                        await token.park_async(waiter)
                    else:
                        await waiter.fut
                finally:
                    if outcome.state == PENDING:
                        outcome.remove_waiter(waiter)
                if outcome.state == PENDING and token is not None and token.closed:
                    raise RunnerClosedError("the runner closed while this was awaited") from (
                        token.cause
                    )
        return outcome.unwrap()

    def __await__(self) -> Generator[Any, None, T]:
        """Await the result from a coroutine on any loop (cancelling the awaiting coroutine
        leaves this untouched; RunnerClosedError if the runner closes first)."""
        return self._wait_async().__await__()


def make_view(cls: type[V], outcome: Outcome[Any], token: LoopToken | None) -> V:
    """A ``cls`` view of ``outcome``, built without the subclass's own ``__init__`` (for a
    producer that keeps the outcome and completes it itself, e.g. a server's request)."""
    view = cls.__new__(cls)
    ResultView.__init__(view, outcome, token)  # pyright: ignore[reportUnknownMemberType]  # the base's own initializer, on purpose
    return view
