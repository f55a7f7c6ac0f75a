"""Future[T](runner): set_result / set_exception / done / await result() / result_wait."""

from __future__ import annotations

import asyncio

import pytest

from threaded_async import AsyncRunner, EventLoopTimeoutError, Future


def test_set_result_from_a_thread_awaited_in_a_coroutine(runner: AsyncRunner) -> None:
    future = Future[int](runner)
    assert not future.done()

    async def consumer() -> int:
        return await future.result() + 1

    task = runner.create_task(consumer())
    future.set_result(41)
    assert future.done()
    assert task.wait() == 42


def test_set_result_in_a_coroutine_waited_by_a_thread(runner: AsyncRunner) -> None:
    future = Future[str](runner)

    async def producer() -> None:
        await asyncio.sleep(0)
        future.set_result("ready")

    runner.create_task(producer())
    assert future.result_wait(10) == "ready"
    assert future.result_wait() == "ready"  # again


def test_set_exception_reaches_both_sides(runner: AsyncRunner) -> None:
    future = Future[int](runner)
    future.set_exception(KeyError("k"))
    assert future.done()
    with pytest.raises(KeyError):
        future.result_wait()

    async def consumer() -> int:
        return await future.result()

    with pytest.raises(KeyError):
        runner.run(consumer())


def test_result_wait_times_out(runner: AsyncRunner) -> None:
    with pytest.raises(EventLoopTimeoutError):
        Future[int](runner).result_wait(0.01)


def test_second_set_result_is_an_invalid_state_error(runner: AsyncRunner) -> None:
    future = Future[int](runner)
    future.set_result(1)
    with pytest.raises(asyncio.InvalidStateError):
        future.set_result(2)
    assert future.result_wait() == 1
