"""CPython's ``asyncio.Queue`` conformance tests, run against the ASYNC face of
``ta.Queue``, ``ta.LifoQueue`` and ``ta.PriorityQueue`` (coroutines awaiting ``get()``,
``put()``, ``join()``).

Ported from CPython 3.13.0, ``Lib/test/test_asyncio/test_queues.py``
(https://github.com/python/cpython/blob/v3.13.0/Lib/test/test_asyncio/test_queues.py, the
file the 3.13.0 release ships). Copyright (c) 2001-2024 Python Software Foundation; All
Rights Reserved. Licensed under the PSF License Agreement
(https://docs.python.org/3/license.html#psf-license).

Every test runs in three ways (the ``env`` fixture):

* ``asyncio``: a queue without a runner, on a plain ``asyncio.run`` loop;
* ``runner``: a queue bound to a started runner, the test coroutine on the runner's loop
  (``runner.run(coro)``);
* ``foreign``: a queue bound to a started runner, the test coroutine on another loop
  (``asyncio.run`` in the test thread).

Changes made (one line per kind of change):

* ``unittest.IsolatedAsyncioTestCase`` classes → pytest classes named ``Test<Name>``
  (``QueueBasicTests`` → ``TestQueueBasic``, ...); ``async def`` tests run through
  ``@on_loop`` (which hands the coroutine to ``env.run``); test names are unchanged.
* ``asyncio.Queue(n)`` / ``LifoQueue`` / ``PriorityQueue`` → ``env.make(n, kind=ta.<Kind>)``;
  ``q_class`` of the join and shutdown mixins → a parametrized ``q_class`` argument.
* ``asyncio.QueueShutDown`` → itself on 3.13+, ``ta.QueueShutDown`` before (ta raises
  the latter, which is an ``asyncio.QueueShutDown`` on 3.13); ``self.assertRaisesShutdown()``
  → ``assert_raises_shutdown()``.
* ``len(q._getters)`` / ``len(q._putters)`` → ``q.statistics().waiting_getters`` /
  ``waiting_putters``.
* test_get_with_putters: a bare future appended to ``q._putters`` → a real ``put()`` task
  blocked on the full queue, and one ``asyncio.sleep(0)`` after the ``get()`` for that
  task to finish its put (the original checks the bare future synchronously).
* test_generic_alias: split in two, the ``__args__`` check (passes) and the
  ``types.GenericAlias`` check (xfail, see its reason).
* Tasks created without keeping a reference are kept in variables (ruff RUF006).
* unittest assertions → ``assert`` / ``pytest.raises`` (``match=`` on ValueError, for ruff);
  ``assertEqual(expected, actual)`` → ``assert actual == expected``; type annotations added.

Left out (one line each):

* ``QueueBasicTests.test_repr`` / ``test_str``: check asyncio's own repr format
  (``_getters[1]``, ``_queue=[1]``, the id); ta.Queue has its own repr.
* ``_QueueJoinTestMixin.test_format`` / ``_QueueShutdownTestMixin.test_format``: check
  asyncio's private ``_format()`` helper and set ``q._unfinished_tasks``.
* ``tearDownModule`` (resets the event loop policy): ``asyncio.run`` leaves none behind.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import typing
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from types import GenericAlias
from typing import Any, Concatenate, ParamSpec, TypeVar

import pytest

import threaded_async as ta

T = TypeVar("T")
S = TypeVar("S")
P = ParamSpec("P")

if sys.version_info >= (3, 13):
    QueueShutDown = asyncio.QueueShutDown
else:
    QueueShutDown = ta.QueueShutDown

MODES = ["asyncio", "runner", "foreign"]
KINDS: list[type[ta.Queue[Any]]] = [ta.Queue, ta.LifoQueue, ta.PriorityQueue]


class Env:
    """Where a test's coroutine runs and which runner (if any) its queues are bound to."""

    def __init__(self, mode: str, runner: ta.AsyncRunner | None) -> None:
        self.mode = mode
        self.runner = runner

    def make(self, maxsize: float = 0, *, kind: type[ta.Queue[Any]] = ta.Queue) -> ta.Queue[Any]:
        return kind(self.runner, maxsize)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        if self.mode == "runner":
            assert self.runner is not None
            return self.runner.run(main, None)
        return asyncio.run(main)


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    mode: str = request.param
    if mode == "asyncio":
        yield Env(mode, None)
        return
    with ta.AsyncRunner() as runner:
        yield Env(mode, runner)


