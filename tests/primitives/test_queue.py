"""Queue[T](runner, maxsize): the two faces of SPEC §1 (get/put, get_wait/put_wait, sizes)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from threaded_async import AsyncRunner, EventLoopTimeoutError, Queue


def test_thread_to_coroutine_and_back(runner: AsyncRunner) -> None:
    inbox = Queue[int](runner)
    outbox = Queue[int](runner)

    async def worker() -> None:
        while True:
            await outbox.put(await inbox.get() * 2)

    task = runner.create_task(worker())
    for i in range(5):
        inbox.put_wait(i)
    assert [outbox.get_wait(10) for _ in range(5)] == [0, 2, 4, 6, 8]
    task.cancel()


def test_fifo_order_and_sizes(runner: AsyncRunner) -> None:
    q = Queue[str](runner)
    assert q.empty()
    assert q.qsize() == 0
    assert not q.full()
    for item in "abc":
        q.put_wait(item)
    assert q.qsize() == 3
    assert not q.empty()
    assert [q.get_wait() for _ in range(3)] == ["a", "b", "c"]
    assert q.empty()


def test_maxsize_bounds_the_queue(runner: AsyncRunner) -> None:
    q = Queue[int](runner, maxsize=2)
    assert q.maxsize == 2
    q.put_wait(1)
    q.put_wait(2)
    assert q.full()
    with pytest.raises(EventLoopTimeoutError):
        q.put_wait(3, 0.01)
    assert q.qsize() == 2
    assert q.get_wait() == 1
    q.put_wait(3, 10)
    assert [q.get_wait(), q.get_wait()] == [2, 3]


def test_get_wait_times_out_on_empty(runner: AsyncRunner) -> None:
    q = Queue[int](runner)
    with pytest.raises(TimeoutError):
        q.get_wait(0.01)


def test_blocked_put_wait_is_released_by_a_coroutine_get(runner: AsyncRunner) -> None:
    q = Queue[int](runner, maxsize=1)
    q.put_wait(1)
    done = threading.Event()

    def producer() -> None:
        q.put_wait(2, 10)
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()

    async def drain() -> list[int]:
        return [await q.get(), await q.get()]

    assert runner.run(drain(), timeout=10) == [1, 2]
    assert done.wait(10)
    thread.join(10)


def test_coroutine_put_blocks_on_full_until_thread_gets(runner: AsyncRunner) -> None:
    q = Queue[int](runner, maxsize=1)

    async def fill() -> None:
        for i in range(3):
            await q.put(i)

    task = runner.create_task(fill())
    assert [q.get_wait(10) for _ in range(3)] == [0, 1, 2]
    task.wait()


def test_generic_alias_construction(runner: AsyncRunner) -> None:
    q: Queue[tuple[int, str]] = Queue[tuple[int, str]](runner)
    q.put_wait((1, "x"))

    async def get() -> tuple[int, str]:
        return await asyncio.wait_for(q.get(), 10)

    assert runner.run(get()) == (1, "x")
