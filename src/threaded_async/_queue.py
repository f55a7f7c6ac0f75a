"""Queue: one buffer with two faces, ``await get()/put()`` for coroutines and
``get_wait()/put_wait()`` for threads.

The buffer is a deque shared by both sides; a put or get that need not wait never
touches the event loop. A waiter (thread or coroutine) is woken only when one is parked,
and only one per item, following the register-then-recheck protocol of ``_waiters``.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._core import (
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    Deadline,
    EventLoopTimeoutError,
    LoopToken,
    QueueEmpty,
    QueueFull,
    QueueShutDown,
    ThreadWaiter,
    WaiterList,
    check_may_block,
    resolve_timeout,
    token_of,
)

if TYPE_CHECKING:
    from ._runner import AsyncRunner

T = TypeVar("T")

_NO_DEADLINE = Deadline(None)

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueStatistics"]


@dataclasses.dataclass(frozen=True)
class QueueStatistics:
    """A snapshot of a queue, for debugging."""

    qsize: int
    maxsize: int
    waiting_getters: int
    waiting_putters: int
    shut_down: bool


class Queue(Generic[T]):
    """A FIFO queue shared by threads and coroutines (on the runner's loop or any other).

    Every method may be called from any thread. ``put_nowait``, ``get_nowait``, ``qsize``,
    ``empty`` and ``full`` never block and never wait for the loop. ``get_wait`` and
    ``put_wait`` block the calling thread; they raise RuntimeError at once on the
    runner's own loop thread (await ``get()``/``put()`` there), EventLoopTimeoutError on
    timeout, RunnerClosedError if the runner closes, QueueShutDown after
    :meth:`shutdown`. Items from one producer arrive in the order they were put.

    Args:
        runner: The runner whose lifetime bounds the queue (may be ``None``, and may not
            have started yet). Its ``call_in_loop_timeout`` is the default timeout; when it
            closes, blocked threads wake with RunnerClosedError.
        maxsize: Maximum number of items (0: unbounded).
    """

    __slots__ = (
        "__weakref__",
        "_getters",
        "_items",
        "_lock",
        "_maxsize",
        "_pop",
        "_push",
        "_putters",
        "_shutdown",
        "_slow_put",
        "_token",
    )

    def __init__(self, runner: AsyncRunner | None = None, maxsize: int = 0) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
        if maxsize < 0:
            maxsize = 0  # as asyncio.Queue: <= 0 means unbounded
        self._token: LoopToken | None = token_of(runner)
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._getters = WaiterList()
        self._putters = WaiterList()
        self._shutdown = False
        #: ``maxsize or shutdown``: one test on put_nowait's hot path instead of two.
        self._slow_put = maxsize > 0
        self._init_storage()

    # -- storage (overridden by LifoQueue / PriorityQueue) -------------------------------
    def _init_storage(self) -> None:
        items: deque[T] = deque()
        self._items: Any = items
        # deque.append / popleft are atomic under the GIL: no lock on the fast path.
        self._push: Any = items.append
        self._pop: Any = items.popleft

    def _clear(self) -> None:
        self._items.clear()

    # -- inspection ----------------------------------------------------------------------
    @property
    def maxsize(self) -> int:
        """Maximum number of items (0: unbounded)."""
        return self._maxsize

    def qsize(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> int:
        """Number of items in the queue (never blocks; ``timeout`` is kept for 1.4)."""
        return len(self._items)

    def empty(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Whether the queue is empty (never blocks; ``timeout`` is kept for 1.4)."""
        return not self._items

    def full(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Whether the queue is full (never blocks; ``timeout`` is kept for 1.4)."""
        return 0 < self._maxsize <= len(self._items)

    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` has been called."""
        return self._shutdown

    def statistics(self) -> QueueStatistics:
        """A snapshot: size, waiting getters and putters, shutdown state."""
        return QueueStatistics(
            len(self._items), self._maxsize, len(self._getters), len(self._putters), self._shutdown
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} qsize={len(self._items)} maxsize={self._maxsize}>"

    # -- the two atomic steps --------------------------------------------------------------
    def _check_runner(self, waited: bool = False) -> None:
        token = self._token
        if token is not None and token.closed:
            # A thread that was parked gets the 1.4-compatible CancelledError flavour.
            if waited:
                closed = token.closed_error("waiting on a queue")
                assert closed is not None
                raise closed
            token.raise_if_closed("the queue's runner")

    def _try_put(self, item: T) -> bool:
        if self._shutdown:
            raise QueueShutDown("the queue is shut down")
        if self._maxsize:
            with self._lock:
                if len(self._items) >= self._maxsize:
                    return False
                self._push(item)
        else:
            self._push(item)
        if self._getters:
            self._getters.wake_one()
        return True

    def _after_get(self) -> None:
        if self._putters:
            self._putters.wake_one()

    def _empty_error(self) -> Exception:
        if self._shutdown:
            return QueueShutDown("the queue is shut down and empty")
        return QueueEmpty()

    # -- non-blocking, any thread --------------------------------------------------------
    def put_nowait(self, item: T) -> None:
        """Put ``item`` without waiting; QueueFull (also ``queue.Full`` and
        ``asyncio.QueueFull``) if the queue is full, QueueShutDown after shutdown."""
        # The hot path, inlined: one attribute test per condition, no helper calls.
        token = self._token
        if token is not None and token.closed:
            self._check_runner()
        if self._slow_put:
            if not self._try_put(item):
                raise QueueFull()
            return
        self._push(item)
        if self._getters:
            self._getters.wake_one()

    def get_nowait(self) -> T:
        """Remove and return an item without waiting; QueueEmpty (also ``queue.Empty`` and
        ``asyncio.QueueEmpty``) if there is none, QueueShutDown once shut down and drained."""
        token = self._token
        if token is not None and token.closed:
            self._check_runner()
        try:
            item = self._pop()
        except IndexError:
            raise self._empty_error() from None
        if self._putters:
            self._putters.wake_one()
        return item

    # -- coroutines (any loop) -----------------------------------------------------------
    async def get(self) -> T:
        """Remove and return an item, waiting while the queue is empty.

        Raises QueueShutDown once the queue is shut down and drained (at once after
        ``shutdown(immediate=True)``). Cancel-safe: a cancelled get takes no item.
        """
        if self._items:  # a C-level length test: no exception raised on an empty queue
            try:
                item = self._pop()
            except IndexError:  # another consumer was faster
                pass
            else:
                if self._putters:
                    self._putters.wake_one()
                return item
        # The slow path stays in this frame: one coroutine less to create and resume.
        getters = self._getters
        token = self._token
        while True:
            if token is not None and token.closed:
                self._check_runner()
            if self._shutdown and not self._items:
                raise QueueShutDown("the queue is shut down and empty")
            waiter = AsyncWaiter(token)
            getters.add(waiter)
            if self._items:
                try:
                    item = self._pop()
                except IndexError:
                    pass
                else:
                    self._leave(getters, waiter)
                    self._after_get()
                    return item
            if self._shutdown:
                self._leave(getters, waiter)
                continue
            try:
                await waiter.fut
            except BaseException:
                self._leave(getters, waiter)
                raise
            # Woken: the waker removed us from the list. Most often the item is there.
            try:
                item = self._pop()
            except IndexError:
                continue
            self._after_get()
            return item

    def _leave(self, waiters: WaiterList, waiter: Any) -> None:
        """Unregister; if a waker already picked us, hand its wake-up to the next waiter."""
        if not waiters.discard(waiter):
            if waiters is self._getters:
                if self._items:
                    waiters.wake_one()
            elif not self.full():
                waiters.wake_one()

    async def put(self, item: T) -> None:
        """Put ``item``, waiting while the queue is full. QueueShutDown after shutdown."""
        if self._try_put(item):
            return
        putters = self._putters
        while True:
            self._check_runner()
            waiter = AsyncWaiter(self._token)
            putters.add(waiter)
            try:
                if self._try_put(item):
                    self._leave(putters, waiter)
                    return
            except QueueShutDown:
                self._leave(putters, waiter)
                raise
            try:
                await waiter.fut
            except BaseException:
                self._leave(putters, waiter)
                raise
            if self._try_put(item):
                return

    # -- threads -------------------------------------------------------------------------
    def _check_may_block(self, what: str, instead: str) -> None:
        token = self._token
        if token is None:
            check_may_block(what, instead)
        else:
            token.check_may_block(what, instead)

    def _deadline(self, timeout: float | None) -> Deadline:
        token = self._token
        default = token.default_timeout if token is not None else None
        if timeout is USE_DEFAULT_TIMEOUT and default is None:
            return _NO_DEADLINE  # the common case, without validating or reading the clock
        return Deadline(resolve_timeout(timeout, default))

    def _park(self, waiter: ThreadWaiter, timeout: float | None) -> bool:
        token = self._token
        return waiter.park(timeout) if token is None else token.park(waiter, timeout)

    def get_wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until an item is available; remove and return it.

        ``timeout``: seconds, ``None`` (no limit) or ``USE_DEFAULT_TIMEOUT`` (the runner's
        ``call_in_loop_timeout``). See the class docstring for what it raises.
        """
        self._check_may_block("Queue.get_wait()", "`await queue.get()`")
        token = self._token
        if token is not None and token.closed:
            self._check_runner()
        if self._items:  # a C-level length test: no exception raised on an empty queue
            try:
                item = self._pop()
            except IndexError:  # another consumer was faster
                pass
            else:
                if self._putters:
                    self._putters.wake_one()
                return item
        return self._get_wait_slow(self._deadline(timeout))

    def _get_wait_slow(self, deadline: Deadline) -> T:
        getters = self._getters
        token = self._token
        items = self._items
        waited = False
        while True:
            if token is not None and token.closed:
                self._check_runner(waited)
            if self._shutdown and not items:
                raise QueueShutDown("the queue is shut down and empty")
            waiter = ThreadWaiter()
            getters.add(waiter)
            if items:
                try:
                    item = self._pop()
                except IndexError:
                    pass
                else:
                    self._leave(getters, waiter)
                    self._after_get()
                    return item
            if self._shutdown:
                self._leave(getters, waiter)
                continue
            try:
                woken = self._park(waiter, deadline.remaining())
            except BaseException:
                self._leave(getters, waiter)
                raise
            waited = True
            if not woken:
                self._leave(getters, waiter)
                try:
                    item = self._pop()
                except IndexError:
                    self._check_runner(waited=True)
                    raise self._timeout_error("Queue.get_wait()", deadline) from None
                self._after_get()
                return item
            if token is not None and token.closed:
                self._leave(getters, waiter)
                self._check_runner(waited=True)
            # Woken by a put, which took us off the list: most often the item is there.
            if items:
                try:
                    item = self._pop()
                except IndexError:
                    continue
                self._after_get()
                return item

    def put_wait(self, item: T, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Put ``item``, blocking the calling thread while the queue is full.

        ``timeout`` as for :meth:`get_wait`.
        """
        self._check_may_block("Queue.put_wait()", "`await queue.put(item)`")
        self._check_runner()
        if self._try_put(item):
            return
        deadline = self._deadline(timeout)
        putters = self._putters
        waited = False
        while True:
            self._check_runner(waited)
            waiter = ThreadWaiter()
            putters.add(waiter)
            try:
                if self._try_put(item):
                    self._leave(putters, waiter)
                    return
                woken = self._park(waiter, deadline.remaining())
            except BaseException:
                self._leave(putters, waiter)
                raise
            waited = True
            if not woken:
                self._leave(putters, waiter)
                if self._try_put(item):
                    return
                self._check_runner(waited=True)
                raise self._timeout_error("Queue.put_wait()", deadline)

    def _timeout_error(self, what: str, deadline: Deadline) -> EventLoopTimeoutError:
        token = self._token
        if token is None:
            return EventLoopTimeoutError(what, deadline.timeout)
        return token.timeout_error(what, deadline.timeout)

    # -- shutdown ------------------------------------------------------------------------
    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down, as Python 3.13's ``asyncio.Queue.shutdown``.

        Further puts raise QueueShutDown; blocked putters wake with it. With
        ``immediate=False`` getters still receive every item put before, then
        QueueShutDown; with ``immediate=True`` the queue is emptied and every getter
        raises QueueShutDown. Any thread, never blocks, idempotent.
        """
        with self._lock:
            self._shutdown = True
            self._slow_put = True
            if immediate:
                self._clear()
        self._getters.wake_all()
        self._putters.wake_all()

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[T]:
        """Yield items with :meth:`get_wait` (no timeout) until the queue is shut down and
        drained."""
        while True:
            try:
                yield self.get_wait(None)
            except QueueShutDown:
                return

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for item in queue``: items until the queue is shut down and drained."""
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[T]:
        while True:
            try:
                item = await self.get()
            except QueueShutDown:
                return
            yield item


class LifoQueue(Queue[T]):
    """A :class:`Queue` that returns the most recently added item first."""

    __slots__ = ()

    def _init_storage(self) -> None:
        items: deque[T] = deque()
        self._items = items
        self._push = items.append
        self._pop = items.pop


class PriorityQueue(Queue[T]):
    """A :class:`Queue` that returns the smallest item first (``heapq`` order).

    Items are compared with ``<``; use ``(priority, sequence, item)`` tuples for items
    that do not compare.
    """

    __slots__ = ()

    def _init_storage(self) -> None:
        items: list[Any] = []
        self._items = items
        lock = self._lock

        # heapq calls back into Python comparisons (which may switch threads), so the
        # heap is only touched under the lock.
        def push(item: Any) -> None:
            with lock:
                heapq.heappush(items, item)

        def pop() -> Any:
            with lock:
                return heapq.heappop(items)

        self._push = push
        self._pop = pop

    def _try_put(self, item: T) -> bool:
        if self._shutdown:
            raise QueueShutDown("the queue is shut down")
        if self._maxsize:
            with self._lock:
                if len(self._items) >= self._maxsize:
                    return False
                heapq.heappush(self._items, item)
        else:
            self._push(item)
        if self._getters:
            self._getters.wake_one()
        return True