def on_loop(
    fn: Callable[Concatenate[S, Env, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[S, Env, P], None]:
    """Run an ``async def`` test method on the loop ``env`` names."""

    @functools.wraps(fn)
    def wrapper(self: S, env: Env, *args: P.args, **kwargs: P.kwargs) -> None:
        env.run(fn(self, env, *args, **kwargs))

    return wrapper


def assert_raises_shutdown() -> AbstractContextManager[Any]:
    # "Didn't appear to shut-down queue"
    return pytest.raises(QueueShutDown)


class TestQueueBasic:
    """``QueueBasicTests``."""

    def test_generic_alias(self) -> None:
        q = ta.Queue[int]
        assert q.__args__ == (int,)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
        assert typing.get_args(q) == (int,)

    @pytest.mark.xfail(
        strict=True,
        raises=AssertionError,
        reason="ta.Queue subclasses typing.Generic, so ta.Queue[int] is a "
        "typing._GenericAlias, not a types.GenericAlias as asyncio.Queue[int] is "
        "(asyncio.Queue has __class_getitem__ = classmethod(GenericAlias)); __args__ "
        "is (int,) either way",
    )
    def test_generic_alias_is_types_generic_alias(self) -> None:
        q = ta.Queue[int]
        assert isinstance(q, GenericAlias)

    @on_loop
    async def test_empty(self, env: Env) -> None:
        q = env.make()
        assert q.empty()
        await q.put(1)
        assert not q.empty()
        assert await q.get() == 1
        assert q.empty()

    @on_loop
    async def test_full(self, env: Env) -> None:
        q = env.make()
        assert not q.full()

        q = env.make(maxsize=1)
        await q.put(1)
        assert q.full()

    @on_loop
    async def test_order(self, env: Env) -> None:
        q = env.make()
        for i in [1, 3, 2]:
            await q.put(i)

        items = [await q.get() for _ in range(3)]
        assert items == [1, 3, 2]

    @on_loop
    async def test_maxsize(self, env: Env) -> None:
        q = env.make(maxsize=2)
        assert q.maxsize == 2
        have_been_put: list[int] = []

        async def putter() -> bool:
            for i in range(3):
                await q.put(i)
                have_been_put.append(i)
            return True

        t = asyncio.create_task(putter())
        for _ in range(2):
            await asyncio.sleep(0)

        # The putter is blocked after putting two items.
        assert have_been_put == [0, 1]
        assert await q.get() == 0

        # Let the putter resume and put last item.
        await asyncio.sleep(0)
        assert have_been_put == [0, 1, 2]
        assert await q.get() == 1
        assert await q.get() == 2

        assert t.done()
        assert t.result()


class TestQueueGet:
    """``QueueGetTests``."""

    @on_loop
    async def test_blocking_get(self, env: Env) -> None:
        q = env.make()
        q.put_nowait(1)

        assert await q.get() == 1

    @on_loop
    async def test_get_with_putters(self, env: Env) -> None:
        q = env.make(1)
        await q.put(1)

        # ta change: a real blocked put() instead of a future appended to q._putters.
        waiter = asyncio.create_task(q.put(2))
        await asyncio.sleep(0)
        assert not waiter.done()

        assert await q.get() == 1
        await asyncio.sleep(0)  # ta change: let the woken put() task finish
        assert waiter.done()
        assert waiter.result() is None

    @on_loop
    async def test_blocking_get_wait(self, env: Env) -> None:
        loop = asyncio.get_running_loop()
        q = env.make()
        started = asyncio.Event()
        finished = False

        async def queue_get() -> Any:
            nonlocal finished
            started.set()
            res = await q.get()
            finished = True
            return res

        queue_get_task = asyncio.create_task(queue_get())
        await started.wait()
        assert not finished
        loop.call_later(0.01, q.put_nowait, 1)
        res = await queue_get_task
        assert finished
        assert res == 1

    def test_nonblocking_get(self, env: Env) -> None:
        q = env.make()
        q.put_nowait(1)
        assert q.get_nowait() == 1

    def test_nonblocking_get_exception(self, env: Env) -> None:
        q = env.make()
        with pytest.raises(asyncio.QueueEmpty):
            q.get_nowait()

    @on_loop
    async def test_get_cancelled_race(self, env: Env) -> None:
        q = env.make()

        t1 = asyncio.create_task(q.get())
        t2 = asyncio.create_task(q.get())

        await asyncio.sleep(0)
        t1.cancel()
        await asyncio.sleep(0)
        assert t1.done()
        await q.put("a")
        await asyncio.sleep(0)
        assert await t2 == "a"

    @on_loop
    async def test_get_with_waiting_putters(self, env: Env) -> None:
        q = env.make(maxsize=1)
        put_a = asyncio.create_task(q.put("a"))
        put_b = asyncio.create_task(q.put("b"))
        assert await q.get() == "a"
        assert await q.get() == "b"
        del put_a, put_b

    @on_loop
    async def test_why_are_getters_waiting(self, env: Env) -> None:
        async def consumer(queue: ta.Queue[int], num_expected: int) -> None:
            for _ in range(num_expected):
                await queue.get()

        async def producer(queue: ta.Queue[int], num_items: int) -> None:
            for i in range(num_items):
                await queue.put(i)

        producer_num_items = 5

        q = env.make(1)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(producer(q, producer_num_items))
            tg.create_task(consumer(q, producer_num_items))

    @on_loop
    async def test_cancelled_getters_not_being_held_in_self_getters(self, env: Env) -> None:
        queue = env.make(maxsize=5)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(queue.get(), 0.1)

        assert queue.statistics().waiting_getters == 0


class TestQueuePut:
    """``QueuePutTests``."""

    @on_loop
    async def test_blocking_put(self, env: Env) -> None:
        q = env.make()

        # No maxsize, won't block.
        await q.put(1)
        assert await q.get() == 1

    @on_loop
    async def test_blocking_put_wait(self, env: Env) -> None:
        q = env.make(maxsize=1)
        started = asyncio.Event()
        finished = False

        async def queue_put() -> None:
            nonlocal finished
            started.set()
            await q.put(1)
            await q.put(2)
            finished = True

        loop = asyncio.get_running_loop()
        loop.call_later(0.01, q.get_nowait)
        queue_put_task = asyncio.create_task(queue_put())
        await started.wait()
        assert not finished
        await queue_put_task
        assert finished

    def test_nonblocking_put(self, env: Env) -> None:
        q = env.make()
        q.put_nowait(1)
        assert q.get_nowait() == 1

    @on_loop
    async def test_get_cancel_drop_one_pending_reader(self, env: Env) -> None:
        q = env.make()

        reader = asyncio.create_task(q.get())

        await asyncio.sleep(0)

        q.put_nowait(1)
        q.put_nowait(2)
        reader.cancel()

        try:
            await reader
        except asyncio.CancelledError:
            # try again
            reader = asyncio.create_task(q.get())
            await reader

        result = reader.result()
        # if we get 2, it means 1 got dropped!
        assert result == 1

    @on_loop
    async def test_get_cancel_drop_many_pending_readers(self, env: Env) -> None:
        q = env.make()

        async with asyncio.TaskGroup() as tg:
            reader1 = tg.create_task(q.get())
            reader2 = tg.create_task(q.get())
            reader3 = tg.create_task(q.get())

            await asyncio.sleep(0)

            q.put_nowait(1)
            q.put_nowait(2)
            reader1.cancel()

            with pytest.raises(asyncio.CancelledError):
                await reader1

            await reader3

        # It is undefined in which order concurrent readers receive results.
        assert {reader2.result(), reader3.result()} == {1, 2}

    @on_loop
    async def test_put_cancel_drop(self, env: Env) -> None:
        q = env.make(1)

        q.put_nowait(1)

        # putting a second item in the queue has to block (qsize=1)
        writer = asyncio.create_task(q.put(2))
        await asyncio.sleep(0)

        value1 = q.get_nowait()
        assert value1 == 1

        writer.cancel()
        try:
            await writer
        except asyncio.CancelledError:
            # try again
            writer = asyncio.create_task(q.put(2))
            await writer

        value2 = q.get_nowait()
        assert value2 == 2
        assert q.qsize() == 0

    def test_nonblocking_put_exception(self, env: Env) -> None:
        q = env.make(maxsize=1)
        q.put_nowait(1)
        with pytest.raises(asyncio.QueueFull):
            q.put_nowait(2)

    @on_loop
    async def test_float_maxsize(self, env: Env) -> None:
        q = env.make(maxsize=1.3)
        q.put_nowait(1)
        q.put_nowait(2)
        assert q.full()
        with pytest.raises(asyncio.QueueFull):
            q.put_nowait(3)

        q = env.make(maxsize=1.3)

        await q.put(1)
        await q.put(2)
        assert q.full()

    @on_loop
    async def test_put_cancelled(self, env: Env) -> None:
        q = env.make()

        async def queue_put() -> bool:
            await q.put(1)
            return True

        t = asyncio.create_task(queue_put())

        assert await q.get() == 1
        assert t.done()
        assert t.result()

    @on_loop
    async def test_put_cancelled_race(self, env: Env) -> None:
        q = env.make(maxsize=1)

        put_a = asyncio.create_task(q.put("a"))
        put_b = asyncio.create_task(q.put("b"))
        put_c = asyncio.create_task(q.put("X"))

        await asyncio.sleep(0)
        assert put_a.done()
        assert not put_b.done()

        put_c.cancel()
        await asyncio.sleep(0)
        assert put_c.done()
        assert q.get_nowait() == "a"
        await asyncio.sleep(0)
        assert q.get_nowait() == "b"

        await put_b

    @on_loop
    async def test_put_with_waiting_getters(self, env: Env) -> None:
        q = env.make()
        t = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        await q.put("a")
        assert await t == "a"

    @on_loop
    async def test_why_are_putters_waiting(self, env: Env) -> None:
        queue = env.make(2)

        async def putter(item: int) -> None:
            await queue.put(item)

        async def getter() -> None:
            await asyncio.sleep(0)
            num = queue.qsize()
            for _ in range(num):
                queue.get_nowait()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(getter())
            tg.create_task(putter(0))
            tg.create_task(putter(1))
            tg.create_task(putter(2))
            tg.create_task(putter(3))

    @on_loop
    async def test_cancelled_puts_not_being_held_in_self_putters(self, env: Env) -> None:
        # Full queue.
        queue = env.make(maxsize=1)
        queue.put_nowait(1)

        # Task waiting for space to put an item in the queue.
        put_task = asyncio.create_task(queue.put(1))
        await asyncio.sleep(0)

        # Check that the putter is correctly removed from queue._putters when
        # the task is canceled.
        assert queue.statistics().waiting_putters == 1
        put_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put_task
        assert queue.statistics().waiting_putters == 0

    @on_loop
    async def test_cancelled_put_silence_value_error_exception(self, env: Env) -> None:
        # Full Queue.
        queue = env.make(1)
        queue.put_nowait(1)

        # Task waiting for space to put a item in the queue.
        put_task = asyncio.create_task(queue.put(1))
        await asyncio.sleep(0)

        # get_nowait() remove the future of put_task from queue._putters.
        queue.get_nowait()
        # When canceled, queue.put is going to remove its future from
        # self._putters but it was removed previously by queue.get_nowait().
        put_task.cancel()

        # The ValueError exception triggered by queue._putters.remove(putter)
        # inside queue.put should be silenced.
        # If the ValueError is silenced we should catch a CancelledError.
        with pytest.raises(asyncio.CancelledError):
            await put_task


class TestLifoQueue:
    """``LifoQueueTests``."""

    @on_loop
    async def test_order(self, env: Env) -> None:
        q = env.make(kind=ta.LifoQueue)
        for i in [1, 3, 2]:
            await q.put(i)

        items = [await q.get() for _ in range(3)]
        assert items == [2, 3, 1]


class TestPriorityQueue:
    """``PriorityQueueTests``."""

    @on_loop
    async def test_order(self, env: Env) -> None:
        q = env.make(kind=ta.PriorityQueue)
        for i in [1, 3, 2]:
            await q.put(i)

        items = [await q.get() for _ in range(3)]
        assert items == [1, 2, 3]


@pytest.mark.parametrize("q_class", KINDS, ids=[k.__name__ for k in KINDS])
class TestQueueJoin:
    """``_QueueJoinTestMixin`` (run by the stdlib as QueueJoinTests, LifoQueueJoinTests
    and PriorityQueueJoinTests)."""

    def test_task_done_underflow(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        q = env.make(kind=q_class)
        with pytest.raises(ValueError, match="too many times"):
            q.task_done()

    @on_loop
    async def test_task_done(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        q = env.make(kind=q_class)
        for i in range(100):
            q.put_nowait(i)

        accumulator = 0

        # Two workers get items from the queue and call task_done after each.
        # Join the queue and assert all items have been processed.
        running = True

        async def worker() -> None:
            nonlocal accumulator

            while running:
                item = await q.get()
                accumulator += item
                q.task_done()

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(worker()) for _ in range(2)]

            await q.join()
            assert sum(range(100)) == accumulator

            # close running generators
            running = False
            for _ in range(len(tasks)):
                q.put_nowait(0)

    @on_loop
    async def test_join_empty_queue(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        q = env.make(kind=q_class)

        # Test that a queue join()s successfully, and before anything else
        # (done twice for insurance).

        await q.join()
        await q.join()


@pytest.mark.parametrize("q_class", KINDS, ids=[k.__name__ for k in KINDS])
class TestQueueShutdown:
    """``_QueueShutdownTestMixin`` (run by the stdlib as QueueShutdownTests,
    LifoQueueShutdownTests and PriorityQueueShutdownTests)."""

    @on_loop
    async def test_shutdown_empty(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        # Test shutting down an empty queue

        # Setup empty queue, and join() and get() tasks
        q = env.make(kind=q_class)
        loop = asyncio.get_running_loop()
        get_task = loop.create_task(q.get())
        await asyncio.sleep(0)  # want get task pending before shutdown

        # Perform shut-down
        q.shutdown(immediate=False)  # unfinished tasks: 0 -> 0

        assert q.qsize() == 0

        # Ensure join() task successfully finishes
        await q.join()

        # Ensure get() task is finished, and raised ShutDown
        await asyncio.sleep(0)
        assert get_task.done()
        with assert_raises_shutdown():
            await get_task

        # Ensure put() and get() raise ShutDown
        with assert_raises_shutdown():
            await q.put("data")
        with assert_raises_shutdown():
            q.put_nowait("data")

        with assert_raises_shutdown():
            await q.get()
        with assert_raises_shutdown():
            q.get_nowait()

    @on_loop
    async def test_shutdown_nonempty(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        # Test shutting down a non-empty queue

        # Setup full queue with 1 item, and join() and put() tasks
        q = env.make(maxsize=1, kind=q_class)
        loop = asyncio.get_running_loop()

        q.put_nowait("data")
        join_task = loop.create_task(q.join())
        put_task = loop.create_task(q.put("data2"))

        # Ensure put() task is not finished
        await asyncio.sleep(0)
        assert not put_task.done()

        # Perform shut-down
        q.shutdown(immediate=False)  # unfinished tasks: 1 -> 1

        assert q.qsize() == 1

        # Ensure put() task is finished, and raised ShutDown
        await asyncio.sleep(0)
        assert put_task.done()
        with assert_raises_shutdown():
            await put_task

        # Ensure get() succeeds on enqueued item
        assert await q.get() == "data"

        # Ensure join() task is not finished
        await asyncio.sleep(0)
        assert not join_task.done()

        # Ensure put() and get() raise ShutDown
        with assert_raises_shutdown():
            await q.put("data")
        with assert_raises_shutdown():
            q.put_nowait("data")

        with assert_raises_shutdown():
            await q.get()
        with assert_raises_shutdown():
            q.get_nowait()

        # Ensure there is 1 unfinished task, and join() task succeeds
        q.task_done()

        await asyncio.sleep(0)
        assert join_task.done()
        await join_task

        # "Didn't appear to mark all tasks done"
        with pytest.raises(ValueError, match="too many times"):
            q.task_done()

    @on_loop
    async def test_shutdown_immediate(self, env: Env, q_class: type[ta.Queue[Any]]) -> None:
        # Test immediately shutting down a queue

        # Setup queue with 1 item, and a join() task
        q = env.make(kind=q_class)
        loop = asyncio.get_running_loop()
        q.put_nowait("data")
        join_task = loop.create_task(q.join())

        # Perform shut-down
        q.shutdown(immediate=True)  # unfinished tasks: 1 -> 0

        assert q.qsize() == 0

        # Ensure join() task has successfully finished
        await asyncio.sleep(0)
        assert join_task.done()
        await join_task

        # Ensure put() and get() raise ShutDown
        with assert_raises_shutdown():
            await q.put("data")
        with assert_raises_shutdown():
            q.put_nowait("data")

        with assert_raises_shutdown():
            await q.get()
        with assert_raises_shutdown():
            q.get_nowait()

        # Ensure there are no unfinished tasks
        # "Didn't appear to mark all tasks done"
        with pytest.raises(ValueError, match="too many times"):
            q.task_done()

    @on_loop
    async def test_shutdown_immediate_with_unfinished(
        self, env: Env, q_class: type[ta.Queue[Any]]
    ) -> None:
        # Test immediately shutting down a queue with unfinished tasks

        # Setup queue with 2 items (1 retrieved), and a join() task
        q = env.make(kind=q_class)
        loop = asyncio.get_running_loop()
        q.put_nowait("data")
        q.put_nowait("data")
        join_task = loop.create_task(q.join())
        assert await q.get() == "data"

        # Perform shut-down
        q.shutdown(immediate=True)  # unfinished tasks: 2 -> 1

        assert q.qsize() == 0

        # Ensure join() task is not finished
        await asyncio.sleep(0)
        assert not join_task.done()

        # Ensure put() and get() raise ShutDown
        with assert_raises_shutdown():
            await q.put("data")
        with assert_raises_shutdown():
            q.put_nowait("data")

        with assert_raises_shutdown():
            await q.get()
        with assert_raises_shutdown():
            q.get_nowait()

        # Ensure there is 1 unfinished task
        q.task_done()
        # "Didn't appear to mark all tasks done"
        with pytest.raises(ValueError, match="too many times"):
            q.task_done()

        # Ensure join() task has successfully finished
        await asyncio.sleep(0)
        assert join_task.done()
        await join_task
