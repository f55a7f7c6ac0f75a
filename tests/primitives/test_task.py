"""BackgroundTask: wait, done, cancel, await from another loop (SPEC §1, §2)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from threaded_async import AsyncRunner, BackgroundTask, EventLoopTimeoutError


def test_create_task_returns_a_background_task(runner: AsyncRunner) -> None:
    async def one() -> int:
        return 1

    task = runner.create_task(one())
    assert isinstance(task, BackgroundTask)
    assert task.wait() == 1
    assert task.done()
    assert not task.cancelled()


def test_create_task_accepts_any_awaitable(runner: AsyncRunner) -> None:
    async def two() -> int:
        return 2

    def make_future() -> asyncio.Future[int]:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(3)
        return fut

    async def wrap() -> asyncio.Future[int]:
        return make_future()

    inner = runner.run(wrap())
    assert runner.create_task(inner).wait() == 3
    assert runner.create_task(asyncio.ensure_future(two(), loop=runner.loop)).wait() == 2


def test_done_is_false_while_running(runner: AsyncRunner) -> None:
    release = threading.Event()

    async def blocked() -> None:
        await asyncio.to_thread(release.wait, 10)

    task = runner.create_task(blocked())
    assert not task.done()
    with pytest.raises(EventLoopTimeoutError):
        task.wait(0)
    release.set()
    task.wait()
    assert task.done()


def test_cancel_from_a_thread(runner: AsyncRunner) -> None:
    started = threading.Event()
    saw: list[str] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            saw.append("cancelled")
            raise

    task = runner.create_task(forever())
    assert started.wait(10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        task.wait()
    assert task.cancelled()
    assert saw == ["cancelled"]


def test_cancel_of_a_finished_task_is_harmless(runner: AsyncRunner) -> None:
    async def one() -> int:
        return 1

    task = runner.create_task(one())
    assert task.wait() == 1
    task.cancel()
    assert task.wait() == 1


def test_await_a_background_task_from_another_loop(runner: AsyncRunner) -> None:
    async def on_runner() -> str:
        await asyncio.sleep(0)
        return "from the runner"

    task = runner.create_task(on_runner())

    async def elsewhere() -> str:
        return await task

    assert asyncio.run(elsewhere()) == "from the runner"


def test_task_exception_accessor(runner: AsyncRunner) -> None:
    async def fail() -> None:
        raise OSError("disk")

    task = runner.create_task(fail())
    with pytest.raises(OSError, match="disk"):
        task.wait()
    assert isinstance(task.exception(), OSError)
