"""Primitives can be created anywhere, any time, and used from both sides at once.

threaded_async 1.4 created a Queue's asyncio queue lazily through ``call_in_loop`` under a
lock, so a fresh Queue touched from the loop and from a thread at the same moment could
deadlock. Ours bind to nothing at creation: these tests hammer exactly that moment.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import threaded_async as ta

BOUND = 10.0
ROUNDS = 100


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _meet(
    runner: ta.AsyncRunner,
    loop_side: Callable[[], Any],
    thread_side: Callable[[], object],
) -> tuple[object, object]:
    """Run ``loop_side()`` (a coroutine) on the loop and ``thread_side()`` in a new thread,
    both released at the same moment by a barrier; return both results."""
    barrier = threading.Barrier(2, timeout=BOUND)

    async def on_loop() -> object:
        barrier.wait()  # blocks the loop for an instant on purpose: same-moment start
        return await loop_side()

    task = runner.create_task(on_loop())
    out: list[object] = []

    def in_thread() -> None:
        barrier.wait()
        out.append(thread_side())

    t = threading.Thread(target=in_thread)
    t.start()
    loop_result = task.wait(BOUND)
    t.join(BOUND)
    assert not t.is_alive(), "the thread side deadlocked"
    return loop_result, out[0]


def test_fresh_queue_loop_gets_while_thread_puts(
    runner: ta.AsyncRunner, fast_switching: None
) -> None:
    for i in range(ROUNDS):
        queue: ta.Queue[int] = ta.Queue(runner, maxsize=i % 2)  # bounded and unbounded
        got, _ = _meet(runner, queue.get, lambda q=queue, n=i: q.put_wait(n, BOUND))
        assert got == i


def test_fresh_queue_thread_gets_while_loop_puts(
    runner: ta.AsyncRunner, fast_switching: None
) -> None:
    for i in range(ROUNDS):
        queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)

        async def put(q: ta.Queue[int] = queue, item: int = i) -> None:
            await q.put(item)
            await q.put(item + 1)  # may have to wait for the thread's first get

        _, got = _meet(
            runner, put, lambda q=queue: (q.get_wait(BOUND), q.get_wait(BOUND), q.qsize())
        )
        assert got == (i, i + 1, 0)


def test_fresh_event_set_from_thread_while_loop_waits(
    runner: ta.AsyncRunner, fast_switching: None
) -> None:
    for i in range(ROUNDS):
        event = ta.Event(runner)
        # Alternate the synchronising set() and the non-blocking set_nowait().
        setter = event.set if i % 2 else event.set_nowait
        got, _ = _meet(runner, event.wait_async, setter)
        assert got is True
        assert event.is_set()


def test_fresh_event_set_on_loop_while_thread_waits(
    runner: ta.AsyncRunner, fast_switching: None
) -> None:
    for _ in range(ROUNDS):
        event = ta.Event(runner)

        async def set_it(e: ta.Event = event) -> None:
            e.as_async_event().set()

        _, got = _meet(runner, set_it, lambda e=event: e.wait(BOUND))
        assert got is True


def test_fresh_future_both_directions(runner: ta.AsyncRunner, fast_switching: None) -> None:
    for i in range(ROUNDS):
        future: ta.Future[int] = ta.Future(runner)
        got, _ = _meet(runner, future.result, lambda f=future, n=i: f.set_result(n))
        assert got == i
        other: ta.Future[int] = ta.Future(runner)

        async def set_it(f: ta.Future[int] = other, n: int = i) -> None:
            f.set_result(n)

        _, got = _meet(runner, set_it, lambda f=other: f.result_wait(BOUND))
        assert got == i


def test_primitives_created_before_the_runner_starts_bind_lazily() -> None:
    runner = ta.AsyncRunner(call_in_loop_timeout=BOUND)
    queue: ta.Queue[str] = ta.Queue(runner)
    lifo: ta.LifoQueue[str] = ta.LifoQueue(runner)
    event = ta.Event(runner)
    future: ta.Future[str] = ta.Future(runner)
    queue.put_nowait("queued before start")
    lifo.put_nowait("a")
    lifo.put_nowait("b")
    assert not event.is_set()
    with runner:

        async def use() -> tuple[str, str, bool, str]:
            item = await queue.get()
            top = await lifo.get()
            await event.wait_async()
            return item, top, event.as_async_event().is_set(), await future.result()

        task = runner.create_task(use())
        event.set()
        future.set_result("answer")
        assert task.wait(BOUND) == ("queued before start", "b", True, "answer")
        assert lifo.get_wait(BOUND) == "a"


def test_event_set_before_start_is_seen_after_start() -> None:
    runner = ta.AsyncRunner(call_in_loop_timeout=BOUND)
    event = ta.Event(runner)
    event.set()
    with runner:
        assert event.wait(BOUND)

        async def check() -> bool:
            return await event.wait_async() and event.as_async_event().is_set()

        assert runner.run(check(), BOUND)


def test_primitives_created_on_the_loop_and_in_other_threads(runner: ta.AsyncRunner) -> None:
    def make() -> tuple[ta.Queue[int], ta.Event, ta.Future[int]]:
        return ta.Queue(runner), ta.Event(runner), ta.Future(runner)

    made_in_thread: list[tuple[ta.Queue[int], ta.Event, ta.Future[int]]] = []
    t = threading.Thread(target=lambda: made_in_thread.append(make()))
    t.start()
    t.join(BOUND)
    for queue, event, future in (runner.call_in_loop(make, BOUND), made_in_thread[0]):

        async def consume(
            q: ta.Queue[int] = queue, e: ta.Event = event, f: ta.Future[int] = future
        ) -> int:
            await e.wait_async()
            return await q.get() + await f

        task = runner.create_task(consume())
        queue.put_wait(40, BOUND)
        future.set_result(2)
        event.set()
        assert task.wait(BOUND) == 42


def test_runnerless_queue_bridges_two_foreign_loops() -> None:
    """A Queue(None) binds to no loop at all: two asyncio.run loops in two threads use it."""
    queue: ta.Queue[int] = ta.Queue(maxsize=2)
    barrier = threading.Barrier(2, timeout=BOUND)

    async def produce() -> None:
        barrier.wait()
        for n in range(200):
            await queue.put(n)
        queue.shutdown()

    async def consume() -> list[int]:
        barrier.wait()
        return [n async for n in queue]

    out: list[list[int]] = []
    producer = threading.Thread(target=lambda: asyncio.run(produce()))
    producer.start()
    out.append(asyncio.run(consume()))
    producer.join(BOUND)
    assert out == [list(range(200))]
