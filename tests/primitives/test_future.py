"""Future[T](runner): set_result / set_exception / done / await result() / result_wait."""

from __future__ import annotations

import asyncio

import pytest

import threaded_async as ta
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


def test_a_raising_done_callback_is_reported_and_the_rest_still_run(
    runner: AsyncRunner, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    future: ta.Future[int] = ta.Future(runner)
    calls: list[str] = []

    def boom(_: ta.Future[int]) -> None:
        calls.append("boom")
        raise RuntimeError("callback failed")

    future.add_done_callback(boom)
    future.add_done_callback(lambda f: calls.append(f"second {f.result_nowait()}"))
    with caplog.at_level(logging.ERROR, logger="threaded_async"):
        future.set_result(3)  # does not raise: the result is set, the callbacks ran
    assert calls == ["boom", "second 3"]
    assert "callback failed" in caplog.text
    assert future.result_wait(0) == 3


def test_result_nowait(runner: AsyncRunner) -> None:
    future: ta.Future[int] = ta.Future(runner)
    with pytest.raises(ta.InvalidStateError):
        future.result_nowait()
    future.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        future.result_nowait()
