"""Future: a result set from any thread, awaited by coroutines or waited on by threads."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._core import USE_DEFAULT_TIMEOUT, Outcome, RunnerClosedError, check_may_block, resolve_timeout

if TYPE_CHECKING:
    from ._runner import AsyncRunner

T = TypeVar("T")

__all__ = ["Future"]


class Future(Generic[T]):
    """A one-shot result crossing the thread/loop boundary.

    ``set_result`` / ``set_exception`` may be called from any thread and never wait for
    the loop. Coroutines on any loop ``await future.result()`` (or ``await future``);
    threads call :meth:`result_wait`. Setting twice raises InvalidStateError (which is
    both the asyncio and the concurrent.futures exception). May be created from any
    thread, before the runner has started.
    """

    __slots__ = ("__weakref__", "_outcome", "_runner")

    def __init__(self, runner: AsyncRunner | None = None) -> None:
        self._runner = runner
        self._outcome: Outcome[T] = Outcome()

    def __repr__(self) -> str:
        return f"<Future {'done' if self._outcome.done() else 'pending'}>"

    def _check_runner(self) -> None:
        runner = self._runner
        if runner is not None and runner._closed:  # pyright: ignore[reportPrivateUsage]
            raise RunnerClosedError("the future's runner is closed")

    def set_result(self, result: T) -> None:
        """Set the result and wake every waiter (any thread, never blocks).

        Raises InvalidStateError if already done, RunnerClosedError if the runner is closed.
        """
        self._check_runner()
        self._outcome.set_result(result)

    def set_exception(self, exception: BaseException) -> None:
        """Set an exception to be raised by every waiter (any thread, never blocks).

        Raises InvalidStateError if already done, RunnerClosedError if the runner is closed.
        """
        self._check_runner()
        self._outcome.set_exception(exception)

    def cancel(self) -> bool:
        """Cancel the future: waiters raise CancelledError. False if already done.

        Any thread; never blocks; wakes every waiter at once.
        """
        return self._outcome.cancel()

    def done(self) -> bool:
        """Whether a result, exception or cancellation is set (any thread, never blocks)."""
        return self._outcome.done()

    def cancelled(self) -> bool:
        """True if the future was cancelled. Any thread; never blocks, raises nothing."""
        return self._outcome.cancelled()

    def exception(self) -> BaseException | None:
        """The exception if one was set, else None (any thread, never blocks)."""
        return self._outcome.exception()

    def add_done_callback(self, callback: Callable[[Future[T]], object]) -> None:
        """Call ``callback(future)`` when done, in the thread that completes it (or now).

        Any thread; never blocks. The callback must be quick and thread-safe.
        """
        self._outcome.add_done_callback(lambda _: callback(self))

    async def result(self) -> T:
        """Wait for the result from a coroutine (any loop) and return it or raise.

        Suspends only the awaiting coroutine; woken by ``set_result``, ``set_exception`` or
        ``cancel`` from any thread. Raises the set exception, or CancelledError if the
        future (or the awaiting task) was cancelled.
        """
        outcome = self._outcome
        if outcome.done():
            return outcome.outcome()
        return await outcome.wait_async()

    def __await__(self) -> Generator[Any, None, T]:
        return self.result().__await__()

    def result_wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until done; return the result or raise the exception.

        RuntimeError on the runner's loop thread (``await future.result()`` there),
        EventLoopTimeoutError on timeout, RunnerClosedError if the runner closes first.
        """
        runner = self._runner
        check_may_block(runner, "Future.result_wait()", "`await future.result()`")
        outcome = self._outcome
        if outcome.done():
            return outcome.outcome()
        wait = resolve_timeout(timeout, runner.call_in_loop_timeout if runner else None)
        return outcome.wait(wait, runner, "Future.result_wait()")
