"""BackgroundTask.cancel() from a thread: the coroutine sees CancelledError, and a wait()
that raises CancelledError returns only once the coroutine has finished (its finally ran)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta

BOUND = 10.0


def test_cancel_from_a_thread_waits_for_the_coroutines_finally(runner: ta.AsyncRunner) -> None:
    started = ta.Event(runner)
    in_finally = threading.Event()
    finally_gate = ta.Event(runner)
    log: list[str] = []

    async def worker() -> None:
        try:
            started.set_nowait()
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            log.append("saw CancelledError")
            raise
        finally:
            in_finally.set()
            await finally_gate.wait_async()  # clean-up that takes a while
            log.append("finally done")

    task = runner.create_task(worker())
    assert started.wait(BOUND)
    waiter_result: list[BaseException] = []

    def wait_in_thread() -> None:
        try:
            task.wait(None)
        except BaseException as exc:
            waiter_result.append(exc)

    waiter = threading.Thread(target=wait_in_thread)
    waiter.start()
    canceller = threading.Thread(target=task.cancel)  # cancel from yet another thread
    canceller.start()
    canceller.join(BOUND)
    assert in_finally.wait(BOUND)
    # The coroutine is inside its finally: the task is not done, so a wait times out
    # instead of reporting the cancellation early.
    assert not task.done()
    with pytest.raises(ta.EventLoopTimeoutError):
        task.wait(0.05)
    assert waiter.is_alive()
    finally_gate.set()
    waiter.join(BOUND)
    assert not waiter.is_alive()
    assert len(waiter_result) == 1
    assert isinstance(waiter_result[0], asyncio.CancelledError)
    assert log == ["saw CancelledError", "finally done"]  # visible to the woken waiter
    assert task.done()
    assert task.cancelled()
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)  # repeated waits agree


def test_cancel_is_seen_by_awaiting_coroutines_and_plain_subtasks(runner: ta.AsyncRunner) -> None:
    ready = ta.Event(runner)
    seen: list[str] = []

    async def child() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            seen.append("child")
            raise

    async def parent() -> None:
        sub = asyncio.ensure_future(child())
        try:
            ready.set_nowait()
            await sub
        except asyncio.CancelledError:
            seen.append("parent")
            raise

    task = runner.create_task(parent())
    assert ready.wait(BOUND)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)
    assert sorted(seen) == ["child", "parent"]


def test_cancel_before_the_task_ever_ran(runner: ta.AsyncRunner) -> None:
    """Cancelled while its creation is still queued: CancelledError, coroutine closed (no
    'never awaited' warning, which filterwarnings=error would turn into a failure)."""
    gate = threading.Event()
    runner.call_soon(gate.wait, BOUND)  # hold the loop so the task cannot start yet
    ran: list[str] = []

    async def never_runs() -> None:
        ran.append("ran")

    # None: do not wait for the held loop to create it (the fixture sets a default timeout)
    task = runner.create_task(never_runs(), task_creation_timeout=None)
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)
    assert ran == []
    assert task.cancelled()


def test_cancel_of_a_finished_task_is_a_no_op(runner: ta.AsyncRunner) -> None:
    async def answer() -> int:
        return 3

    task = runner.create_task(answer())
    assert task.wait(BOUND) == 3
    task.cancel()
    assert task.wait(BOUND) == 3
    assert not task.cancelled()


def test_a_coroutine_that_swallows_the_cancel_returns_its_value(runner: ta.AsyncRunner) -> None:
    ready = ta.Event(runner)

    async def stubborn() -> str:
        try:
            ready.set_nowait()
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            return "finished anyway"
        return "unreachable"

    task = runner.create_task(stubborn())
    assert ready.wait(BOUND)
    task.cancel()
    assert task.wait(BOUND) == "finished anyway"
    assert not task.cancelled()


def test_cancel_from_the_loop_thread(runner: ta.AsyncRunner) -> None:
    ready = ta.Event(runner)

    async def forever() -> None:
        ready.set_nowait()
        await asyncio.get_running_loop().create_future()

    task = runner.create_task(forever())
    assert ready.wait(BOUND)
    runner.call_in_loop(task.cancel, BOUND)
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)


def test_cancelling_a_submit_future_cancels_the_coroutine(runner: ta.AsyncRunner) -> None:
    ready = ta.Event(runner)
    seen = ta.Event(runner)

    async def forever() -> None:
        try:
            ready.set_nowait()
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            seen.set_nowait()
            raise

    future = runner.submit(forever())
    assert ready.wait(BOUND)
    assert future.cancel()
    assert seen.wait(BOUND)
