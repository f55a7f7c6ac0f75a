"""Future: a result set from any thread, awaited by coroutines or waited on by threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ._core import USE_DEFAULT_TIMEOUT, Outcome, ResultView, token_of

if TYPE_CHECKING:
    from ._runner import AsyncRunner

T = TypeVar("T")

__all__ = ["Future"]


class Future(ResultView[T]):
    """A one-shot result crossing the thread/loop boundary.

    ``set_result`` / ``set_exception`` may be called from any thread and never wait for
    the loop. Coroutines on any loop ``await future.result()`` (or ``await future``);
    threads call :meth:`result_wait`. Setting twice raises InvalidStateError (which is
    both the asyncio and the concurrent.futures exception). May be created from any
    thread, before the runner has started.
    """

    __slots__ = ()

    def __init__(self, runner: AsyncRunner | None = None) -> None:
        super().__init__(Outcome(), token_of(runner))

    def __repr__(self) -> str:
        return f"<Future {'done' if self.done() else 'pending'}>"

    def set_result(self, result: T) -> None:
        """Set the result and wake every waiter (any thread, never blocks).

        Raises InvalidStateError if already done, RunnerClosedError if the runner is closed.
        Done callbacks run in this thread; one that raises is reported (the loop's
        exception handler on a loop thread, else the ``threaded_async`` logger), never
        raised from here.
        """
        token = self._token
        if token is not None and token.closed:
            token.raise_if_closed("the future's runner")
        self._outcome.set_result(result)

    def set_exception(self, exception: BaseException) -> None:
        """Set an exception to be raised by every waiter (any thread, never blocks).

        Raises InvalidStateError if already done, RunnerClosedError if the runner is closed.
        """
        token = self._token
        if token is not None and token.closed:
            token.raise_if_closed("the future's runner")
        self._outcome.set_exception(exception)

    def cancel(self) -> bool:
        """Cancel the future: waiters raise CancelledError. False if already done.

        Any thread; never blocks; wakes every waiter at once.
        """
        return self._outcome.cancel()

    def add_done_callback(self, callback: Callable[[Future[T]], object]) -> None:
        """Call ``callback(future)`` when done, in the thread that completes it (or now).

        Any thread; never blocks. The callback must be quick and thread-safe; an exception
        it raises is reported, and the other callbacks still run.
        """
        self._outcome.add_done_callback(lambda _: callback(self))

    async def result(self) -> T:
        """Wait for the result from a coroutine (any loop) and return it or raise.

        Suspends only the awaiting coroutine; woken by ``set_result``, ``set_exception`` or
        ``cancel`` from any thread. Raises the set exception, CancelledError if the
        future (or the awaiting task) was cancelled, RunnerClosedError if the runner closes
        while a coroutine of another loop awaits it.
        """
        return await self._wait_async()

    def result_nowait(self) -> T:
        """The result now: returns it, raises the set exception (CancelledError if
        cancelled), or InvalidStateError if not done yet. Any thread; never blocks."""
        return self._outcome.unwrap()

    def result_wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until done; return the result or raise the exception.

        ``timeout``: seconds, ``None`` (no limit) or ``USE_DEFAULT_TIMEOUT`` (the runner's
        ``call_in_loop_timeout``). RuntimeError on the runner's loop thread (``await
        future.result()`` there), EventLoopTimeoutError on timeout, RunnerClosedError if
        the runner closes first.
        """
        return self._blocking_wait(timeout, "Future.result_wait()", "`await future.result()`")
