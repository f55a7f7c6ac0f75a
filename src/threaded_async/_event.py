"""Event: set and waited on from threads and coroutines alike."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from ._core import (
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    EventLoopTimeoutError,
    ThreadWaiter,
    WaiterList,
    check_may_block,
    resolve_timeout,
    token_of,
)

if TYPE_CHECKING:
    from ._runner import AsyncRunner

__all__ = ["Event"]

_get_ident = threading.get_ident


class _BridgedEvent(asyncio.Event):
    """The asyncio face of an :class:`Event`, and the state both faces share: ``flag``
    (readable from any thread without the loop) and the parked ``waiters`` (threads and
    coroutines of other loops). Setting it also wakes them."""

    def __init__(self) -> None:
        super().__init__()
        self.flag = False
        self.waiters = WaiterList()

    def set(self) -> None:
        super().set()
        self.flag = True
        self.waiters.wake_all()

    def clear(self) -> None:
        super().clear()
        self.flag = False


class Event:
    """An event that threads and coroutines can set, clear and wait on.

    Its asyncio face (:meth:`as_async_event`) is a real :class:`asyncio.Event` living on the
    runner's loop. From a thread, :meth:`set`, :meth:`clear` and :meth:`is_set` keep
    threaded_async 1.4's *synchronising* behaviour: they run on the loop and return once
    the loop has applied them, so a coroutine woken by ``set()`` has run by the time a
    following ``is_set()`` returns. They block the calling thread for one loop round trip;
    :meth:`set_nowait` and :meth:`is_set_nowait` are the non-blocking variants. An event
    created without a runner has no loop it may wait for: there ``set``/``clear`` change
    the flag at once and never block, and coroutines catch up when their loop runs.

    May be created from any thread, before the runner has started.
    """

    __slots__ = ("__weakref__", "_aio", "_token")

    def __init__(
        self, runner: AsyncRunner | None = None, timeout: float | None = USE_DEFAULT_TIMEOUT
    ) -> None:
        resolve_timeout(timeout, None)
        self._token = token_of(runner)
        self._aio = _BridgedEvent()

    def __repr__(self) -> str:
        return f"<Event {'set' if self._aio.flag else 'unset'}>"

    def _loop_for_sync(self) -> asyncio.AbstractEventLoop | None:
        """The loop to apply changes on, or None to apply them directly here."""
        token = self._token
        if token is not None:
            token.raise_if_closed("the event's runner")
            if not token.running or _get_ident() == token.thread_id:
                return None
            return token.loop
        loop: asyncio.AbstractEventLoop | None = getattr(self._aio, "_loop", None)
        if loop is None or loop.is_closed():
            return None
        try:
            if asyncio.get_running_loop() is loop:
                return None
        except RuntimeError:
            pass
        return loop

    def set(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Set the event and wake every waiter; from a thread, wait until the loop applied it.

        Any thread. From a thread other than the loop's it blocks until the loop has applied
        it (so a task woken by it has run by the time :meth:`is_set` answers); on the loop
        thread, or before the runner started, it applies at once. Use :meth:`set_nowait`
        to never block. Raises EventLoopTimeoutError if the loop does not apply it within
        ``timeout`` (it still will), RunnerClosedError if the runner is closed.
        """
        loop = self._loop_for_sync()
        if loop is None:
            self._aio.set()
        elif self._token is not None:
            self._token.call(self._aio.set, timeout)
        else:
            # No runner to bound a wait on the foreign loop (it may stop without notice):
            # set the flag here, so is_set() is right at once, and let the loop catch up.
            self.set_nowait()

    def set_nowait(self) -> None:
        """Set the event without waiting for the loop (any thread, never blocks).

        Waiting threads wake at once; coroutines wake when the loop gets to it. Raises
        RunnerClosedError if the runner is closed.
        """
        loop = self._loop_for_sync()
        if loop is None:
            self._aio.set()
            return
        self._aio.flag = True
        self._aio.waiters.wake_all()
        loop.call_soon_threadsafe(self._aio.set)

    def clear(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Reset the event (from a thread: applied on the loop, like :meth:`set`).

        Any thread; from a thread other than the loop's it blocks until the loop applied it.
        Raises EventLoopTimeoutError on timeout, RunnerClosedError if the runner is closed.
        """
        loop = self._loop_for_sync()
        if loop is None:
            self._aio.clear()
        elif self._token is not None:
            self._token.call(self._aio.clear, timeout)
        else:
            self._aio.flag = False
            loop.call_soon_threadsafe(self._aio.clear)

    def is_set(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Whether the event is set; from a thread, read on the loop (one round trip).

        Any thread; from a thread other than the loop's it blocks for that round trip
        (use :meth:`is_set_nowait` to avoid it). Raises EventLoopTimeoutError on timeout,
        RunnerClosedError if the runner is closed.
        """
        loop = self._loop_for_sync()
        if loop is None or self._token is None:
            return self._aio.flag
        return self._token.call(self._aio.is_set, timeout)

    def is_set_nowait(self) -> bool:
        """Whether the event is set, read without waiting for the loop (any thread).

        Never blocks and raises nothing; a ``set_nowait`` from another thread is seen at once.
        """
        return self._aio.flag

    def wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Block the calling thread until the event is set; return True.

        RuntimeError on the runner's loop thread (await ``as_async_event().wait()`` or
        :meth:`wait_async` there), EventLoopTimeoutError on timeout, RunnerClosedError if
        the runner closes meanwhile.
        """
        token = self._token
        if token is None:
            check_may_block("Event.wait()", "`await event.wait_async()`")
            wait = resolve_timeout(timeout, None)
        else:
            token.check_may_block("Event.wait()", "`await event.wait_async()`")
            wait = token.resolve(timeout)
        if self._aio.flag:
            return True
        waiter = ThreadWaiter()
        self._aio.waiters.add(waiter)
        if not self._aio.flag:
            woken = waiter.park(wait) if token is None else token.park(waiter, wait)
            if not self._aio.flag:
                self._aio.waiters.discard(waiter)
                if token is not None:
                    closed = token.closed_error("waiting for an Event")
                    if closed is not None:
                        raise closed
                    if not woken:
                        raise token.timeout_error("Event.wait()", wait)
                elif not woken:
                    raise EventLoopTimeoutError("Event.wait()", wait)
        self._aio.waiters.discard(waiter)
        return True

    async def wait_async(self) -> bool:
        """Wait for the event from a coroutine on any event loop; return True.

        Suspends only the awaiting coroutine; woken by :meth:`set` or :meth:`set_nowait`
        from any thread. Raises CancelledError if the awaiting task is cancelled, and
        RunnerClosedError if the runner closes while a coroutine of another loop waits.
        """
        aio = self._aio
        if aio.flag:
            return True
        token = self._token
        waiters = aio.waiters
        while not aio.flag:
            if token is not None and token.closed:
                token.raise_if_closed("the event's runner")
            waiter = AsyncWaiter(token)
            waiters.add(waiter)
            try:
                if aio.flag:
                    break
                if token is not None and token.is_foreign(waiter):
                    await token.park_async(waiter)
                else:
                    await waiter.fut
            finally:
                waiters.discard(waiter)
        return True

    def as_async_event(self) -> asyncio.Event:
        """The :class:`asyncio.Event` face, for code on the runner's loop thread only.

        Never blocks. Setting the returned event also wakes threads blocked in :meth:`wait`.
        """
        return self._aio
