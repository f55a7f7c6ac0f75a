"""Queue: one buffer with two faces, ``await get()/put()`` for coroutines and
``get_wait()/put_wait()`` for threads.

Over 600 lines: the two faces, shutdown, join and the three orders (FIFO, LIFO, priority)
share one buffer and one set of waiters, with the fast paths inlined on purpose.

The buffer is a deque shared by both sides; a put or get that need not wait never
touches the event loop. A waiter (thread or coroutine) is woken only when one is parked,
and only one per item, following the register-then-recheck protocol of ``_waiters``.
"""

from __future__ import annotations

import dataclasses
import heapq
import sysconfig
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from threading import get_ident as _get_ident
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

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

#: Whether only one thread runs Python code at a time (see Queue.put_nowait).
_GIL_BUILD = not sysconfig.get_config_var("Py_GIL_DISABLED")

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueStatistics"]


@dataclasses.dataclass(frozen=True)
class QueueStatistics:
    """A snapshot of a queue, for debugging."""

    qsize: int
    maxsize: float
    waiting_getters: int
    waiting_putters: int
    shut_down: bool
    unfinished_tasks: int = 0
    waiting_joiners: int = 0


class Queue(Generic[T]):
    """A FIFO queue shared by threads and coroutines (on the runner's loop or any other).

    Every method may be called from any thread. ``put_nowait``, ``get_nowait``, ``qsize``,
    ``empty``, ``full`` and ``task_done`` never block and never wait for the loop.
    ``get_wait``, ``put_wait`` and ``join_wait`` block the calling thread; they raise
    RuntimeError at once on the runner's own loop thread (await ``get()``/``put()``/``join()``
    there), EventLoopTimeoutError on timeout, RunnerClosedError if the runner closes,
    QueueShutDown after :meth:`shutdown`. Items from one producer arrive in the order they
    were put.

    ``task_done()`` / ``join()`` count unfinished work as the stdlib queues do: every put
    adds one, every ``task_done()`` takes one away, and ``join()`` waits for zero.

    Args:
        runner: The runner whose lifetime bounds the queue (may be ``None``, and may not
            have started yet). Its ``call_in_loop_timeout`` is the default timeout; when it
            closes, blocked threads wake with RunnerClosedError.
        maxsize: Maximum number of items: a put waits while ``qsize() >= maxsize``. Zero or
            negative: unbounded (read back as given). A float works as in the stdlib.
    """

    __slots__ = (
        "__weakref__",
        "_dones",
        "_getters",
        "_immediate",
        "_items",
        "_joiners",
        "_lock",
        "_maxsize",
        "_pop",
        "_push",
        "_push_locked",
        "_puts",
        "_putters",
        "_shutdown",
        "_slow_put",
        "_token",
    )

    def __init__(self, runner: AsyncRunner | None = None, maxsize: float = 0) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"maxsize must be an int or a float, not {type(maxsize).__name__}")
        if maxsize != maxsize:
            raise ValueError("maxsize must be a number, not NaN")
        self._token: LoopToken | None = token_of(runner)
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._getters = WaiterList()
        self._putters = WaiterList()
        self._joiners = WaiterList()
        self._shutdown = False
        self._immediate = False
        #: ``bounded, shut down or no lock-free push``: put_nowait's one hot-path test.
        self._slow_put = maxsize > 0 or not self._LOCK_FREE_PUSH
        #: Items ever put and task_done() calls: ``task_done()`` / ``join()`` see their
        #: difference. Both only grow; _puts grows before its item is pushed (so a getter
        #: cannot mark an item done before it is counted), _dones under the lock.
        self._puts = 0
        self._dones = 0
        self._init_storage()

    #: Whether an unbounded queue's put_nowait may push without the lock: the push is one
    #: C call and only one thread runs at a time (see put_nowait).
    _LOCK_FREE_PUSH: ClassVar[bool] = _GIL_BUILD

    # -- storage (overridden by LifoQueue / PriorityQueue) -------------------------------
    def _init_storage(self) -> None:
        items: deque[T] = deque()
        self._items: Any = items
        # deque.append / popleft are atomic under the GIL: no lock on the fast path.
        self._push: Any = items.append
        self._push_locked: Any = items.append
        self._pop: Any = items.popleft

    # -- inspection ----------------------------------------------------------------------
    @property
    def maxsize(self) -> float:
        """Maximum number of items, as given (zero or negative: unbounded).

        May be changed while the queue is in use, as with the stdlib queues: putters
        blocked on a full queue go on if it grew.
        """
        return self._maxsize

    @maxsize.setter
    def maxsize(self, maxsize: float) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"maxsize must be an int or a float, not {type(maxsize).__name__}")
        if maxsize != maxsize:
            raise ValueError("maxsize must be a number, not NaN")
        with self._lock:
            self._maxsize = maxsize
            self._slow_put = maxsize > 0 or self._shutdown or not self._LOCK_FREE_PUSH
        self._putters.wake_all()

    def qsize(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> int:
        """Number of items in the queue (never blocks; ``timeout`` is kept for 1.4).

        Zero once ``shutdown(immediate=True)`` returned, even while a put that raced with
        it is still discarding its item."""
        return 0 if self._immediate else len(self._items)

    def empty(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Whether the queue is empty (never blocks; ``timeout`` is kept for 1.4)."""
        return self._immediate or not self._items

    def full(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Whether the queue is full (never blocks; ``timeout`` is kept for 1.4)."""
        return not self._immediate and 0 < self._maxsize <= len(self._items)

    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` has been called."""
        return self._shutdown

    @property
    def unfinished_tasks(self) -> int:
        """Items put and not yet marked with :meth:`task_done` (any thread, never blocks)."""
        return self._puts - self._dones

    def statistics(self) -> QueueStatistics:
        """A snapshot: size, waiting getters, putters and joiners, unfinished tasks,
        shutdown state."""
        return QueueStatistics(
            len(self._items),
            self._maxsize,
            len(self._getters),
            len(self._putters),
            self._shutdown,
            self._puts - self._dones,
            len(self._joiners),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} qsize={len(self._items)} maxsize={self._maxsize}>"

    # -- the atomic steps -------------------------------------------------------------------
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
        """Put ``item`` if there is room: the one put step behind every put.

        An unbounded queue pushes without the lock (see put_nowait, which inlines this).
        Otherwise the push happens under the lock that shutdown() sets its flag under, so
        a put either raises QueueShutDown or pushed its item before the queue was shut
        down: a getter that sees the flag also sees the item.
        """
        if not self._slow_put:
            self._puts += 1  # no thread switch from the test to the push (see put_nowait)
            self._push(item)
            if self._getters:
                self._getters.wake_one()
            return True
        with self._lock:
            if self._shutdown:
                raise QueueShutDown("the queue is shut down")
            if 0 < self._maxsize <= len(self._items):
                return False
            self._puts += 1
            try:
                self._push_locked(item)
            except BaseException:  # an item a PriorityQueue cannot compare
                self._puts -= 1
                raise
        if self._getters:
            self._getters.wake_one()
        return True

    def _after_get(self) -> None:
        if self._putters:
            self._putters.wake_one()

    def _drained(self) -> bool:
        """Whether a getter must raise QueueShutDown now: shut down, no put in flight and
        no item left (after ``immediate=True``, left-over items are discarded first).

        Every put that did not raise QueueShutDown pushed before the flag was set (see
        _try_put and put_nowait), so "shut down and empty" is final.
        """
        if not self._shutdown:
            return False
        if self._immediate and self._items:
            self._discard_items()
        return not self._items

    def _discard_items(self) -> None:
        """Drop every item (shutdown(immediate=True)), settling one unfinished task each."""
        items = self._items
        with self._lock:
            while items:
                try:
                    self._pop_locked()
                except IndexError:  # a getter took the last one meanwhile
                    break
                if self._dones < self._puts:
                    self._dones += 1
        if self._all_done():
            self._joiners.wake_all()

    def _all_done(self) -> bool:
        """Whether every item put was marked done at some moment during this call.

        Reads _dones before _puts: both only grow, so ``dones(t1) == puts(t2)`` with
        ``t1 < t2`` means ``puts(t1) == dones(t1)``; the other order could see two
        moments that never were one (a put and a done in between).
        """
        dones = self._dones
        return dones == self._puts

    def _pop_locked(self) -> Any:
        return self._items.popleft()

    def _empty_error(self) -> Exception:
        if self._drained():
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
        if self._slow_put:  # bounded, shut down, or a push that is not one C call
            if not self._try_put(item):
                raise QueueFull()
            return
        # From the test above to the push there is no point where the interpreter may
        # switch threads (no call, no backward jump, no Python code; the push is one C
        # call), so on a GIL build shutdown() ran either before the test, which then took
        # the locked path, or runs after the push: a getter that sees the queue shut down
        # and empty never misses this item, and no getter can mark it done before it is
        # counted. (Free-threaded builds and PriorityQueue always take the locked path;
        # shutdown() sets _slow_put before _shutdown. A Python-level line tracer is the
        # one thing that could still switch threads in between.)
        self._puts += 1
        self._push(item)
        if self._getters:
            self._getters.wake_one()

    def get_nowait(self) -> T:
        """Remove and return an item without waiting; QueueEmpty (also ``queue.Empty`` and
        ``asyncio.QueueEmpty``) if there is none, QueueShutDown once shut down and drained."""
        token = self._token
        if token is not None and token.closed:
            self._check_runner()
        if self._immediate:
            self._drained()
        try:
            item = self._pop()
        except IndexError:
            raise self._empty_error() from None
        if self._putters:
            self._putters.wake_one()
        return item

    def task_done(self) -> None:
        """Mark one item taken from the queue as processed (any thread, never blocks).

        When every item put has been marked, :meth:`join` / :meth:`join_wait` return.
        Raises ValueError if called more times than there were items put.
        """
        with self._lock:
            if self._dones >= self._puts:
                raise ValueError("task_done() called too many times")
            self._dones += 1
        if self._joiners and self._all_done():
            self._joiners.wake_all()

    # -- coroutines (any loop) -----------------------------------------------------------
    async def get(self) -> T:
        """Remove and return an item, waiting while the queue is empty.

        Raises QueueShutDown once the queue is shut down and drained (at once after
        ``shutdown(immediate=True)``). Cancel-safe: a cancelled get takes no item.
        """
        if self._items and not self._immediate:  # C-level tests: no exception raised
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
            if self._shutdown and self._drained():
                raise QueueShutDown("the queue is shut down and empty")
            waiter = AsyncWaiter(token)
            getters.add(waiter)
            if self._items and not self._immediate:
                try:
                    item = self._pop()
                except IndexError:
                    pass
                else:
                    self._leave(getters, waiter)
                    self._after_get()
                    return item
            if self._shutdown:  # since the test above: look again
                self._leave(getters, waiter)
                continue
            try:
                if token is not None and waiter.thread_id != token.thread_id:  # foreign loop
                    await token.park_async(waiter)  # also woken by the runner's close
                else:
                    await waiter.fut
            except BaseException:
                self._leave(getters, waiter)
                raise
            # Woken: the waker removed us from the list. Most often the item is there.
            if self._immediate:
                continue
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
            elif waiters is self._putters and not self.full():
                waiters.wake_one()

    async def put(self, item: T) -> None:
        """Put ``item``, waiting while the queue is full. QueueShutDown after shutdown."""
        if self._try_put(item):
            return
        putters = self._putters
        token = self._token
        while True:
            self._check_runner()
            waiter = AsyncWaiter(token)
            putters.add(waiter)
            try:
                if self._try_put(item):
                    self._leave(putters, waiter)
                    return
            except QueueShutDown:
                self._leave(putters, waiter)
                raise
            try:
                if token is not None and token.is_foreign(waiter):
                    await token.park_async(waiter)  # also woken by the runner's close
                else:
                    await waiter.fut
            except BaseException:
                self._leave(putters, waiter)
                raise
            if self._try_put(item):
                return

    async def join(self) -> None:
        """Wait, from a coroutine on any loop, until every item put has been marked with
        :meth:`task_done` (returns at once if none is unfinished).

        Woken by the last ``task_done()`` (or ``shutdown(immediate=True)`` discarding the
        rest); raises RunnerClosedError if the queue's runner closes meanwhile.
        """
        joiners = self._joiners
        token = self._token
        while not self._all_done():
            if token is not None and token.closed:
                self._check_runner()
            waiter = AsyncWaiter(token)
            joiners.add(waiter)
            if self._all_done():
                joiners.discard(waiter)
                return
            try:
                if token is not None and token.is_foreign(waiter):
                    await token.park_async(waiter)  # also woken by the runner's close
                else:
                    await waiter.fut
            finally:
                joiners.discard(waiter)

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
        ``call_in_loop_timeout``); validated even when an item is there at once. See the
        class docstring for what it raises.
        """
        # The hot path, inlined: an item is there and the timeout is the default one.
        token = self._token
        if token is None:
            check_may_block("Queue.get_wait()", "`await queue.get()`")
        else:
            if token.thread_id == _get_ident():
                token.check_may_block("Queue.get_wait()", "`await queue.get()`")
            if token.closed:
                self._check_runner()
        deadline = None if timeout is USE_DEFAULT_TIMEOUT else self._deadline(timeout)
        if self._items and not self._immediate:  # C-level tests: no exception raised
            try:
                item = self._pop()
            except IndexError:  # another consumer was faster
                pass
            else:
                if self._putters:
                    self._putters.wake_one()
                return item
        return self._get_wait_slow(self._deadline(timeout) if deadline is None else deadline)

    def _get_wait_slow(self, deadline: Deadline) -> T:
        getters = self._getters
        token = self._token
        items = self._items
        waited = False
        while True:
            if token is not None and token.closed:
                self._check_runner(waited)
            if self._drained():
                raise QueueShutDown("the queue is shut down and empty")
            waiter = ThreadWaiter()
            getters.add(waiter)
            if items and not self._immediate:
                try:
                    item = self._pop()
                except IndexError:
                    pass
                else:
                    self._leave(getters, waiter)
                    self._after_get()
                    return item
            if self._drained() or (self._shutdown and items):
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
                if self._immediate:
                    continue
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
            if items and not self._immediate:
                try:
                    item = self._pop()
                except IndexError:
                    continue
                self._after_get()
                return item

    def put_wait(self, item: T, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Put ``item``, blocking the calling thread while the queue is full.

        ``timeout`` as for :meth:`get_wait` (validated even when there is room).
        """
        self._check_may_block("Queue.put_wait()", "`await queue.put(item)`")
        deadline = self._deadline(timeout)
        self._check_runner()
        if self._try_put(item):
            return
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

    def join_wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> None:
        """Block the calling thread until every item put has been marked with
        :meth:`task_done` (returns at once if none is unfinished).

        ``timeout`` as for :meth:`get_wait`. Raises EventLoopTimeoutError on timeout,
        RunnerClosedError if the runner closes meanwhile, RuntimeError on the runner's
        loop thread (``await queue.join()`` there).
        """
        self._check_may_block("Queue.join_wait()", "`await queue.join()`")
        deadline = self._deadline(timeout)
        joiners = self._joiners
        waited = False
        while not self._all_done():
            self._check_runner(waited)
            waiter = ThreadWaiter()
            joiners.add(waiter)
            if self._all_done():
                joiners.discard(waiter)
                return
            try:
                woken = self._park(waiter, deadline.remaining())
            finally:
                joiners.discard(waiter)
            waited = True
            if not woken and not self._all_done():
                self._check_runner(waited=True)
                raise self._timeout_error("Queue.join_wait()", deadline)

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
        QueueShutDown; with ``immediate=True`` the queue is emptied (each discarded item
        counts as done for :meth:`join`) and every getter raises QueueShutDown. A put that
        races with the shutdown either raises QueueShutDown or has its item delivered
        before any getter sees QueueShutDown. Any thread, never blocks, idempotent.
        """
        with self._lock:
            self._slow_put = True  # first: see put_nowait
            self._shutdown = True
            if immediate:
                self._immediate = True
        if immediate:
            self._discard_items()
        self._getters.wake_all()
        self._putters.wake_all()
        self._joiners.wake_all()

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
        self._push_locked = items.append
        self._pop = items.pop

    def _pop_locked(self) -> Any:
        return self._items.pop()


class PriorityQueue(Queue[T]):
    """A :class:`Queue` that returns the smallest item first (``heapq`` order).

    Items are compared with ``<``; use ``(priority, sequence, item)`` tuples for items
    that do not compare.
    """

    __slots__ = ()

    #: heapq compares items in Python: its push is not one C call.
    _LOCK_FREE_PUSH: ClassVar[bool] = False

    def _init_storage(self) -> None:
        items: list[Any] = []
        self._items = items
        lock = self._lock

        # heapq calls back into Python comparisons (which may switch threads), so the
        # heap is only touched under the lock.
        def push(item: Any) -> None:
            with lock:
                heapq.heappush(items, item)

        def push_locked(item: Any) -> None:
            heapq.heappush(items, item)

        def pop() -> Any:
            with lock:
                return heapq.heappop(items)

        self._push = push
        self._push_locked = push_locked
        self._pop = pop

    def _pop_locked(self) -> Any:
        return heapq.heappop(self._items)
